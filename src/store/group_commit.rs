//! Group commit of backchannel requests on SQLite. SQLite has one writer at a
//! time: concurrent single-row commits queue on its lock (sleeping in the
//! busy handler) and each pays its own WAL commit. One task here takes every
//! insert that is waiting, writes them in one statement (one commit) and
//! answers each caller after the COMMIT, so durability is unchanged: nobody
//! gets an `auth_req_id` before its row is committed.

use std::collections::HashSet;

use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::sqlite::SqliteStore;
use super::{StoreError, StoreResult};
use crate::domain::transaction::Transaction;

/// At most this many rows per commit: bounds one commit's latency.
const MAX_BATCH: usize = 256;
const QUEUE: usize = 4096;

struct Job {
    txn: Transaction,
    done: oneshot::Sender<StoreResult<()>>,
}

pub(super) struct GroupCommit {
    queue: mpsc::Sender<Job>,
}

impl GroupCommit {
    /// Starts the writer task on the current runtime; it ends with the store.
    pub(super) fn spawn(pool: SqlitePool) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(run(pool, jobs));
        Self { queue }
    }

    /// Inserts `txn`, returning once its batch is committed.
    pub(super) async fn insert(&self, txn: &Transaction) -> StoreResult<()> {
        let (done, answer) = oneshot::channel();
        let job = Job { txn: txn.clone(), done };
        self.queue.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
    }
}

fn stopped() -> StoreError {
    StoreError::Backend(sqlx::Error::PoolClosed)
}

async fn run(pool: SqlitePool, mut jobs: mpsc::Receiver<Job>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while jobs.recv_many(&mut batch, MAX_BATCH).await > 0 {
        match write(&pool, &batch).await {
            Ok(results) => {
                for (job, result) in batch.drain(..).zip(results) {
                    let _ = job.done.send(result);
                }
            }
            Err(e) => {
                // Rolled back: none of them is stored, every caller hears it.
                tracing::warn!(error = %e, rows = batch.len(), "group commit failed");
                for job in batch.drain(..) {
                    let _ = job.done.send(Err(StoreError::Backend(sqlx::Error::Protocol(format!(
                        "the batched commit failed: {e}"
                    )))));
                }
            }
        }
    }
}

/// One multi-row INSERT for the whole batch: atomic and committed on its own
/// (autocommit), one round trip to the connection's thread. A row whose id or
/// digest exists already is refused alone.
async fn write(pool: &SqlitePool, batch: &[Job]) -> Result<Vec<StoreResult<()>>, sqlx::Error> {
    let rows: Vec<&Transaction> = batch.iter().map(|job| &job.txn).collect();
    let stored: HashSet<String> = SqliteStore::insert_transaction_rows(pool, &rows)
        .await?
        .into_iter()
        .collect();
    Ok(rows
        .iter()
        .map(|t| match stored.contains(&t.id) {
            true => Ok(()),
            false => Err(StoreError::Conflict("transaction id")),
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use std::str::FromStr;

    use sqlx::sqlite::{SqliteConnectOptions, SqlitePoolOptions};

    use super::*;

    async fn memory_pool(migrated: bool) -> SqlitePool {
        // No foreign keys: the rows name clients and users that are not there.
        let options = SqliteConnectOptions::from_str("sqlite::memory:")
            .unwrap()
            .foreign_keys(false);
        let pool = SqlitePoolOptions::new()
            .max_connections(1)
            .connect_with(options)
            .await
            .unwrap();
        if migrated {
            sqlx::migrate!("migrations/sqlite").run(&pool).await.unwrap();
        }
        pool
    }

    fn txn(id: &str, digest: &str) -> Transaction {
        let mut t = (*super::super::hot::tests::pending(id)).clone();
        t.auth_req_digest = digest.into();
        t
    }

    #[tokio::test]
    async fn a_duplicate_row_is_refused_alone() {
        let writer = GroupCommit::spawn(memory_pool(true).await);
        let (a, b) = (txn("t1", "d1"), txn("t2", "d1"));
        let (ra, rb) = tokio::join!(writer.insert(&a), writer.insert(&b));
        assert!(ra.is_ok(), "{ra:?}");
        assert!(matches!(rb, Err(StoreError::Conflict(_))), "{rb:?}");
        assert!(writer.insert(&txn("t3", "d3")).await.is_ok(), "the writer goes on");
    }

    #[tokio::test]
    async fn a_failed_commit_fails_every_caller_of_the_batch() {
        let writer = GroupCommit::spawn(memory_pool(false).await);
        let (a, b) = (txn("t1", "d1"), txn("t2", "d2"));
        let (ra, rb) = tokio::join!(writer.insert(&a), writer.insert(&b));
        assert!(matches!(ra, Err(StoreError::Backend(_))), "{ra:?}");
        assert!(matches!(rb, Err(StoreError::Backend(_))), "{rb:?}");
    }
}
