//! PostgreSQL, for several trustid instances on one database. The statements
//! are shared with SQLite (`sql.rs`); only these few differ.

use std::str::FromStr;
use std::time::Duration;

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};

use super::rows::{
    AccessTokenRow, BindingRow, ChallengeRow, ClientRow, DeliveryRow, DevicePushRow, DeviceRow, InboxRow,
    ManagementTokenRow, PushRecordRow, RefreshTokenRow, RegistrationRow, RegistrationTokenRow, TransactionRow,
    UserDevicesRow, UserRow,
};
use super::sql::{TXN_COLUMNS, conflict, sql_store};
use super::{BindOutcome, DecideOutcome, DecisionWrite, DeviceCounts, InboxItem, StoreError, StoreResult};
use crate::domain::challenge::Challenge;
use crate::domain::client::Client;
use crate::domain::delivery::{Delivery, DeliveryOutcome};
use crate::domain::device::{Device, DeviceStatus};
use crate::domain::token::{AccessToken, Issued, RefreshToken};
use crate::domain::transaction::Transaction;
use crate::domain::user::User;
use sqlx::{query, query_as};

pub struct PgStore {
    pool: PgPool,
    /// Several instances share the database: only the TTL-bounded client cache.
    hot: super::hot::Hot,
}

impl PgStore {
    const CLIENT_NAME: &str = "(c.metadata::jsonb ->> 'client_name')";
    const NOTIFY: Option<&str> = Some("SELECT pg_notify('trustid', $1)");

    /// PostgreSQL serves concurrent writers itself: one statement per request,
    /// in a transaction with the pushes when the request owes any.
    async fn write_transaction(&self, t: &Transaction, pushes: Option<super::OwedPushes>) -> StoreResult<u64> {
        let Some(pushes) = pushes else {
            return match Self::insert_transaction_row(&self.pool, t).await? {
                true => Ok(0),
                false => Err(StoreError::Conflict("transaction id")),
            };
        };
        let mut tx = self.pool.begin().await?;
        if !Self::insert_transaction_row(&mut *tx, t).await? {
            return Err(StoreError::Conflict("transaction id"));
        }
        let owed = query(super::sql::OWE_DEVICE_PUSHES)
            .bind(&t.id)
            .bind(&t.user_id)
            .bind(pushes.only_preferred)
            .bind(pushes.now_ms)
            .bind(t.expires_at * 1000)
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(owed)
    }

    /// The `(user_id, expires_at)` index finds a user's requests: no index
    /// in memory (SQLite's `user_requests.rs`).
    async fn lock_user_requests(&self, _now: i64) -> StoreResult<Option<super::user_requests::UserIndexGuard<'_>>> {
        Ok(None)
    }

    fn catch_up_in_transaction(
        &self,
        _held: &mut Option<super::user_requests::UserIndexGuard<'_>>,
        _now: i64,
    ) -> StoreResult<()> {
        Ok(())
    }

    /// Inserts one transaction row; false when its id (or an old-format
    /// digest, migration `20261130000001`) exists.
    async fn insert_transaction_row<'e, E>(e: E, t: &Transaction) -> Result<bool, sqlx::Error>
    where
        E: sqlx::Executor<'e, Database = sqlx::Postgres>,
    {
        let notify = t.notify.as_ref();
        let done = query(
            "INSERT INTO transactions (id, auth_req_digest, client_id, user_id, context, app_id, display_text, \
             scope, acr, status, created_at, expires_at, decided_at, poll_interval, device_id, failed_attempts, \
             failed_device_id, auth_req_id, notification_token, notify_kind, user_status, match_number) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20, \
             $21, $22) ON CONFLICT DO NOTHING",
        )
        .bind(&t.id)
        .bind(&t.auth_req_digest)
        .bind(&t.client_id)
        .bind(&t.user_id)
        .bind(t.context.as_str())
        .bind(&t.app_id)
        .bind(&t.display_text)
        .bind(&t.scope)
        .bind(&t.acr)
        .bind(t.status.as_str())
        .bind(t.created_at)
        .bind(t.expires_at)
        .bind(t.decided_at)
        .bind(t.interval)
        .bind(&t.device_id)
        .bind(t.failed_attempts)
        .bind(&t.failed_device_id)
        .bind(notify.map(|n| &n.auth_req_id))
        .bind(notify.map(|n| &n.client_notification_token))
        .bind(notify.map(|n| if n.push { "push" } else { "ping" }))
        .bind(t.user_status.map(|s| s.as_str()))
        .bind(&t.match_number)
        .execute(e)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// No statement bypasses sqlx here: its hand-overs are in-process, the
    /// server's round trips dominate.
    fn direct(&self) -> Option<&super::direct::Readers> {
        None
    }

    /// LISTENs on the `trustid` channel and republishes every topic locally.
    /// PgListener re-listens after a reconnect; notifications lost meanwhile
    /// are covered by the waiters' own timeouts and re-reads.
    fn spawn_listener(&self, sink: std::sync::Arc<dyn super::TopicSink>) {
        let pool = self.pool.clone();
        tokio::spawn(async move {
            loop {
                let mut listener = match sqlx::postgres::PgListener::connect_with(&pool).await {
                    Ok(l) => l,
                    Err(e) => {
                        tracing::warn!(error = %e, "cannot LISTEN; retrying");
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                if listener.listen("trustid").await.is_err() {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    continue;
                }
                while let Ok(n) = listener.recv().await {
                    sink.deliver(n.payload());
                }
            }
        });
    }
    /// `SKIP LOCKED`: concurrent workers on several instances each lease
    /// different rows instead of waiting for, then re-taking, the same ones.
    const CLAIM_DELIVERIES: &str = "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 WHERE id IN ( \
         SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1 \
         AND claimed_until <= $1 ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING id, transaction_id, kind, target, bearer, payload, attempts, give_up_at";
    /// The device pushes due, leased the same way as the outbox.
    const CLAIM_DEVICE_PUSHES: &str = "UPDATE device_pushes SET claimed_until = $2, attempts = attempts + 1 \
         WHERE (transaction_id, device_id) IN (SELECT transaction_id, device_id FROM device_pushes \
         WHERE state = 'pending' AND next_attempt_at <= $1 AND claimed_until <= $1 \
         ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
         RETURNING transaction_id, device_id, attempts, give_up_at, claimed_until";

    /// Connects and runs the migrations. sqlx takes an advisory lock while it
    /// migrates, so instances starting together do not race.
    pub async fn open(url: &str) -> anyhow::Result<Self> {
        let options = PgConnectOptions::from_str(url)?;
        let pool = PgPoolOptions::new()
            .max_connections(16)
            .acquire_timeout(Duration::from_secs(10))
            .connect_with(options)
            .await?;
        sqlx::migrate!("migrations/postgres").run(&pool).await?;
        Ok(Self {
            pool,
            hot: super::hot::Hot::shared(),
        })
    }

    /// Where leases and device proofs' `jti`s are written: the pool, synced
    /// like every commit (SQLite skips that fsync, `SqliteStore::unsynced`).
    fn unsynced_pool(&self) -> &PgPool {
        &self.pool
    }
}

sql_store!(PgStore, sqlx::Postgres);
