//! The SQLite migrations' table copy.

use super::*;

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
        "INSERT INTO clients (id, secret_digest, metadata, created_at) VALUES ('c', NULL, '{}', 0); \
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
        "INSERT INTO access_tokens (digest, client_id, user_id, transaction_id, scope, expires_at, revoked) \
         VALUES ('b', 'c', 'u', 'none', 'openid', 10, 0)",
        [],
    );
    let refused = orphan.expect_err("a token for no transaction").to_string();
    assert!(refused.contains("FOREIGN KEY"), "{refused}");
}
