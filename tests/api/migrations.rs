//! The PostgreSQL migrations are the SQLite ones with BIGINT for INTEGER:
//! one schema, two dialects, held together here.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Migrations whose statements must differ: SQLite cannot drop a column's
/// UNIQUE in place and rebuilds the table, PostgreSQL drops the constraint.
/// Both must still leave the same indexes.
const DIALECT_SPECIFIC: [&str; 2] = [
    "20261130000001_lean_transaction_indexes.sql",
    // SQLite copies the table to widen a CHECK; PostgreSQL alters the constraint.
    "20261206000002_saml_context.sql",
];

/// Migrations PostgreSQL has no counterpart of: SQLite finds a user's
/// requests in memory (`src/store/sqlite/user_requests.rs`), PostgreSQL, which
/// several instances write, through its `(user_id, expires_at)` index; SQLite
/// keeps users in memory, and tells other processes' changes by a counter
/// (`src/store/sqlite/user_cache.rs`), PostgreSQL reads them every time.
const SQLITE_ONLY: [&str; 2] = [
    "20261130000002_user_index_in_memory.sql",
    "20261201000001_user_epoch.sql",
];

/// Migrations SQLite has no counterpart of: the request caps' counters,
/// which SQLite keeps in memory (`src/store/sqlite/rate_windows.rs`) and
/// several PostgreSQL instances must share; the trigger that tells every
/// instance of a changed transaction (one SQLite process makes every change).
const POSTGRES_ONLY: [&str; 2] = [
    "20261207000005_request_counts.sql",
    "20261207000006_transaction_changes.sql",
];

/// The names of the indexes a migration creates, in order.
fn created_indexes(sql: &str) -> Vec<String> {
    sql.lines()
        .filter_map(|l| {
            let rest = l.trim().strip_prefix("CREATE ")?;
            let rest = rest.strip_prefix("UNIQUE ").unwrap_or(rest).strip_prefix("INDEX ")?;
            Some(rest.split_whitespace().next()?.to_owned())
        })
        .collect()
}

#[test]
fn postgres_migrations_mirror_the_sqlite_ones() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let mut names: Vec<String> = std::fs::read_dir(dir.join("sqlite"))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .collect();
    names.sort();
    assert!(!names.is_empty());
    for name in names {
        let sqlite = std::fs::read_to_string(dir.join("sqlite").join(&name)).unwrap();
        if SQLITE_ONLY.contains(&name.as_str()) {
            assert!(!dir.join("postgres").join(&name).exists(), "{name} is SQLite's alone");
            continue;
        }
        let postgres = std::fs::read_to_string(dir.join("postgres").join(&name))
            .unwrap_or_else(|_| panic!("migrations/postgres/{name} is missing"));
        if DIALECT_SPECIFIC.contains(&name.as_str()) {
            // SQLite recreates the indexes its table copy dropped; the new ones match.
            let pg = created_indexes(&postgres);
            let sqlite = created_indexes(&sqlite);
            assert!(
                pg.iter().all(|i| sqlite.contains(i)),
                "{name}: {pg:?} not all in {sqlite:?}"
            );
            continue;
        }
        // Skip the two header comment lines, which name the dialect.
        let body = |text: &str| text.lines().skip(2).collect::<Vec<_>>().join("\n");
        assert_eq!(
            body(&sqlite.replace("INTEGER", "BIGINT")),
            body(&postgres),
            "{name} differs beyond INTEGER/BIGINT"
        );
    }
    for name in POSTGRES_ONLY {
        assert!(dir.join("postgres").join(name).exists(), "{name} is missing");
        assert!(!dir.join("sqlite").join(name).exists(), "{name} is PostgreSQL's alone");
    }
}

/// Upgrades run forward only: a database a newer binary migrated is
/// refused at start by this one, with a message, and nothing is changed.
#[tokio::test]
async fn an_older_binary_refuses_a_database_a_newer_one_migrated() {
    let dir = tempfile::tempdir().unwrap();
    let url = crate::common::test_database_url(&dir).await;
    let env = [("TRUSTID_DATABASE_URL", url.as_str())];
    let first = crate::cli::trustid(dir.path(), &["migrate"], &env);
    assert!(first.status.success(), "{}", String::from_utf8_lossy(&first.stderr));
    let newer = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES (99990101000000, 'from a newer binary', TRUE, x'00', 0)";
    let newer = if url.starts_with("postgres") {
        newer.replace("x'00'", "'\\x00'::bytea")
    } else {
        newer.into()
    };
    crate::health::execute(&url, &newer).await;
    let refused = crate::cli::trustid(dir.path(), &["migrate"], &env);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(
        why.contains("99990101000000"),
        "names the migration it does not know: {why}"
    );
}
