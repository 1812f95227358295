//! After the kills: what every client and phone was told, checked against
//! what trustid answers now, on the database it restarted on so often.

use std::time::{Duration, Instant};

use crate::flows::{Flow, Load, Mode, TokenAnswer, Told};

/// What the checks found.
#[derive(Debug, Default)]
pub struct Findings {
    pub flows: usize,
    pub approved: usize,
    pub denied: usize,
    pub unsure: usize,
    pub redeemed_during_load: usize,
    pub redeemed_after: usize,
    /// Redeemed by a token request whose answer a kill cut off: the database
    /// says consumed, the client never saw its tokens (OAuth gives no second
    /// copy; the client starts again).
    pub answers_lost: usize,
    pub pings_owed: usize,
    pub pings_delivered: usize,
    /// Pings that came more than once (a kill between the send and its record).
    pub pings_repeated: usize,
    pub violations: Vec<String>,
}

/// Waits (at most `limit`) for every ping owed: a decided ping-client request.
pub async fn wait_for_pings(load: &Load, flows: &[Flow], limit: Duration) {
    let started = Instant::now();
    while started.elapsed() < limit {
        if flows
            .iter()
            .filter(|f| owed(f))
            .all(|f| load.receiver.count(&f.auth_req_id) > 0)
        {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A ping is owed for a ping client's request the phone decided.
fn owed(flow: &Flow) -> bool {
    flow.mode == Mode::Ping && matches!(flow.told, Told::Approved | Told::Denied)
}

/// The token endpoint's answer, retried while the server is unavailable.
async fn answer(load: &Load, flow: &Flow) -> Result<(), String> {
    for _ in 0..100 {
        match load.token(flow.mode, &flow.auth_req_id).await {
            TokenAnswer::Token => return Ok(()),
            TokenAnswer::Error(e) if e == "slow_down" => tokio::time::sleep(Duration::from_secs(1)).await,
            TokenAnswer::Error(e) => return Err(e),
            TokenAnswer::Unavailable => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
    Err("unavailable".into())
}

/// trustid's database, read beside it: where a transaction stands.
#[derive(Clone)]
pub enum Database {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Database {
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        Ok(if url.starts_with("sqlite") {
            Self::Sqlite(sqlx::SqlitePool::connect(url).await?)
        } else {
            Self::Postgres(sqlx::PgPool::connect(url).await?)
        })
    }

    async fn status(&self, txn: &str) -> Option<String> {
        const SQL: &str = "SELECT status FROM transactions WHERE id = $1";
        match self {
            Self::Sqlite(pool) => sqlx::query_scalar(SQL).bind(txn).fetch_optional(pool).await.ok()?,
            Self::Postgres(pool) => sqlx::query_scalar(SQL).bind(txn).fetch_optional(pool).await.ok()?,
        }
    }
}

pub async fn check(load: &Load, flows: &[Flow], db: &Database) -> Findings {
    let mut f = Findings {
        flows: flows.len(),
        ..Findings::default()
    };
    for (n, flow) in flows.iter().enumerate().filter(|(_, f)| owed(f)) {
        f.pings_owed += 1;
        match load.receiver.count(&flow.auth_req_id) {
            0 => f
                .violations
                .push(format!("{}: the ping owed never came", short(n, flow))),
            1 => f.pings_delivered += 1,
            _ => {
                f.pings_delivered += 1;
                f.pings_repeated += 1;
            }
        }
    }
    for (n, flow) in flows.iter().enumerate() {
        let id = short(n, flow);
        if flow.tokens > 1 {
            f.violations.push(format!("{id}: tokens issued {} times", flow.tokens));
        }
        f.redeemed_during_load += usize::from(flow.tokens == 1);
        match flow.told {
            Told::Approved => {
                f.approved += 1;
                if flow.denied {
                    f.violations
                        .push(format!("{id}: approved on the phone, access_denied to the client"));
                }
                if flow.tokens == 0 {
                    match answer(load, flow).await {
                        Ok(()) => f.redeemed_after += 1,
                        Err(e) if e == "invalid_grant" && flow.unanswered > 0 => {
                            let txn = flow
                                .auth_req_id
                                .split_once('.')
                                .map(|(t, _)| t.to_owned())
                                .unwrap_or_default();
                            match db.status(&txn).await.as_deref() {
                                Some("consumed") => f.answers_lost += 1,
                                other => f
                                    .violations
                                    .push(format!("{id}: approved, then invalid_grant; stored as {other:?}")),
                            }
                        }
                        Err(e) => f
                            .violations
                            .push(format!("{id}: approved, yet the token endpoint says {e}")),
                    }
                }
                // Redeemed now, by the load or just above: never again.
                match answer(load, flow).await {
                    Err(e) if e == "invalid_grant" => {}
                    Ok(()) => f.violations.push(format!("{id}: tokens issued a second time")),
                    Err(e) => f.violations.push(format!("{id}: a second redemption says {e}")),
                }
            }
            Told::Denied => {
                f.denied += 1;
                match answer(load, flow).await {
                    Err(e) if e == "access_denied" => {}
                    other => f.violations.push(format!("{id}: denied on the phone, then {other:?}")),
                }
            }
            // Decided or not, it must still be known: pending, approved or denied.
            Told::Unsure => {
                f.unsure += 1;
                if flow.tokens == 0 {
                    match answer(load, flow).await {
                        Ok(()) => f.redeemed_after += 1,
                        Err(e) if e == "access_denied" || e == "authorization_pending" => {}
                        Err(e) => f.violations.push(format!("{id}: acknowledged, then {e}")),
                    }
                }
            }
        }
    }
    f
}

/// `PRAGMA integrity_check` of the SQLite file (the server stopped).
pub async fn sqlite_integrity(url: &str) -> anyhow::Result<String> {
    use sqlx::Connection;
    let mut db = sqlx::SqliteConnection::connect(url).await?;
    let rows: Vec<String> = sqlx::query_scalar("PRAGMA integrity_check").fetch_all(&mut db).await?;
    Ok(rows.join("; "))
}

/// A flow named by its place in the run (an `auth_req_id` is the client's
/// secret: not printed).
fn short(n: usize, flow: &Flow) -> String {
    format!("flow #{n} ({:?} client)", flow.mode)
}
