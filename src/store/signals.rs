//! Signals between requests and instances: topics published to other
//! instances, and single-use keys remembered against replay.

use std::sync::Arc;

use async_trait::async_trait;

use super::batch_sizes::Counted;
use super::{StoreResult, TopicSink};

#[async_trait]
pub trait Signals: Send + Sync {
    /// Tells other instances about `topic` (PostgreSQL NOTIFY); a no-op on
    /// SQLite, which serves one instance.
    async fn publish(&self, topic: &str) -> StoreResult<()>;

    /// Forwards other instances' topics into `sink` until the process ends.
    fn listen(&self, sink: Arc<dyn TopicSink>);

    /// Remembers `key` until `expires_at`; false when it was seen already.
    async fn remember_once(&self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool>;

    /// As `remember_once`, for a device proof's `jti`: on SQLite in the
    /// writer's group commit (`sqlite/batched.rs`), on PostgreSQL committed
    /// without waiting for the disk (`PgStore::unsynced`).
    async fn remember_proof(&self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool>;

    /// The newest migration the database has applied, and the newest this
    /// binary knows: equal once start-up has migrated (readiness).
    async fn schema(&self) -> StoreResult<(i64, i64)>;

    /// The database pool now (`/metrics`).
    fn pool_use(&self) -> PoolUse;

    /// How many rows SQLite's group commits carried so far; `None` on
    /// PostgreSQL, which commits each request by itself.
    fn commit_batches(&self) -> Option<Counted>;
}

/// Connections of a pool: open, idle among them, and the most it opens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PoolUse {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
}

/// Implements [`Signals`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! signal_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::query;
            use $crate::store::StoreResult;
            use $crate::store::signals::Signals;

            #[async_trait::async_trait]
            impl Signals for $store {
                async fn publish(&self, topic: &str) -> StoreResult<()> {
                    if let Some(sql) = Self::NOTIFY {
                        query(sql).bind(topic).execute(&self.pool).await?;
                    }
                    Ok(())
                }

                fn listen(&self, sink: std::sync::Arc<dyn $crate::store::TopicSink>) {
                    self.spawn_listener(sink);
                }

                async fn remember_once(&self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool> {
                    Self::remember(&self.pool, key, expires_at, now).await
                }

                async fn remember_proof(&self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool> {
                    if let Some(done) = self.batched_proof(key, expires_at, now).await {
                        return done;
                    }
                    Self::remember(self.unsynced_pool(), key, expires_at, now).await
                }

                async fn schema(&self) -> StoreResult<(i64, i64)> {
                    let applied: i64 =
                        sqlx::query_scalar("SELECT COALESCE(MAX(version), 0) FROM _sqlx_migrations WHERE success")
                            .fetch_one(&self.pool)
                            .await?;
                    let known = Self::MIGRATOR.iter().map(|m| m.version).max().unwrap_or(0);
                    Ok((applied, known))
                }

                fn pool_use(&self) -> $crate::store::signals::PoolUse {
                    $crate::store::signals::PoolUse {
                        open: self.pool.size(),
                        idle: u32::try_from(self.pool.num_idle()).unwrap_or(u32::MAX),
                        max: self.pool.options().get_max_connections(),
                    }
                }

                fn commit_batches(&self) -> Option<$crate::store::batch_sizes::Counted> {
                    self.batch_sizes()
                }
            }

            impl $store {
                /// Remembers `key` until `expires_at` through `pool`; false when it
                /// was seen already. An expired entry may be reused; a live one
                /// means a replay.
                async fn remember(pool: &sqlx::Pool<$db>, key: &str, expires_at: i64, now: i64) -> StoreResult<bool> {
                    let done = query($crate::store::flow_sql::REMEMBER)
                        .bind(key)
                        .bind(expires_at)
                        .bind(now)
                        .execute(pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }
            }
        };
    };
}
pub(crate) use signal_sql;
