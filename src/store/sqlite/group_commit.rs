//! Group commit on SQLite. SQLite has one writer at a time: concurrent
//! commits would queue on its lock (sleeping in the busy handler) and each pay
//! its own WAL commit and fsync. One thread here owns a connection, takes
//! every write that is waiting, runs them in one transaction (one fsync with
//! the default `synchronous=FULL`) and answers each caller after the COMMIT:
//! nobody gets an `auth_req_id` before its row is committed, nor a 2xx for a
//! decision or a token before it is on disk. The writes are the backchannel's
//! inserts and the other writes of a flow (`steps.rs`, `batched.rs`).
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
use super::steps::{self, Kept, Step, Typed};
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
    Step(Box<dyn Step>),
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
            .spawn(move || run(conn, jobs, &counted, synchronous))?;
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

    /// Runs `statements` in the next batch, returning once it is committed
    /// (`steps.rs`); `synced: false` when losing them in a power cut costs
    /// only a repeat. They may run twice: once in a batch that is then
    /// rolled back, again in a transaction of their own.
    pub(super) async fn step<R, F>(&self, synced: bool, statements: F) -> StoreResult<R>
    where
        R: Send + 'static,
        F: Fn(&Connection) -> rusqlite::Result<Kept<R>> + Send + 'static,
    {
        let (step, answer) = Typed::new(statements, synced);
        self.queue
            .send(Work::Step(Box::new(step)))
            .await
            .map_err(|_| stopped())?;
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

fn run(mut conn: Connection, mut jobs: mpsc::Receiver<Work>, sizes: &BatchSizes, synchronous: SqliteSynchronous) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut steps: Vec<Box<dyn Step>> = Vec::with_capacity(MAX_BATCH);
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
                Work::Step(step) => steps.push(step),
                Work::Checkpoint => checkpoint = true,
            }
            if batch.len() + steps.len() < MAX_BATCH {
                next = jobs.try_recv().ok();
            }
        }
        if !batch.is_empty() || !steps.is_empty() {
            sizes.record(batch.len() + steps.len());
            // A batch of unsynced steps alone skips the fsync; the next synced
            // commit puts it on disk with the rest of the WAL before it.
            let skip_sync =
                synchronous == SqliteSynchronous::Full && batch.is_empty() && steps.iter().all(|s| !s.synced());
            if skip_sync {
                let _ = conn.pragma_update(None, "synchronous", SqliteSynchronous::Normal.as_pragma());
            }
            commit(&mut conn, &mut batch, &mut steps);
            if skip_sync && let Err(e) = conn.pragma_update(None, "synchronous", synchronous.as_pragma()) {
                // Never answer a synced write from a connection left unsynced.
                tracing::error!(error = %e, "the writer cannot sync its commits again; it stops");
                return;
            }
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
fn commit(conn: &mut Connection, batch: &mut Vec<Job>, steps: &mut Vec<Box<dyn Step>>) {
    match write(conn, batch, steps) {
        Ok(results) => {
            answer(batch.drain(..).zip(results));
            answer_steps(steps, Ok(()));
        }
        // Rolled back. One row that breaks a constraint (a client deleted
        // meanwhile, say) must not fail the others: each is tried again on
        // its own. Any other error concerns the database, not a row.
        Err(e) if batch.len() > 1 && is_constraint(&e) => {
            tracing::warn!(error = %e, rows = batch.len(), "group commit failed; committing its rows one by one");
            let mut unavailable = None;
            for job in batch.drain(..) {
                let result = match &unavailable {
                    Some(e) => Err(failed(e)),
                    None => match write(conn, std::slice::from_ref(&job), &mut Vec::new()) {
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
            // The steps were rolled back with the rows: they run again alone.
            let again = match unavailable {
                Some(e) => Err(e),
                None => write(conn, &[], steps).map(|_| ()).map_err(|e| e.to_string()),
            };
            answer_steps(steps, again);
        }
        Err(e) => {
            tracing::warn!(error = %e, rows = batch.len(), steps = steps.len(), "group commit failed");
            answer(batch.drain(..).map(|job| (job, Err(failed(&e)))));
            answer_steps(steps, Err(e.to_string()));
        }
    }
}

/// Answers every step: `Ok` once committed, else why nothing was kept.
fn answer_steps(steps: &mut Vec<Box<dyn Step>>, outcome: Result<(), String>) {
    for step in steps.drain(..) {
        step.answer(outcome.as_ref().map(|_| ()).map_err(|e| failed(e)));
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

pub(super) fn failed(e: &dyn std::fmt::Display) -> StoreError {
    StoreError::Backend(sqlx::Error::Protocol(format!("the batched commit failed: {e}")))
}

/// One transaction for the whole batch. A row whose id or digest exists
/// already is refused alone, as is a step that fails (`steps::run_all`); any
/// other failure rolls the batch back (and `commit` tries its rows again one
/// by one).
fn write(
    conn: &mut Connection,
    batch: &[Job],
    steps: &mut Vec<Box<dyn Step>>,
) -> rusqlite::Result<Vec<StoreResult<u64>>> {
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
    steps::run_all(&tx, steps)?;
    tx.commit()?;
    Ok(results)
}

#[cfg(test)]
#[path = "group_commit_tests.rs"]
mod tests;
