//! The group commit's own tests: batches, refusals, failures and checkpoints.

use super::*;

/// A database file with the schema and the client and user the sample
/// rows name, or an empty one.
fn database(migrated: bool) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("t.db");
    let conn = Connection::open(&path).unwrap();
    conn.pragma_update(None, "journal_mode", "wal").unwrap();
    if migrated {
        for file in crate::store::sqlite_migration_files() {
            conn.execute_batch(&std::fs::read_to_string(file).unwrap()).unwrap();
        }
        conn.execute_batch(
            "INSERT INTO clients (id, secret_digest, metadata, created_at) VALUES ('c', NULL, '{}', 0); \
             INSERT INTO users (id, status, created_at) VALUES ('u', 'active', 0); \
             INSERT INTO devices (id, device_key, auth_key, user_id, status, created_at, push_channel, \
             push_address) VALUES ('pushable', 'k', 'k', 'u', 'active', 0, 'webhook', 'a'), \
             ('inbox-only', 'k', 'k', 'u', 'active', 0, NULL, NULL);",
        )
        .unwrap();
    }
    (dir, path)
}

fn writer(path: &Path) -> GroupCommit {
    GroupCommit::spawn(path, SqliteSynchronous::Full).unwrap()
}

/// A batch of jobs owing no pushes, and where each will be answered.
fn jobs<const N: usize>(txns: [Transaction; N]) -> (Vec<Job>, Vec<oneshot::Receiver<StoreResult<u64>>>) {
    txns.into_iter()
        .map(|txn| {
            let (done, answer) = oneshot::channel();
            let job = Job {
                txn,
                pushes: None,
                done,
            };
            (job, answer)
        })
        .unzip()
}

fn txn(id: &str, digest: &str) -> Transaction {
    let mut t = (*crate::store::pending_cache::tests::pending(id)).clone();
    t.auth_req_digest = digest.into();
    t
}

#[tokio::test]
async fn the_writer_checkpoints_what_other_connections_wrote() {
    let (_dir, path) = database(true);
    let writer = writer(&path);
    let other = Connection::open(&path).unwrap();
    other.pragma_update(None, "wal_autocheckpoint", 0).unwrap();
    other
        .execute("INSERT INTO replay (key, expires_at) VALUES ('k', 1)", [])
        .unwrap();
    // `immutable` reads the database file alone, not the WAL; while the
    // writer copies pages in, it may read a torn page: 0, try again.
    let file_only = || {
        let url = format!("file:{}?immutable=1", path.display());
        let flags = rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_URI;
        Connection::open_with_flags(url, flags)
            .and_then(|conn| conn.query_row("SELECT COUNT(*) FROM replay", [], |r| r.get::<_, i64>(0)))
            .unwrap_or(0)
    };
    assert_eq!(file_only(), 0, "in the WAL only");
    writer.checkpoint().await;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while file_only() == 0 {
        assert!(std::time::Instant::now() < deadline, "never checkpointed");
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // And the tick asks for one by itself (its first a period after the start).
    other
        .execute("INSERT INTO replay (key, expires_at) VALUES ('k2', 1)", [])
        .unwrap();
    let deadline = std::time::Instant::now() + CHECKPOINT_EVERY * 5;
    while file_only() < 2 {
        assert!(std::time::Instant::now() < deadline, "no checkpoint on the tick");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_duplicate_row_is_refused_alone() {
    let (_dir, path) = database(true);
    let writer = writer(&path);
    let (a, b) = (txn("t1", "d1"), txn("t2", "d1"));
    let (ra, rb) = tokio::join!(writer.insert(&a, None), writer.insert(&b, None));
    assert!(ra.is_ok(), "{ra:?}");
    assert!(matches!(rb, Err(StoreError::Conflict(_))), "{rb:?}");
    assert!(
        writer.insert(&txn("t3", "d3"), None).await.is_ok(),
        "the writer goes on"
    );
}

#[tokio::test]
async fn a_commit_failing_for_the_database_fails_every_caller_of_the_batch() {
    let (_dir, path) = database(false);
    let writer = writer(&path);
    let (a, b) = (txn("t1", "d1"), txn("t2", "d2"));
    let (ra, rb) = tokio::join!(writer.insert(&a, None), writer.insert(&b, None));
    assert!(matches!(ra, Err(StoreError::Backend(_))), "{ra:?}");
    assert!(matches!(rb, Err(StoreError::Backend(_))), "{rb:?}");
}

#[tokio::test]
async fn the_pushes_a_request_owes_are_written_in_its_commit() {
    let (_dir, path) = database(true);
    let writer = writer(&path);
    let owe = OwedPushes {
        only_preferred: false,
        now_ms: 1_000,
    };
    assert_eq!(writer.insert(&txn("t1", "d1"), Some(owe)).await.unwrap(), 1);
    assert_eq!(writer.insert(&txn("t2", "d2"), None).await.unwrap(), 0);
    // A refused row owes nothing.
    assert!(matches!(
        writer.insert(&txn("t3", "d1"), Some(owe)).await,
        Err(StoreError::Conflict(_))
    ));
    let conn = Connection::open(&path).unwrap();
    let rows: Vec<(String, String, i64)> = conn
        .prepare("SELECT transaction_id, device_id, next_attempt_at FROM device_pushes")
        .unwrap()
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(rows, [("t1".to_owned(), "pushable".to_owned(), 1_000)]);
}

#[test]
fn a_row_that_cannot_be_stored_fails_alone_and_its_batch_is_committed() {
    let (_dir, path) = database(true);
    let mut conn = direct::open(&path, SqliteSynchronous::Full).unwrap();
    let mut orphan = txn("t2", "d2");
    orphan.client_id = "no such client".into();
    let (mut batch, answers) = jobs([txn("t1", "d1"), orphan, txn("t3", "d3")]);
    commit(&mut conn, &mut batch, &mut Vec::new());
    let results: Vec<_> = answers.into_iter().map(|mut a| a.try_recv().unwrap()).collect();
    assert!(matches!(results[1], Err(StoreError::Backend(_))), "{results:?}");
    assert!(matches!(results[..], [Ok(0), _, Ok(0)]), "{results:?}");
    let ids: Vec<String> = conn
        .prepare("SELECT id FROM transactions ORDER BY id")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    assert_eq!(ids, ["t1", "t3"]);
}

#[test]
fn a_busy_database_fails_the_whole_batch_and_the_writer_goes_on() {
    let (_dir, path) = database(true);
    let mut conn = direct::open(&path, SqliteSynchronous::Full).unwrap();
    conn.busy_timeout(std::time::Duration::from_millis(50)).unwrap();
    let holder = Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (mut batch, answers) = jobs([txn("t1", "d1"), txn("t2", "d2")]);
    commit(&mut conn, &mut batch, &mut Vec::new());
    for mut answer in answers {
        let result = answer.try_recv().unwrap();
        assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    }
    holder.execute_batch("ROLLBACK").unwrap();
    let (mut batch, mut answers) = jobs([txn("t3", "d3")]);
    commit(&mut conn, &mut batch, &mut Vec::new());
    assert!(
        matches!(answers.remove(0).try_recv(), Ok(Ok(0))),
        "the writer goes on once the lock is free"
    );
}

/// A step remembering `key` in the replay table, and where it is answered.
fn remember(key: &'static str) -> (Box<dyn Step>, oneshot::Receiver<StoreResult<bool>>) {
    let (step, answer) = Typed::new(
        move |conn: &Connection| {
            let n = conn.execute("INSERT INTO replay (key, expires_at) VALUES (?1, 1)", [key])?;
            Ok(Kept::Keep(n == 1))
        },
        true,
    );
    (Box::new(step), answer)
}

fn replay_keys(conn: &Connection) -> Vec<String> {
    conn.prepare("SELECT key FROM replay ORDER BY key")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap()
}

#[tokio::test]
async fn steps_commit_with_the_rows_and_are_answered_after_the_commit() {
    let (_dir, path) = database(true);
    let writer = writer(&path);
    let step = writer.step(true, |conn| {
        conn.execute("INSERT INTO replay (key, expires_at) VALUES ('k', 1)", [])?;
        Ok(Kept::Keep(7))
    });
    let t1 = txn("t1", "d1");
    let (row, answered) = tokio::join!(writer.insert(&t1, None), step);
    assert!(row.is_ok(), "{row:?}");
    assert_eq!(answered.unwrap(), 7);
    assert_eq!(replay_keys(&Connection::open(&path).unwrap()), ["k"]);
}

#[test]
fn a_step_that_undoes_or_fails_keeps_nothing_and_the_batch_commits() {
    let (_dir, path) = database(true);
    let mut conn = direct::open(&path, SqliteSynchronous::Full).unwrap();
    let (undone, undone_answer) = Typed::new(
        |conn: &Connection| {
            conn.execute("INSERT INTO replay (key, expires_at) VALUES ('undone', 1)", [])?;
            Ok(Kept::Undo("refused"))
        },
        true,
    );
    let (failing, failing_answer) = Typed::new(
        |conn: &Connection| {
            conn.execute("INSERT INTO replay (key, expires_at) VALUES ('half', 1)", [])?;
            conn.execute("INSERT INTO no_such_table VALUES (1)", [])?;
            Ok(Kept::Keep(()))
        },
        true,
    );
    let (kept, mut kept_answer) = remember("kept");
    let (mut batch, mut answers) = jobs([txn("t1", "d1")]);
    let mut steps: Vec<Box<dyn Step>> = vec![Box::new(undone), Box::new(failing), kept];
    commit(&mut conn, &mut batch, &mut steps);
    assert!(matches!(answers.remove(0).try_recv(), Ok(Ok(0))));
    let (mut undone_answer, mut failing_answer) = (undone_answer, failing_answer);
    assert!(matches!(undone_answer.try_recv(), Ok(Ok("refused"))));
    let failed = failing_answer.try_recv().unwrap();
    assert!(matches!(failed, Err(StoreError::Backend(_))), "{failed:?}");
    assert!(matches!(kept_answer.try_recv(), Ok(Ok(true))));
    assert_eq!(
        replay_keys(&conn),
        ["kept"],
        "neither the undone nor the failed step left a row"
    );
}

#[test]
fn steps_of_a_batch_rolled_back_for_a_row_run_again_once() {
    let (_dir, path) = database(true);
    let mut conn = direct::open(&path, SqliteSynchronous::Full).unwrap();
    let mut orphan = txn("t2", "d2");
    orphan.client_id = "no such client".into();
    let (mut batch, answers) = jobs([txn("t1", "d1"), orphan]);
    let (step, mut answer) = remember("k");
    let mut steps = vec![step];
    commit(&mut conn, &mut batch, &mut steps);
    let rows: Vec<_> = answers.into_iter().map(|mut a| a.try_recv().unwrap()).collect();
    assert!(matches!(rows[..], [Ok(0), Err(StoreError::Backend(_))]), "{rows:?}");
    assert!(matches!(answer.try_recv(), Ok(Ok(true))), "run again, and kept");
    assert_eq!(replay_keys(&conn), ["k"]);
}

#[test]
fn a_busy_database_fails_the_steps_too() {
    let (_dir, path) = database(true);
    let mut conn = direct::open(&path, SqliteSynchronous::Full).unwrap();
    conn.busy_timeout(std::time::Duration::from_millis(50)).unwrap();
    let holder = Connection::open(&path).unwrap();
    holder.execute_batch("BEGIN IMMEDIATE").unwrap();
    let (step, mut answer) = remember("k");
    commit(&mut conn, &mut Vec::new(), &mut vec![step]);
    let result = answer.try_recv().unwrap();
    assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
    holder.execute_batch("ROLLBACK").unwrap();
    assert!(replay_keys(&conn).is_empty());
}
