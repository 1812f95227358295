//! The SQLite store's speed-ups and statements, tested against a file.

use super::*;
use crate::store::prelude::*;
use crate::store::{SqliteSynchronous, StoreError};

async fn store(dir: &tempfile::TempDir) -> (SqliteStore, std::path::PathBuf) {
    let path = dir.path().join("t.db");
    let url = format!("sqlite://{}", path.display());
    (SqliteStore::open(&url, SqliteSynchronous::Full).await.unwrap(), path)
}

#[tokio::test]
async fn proof_ids_and_leases_are_committed_without_an_fsync_of_their_own_and_proofs_still_refuse_a_replay() {
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
            "INSERT INTO clients VALUES ('c', NULL, '{}', 0); \
             INSERT INTO users (id, status, created_at) VALUES ('u', 'active', 0);",
        )
        .unwrap();
    let txn_id = secret::transaction_id(1_000);
    let auth_req_id = secret::auth_req_id(&txn_id);
    let current = Transaction {
        id: txn_id.clone(),
        auth_req_digest: secret::auth_req_digest(&auth_req_id),
        ..crate::domain::transaction::sample(crate::domain::transaction::Status::Pending)
    };
    // Before 2026-11-29 an auth_req_id was 256 random bits, stored as their digest.
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
async fn a_user_is_read_from_memory_until_this_or_another_process_changes_them_or_their_devices() {
    use crate::domain::push::{PushAddress, PushChannel};
    use crate::domain::user::UserStatus;
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = store(&dir).await;
    let other_process = rusqlite::Connection::open(&path).unwrap();
    other_process
        .execute_batch(
            "INSERT INTO users (id, email, status, created_at) VALUES ('alice', 'a@x', 'active', 0); \
             INSERT INTO devices (id, device_key, auth_key, user_id, status, created_at) VALUES \
             ('d1', 'k', 'k', 'alice', 'active', 0), ('d2', 'k', 'k', 'alice', 'active', 0);",
        )
        .unwrap();
    let cache = store.hot.users().unwrap();
    // Long enough that only this process's own changes move anything, until said otherwise.
    cache.check_epoch_every(std::time::Duration::from_secs(3600));
    let seen = |hint: &'static str| {
        let store = &store;
        async move {
            let (user, counts) = store.user_by_hint_counting_devices(hint).await.unwrap().unwrap();
            (user.status, counts.active, counts.pushable)
        }
    };
    assert_eq!(seen("alice").await, (UserStatus::Active, 2, 0));
    assert_eq!(seen("a@x").await, (UserStatus::Active, 2, 0));

    // Behind the store's back: memory still answers.
    other_process
        .execute("UPDATE devices SET status = 'removed' WHERE id = 'd2'", [])
        .unwrap();
    assert_eq!(seen("alice").await, (UserStatus::Active, 2, 0), "kept in memory");

    // This process's changes are seen at once, by every hint.
    assert!(store.set_user_status("alice", UserStatus::Locked).await.unwrap());
    assert_eq!(seen("alice").await, (UserStatus::Locked, 1, 0));
    assert_eq!(seen("a@x").await, (UserStatus::Locked, 1, 0));
    let address = PushAddress::stored("https://relay.example/d1".into());
    assert!(
        store
            .set_push_channel("d1", Some((PushChannel::Webhook, &address)))
            .await
            .unwrap()
    );
    assert_eq!(seen("alice").await, (UserStatus::Locked, 1, 1));
    assert!(store.remove_device("alice", "d1").await.unwrap());
    assert_eq!(seen("alice").await, (UserStatus::Locked, 0, 0));

    // Another process's change, through the epoch its triggers moved
    // (the test's long period again: a change of this process's own has
    // every read check it for a while).
    cache.check_epoch_every(std::time::Duration::from_secs(3600));
    assert_eq!(seen("alice").await, (UserStatus::Locked, 0, 0));
    let epoch = || store.readers.user_epoch().unwrap();
    let before = epoch();
    other_process
        .execute("UPDATE users SET status = 'active' WHERE id = 'alice'", [])
        .unwrap();
    assert!(epoch() > before, "the trigger moved the epoch");
    assert_eq!(seen("alice").await, (UserStatus::Locked, 0, 0), "not checked yet");
    cache.check_epoch_every(std::time::Duration::ZERO);
    assert_eq!(seen("alice").await, (UserStatus::Active, 0, 0));
    // A device's failed attempts are not what the reads count: no move.
    let before = epoch();
    other_process
        .execute("UPDATE devices SET failed_attempts = 1, preferred = 1", [])
        .unwrap();
    assert_eq!(epoch(), before);
    for change in [
        "INSERT INTO devices (id, device_key, auth_key, user_id, status, created_at) VALUES ('d3', 'k', 'k', NULL, 'inactive', 0)",
        "UPDATE devices SET user_id = 'alice', status = 'active' WHERE id = 'd3'",
        "UPDATE devices SET push_channel = 'webhook', push_address = 'a' WHERE id = 'd3'",
        "DELETE FROM devices WHERE id = 'd3'",
        "UPDATE users SET email = 'b@x'",
        "INSERT INTO users (id, status, created_at) VALUES ('zed', 'active', 0)",
        "DELETE FROM users WHERE id = 'zed'",
    ] {
        let before = epoch();
        other_process.execute(change, []).unwrap();
        assert!(epoch() > before, "{change}");
    }
}

#[tokio::test]
async fn every_method_that_changes_a_user_or_a_device_moves_the_users_generation() {
    use crate::domain::device::{Device, DeviceStatus};
    use crate::domain::lifecycle::Lockout;
    use crate::domain::push::{PushAddress, PushChannel};
    use crate::domain::user::{User, UserStatus};
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store(&dir).await;
    let cache = store.hot.users().unwrap();
    let device = Device {
        id: "d1".into(),
        device_key: "k".into(),
        auth_key: "k".into(),
        user_id: None,
        status: DeviceStatus::Inactive,
        failed_attempts: 0,
        preferred: false,
        push: None,
        created_at: 0,
    };
    let address = PushAddress::stored("https://relay.example/d1".into());
    let lockout = Lockout {
        device_threshold: 5,
        user_threshold: 5,
    };
    // Each call, with whether the generation moved across it.
    let mut moved: Vec<(&str, bool)> = Vec::new();
    macro_rules! call {
        ($what:literal, $call:expr) => {{
            let before = cache.generation();
            $call.await.unwrap();
            moved.push(($what, cache.generation() > before));
        }};
    }
    call!("insert_user", store.insert_user(&User::sample("alice"), &[]));
    call!(
        "create_user_if_absent",
        store.create_user_if_absent(&User::sample("bob"))
    );
    call!("set_user_code", store.set_user_code("alice", "hash"));
    call!("register_device", store.register_device(&device));
    call!("bind_device", store.bind_device("d1", "alice"));
    let channel = Some((PushChannel::Webhook, &address));
    call!("set_push_channel", store.set_push_channel("d1", channel));
    call!(
        "forget_dead_push_address",
        store.forget_dead_push_address("d1", &address)
    );
    call!("set_preferred_device", store.set_preferred_device("alice", "d1"));
    let attempt = store.record_failed_attempt(Some("d1"), Some("alice"), None, lockout);
    call!("record_failed_attempt", attempt);
    call!("set_user_status", store.set_user_status("alice", UserStatus::Locked));
    call!("remove_device", store.remove_device("alice", "d1"));
    call!("unregister_user", store.unregister_user("alice", 0));
    let missed: Vec<_> = moved.iter().filter(|(_, m)| !m).map(|(w, _)| *w).collect();
    assert!(missed.is_empty(), "no move: {missed:?}");
    // Reads move nothing.
    let g = cache.generation();
    store.user_by_hint_counting_devices("bob").await.unwrap();
    store.devices_of("alice").await.unwrap();
    assert_eq!(cache.generation(), g);
}

#[tokio::test]
async fn a_hint_names_an_id_before_an_email_before_a_phone_on_both_read_paths() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = store(&dir).await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    // alice's e-mail is bob's id, and bob's phone is carol's e-mail.
    conn.execute_batch(
        "INSERT INTO users (id, email, phone, status, created_at) VALUES \
         ('alice', 'bob', '+1', 'active', 0), ('bob', NULL, 'carol@x', 'active', 0), \
         ('carol', 'carol@x', '+3', 'active', 0); \
         INSERT INTO devices (id, device_key, auth_key, user_id, status, created_at, push_channel, \
         push_address) VALUES ('a1', 'k', 'k', 'alice', 'active', 0, 'webhook', 'a'), \
         ('a2', 'k', 'k', 'alice', 'active', 0, NULL, NULL), ('a3', 'k', 'k', 'alice', 'locked', 0, 'webhook', 'a');",
    )
    .unwrap();
    let cases = [
        ("alice", Some(("alice", 2, 1))),
        ("bob", Some(("bob", 0, 0))),
        ("carol@x", Some(("carol", 0, 0))),
        ("+1", Some(("alice", 2, 1))),
        ("nobody", None),
    ];
    let seen = |found: Option<(crate::domain::user::User, crate::store::DeviceCounts)>| {
        found.map(|(u, c)| (u.id, c.active, c.pushable))
    };
    for (hint, expected) in cases {
        let expected = expected.map(|(id, a, p)| (id.to_owned(), a, p));
        assert_eq!(
            seen(store.readers.user_by_hint(hint).unwrap()),
            expected,
            "direct: {hint}"
        );
    }
    store.readers.busy.store(true, std::sync::atomic::Ordering::Relaxed);
    for (hint, expected) in cases {
        let expected = expected.map(|(id, a, p)| (id.to_owned(), a, p));
        let found = store.user_by_hint_counting_devices(hint).await.unwrap();
        assert_eq!(seen(found), expected, "sqlx: {hint}");
    }
    // The id statement probes the primary key, with no sort.
    let plan = plan(&conn, crate::store::users::USER_BY_ID);
    assert!(plan.iter().any(|s| s.contains("sqlite_autoindex_users_1")), "{plan:?}");
    assert!(!plan.iter().any(|s| s.contains("TEMP B-TREE")), "{plan:?}");
}

#[tokio::test]
async fn a_users_requests_are_found_by_every_instance_on_the_file_and_after_a_restart() {
    use crate::domain::transaction::{Status, sample};
    use crate::store::RateKey;
    let dir = tempfile::tempdir().unwrap();
    let (first, path) = store(&dir).await;
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "INSERT INTO clients VALUES ('c', NULL, '{}', 0); \
             INSERT INTO users (id, status, created_at) VALUES ('u', 'active', 0), ('v', 'active', 0);",
        )
        .unwrap();
    let at = |id: &str, user: &str, created_at: i64, expires_at: i64| Transaction {
        id: id.into(),
        auth_req_digest: format!("{id}.digest"),
        user_id: user.into(),
        created_at,
        expires_at,
        ..sample(Status::Pending)
    };
    let now = 1_000;
    for txn in [
        at("old", "u", now - 600, now - 1),   // expired long ago: in no answer
        at("short", "u", now - 30, now - 1),  // expired, but counts for a minute
        at("open", "u", now - 20, now + 300), // the inbox shows it
        at("other", "v", now - 10, now + 300),
    ] {
        first.insert_transaction(&txn, None).await.unwrap();
    }
    let inbox =
        |items: Vec<crate::store::InboxItem>| -> Vec<String> { items.into_iter().map(|i| i.transaction.id).collect() };
    assert_eq!(inbox(first.pending_for_user("u", now).await.unwrap()), ["open"]);

    // A second instance (or a restart): nothing in memory until its first
    // use loads the file.
    let url = format!("sqlite://{}", path.display());
    let second = SqliteStore::open(&url, SqliteSynchronous::Full).await.unwrap();
    assert_eq!(inbox(second.pending_for_user("u", now).await.unwrap()), ["open"]);
    // A request the first instance commits afterwards: read by rowid, on
    // this thread.
    first
        .insert_transaction(&at("later", "u", now, now + 300), None)
        .await
        .unwrap();
    assert_eq!(
        inbox(second.pending_for_user("u", now).await.unwrap()),
        ["open", "later"]
    );
    assert_eq!(
        inbox(first.pending_for_user("u", now).await.unwrap()),
        ["open", "later"]
    );
    // More than a direct read takes, or a lock met: read through sqlx.
    use super::user_requests::{DIRECT_ROWS, RELOAD_AFTER};
    // (One more than a direct read takes: a catch-up that stopped at
    // the direct read would miss it.)
    for i in 0..=DIRECT_ROWS {
        let txn = at(&format!("w{i:02}"), "v", now, now + 300);
        first.insert_transaction(&txn, None).await.unwrap();
    }
    let for_v = second.pending_for_user("v", now).await.unwrap();
    assert_eq!(for_v.len() as i64, DIRECT_ROWS + 2);
    first
        .insert_transaction(&at("x1", "v", now, now + 300), None)
        .await
        .unwrap();
    second.readers.busy.store(true, std::sync::atomic::Ordering::Relaxed);
    let for_v = second.pending_for_user("v", now).await;
    second.readers.busy.store(false, std::sync::atomic::Ordering::Relaxed);
    assert_eq!(for_v.unwrap().len() as i64, DIRECT_ROWS + 3);
    // More new rows than a catch-up reads: the recent ones are loaded anew.
    for i in 0..=RELOAD_AFTER {
        let txn = at(&format!("v{i:02}"), "v", now, now + 300);
        first.insert_transaction(&txn, None).await.unwrap();
    }
    let for_v = inbox(second.pending_for_user("v", now).await.unwrap());
    assert_eq!(for_v.len() as i64, RELOAD_AFTER + DIRECT_ROWS + 4, "{for_v:?}");
    // After the load, a new row is read by rowid again.
    first
        .insert_transaction(&at("y1", "v", now, now + 300), None)
        .await
        .unwrap();
    let for_v = inbox(second.pending_for_user("v", now).await.unwrap());
    assert!(for_v.contains(&"y1".to_owned()), "{for_v:?}");
    assert_eq!(
        second.count_recent(RateKey::User("u"), now - 60, 100).await.unwrap(),
        3,
        "the requests of the last minute count, expired or not"
    );
    // A lock met inside the unregistration's transaction: refused, and
    // nothing changed.
    second.readers.busy.store(true, std::sync::atomic::Ordering::Relaxed);
    let refused = second.unregister_user("u", now).await;
    second.readers.busy.store(false, std::sync::atomic::Ordering::Relaxed);
    assert!(
        refused.as_ref().is_err_and(StoreError::is_busy),
        "{:?}",
        refused.map(|_| ())
    );
    assert_eq!(
        first.transaction("open").await.unwrap().unwrap().status,
        Status::Pending
    );
    let user = first.user("u").await.unwrap().unwrap();
    assert_eq!(user.status, crate::domain::user::UserStatus::Active);
    let ended = second.unregister_user("u", now).await.unwrap();
    let mut denied: Vec<_> = ended.transactions.iter().map(|t| t.id.as_str()).collect();
    denied.sort();
    assert_eq!(denied, ["later", "open"]);
    for id in ["later", "open"] {
        assert_eq!(
            first.transaction(id).await.unwrap().unwrap().status,
            Status::Denied,
            "{id}"
        );
    }
    assert_eq!(
        first.transaction("other").await.unwrap().unwrap().status,
        Status::Pending
    );
    assert!(first.pending_for_user("u", now).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_users_requests_are_found_by_primary_key_from_the_ids_in_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (_store, path) = store(&dir).await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    // The shapes of the inbox and the unregistration: with no ANALYZE
    // statistics, SQLite must still probe the primary key for each id,
    // not walk the expiry index over every user.
    let by_user = crate::store::transactions::by_user("t.", true);
    for sql in [
        format!(
            "SELECT t.id, {} AS client_name FROM transactions t JOIN clients c ON c.id = t.client_id \
             WHERE {by_user} AND t.status = 'pending' AND t.expires_at > $2 ORDER BY t.created_at, t.id",
            SqliteStore::CLIENT_NAME
        ),
        format!(
            "SELECT t.id FROM transactions t WHERE {by_user} AND t.status = 'pending' \
             AND t.context = 'provisioning' AND t.expires_at > $2"
        ),
        format!(
            "UPDATE transactions SET status = 'denied' WHERE {} AND status = 'pending' AND expires_at > $2",
            crate::store::transactions::by_user("", true)
        ),
    ] {
        let plan = plan(&conn, &sql);
        assert!(
            plan.iter().any(|step| step.contains("sqlite_autoindex_transactions_1")),
            "{sql}: {plan:?}"
        );
        assert!(!plan.iter().any(|step| step.contains("SCAN t")), "{sql}: {plan:?}");
    }
    // The load after a start reads the recent rows through the expiry
    // index, a catch-up the new ones by rowid.
    let load = plan(&conn, super::user_requests::LOAD);
    assert!(load.iter().any(|step| step.contains("transactions_expiry")), "{load:?}");
    let catch_up = plan(&conn, super::user_requests::CATCH_UP);
    assert!(
        catch_up
            .iter()
            .any(|step| step.contains("INTEGER PRIMARY KEY (rowid>?)")),
        "{catch_up:?}"
    );
    let user_index: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'transactions_user_expiry'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(user_index, 0, "the file keeps no index by user");
    // A poll finds its request by the id in its digest; an old-format
    // digest through the partial index; the push sweep through its own.
    let lookups = [
        (
            crate::store::transactions::auth_req_lookup("0123.abc").0.to_owned(),
            "sqlite_autoindex_transactions_1",
        ),
        (
            crate::store::transactions::auth_req_lookup("abc").0.to_owned(),
            "transactions_legacy_digest",
        ),
        (
            "SELECT t.id FROM transactions t WHERE t.status = 'pending' AND t.expires_at <= $1 \
             AND t.notify_kind = 'push' ORDER BY t.expires_at LIMIT $2"
                .to_owned(),
            "transactions_push_expiry",
        ),
    ];
    for (sql, index) in lookups {
        let plan = plan(&conn, &sql);
        assert!(plan.iter().any(|step| step.contains(index)), "{sql}: {plan:?}");
    }
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
async fn a_table_copy_over_dangling_references_is_rolled_back_at_every_start() {
    // A database at the migrations before the table copy, holding a
    // reference to nothing (foreign keys were off when it was written).
    let dir = tempfile::tempdir().unwrap();
    let earlier = dir.path().join("earlier");
    std::fs::create_dir(&earlier).unwrap();
    for path in crate::store::sqlite_migration_files() {
        let name = path.file_name().unwrap();
        if name.to_str().unwrap() < "20261130000001" {
            std::fs::copy(&path, earlier.join(name)).unwrap();
        }
    }
    let path = dir.path().join("t.db");
    let url = format!("sqlite://{}", path.display());
    let options = SqliteConnectOptions::from_str(&url)
        .unwrap()
        .create_if_missing(true)
        .foreign_keys(false);
    let mut conn = <sqlx::SqliteConnection as sqlx::Connection>::connect_with(&options)
        .await
        .unwrap();
    sqlx::migrate::Migrator::new(earlier.as_path())
        .await
        .unwrap()
        .run(&mut conn)
        .await
        .unwrap();
    sqlx::query("INSERT INTO access_tokens VALUES ('a', 'c', 'u', 'none', 'openid', 10, 0)")
        .execute(&mut conn)
        .await
        .unwrap();
    sqlx::Connection::close(conn).await.unwrap();
    // The copy's check fails and rolls it back: every start refuses until
    // the rows are mended.
    for _ in 0..2 {
        let err = SqliteStore::open(&url, SqliteSynchronous::Full)
            .await
            .err()
            .expect("opened");
        assert!(err.to_string().contains("CHECK constraint failed"), "{err}");
    }
    // Nothing of the copy stayed: the old table, its unique digest included.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let unique: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_schema WHERE name = 'sqlite_autoindex_transactions_2'",
            [],
            |r| r.get(0),
        )
        .unwrap();
    assert_eq!(unique, 1);
}

/// Migration 20261130000001 copies the transactions table: its rows and
/// the rows that reference them survive it, and references are enforced
/// on the copy.
#[test]
fn the_table_copy_keeps_rows_and_references() {
    let dir = tempfile::tempdir().unwrap();
    let conn = rusqlite::Connection::open(dir.path().join("t.db")).unwrap();
    let files = crate::store::sqlite_migration_files();
    let copy = files
        .iter()
        .position(|f| f.ends_with("20261130000001_lean_transaction_indexes.sql"))
        .unwrap();
    for file in &files[..copy] {
        conn.execute_batch(&std::fs::read_to_string(file).unwrap()).unwrap();
    }
    conn.execute_batch(
        "INSERT INTO clients VALUES ('c', NULL, '{}', 0); \
         INSERT INTO users (id, status, created_at) VALUES ('u', 'active', 0); \
         INSERT INTO transactions (id, auth_req_digest, client_id, user_id, context, display_text, scope, \
         status, created_at, expires_at, poll_interval) VALUES \
         ('old', 'olddigest', 'c', 'u', 'authentication', 'x', 'openid', 'pending', 0, 10, 5), \
         ('new', 'new.digest', 'c', 'u', 'authentication', 'x', 'openid', 'approved', 0, 10, 5); \
         INSERT INTO access_tokens VALUES ('a', 'c', 'u', 'new', 'openid', 10, 0);",
    )
    .unwrap();
    // As `migrate` runs them: foreign keys off (the copy checks the
    // references itself).
    conn.pragma_update(None, "foreign_keys", false).unwrap();
    for file in &files[copy..] {
        conn.execute_batch(&std::fs::read_to_string(file).unwrap()).unwrap();
    }
    conn.pragma_update(None, "foreign_keys", true).unwrap();
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM transactions ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(ids, ["new", "old"]);
    let dangling: i64 = conn
        .query_row("SELECT COUNT(*) FROM pragma_foreign_key_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(dangling, 0);
    // The old digest is still unique and found; a new one may repeat no more
    // than its id (the primary key) lets it.
    let (sql, key) = crate::store::transactions::auth_req_lookup("olddigest");
    let found: String = conn.query_row(sql, [key], |r| r.get(0)).unwrap();
    assert_eq!(found, "old");
    let twice = conn.execute(
        "INSERT INTO transactions (id, auth_req_digest, client_id, user_id, context, display_text, scope, \
         status, created_at, expires_at, poll_interval) VALUES \
         ('old2', 'olddigest', 'c', 'u', 'authentication', 'x', 'openid', 'pending', 0, 10, 5)",
        [],
    );
    assert!(
        twice.is_err(),
        "a second row with the same old-format digest was accepted"
    );
    // References are still enforced: a token for no transaction is refused.
    let orphan = conn.execute(
        "INSERT INTO access_tokens VALUES ('b', 'c', 'u', 'none', 'openid', 10, 0)",
        [],
    );
    assert!(orphan.is_err());
}
