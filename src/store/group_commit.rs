//! Group commit of backchannel requests on SQLite. SQLite has one writer at a
//! time: concurrent single-row commits queue on its lock (sleeping in the
//! busy handler) and each pays its own WAL commit. One task here takes every
//! insert that is waiting, writes them in one database transaction and
//! answers each caller after the COMMIT, so durability is unchanged: nobody
//! gets an `auth_req_id` before its row is committed.

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

/// One database transaction for the whole batch. A row that breaks a unique
/// constraint fails alone (SQLite undoes just that statement); any other
/// error aborts the batch.
async fn write(pool: &SqlitePool, batch: &[Job]) -> Result<Vec<StoreResult<()>>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let mut results = Vec::with_capacity(batch.len());
    for job in batch {
        match SqliteStore::insert_transaction_row(&mut *tx, &job.txn).await {
            Ok(()) => results.push(Ok(())),
            Err(sqlx::Error::Database(d)) if d.is_unique_violation() => {
                results.push(Err(StoreError::Conflict("transaction id")));
            }
            Err(e) => return Err(e),
        }
    }
    tx.commit().await?;
    Ok(results)
}
