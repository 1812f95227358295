//! A flow's writes after the backchannel's insert, on SQLite: the device
//! proof's `jti`, the inbox's challenges, the decision with what it owes, and
//! the redemption with its tokens. Each runs as a step of the writer's group
//! commit (`group_commit.rs`, `steps.rs`) instead of a commit of its own
//! through sqlx, where concurrent flows each waited for SQLite's lock and
//! paid an fsync. The statements are the ones sqlx runs on PostgreSQL
//! (`store::flow_sql`), with the same refusals.

use rusqlite::types::ToSql;
use rusqlite::{Connection, params};

use super::SqliteStore;
use super::direct::bind_numbered;
use super::steps::Kept;
use crate::domain::challenge::Challenge;
use crate::domain::delivery::Delivery;
use crate::domain::token::Issued;
use crate::domain::transaction::Status;
use crate::store::flow_sql::{
    ASSOCIATE_APP, CONSUME, DECIDE, INSERT_ACCESS_TOKEN, INSERT_CHALLENGE, INSERT_DELIVERY, INSERT_REFRESH_TOKEN,
    REMEMBER, RESET_DEVICE_FAILURES, USE_CHALLENGE,
};
use crate::store::{DecideOutcome, DecisionWrite, StoreResult};

/// A [`DecisionWrite`] the writer thread can own.
struct Decision {
    transaction_id: String,
    nonce: String,
    device_id: String,
    outcome: Status,
    now: i64,
    associate: Option<(String, String)>,
    delivery: Option<Delivery>,
    issued: Option<Issued>,
}

impl SqliteStore {
    /// `remember_proof`: false when the `jti` is live already (a replay).
    pub(super) async fn batched_proof(&self, key: &str, expires_at: i64, now: i64) -> Option<StoreResult<bool>> {
        let key = key.to_owned();
        // Unsynced: a proof is accepted only within the clock-skew window
        // after it was made, so only a power cut in that window and a quick
        // restart could let a captured proof be replayed.
        let remembered = self.writer.step(false, move |conn| {
            let changed = execute(conn, REMEMBER, params![key, expires_at, now])?;
            Ok(Kept::Keep(changed == 1))
        });
        Some(remembered.await)
    }

    pub(super) async fn batched_challenges(&self, challenges: &[Challenge]) -> Option<StoreResult<()>> {
        let challenges = challenges.to_vec();
        // Unsynced: a challenge lost in a power cut makes the device's
        // decision refused (`invalid_nonce`); it fetches the inbox again.
        let stored = self.writer.step(false, move |conn| {
            for c in &challenges {
                execute(
                    conn,
                    INSERT_CHALLENGE,
                    params![
                        c.nonce,
                        c.transaction_id.as_str(),
                        c.device_id.as_str(),
                        c.expires_at,
                        c.created_at
                    ],
                )?;
            }
            Ok(Kept::Keep(()))
        });
        Some(stored.await)
    }

    /// A decision; `None` for one that changes a user's status (a
    /// provisioning approval, rare), which moves the users' generation and
    /// goes through sqlx (`user_cache.rs`).
    pub(super) async fn batched_decision(&self, w: &DecisionWrite<'_>) -> Option<StoreResult<DecideOutcome>> {
        if w.user_status.is_some() {
            return None;
        }
        let d = Decision {
            transaction_id: w.transaction_id.to_owned(),
            nonce: w.nonce.to_owned(),
            device_id: w.device_id.to_owned(),
            outcome: w.outcome,
            now: w.now,
            associate: w.associate.map(|(u, a)| (u.to_owned(), a.to_owned())),
            delivery: w.delivery.clone(),
            issued: w.issued.clone(),
        };
        // Held until the answer, which comes after the COMMIT.
        let _invalidate = self.transactions_change(Some(w.transaction_id));
        Some(self.writer.step(true, move |conn| decide(conn, &d)).await)
    }

    /// `redeem`: false when the approval was redeemed already or expired.
    pub(super) async fn batched_redemption(
        &self,
        transaction_id: &str,
        issued: &Issued,
        now: i64,
    ) -> Option<StoreResult<bool>> {
        let (transaction_id, issued) = (transaction_id.to_owned(), issued.clone());
        let redeemed = self.writer.step(true, move |conn| {
            if execute(conn, CONSUME, params![transaction_id, now])? != 1 {
                return Ok(Kept::Undo(false));
            }
            insert_issued(conn, &issued)?;
            Ok(Kept::Keep(true))
        });
        Some(redeemed.await)
    }
}

/// As the shared `decide` runs it through sqlx: the nonce first, then the
/// transaction; either refusal undoes the step.
fn decide(conn: &Connection, d: &Decision) -> rusqlite::Result<Kept<DecideOutcome>> {
    let nonce = execute(
        conn,
        USE_CHALLENGE,
        params![d.nonce, d.transaction_id, d.device_id, d.now],
    )?;
    if nonce != 1 {
        return Ok(Kept::Undo(DecideOutcome::NonceRejected));
    }
    let decided = execute(
        conn,
        DECIDE,
        params![d.transaction_id, d.outcome.as_str(), d.now, d.device_id],
    )?;
    if decided != 1 {
        return Ok(Kept::Undo(DecideOutcome::NotPending));
    }
    if d.outcome != Status::Denied {
        execute(conn, RESET_DEVICE_FAILURES, params![d.device_id])?;
    }
    if let Some((user_id, app_id)) = &d.associate {
        execute(conn, ASSOCIATE_APP, params![user_id, app_id])?;
    }
    if let Some(issued) = &d.issued {
        insert_issued(conn, issued)?;
    }
    if let Some(delivery) = &d.delivery {
        let now_ms = d.now * 1000;
        execute(
            conn,
            INSERT_DELIVERY,
            params![
                delivery.id,
                delivery.transaction_id.as_str(),
                delivery.kind.as_str(),
                delivery.target,
                delivery.bearer,
                delivery.payload,
                now_ms,
                delivery.give_up_at
            ],
        )?;
    }
    Ok(Kept::Keep(DecideOutcome::Decided))
}

fn insert_issued(conn: &Connection, issued: &Issued) -> rusqlite::Result<()> {
    let t = &issued.access;
    execute(
        conn,
        INSERT_ACCESS_TOKEN,
        params![
            t.digest,
            t.client_id.as_str(),
            t.user_id.as_str(),
            t.transaction_id.as_str(),
            t.scope,
            t.expires_at,
            t.certificate_thumbprint
        ],
    )?;
    if let Some(r) = &issued.refresh {
        execute(
            conn,
            INSERT_REFRESH_TOKEN,
            params![
                r.digest,
                r.family,
                r.client_id.as_str(),
                r.user_id.as_str(),
                r.transaction_id.as_str(),
                r.scope,
                r.created_at,
                r.expires_at
            ],
        )?;
    }
    Ok(())
}

/// Runs a shared statement (`$N` bound by name, `direct::bind_numbered`).
fn execute(conn: &Connection, sql: &str, values: &[&dyn ToSql]) -> rusqlite::Result<usize> {
    let mut statement = conn.prepare_cached(sql)?;
    bind_numbered(&mut statement, values)?;
    statement.raw_execute()
}
