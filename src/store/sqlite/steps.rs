//! Writes other than backchannel inserts that join the writer's group commit
//! (`group_commit.rs`): a step is a few statements run on the writer's open
//! transaction inside a savepoint of its own, so one step that fails or
//! decides to keep nothing is undone alone while the batch commits.
//!
//! Invariant: a step's caller hears success only after the COMMIT that
//! holds it, and hears an error when nothing of it was kept. That COMMIT is
//! synced (with `synchronous=FULL`) unless every write of the batch is an
//! unsynced step: one whose loss in a power cut costs a repeat, never a
//! decision or a token (`batched.rs` says which).

use rusqlite::Connection;
use tokio::sync::oneshot;

use crate::store::{StoreError, StoreResult};

/// What a step's statements decided: keep their changes, or undo them (a
/// refusal found halfway, such as a nonce used meanwhile) while still
/// answering the caller with the value.
pub(super) enum Kept<R> {
    Keep(R),
    Undo(R),
}

/// A step as the writer holds it, whatever its result type.
pub(super) trait Step: Send {
    /// Runs the statements on the writer's transaction. May run again, in a
    /// transaction of its own, when the batch it ran in was rolled back.
    fn run(&mut self, conn: &Connection) -> rusqlite::Result<()>;
    /// Whether its COMMIT must reach the disk before the answer.
    fn synced(&self) -> bool;
    /// Answers the caller: `Ok` once the COMMIT holding the step succeeded.
    fn answer(self: Box<Self>, outcome: Result<(), StoreError>);
}

/// A step returning `R` to a caller waiting on `done`.
pub(super) struct Typed<R, F> {
    statements: F,
    synced: bool,
    result: Option<R>,
    done: oneshot::Sender<StoreResult<R>>,
}

impl<R, F> Typed<R, F> {
    pub(super) fn new(statements: F, synced: bool) -> (Self, oneshot::Receiver<StoreResult<R>>) {
        let (done, answer) = oneshot::channel();
        let step = Self {
            statements,
            synced,
            result: None,
            done,
        };
        (step, answer)
    }
}

impl<R, F> Step for Typed<R, F>
where
    R: Send,
    F: Fn(&Connection) -> rusqlite::Result<Kept<R>> + Send,
{
    fn run(&mut self, conn: &Connection) -> rusqlite::Result<()> {
        self.result = None;
        conn.execute_batch("SAVEPOINT step")?;
        let value = match (self.statements)(conn) {
            Ok(Kept::Keep(value)) => {
                conn.execute_batch("RELEASE step")?;
                value
            }
            Ok(Kept::Undo(value)) => {
                conn.execute_batch("ROLLBACK TO step; RELEASE step")?;
                value
            }
            Err(e) => {
                conn.execute_batch("ROLLBACK TO step; RELEASE step")?;
                return Err(e);
            }
        };
        self.result = Some(value);
        Ok(())
    }

    fn synced(&self) -> bool {
        self.synced
    }

    fn answer(self: Box<Self>, outcome: Result<(), StoreError>) {
        let this = *self;
        let answer = outcome.and_then(|()| {
            this.result
                .ok_or_else(|| StoreError::Backend(sqlx::Error::Protocol("a batched step kept no result".into())))
        });
        let _ = this.done.send(answer);
    }
}

/// Runs each step of a batch on the open transaction. A step whose own
/// statements fail is rolled back to its savepoint, taken out of `steps` and
/// answered at once (nothing of it is kept). `Err` when the transaction
/// itself cannot go on (SQLite rolled it back, the database is gone): then
/// `steps` still holds every step not yet answered, for the caller to run
/// again or to fail.
pub(super) fn run_all(conn: &Connection, steps: &mut Vec<Box<dyn Step>>) -> rusqlite::Result<()> {
    let mut i = 0;
    while i < steps.len() {
        match steps[i].run(conn) {
            Ok(()) => i += 1,
            Err(e) if conn.is_autocommit() => return Err(e),
            Err(e) => steps.remove(i).answer(Err(super::group_commit::failed(&e))),
        }
    }
    Ok(())
}
