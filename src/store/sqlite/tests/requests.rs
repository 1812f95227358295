//! The index of requests by user: every instance on the file finds them,
//! by primary key.

use super::*;

#[tokio::test]
async fn a_users_requests_are_found_by_every_instance_on_the_file_and_after_a_restart() {
    use crate::domain::transaction::{Status, sample};
    use crate::store::RateKey;
    let dir = tempfile::tempdir().unwrap();
    let (first, path) = store(&dir).await;
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(
            "INSERT INTO clients (id, secret_digest, metadata, created_at) VALUES ('c', NULL, '{}', 0); \
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
    let inbox = |items: Vec<crate::store::InboxItem>| -> Vec<String> {
        items.into_iter().map(|i| i.transaction.id.into_string()).collect()
    };
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
