//! The append-only audit trail.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::lifecycle::AuditEntry;

/// A new audit entry's id: its instant `at` (trustid's clock, seconds),
/// then this process's count of entries within that second, then 128
/// random bits; so the entries of one second list in the order they were
/// written.
pub(crate) fn entry_id(at: i64) -> String {
    static LAST: std::sync::Mutex<(i64, i64)> = std::sync::Mutex::new((0, 0));
    let within = match LAST.lock() {
        Ok(mut last) => {
            // A second seen before (or an earlier one) counts on.
            *last = if at > last.0 { (at, 0) } else { (last.0, last.1 + 1) };
            last.1
        }
        Err(_) => 0,
    };
    format!(
        "{:010x}{:06x}{}",
        at.max(0),
        within.min(0xff_ffff),
        crate::domain::ids::random_id()
    )
}

#[async_trait]
pub trait AuditStore: Send + Sync {
    async fn audit(&self, entry: &AuditEntry) -> StoreResult<()>;

    /// The audit trail about `subject`, oldest first.
    async fn audit_of(&self, subject: &str) -> StoreResult<Vec<(i64, String, String)>>;
}

/// Implements [`AuditStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! audit_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::{query, query_as};
            use $crate::store::StoreResult;
            use $crate::store::audit::AuditStore;

            #[async_trait::async_trait]
            impl AuditStore for $store {
                async fn audit(&self, e: &$crate::domain::lifecycle::AuditEntry) -> StoreResult<()> {
                    query("INSERT INTO audit (id, at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5, $6)")
                        .bind($crate::store::audit::entry_id(e.at))
                        .bind(e.at)
                        .bind(&e.actor)
                        .bind(e.action)
                        .bind(&e.subject)
                        .bind(&e.detail)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn audit_of(&self, subject: &str) -> StoreResult<Vec<(i64, String, String)>> {
                    Ok(
                        query_as("SELECT at, actor, action FROM audit WHERE subject = $1 ORDER BY at, id")
                            .bind(subject)
                            .fetch_all(&self.pool)
                            .await?,
                    )
                }
            }
        };
    };
}
pub(crate) use audit_sql;
