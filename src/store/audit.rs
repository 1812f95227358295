//! The append-only audit trail.

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::lifecycle::AuditEntry;

/// A new audit entry's id: they sort in the order this process wrote them
/// (a wall-clock millisecond in front, as transaction ids, made strictly
/// increasing), so entries of one second list in the order they happened.
pub(crate) fn entry_id() -> String {
    use std::sync::atomic::{AtomicI64, Ordering};
    static LAST: AtomicI64 = AtomicI64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
    let previous = LAST
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |last| Some(now.max(last + 1)))
        .unwrap_or(now);
    crate::domain::ids::time_ordered_id(now.max(previous + 1))
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
                        .bind($crate::store::audit::entry_id())
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
