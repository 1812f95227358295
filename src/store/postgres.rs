//! PostgreSQL, for several trustid instances on one database. The statements
//! are shared with SQLite (each aggregate's `*_sql!` macro); only these few
//! differ. Kept in memory: clients, for a few seconds, and pending requests
//! for the token endpoint while this instance listens to the others' changes
//! (a trigger NOTIFYs each, migration `20261207000006`); nothing else, as
//! other instances change the rest.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{PgPool, query, query_as};

use super::clients::ClientCache;
use super::pending_cache::{FillTicket, InvalidateOnDrop, PendingCache};
use super::{DeviceCounts, Limited, OwedPushes, StoreError, StoreResult, TopicSink};
use crate::domain::transaction::Transaction;
use crate::domain::user::User;

pub struct PgStore {
    pool: PgPool,
    /// Commits that do not wait for the disk (`synchronous_commit=off`):
    /// what a crash of PostgreSQL may lose at the cost of a repeat, as on
    /// SQLite (`SqliteStore::unsynced`). Still visible to every session at
    /// once, and on disk with the next synced commit.
    unsynced: PgPool,
    clients: ClientCache,
    pending: Arc<PendingCache>,
    /// True while the listener hears every instance's changes: the pending
    /// cache serves only then (a change unheard would leave an entry stale).
    listening: Arc<AtomicBool>,
}

/// What the `transaction_changed` trigger NOTIFYs, then the id (none: rows
/// were deleted, any of them).
const TRANSACTION_CHANGED: &str = "transaction-changed:";

impl PgStore {
    const CLIENT_NAME: &str = "(c.metadata::jsonb ->> 'client_name')";
    const NOTIFY: Option<&str> = Some("SELECT pg_notify('trustid', $1)");

    /// PostgreSQL serves concurrent writers itself: one statement per request,
    /// in a transaction with the pushes when the request owes any.
    async fn write_transaction(&self, t: &Transaction, pushes: Option<OwedPushes>) -> StoreResult<u64> {
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
        let owed = query(super::deliveries::OWE_DEVICE_PUSHES)
            .bind(t.id.as_str())
            .bind(t.user_id.as_str())
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
    /// in memory.
    async fn lock_user_requests(&self, _now: i64) -> StoreResult<Option<NoIndex>> {
        Ok(None)
    }

    fn catch_up_in_transaction(&self, _held: &mut Option<NoIndex>, _now: i64) -> StoreResult<()> {
        Ok(())
    }

    /// Other instances change users, devices and transactions too: nothing
    /// of them is kept here to invalidate.
    async fn begin_user_change(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    async fn begin_user_change_if(
        &self,
        _changes_users: bool,
    ) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.pool.begin().await
    }

    async fn execute_user_change<'q>(
        &self,
        change: sqlx::query::Query<'q, sqlx::Postgres, <sqlx::Postgres as sqlx::Database>::Arguments<'q>>,
    ) -> Result<sqlx::postgres::PgQueryResult, sqlx::Error> {
        change.execute(&self.pool).await
    }

    /// This instance forgets at once (the other instances when the
    /// trigger's NOTIFY reaches them).
    fn transactions_change<'a>(&'a self, id: Option<&'a str>) -> InvalidateOnDrop<'a> {
        InvalidateOnDrop::new(Some(&self.pending), id)
    }

    /// PostgreSQL commits concurrent writers together itself: a flow's
    /// writes are the shared sqlx statements (SQLite batches them,
    /// `sqlite/batched.rs`).
    async fn batched_proof(&self, _key: &str, _expires_at: i64, _now: i64) -> Option<StoreResult<bool>> {
        None
    }

    async fn batched_challenges(&self, _challenges: &[crate::domain::challenge::Challenge]) -> Option<StoreResult<()>> {
        None
    }

    async fn batched_decision(&self, _w: &super::DecisionWrite<'_>) -> Option<StoreResult<super::DecideOutcome>> {
        None
    }

    async fn batched_redemption(
        &self,
        _transaction_id: &str,
        _issued: &crate::domain::token::Issued,
        _now: i64,
    ) -> Option<StoreResult<bool>> {
        None
    }

    fn user_by_hint_direct(&self, _hint: &str) -> Option<StoreResult<Option<(User, DeviceCounts)>>> {
        None
    }

    fn transaction_by_auth_req_direct(&self, _digest: &str) -> Option<StoreResult<Option<Transaction>>> {
        None
    }

    fn transaction_direct(&self, _id: &str) -> Option<StoreResult<Option<Transaction>>> {
        None
    }

    fn challenge_direct(&self, _nonce: &str) -> Option<StoreResult<Option<crate::domain::challenge::Challenge>>> {
        None
    }

    fn inbox_direct(
        &self,
        _sql: &str,
        _user_id: &str,
        _now: i64,
        _ids: Option<&str>,
    ) -> Option<StoreResult<Vec<super::InboxItem>>> {
        None
    }

    fn device_direct(&self, _id: &str) -> Option<StoreResult<Option<crate::domain::device::Device>>> {
        None
    }

    fn user_direct(&self, _id: &str) -> Option<StoreResult<Option<User>>> {
        None
    }

    /// No index by user here, so no candidates to settle.
    async fn settle_candidates(&self, _user_id: &str, _candidates: &[Box<str>], _pending: &[super::InboxItem]) {}

    /// A pending transaction from memory while this instance listens, or the
    /// ticket to take before reading it (none: not listening, keep nothing).
    fn polled(&self, digest: &str, now: i64) -> Result<Arc<Transaction>, Option<FillTicket>> {
        if !self.listening.load(Ordering::SeqCst) {
            return Err(None);
        }
        let ticket = self.pending.ticket();
        self.pending.get(digest, now).ok_or(Some(ticket))
    }

    fn keep_polled(&self, digest: &str, txn: &Arc<Transaction>, ticket: Option<FillTicket>, now: i64) {
        if let Some(ticket) = ticket {
            self.pending.fill(digest, txn, ticket, now);
        }
    }

    /// Admits a request against the caps: one statement bumps the user's and
    /// the client's counter of this second (`request_counts`) and sums each
    /// key's minute. A row lock orders the bumps of one key across instances,
    /// so the n-th request of a window sees n: the caps are exact. A refused
    /// request is taken back out; an admitted one counts even if its insert
    /// then fails (the caps only get stricter). The counters are committed
    /// without waiting for the disk (`unsynced`): a crash of PostgreSQL can
    /// forget the last instants' counts, never a transaction.
    async fn admit(
        &self,
        user_id: &str,
        client_id: &str,
        since: i64,
        caps: (i64, i64),
        at: i64,
    ) -> StoreResult<Result<(), Limited>> {
        // The 60 slots hold one minute; RATE_WINDOW is that minute.
        debug_assert_eq!(at - since, COUNT_SLOTS);
        let keys = [format!("u:{user_id}"), format!("c:{client_id}")];
        let (user, client): (i64, i64) = query_as(ADMIT)
            .bind(&keys[0])
            .bind(&keys[1])
            .bind(at)
            .bind(since)
            .bind(COUNT_SLOTS)
            .fetch_one(&self.unsynced)
            .await?;
        let verdict = if user > caps.0 {
            Err(Limited::User)
        } else if client > caps.1 {
            Err(Limited::Client)
        } else {
            return Ok(Ok(()));
        };
        query(TAKE_BACK)
            .bind(&keys[0])
            .bind(&keys[1])
            .bind(at)
            .bind(COUNT_SLOTS)
            .execute(&self.unsynced)
            .await?;
        Ok(verdict)
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
        .bind(t.id.as_str())
        .bind(&t.auth_req_digest)
        .bind(t.client_id.as_str())
        .bind(t.user_id.as_str())
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
        .bind(t.device_id.as_deref())
        .bind(t.failed_attempts)
        .bind(t.failed_device_id.as_deref())
        .bind(notify.map(|n| &n.auth_req_id))
        .bind(notify.map(|n| &n.client_notification_token))
        .bind(notify.map(|n| if n.push { "push" } else { "ping" }))
        .bind(t.user_status.map(|s| s.as_str()))
        .bind(&t.match_number)
        .execute(e)
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Each request commits by itself: no group commit to count.
    fn batch_sizes(&self) -> Option<crate::store::batch_sizes::Counted> {
        None
    }

    /// LISTENs on the `trustid` channel: republishes every topic locally and
    /// forgets the pending requests other instances changed. On a lost
    /// connection the pending cache stops serving and is emptied, then
    /// serves again once a new LISTEN holds; topics lost meanwhile are
    /// covered by the waiters' own timeouts and re-reads.
    fn spawn_listener(&self, sink: Arc<dyn TopicSink>) {
        let (pool, pending, listening) = (self.pool.clone(), self.pending.clone(), self.listening.clone());
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
                // Whatever changed before this LISTEN was not heard.
                pending.invalidate_all();
                listening.store(true, Ordering::SeqCst);
                // try_recv answers None when the connection was lost.
                while let Ok(Some(n)) = listener.try_recv().await {
                    match n.payload().strip_prefix(TRANSACTION_CHANGED) {
                        Some("") => pending.invalidate_all(),
                        Some(id) => pending.invalidate(id),
                        None => sink.deliver(n.payload()),
                    }
                }
                listening.store(false, Ordering::SeqCst);
                pending.invalidate_all();
                tracing::warn!("lost the LISTEN connection; reconnecting");
            }
        });
    }
    /// The schema's migrations, embedded in the binary.
    pub const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/postgres");
    /// `SKIP LOCKED`: concurrent workers on several instances each lease
    /// different rows instead of waiting for, then re-taking, the same ones.
    const CLAIM_DELIVERIES: &str = "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 WHERE id IN ( \
         SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1 \
         AND claimed_until <= $1 AND target NOT IN (SELECT jsonb_array_elements_text($4::jsonb)) \
         ORDER BY next_attempt_at LIMIT $3 FOR UPDATE SKIP LOCKED) \
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
            .connect_with(options.clone())
            .await?;
        Self::MIGRATOR.run(&pool).await?;
        let unsynced = PgPoolOptions::new()
            .max_connections(8)
            .acquire_timeout(Duration::from_secs(10))
            .connect_lazy_with(options.options([("synchronous_commit", "off")]));
        Ok(Self {
            pool,
            unsynced,
            clients: ClientCache::default(),
            pending: Arc::default(),
            listening: Arc::default(),
        })
    }

    /// Where leases, device proofs' `jti`s and the caps' counters are
    /// written: commits that do not wait for the disk.
    fn unsynced_pool(&self) -> &PgPool {
        &self.unsynced
    }
}

super::sql_store!(PgStore, sqlx::Postgres);

/// Seconds in a cap's window, one counter row each per key.
const COUNT_SLOTS: i64 = 60;

/// Bumps both keys' counter of second `$3` (a slot still holding an older
/// second starts again at 1; an instance whose clock runs behind counts into
/// the newer second it finds) and answers each key's count over `($4, $3]`.
/// The outer query's snapshot predates the bumps: it sums the other slots.
const ADMIT: &str = "WITH u AS (INSERT INTO request_counts AS rc (key, slot, second, n) VALUES ($1, $3 % $5, $3, 1) \
     ON CONFLICT (key, slot) DO UPDATE SET n = CASE WHEN rc.second >= EXCLUDED.second THEN rc.n + 1 ELSE 1 END, \
     second = GREATEST(rc.second, EXCLUDED.second) RETURNING n), \
     c AS (INSERT INTO request_counts AS rc (key, slot, second, n) VALUES ($2, $3 % $5, $3, 1) \
     ON CONFLICT (key, slot) DO UPDATE SET n = CASE WHEN rc.second >= EXCLUDED.second THEN rc.n + 1 ELSE 1 END, \
     second = GREATEST(rc.second, EXCLUDED.second) RETURNING n) \
     SELECT (SELECT n FROM u) + (SELECT COALESCE(SUM(n), 0) FROM request_counts \
     WHERE key = $1 AND slot <> $3 % $5 AND second > $4)::BIGINT, \
     (SELECT n FROM c) + (SELECT COALESCE(SUM(n), 0) FROM request_counts \
     WHERE key = $2 AND slot <> $3 % $5 AND second > $4)::BIGINT";

/// Takes a refused request back out of both counters.
const TAKE_BACK: &str = "UPDATE request_counts SET n = n - 1 \
     WHERE key IN ($1, $2) AND slot = $3 % $4 AND second >= $3 AND n > 0";

/// PostgreSQL keeps no index of requests by user in memory: the shared
/// statements' `Option<index>` is always `None` here.
enum NoIndex {}

impl NoIndex {
    fn unexpired_json(&mut self, _user_id: &str, _now: i64) -> String {
        match *self {}
    }

    fn candidates(&mut self, _user_id: &str, _now: i64) -> (Vec<Box<str>>, String) {
        match *self {}
    }
}
