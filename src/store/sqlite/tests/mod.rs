//! The SQLite store's speed-ups and statements, tested against a file.

use super::*;
use crate::store::prelude::*;
use crate::store::{SqliteSynchronous, StoreError};

async fn store(dir: &tempfile::TempDir) -> (SqliteStore, std::path::PathBuf) {
    let path = dir.path().join("t.db");
    let url = format!("sqlite://{}", path.display());
    (SqliteStore::open(&url, SqliteSynchronous::Full).await.unwrap(), path)
}

fn plan(conn: &rusqlite::Connection, sql: &str) -> Vec<String> {
    let mut explain = conn.prepare(&format!("EXPLAIN QUERY PLAN {sql}")).unwrap();
    let mut rows = explain.raw_query(); // parameters left unbound: only planned
    let mut plan = Vec::new();
    while let Some(row) = rows.next().unwrap() {
        plan.push(row.get(3).unwrap());
    }
    plan
}

#[tokio::test]
async fn leases_are_committed_without_an_fsync_of_their_own_and_batched_proofs_still_refuse_a_replay() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store(&dir).await;
    let synchronous = |pool: &SqlitePool| {
        let pool = pool.clone();
        async move {
            sqlx::query_scalar::<_, i64>("PRAGMA synchronous")
                .fetch_one(&pool)
                .await
                .unwrap()
        }
    };
    // PRAGMA synchronous reads 1 for NORMAL and 2 for FULL.
    assert_eq!(synchronous(&store.unsynced).await, 1);
    assert_eq!(synchronous(&store.pool).await, 2, "every other commit is synced");
    for pool in [&store.pool, &store.unsynced] {
        let every: i64 = sqlx::query_scalar("PRAGMA wal_autocheckpoint")
            .fetch_one(pool)
            .await
            .unwrap();
        assert_eq!(every, 0, "only the group commit's writer checkpoints");
    }
    assert!(store.remember_proof("proof:d:j1", 100, 10).await.unwrap());
    assert!(!store.remember_proof("proof:d:j1", 100, 20).await.unwrap(), "a replay");
    assert!(
        !store.remember_once("proof:d:j1", 100, 20).await.unwrap(),
        "one table for both"
    );
    let seen: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM replay WHERE key = 'proof:d:j1'")
        .fetch_one(&store.pool)
        .await
        .unwrap();
    assert_eq!(seen, 1, "committed: every connection sees it");
    assert!(
        store.remember_proof("proof:d:j1", 300, 100).await.unwrap(),
        "expired: reusable"
    );
}

#[tokio::test]
async fn an_in_memory_database_is_refused() {
    for url in ["sqlite::memory:", "sqlite://t.db?mode=memory"] {
        let err = SqliteStore::open(url, SqliteSynchronous::Full).await.err().expect(url);
        assert!(err.to_string().contains("in-memory"), "{url}: {err}");
    }
}

#[tokio::test]
async fn a_read_that_meets_a_lock_is_read_again_through_sqlx() {
    let dir = tempfile::tempdir().unwrap();
    let (store, _path) = store(&dir).await;
    let user = crate::domain::user::User::sample("alice");
    store.insert_user(&user, &[]).await.unwrap();
    store.readers.busy.store(true, std::sync::atomic::Ordering::Relaxed);
    let direct = store.readers.user_by_hint("alice");
    assert!(direct.as_ref().is_err_and(|e| e.is_busy()), "{:?}", direct.map(|_| ()));
    let (found, counts) = store.user_by_hint_counting_devices("alice").await.unwrap().unwrap();
    assert_eq!((found.id.as_str(), counts.active), ("alice", 0));
    assert!(store.transaction_by_auth_req("nothing").await.unwrap().is_none());
    // Other failures are not busy: they are answered, not retried.
    assert!(!StoreError::Corrupt("x".into()).is_busy());
}

/// `crypto::secret`'s formats of a transaction id, an `auth_req_id` and
/// its digest (the store imports nothing above `domain`).
mod secret {
    use base64::Engine;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use sha2::{Digest, Sha256};

    pub fn transaction_id(now_ms: i64) -> String {
        format!("{now_ms:012x}{}", crate::domain::ids::random_id())
    }

    pub fn auth_req_id(transaction_id: &str) -> String {
        let secret = format!("{}{}", crate::domain::ids::random_id(), crate::domain::ids::random_id());
        format!("{transaction_id}.{secret}")
    }

    pub fn auth_req_digest(auth_req_id: &str) -> String {
        let digest = URL_SAFE_NO_PAD.encode(Sha256::digest(auth_req_id.as_bytes()));
        match auth_req_id.split_once('.') {
            Some((id, _)) => format!("{id}.{digest}"),
            None => digest,
        }
    }
}

#[tokio::test]
async fn an_auth_req_id_is_found_by_its_digest_old_format_too_on_both_read_paths() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = store(&dir).await;
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "INSERT INTO clients (id, secret_digest, metadata, created_at) VALUES ('c', NULL, '{}', 0); \
             INSERT INTO users (id, status, created_at) VALUES ('u', 'active', 0);",
        )
        .unwrap();
    let txn_id = secret::transaction_id(1_000);
    let auth_req_id = secret::auth_req_id(&txn_id);
    let current = Transaction {
        id: txn_id.clone().into(),
        auth_req_digest: secret::auth_req_digest(&auth_req_id),
        ..crate::domain::transaction::sample(crate::domain::transaction::Status::Pending)
    };
    // An auth_req_id of the old format was 256 random bits, stored as their digest.
    let old = Transaction {
        id: "old".into(),
        auth_req_digest: secret::auth_req_digest("an-old-auth-req-id"),
        ..current.clone()
    };
    for txn in [&current, &old] {
        store.insert_transaction(txn, None).await.unwrap();
    }
    let cases = [
        (secret::auth_req_digest(&auth_req_id), Some(txn_id.as_str())),
        (secret::auth_req_digest("an-old-auth-req-id"), Some("old")),
        (secret::auth_req_digest(&secret::auth_req_id(&txn_id)), None),
        (secret::auth_req_digest("another-old-one"), None),
    ];
    for busy in [false, true] {
        // Through the direct reader, then through sqlx.
        store.readers.busy.store(busy, std::sync::atomic::Ordering::Relaxed);
        for (digest, expected) in &cases {
            let found = store.transaction_by_auth_req(digest).await.unwrap();
            assert_eq!(found.as_ref().map(|t| t.id.as_str()), *expected, "busy={busy} {digest}");
        }
    }
}

#[tokio::test]
async fn a_device_an_inbox_a_transaction_a_challenge_and_a_user_read_the_same_on_both_read_paths() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = store(&dir).await;
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "INSERT INTO clients (id, secret_digest, metadata, created_at) VALUES ('c', NULL, '{}', 0); \
             INSERT INTO users (id, email, phone, status, failed_attempts, user_code_hash, static_password_hash, \
             created_at) VALUES ('u', 'u@example.com', '+15550100', 'active', 3, 'h1', 'h2', 4); \
             INSERT INTO devices (id, device_key, auth_key, user_id, status, failed_attempts, preferred, created_at, \
             push_channel, push_address, user_authentication_required) \
             VALUES ('d', 'dk', 'ak', 'u', 'active', 2, 1, 7, 'webhook', 'https://push.example/d', 1);",
        )
        .unwrap();
    let txn = Transaction {
        id: "t".into(),
        ..crate::domain::transaction::sample(crate::domain::transaction::Status::Pending)
    };
    store.insert_transaction(&txn, None).await.unwrap();
    let challenge = crate::domain::challenge::Challenge {
        nonce: "n".into(),
        transaction_id: "t".into(),
        device_id: "d".into(),
        expires_at: 99,
        used_at: None,
        created_at: Some(5),
    };
    store.insert_challenges(&[challenge]).await.unwrap();
    let mut seen = Vec::new();
    for busy in [false, true] {
        // Through the direct reader, then through sqlx.
        store.readers.busy.store(busy, std::sync::atomic::Ordering::Relaxed);
        let inbox = store.pending_for_user("u", 200).await.unwrap();
        assert_eq!(inbox.len(), 1, "busy={busy}");
        seen.push(format!(
            "{:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?} {:?}",
            inbox[0].client_name,
            inbox[0].transaction,
            store.device("d").await.unwrap(),
            store.transaction("t").await.unwrap(),
            store.challenge("n").await.unwrap(),
            store.device("none").await.unwrap(),
            store.transaction("none").await.unwrap(),
            store.challenge("none").await.unwrap(),
            store.user("u").await.unwrap(),
            store.user("none").await.unwrap(),
        ));
    }
    assert_eq!(seen[0], seen[1]);
    assert!(
        seen[0].contains("Webhook")
            && seen[0].contains("user_authentication_required: true")
            && seen[0].contains("None None None")
            && seen[0].contains("u@example.com")
            && seen[0].contains("failed_attempts: 3"),
        "{}",
        seen[0]
    );
}

mod migrations;
mod requests;
mod users;
