//! A device's challenge as stored: one row type and one statement, read by
//! sqlx on both backends and by SQLite's direct path (`sqlite/flow_reads.rs`,
//! which reads the columns by position, in this order).

use sqlx::FromRow;

use crate::domain::challenge::Challenge;

pub(crate) const CHALLENGE_BY_NONCE: &str =
    "SELECT nonce, transaction_id, device_id, expires_at, used_at, created_at FROM challenges WHERE nonce = $1";

#[derive(FromRow)]
pub(crate) struct ChallengeRow {
    pub(crate) nonce: String,
    pub(crate) transaction_id: String,
    pub(crate) device_id: String,
    pub(crate) expires_at: i64,
    pub(crate) used_at: Option<i64>,
    pub(crate) created_at: Option<i64>,
}

impl From<ChallengeRow> for Challenge {
    fn from(r: ChallengeRow) -> Self {
        Challenge {
            nonce: r.nonce,
            transaction_id: r.transaction_id.into(),
            device_id: r.device_id.into(),
            expires_at: r.expires_at,
            used_at: r.used_at,
            created_at: r.created_at,
        }
    }
}
