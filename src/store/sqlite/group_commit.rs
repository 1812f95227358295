//! Group commit of backchannel requests on SQLite. SQLite has one writer at a
//! time: concurrent single-row commits would queue on its lock (sleeping in
//! the busy handler) and each pay its own WAL commit and fsync. One thread
//! here owns a connection, takes every insert that is waiting, writes them in
//! one transaction (one fsync with the default `synchronous=FULL`) and
//! answers each caller after the COMMIT: nobody gets an `auth_req_id` before
//! its row is committed.
//!
//! The writer runs the statements itself (`direct.rs`): one hand-over per
//! request, none per statement.
//!
//! It is also the only connection that checkpoints the WAL: SQLite runs an
//! automatic checkpoint inside whichever commit takes the WAL past 1,000
//! pages, which must not be a decision's commit on the path from approval to
//! the relying party's ping (`wal_autocheckpoint=0` on the other connections,
//! `sqlite/mod.rs`). Here it lands on a batch of backchannel requests, and a tick every second checkpoints
//! what the other connections wrote in a second when no batch came.

use std::path::Path;
use std::sync::Arc;

use rusqlite::{Connection, TransactionBehavior};
use tokio::sync::{mpsc, oneshot};

use super::direct;
use crate::domain::transaction::Transaction;
use crate::store::batch_sizes::BatchSizes;
use crate::store::{OwedPushes, SqliteSynchronous, StoreError, StoreResult};

/// At most this many rows per commit: bounds one commit's latency.
const MAX_BATCH: usize = 256;
const QUEUE: usize = 4096;
/// The writer's page cache (KiB, as SQLite's negative `cache_size`).
const WRITER_CACHE_KIB: i64 = -32 * 1024;
/// How often the writer checkpoints whatever its own commits did not.
const CHECKPOINT_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

// A checkpoint is rare; boxing every insert to keep it small would cost an
// allocation per request.
#[allow(clippy::large_enum_variant)]
enum Work {
    Insert(Job),
    Checkpoint,
}

struct Job {
    txn: Transaction,
    pushes: Option<OwedPushes>,
    done: oneshot::Sender<StoreResult<u64>>,
}

pub(super) struct GroupCommit {
    queue: mpsc::Sender<Work>,
    /// Rows per commit, counted by the writer (`/metrics`).
    pub(super) sizes: Arc<BatchSizes>,
}

impl GroupCommit {
    /// Opens the writer's connection and starts its thread, which ends once
    /// the store (the queue's sender) is dropped.
    pub(super) fn spawn(path: &Path, synchronous: SqliteSynchronous) -> anyhow::Result<Self> {
        let conn = direct::open(path, synchronous)?;
        // Inserts land all over the indexes (one user's entries sit together,
        // the users do not): a cache that holds them spares re-reading pages
        // from the file at every batch. Pages are allocated only as used.
        conn.pragma_update(None, "cache_size", WRITER_CACHE_KIB)?;
        // Checkpoints stay inside the writer's commits: one on another thread,
        // racing a writer that never pauses, never finishes (the WAL grows).
        let (queue, jobs) = mpsc::channel(QUEUE);
        let sizes = Arc::new(BatchSizes::default());
        let counted = sizes.clone();
        std::thread::Builder::new()
            .name("trustid-sqlite-writer".into())
            .spawn(move || run(conn, jobs, &counted))?;
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(tick(queue.downgrade()));
        }
        Ok(Self { queue, sizes })
    }

    /// Has the writer checkpoint the WAL after its current batch.
    #[cfg(test)]
    async fn checkpoint(&self) {
        let _ = self.queue.send(Work::Checkpoint).await;
    }

    /// Inserts `txn` and the pushes it owes, returning once its batch is
    /// committed: how many pushes are owed.
    pub(super) async fn insert(&self, txn: &Transaction, pushes: Option<OwedPushes>) -> StoreResult<u64> {
        let (done, answer) = oneshot::channel();
        let job = Job {
            txn: txn.clone(),
            pushes,
            done,
        };
        self.queue.send(Work::Insert(job)).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Backend(sqlx::Error::PoolClosed)
}

/// Asks the writer for a checkpoint every `CHECKPOINT_EVERY` until the store
/// is dropped (a weak sender does not keep the writer alive).
async fn tick(queue: mpsc::WeakSender<Work>) {
    let first = tokio::time::Instant::now() + CHECKPOINT_EVERY;
    let mut every = tokio::time::interval_at(first, CHECKPOINT_EVERY);
    every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        every.tick().await;
        let Some(queue) = queue.upgrade() else { return };
        // A full queue means batches are committing, and checkpointing.
        let _ = queue.try_send(Work::Checkpoint);
    }
}

fn run(mut conn: Connection, mut jobs: mpsc::Receiver<Work>, sizes: &BatchSizes) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    // Batches committed since the last tick ran SQLite's own checkpoint when
    // the WAL needed one: a tick then has nothing to add.
    let mut committed = false;
    while let Some(first) = jobs.blocking_recv() {
        // Whatever queued while the last batch committed joins this one.
        let mut checkpoint = false;
        let mut next = Some(first);
        while let Some(work) = next.take() {
            match work {
                Work::Insert(job) => batch.push(job),
                Work::Checkpoint => checkpoint = true,
            }
            if batch.len() < MAX_BATCH {
                next = jobs.try_recv().ok();
            }
        }
        if !batch.is_empty() {
            sizes.record(batch.len());
            commit(&mut conn, &mut batch);
            committed = true;
        }
        if checkpoint && !std::mem::take(&mut committed) {
            // PASSIVE: copies what no reader still needs, never waits for one.
            if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                tracing::warn!(error = %e, "WAL checkpoint failed");
            }
        }
    }
}

/// Commits a batch and answers its callers.
fn commit(conn: &mut Connection, batch: &mut Vec<Job>) {
    match write(conn, batch) {
        Ok(results) => answer(batch.drain(..).zip(results)),
        // Rolled back. One row that breaks a constraint (a client deleted
        // meanwhile, say) must not fail the others: each is tried again on
        // its own. Any other error concerns the database, not a row.
        Err(e) if batch.len() > 1 && is_constraint(&e) => {
            tracing::warn!(error = %e, rows = batch.len(), "group commit failed; committing its rows one by one");
            let mut unavailable = None;
            for job in batch.drain(..) {
                let result = match &unavailable {
                    Some(e) => Err(failed(e)),
                    None => match write(conn, std::slice::from_ref(&job)) {
                        Ok(mut one) => one.remove(0),
                        Err(e) => {
                            if !is_constraint(&e) {
                                // Busy or broken: the rest would only wait for the same.
                                unavailable = Some(e.to_string());
                            }
                            Err(failed(&e))
                        }
                    },
                };
                answer([(job, result)]);
            }
        }
        Err(e) => {
            tracing::warn!(error = %e, rows = batch.len(), "group commit failed");
            answer(batch.drain(..).map(|job| (job, Err(failed(&e)))));
        }
    }
}

fn answer(answers: impl IntoIterator<Item = (Job, StoreResult<u64>)>) {
    for (job, result) in answers {
        let _ = job.done.send(result);
    }
}

fn is_constraint(e: &rusqlite::Error) -> bool {
    e.sqlite_error_code() == Some(rusqlite::ErrorCode::ConstraintViolation)
}

fn failed(e: &dyn std::fmt::Display) -> StoreError {
    StoreError::Backend(sqlx::Error::Protocol(format!("the batched commit failed: {e}")))
}

/// One transaction for the whole batch. A row whose id or digest exists
/// already is refused alone; any other failure rolls the batch back (and
/// `commit` tries its rows again one by one).
fn write(conn: &mut Connection, batch: &[Job]) -> rusqlite::Result<Vec<StoreResult<u64>>> {
    let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        if !direct::insert_transaction(&tx, &job.txn)? {
            results.push(Err(StoreError::Conflict("transaction id")));
            continue;
        }
        let owed = match job.pushes {
            Some(pushes) => direct::owe_device_pushes(&tx, &job.txn, pushes)?,
            None => 0,
        };
        results.push(Ok(owed));
    }
    tx.commit()?;
    Ok(results)
}

#[cfg(test)]
mod tests {
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
        let mut t = (*super::super::hot::tests::pending(id)).clone();
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
        commit(&mut conn, &mut batch);
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
        commit(&mut conn, &mut batch);
        for mut answer in answers {
            let result = answer.try_recv().unwrap();
            assert!(matches!(result, Err(StoreError::Backend(_))), "{result:?}");
        }
        holder.execute_batch("ROLLBACK").unwrap();
        let (mut batch, mut answers) = jobs([txn("t3", "d3")]);
        commit(&mut conn, &mut batch);
        assert!(
            matches!(answers.remove(0).try_recv(), Ok(Ok(0))),
            "the writer goes on once the lock is free"
        );
    }
}
