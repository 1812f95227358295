//! The embedded default: SQLite in WAL mode through sqlx. The statements are
//! shared with PostgreSQL (each aggregate's `*_sql!` macro); what is SQLite's
//! own lives here: the speed-ups that one instance owning the file allows
//! (direct reads, group commit, caches) and its index of requests by user.

pub mod backup;
mod batched;
mod direct;
mod flow_reads;
mod group_commit;
mod hot;
mod rate_windows;
mod steps;
#[cfg(test)]
mod tests;
mod user_cache;
mod user_requests;

use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use sqlx::SqlitePool;
use sqlx::query::Query;
use sqlx::query_as;
use sqlx::sqlite::SqliteQueryResult;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};

use super::clients::ClientCache;
use super::pending_cache::{FillTicket, InvalidateOnDrop};
use super::{DeviceCounts, InboxItem, Limited, OwedPushes, RateKey, StoreResult, TopicSink};
use crate::domain::transaction::Transaction;
use crate::domain::user::User;
use group_commit::GroupCommit;
use hot::Hot;
use user_cache::UserChange;
use user_requests::{Index, UserIndexGuard, UserRequests};

pub struct SqliteStore {
    pool: SqlitePool,
    /// Writes whose loss in a power cut costs no more than a repeat, committed
    /// without an fsync of their own (`synchronous=NORMAL`): the delivery
    /// worker's leases (a lost lease makes the row claimable again). Every
    /// connection sees such a write at once, and the next synced commit puts
    /// it on disk with the rest of the WAL before it. With
    /// `sqlite_synchronous=normal` every pool is NORMAL anyway. (A flow's
    /// writes, device proofs' `jti`s included, go through the writer's group
    /// commit, `batched.rs`.)
    unsynced: SqlitePool,
    /// The hot reads, without sqlx's per-statement thread hand-overs.
    readers: direct::Readers,
    /// One instance owns the file: pending polls, rate windows and users can
    /// live here.
    hot: Hot,
    clients: ClientCache,
    /// Backchannel inserts and a flow's other writes, committed in groups.
    writer: GroupCommit,
    /// The index of requests by user (`user_requests.rs`).
    users: UserRequests,
}

impl SqliteStore {
    const CLIENT_NAME: &str = "json_extract(c.metadata, '$.client_name')";
    /// One instance: wake-ups stay in process.
    const NOTIFY: Option<&str> = None;

    fn spawn_listener(&self, _sink: Arc<dyn TopicSink>) {}

    fn batch_sizes(&self) -> Option<crate::store::batch_sizes::Counted> {
        Some(self.writer.sizes.counted())
    }

    async fn write_transaction(&self, t: &Transaction, pushes: Option<OwedPushes>) -> StoreResult<u64> {
        self.writer.insert(t, pushes).await
    }

    /// The only way the shared statements open a transaction that changes a
    /// user or a device: its `commit` moves the users' generation
    /// (`user_cache.rs`).
    async fn begin_user_change(&self) -> Result<UserChange<'_>, sqlx::Error> {
        self.begin_user_change_if(true).await
    }

    /// [`Self::begin_user_change`] when `changes_users`, else a transaction
    /// whose commit moves nothing.
    async fn begin_user_change_if(&self, changes_users: bool) -> Result<UserChange<'_>, sqlx::Error> {
        let cache = if changes_users { self.hot.users() } else { None };
        Ok(UserChange::new(self.pool.begin().await?, cache))
    }

    /// One statement that changes a user or a device, committed on its own
    /// with the generation's guard held across it.
    async fn execute_user_change<'q>(
        &self,
        change: Query<'q, sqlx::Sqlite, <sqlx::Sqlite as sqlx::Database>::Arguments<'q>>,
    ) -> Result<SqliteQueryResult, sqlx::Error> {
        let _moved = self.hot.users_change_on_drop();
        change.execute(&self.pool).await
    }

    /// Take it before a COMMIT that changes a transaction's status (`None`:
    /// any of them); see [`Hot::invalidate_on_drop`].
    fn transactions_change<'a>(&'a self, id: Option<&'a str>) -> InvalidateOnDrop<'a> {
        self.hot.invalidate_on_drop(id)
    }

    /// A hint's user from memory or the direct reader; `None` when the
    /// reader met a lock (then sqlx reads it, off the async thread).
    fn user_by_hint_direct(&self, hint: &str) -> Option<StoreResult<Option<(User, DeviceCounts)>>> {
        let read = || self.readers.user_by_hint(hint);
        let found = match self.hot.users() {
            Some(cache) => cache.get_or_read(hint, || self.readers.user_epoch(), read),
            None => read(),
        };
        match found {
            Err(e) if e.is_busy() => None,
            done => Some(done),
        }
    }

    /// As [`Self::user_by_hint_direct`], for a transaction by its digest.
    fn transaction_by_auth_req_direct(&self, digest: &str) -> Option<StoreResult<Option<Transaction>>> {
        unless_busy(self.readers.transaction_by_auth_req(digest))
    }

    /// The reads of a device's requests (`flow_reads.rs`); `None` when the
    /// reader met a lock, as above.
    fn transaction_direct(&self, id: &str) -> Option<StoreResult<Option<Transaction>>> {
        unless_busy(self.readers.transaction(id))
    }

    fn challenge_direct(&self, nonce: &str) -> Option<StoreResult<Option<crate::domain::challenge::Challenge>>> {
        unless_busy(self.readers.challenge(nonce))
    }

    /// The inbox through the ids the index by user gave (always some here).
    fn inbox_direct(
        &self,
        sql: &str,
        user_id: &str,
        now: i64,
        ids: Option<&str>,
    ) -> Option<StoreResult<Vec<InboxItem>>> {
        unless_busy(self.readers.inbox(sql, user_id, now, ids?))
    }

    fn device_direct(&self, id: &str) -> Option<StoreResult<Option<crate::domain::device::Device>>> {
        unless_busy(self.readers.device(id))
    }

    fn user_direct(&self, id: &str) -> Option<StoreResult<Option<User>>> {
        unless_busy(self.readers.user(id))
    }

    /// A pending transaction from memory, or the ticket to take before
    /// reading it (a change committed after it voids what is read).
    fn polled(&self, digest: &str, now: i64) -> Result<Arc<Transaction>, Option<FillTicket>> {
        let cache = self.hot.pending();
        match cache.and_then(|c| c.get(digest, now)) {
            Some(txn) => Ok(txn),
            None => Err(cache.map(|c| c.ticket())),
        }
    }

    fn keep_polled(&self, digest: &str, txn: &Arc<Transaction>, ticket: Option<FillTicket>, now: i64) {
        if let (Some(cache), Some(ticket)) = (self.hot.pending(), ticket) {
            cache.fill(digest, txn, ticket, now);
        }
    }

    /// Admits a request against the caps: one step under one lock once both
    /// keys are known here, and on a key's first use seeded from the database
    /// first. The request counts from here (a reservation: a caller that hangs
    /// up while its batch commits still counts; a failed write only makes the
    /// caps stricter).
    async fn admit(
        &self,
        user_id: &str,
        client_id: &str,
        since: i64,
        caps: (i64, i64),
        at: i64,
    ) -> StoreResult<Result<(), Limited>> {
        let windows = self.hot.windows();
        if let Some(verdict) = windows.reserve(user_id, client_id, since, caps, at) {
            return Ok(verdict);
        }
        self.count_recent(RateKey::User(user_id), since, caps.0).await?;
        self.count_recent(RateKey::Client(client_id), since, caps.1).await?;
        Ok(windows.reserve(user_id, client_id, since, caps, at).unwrap_or(Ok(())))
    }

    /// Requests of this user or client since `since`, from the rate windows;
    /// a key's first count in this process seeds it, a user's from the
    /// requests in memory, a client's through its `(client_id, created_at)`
    /// index.
    async fn count_recent(&self, key: RateKey<'_>, since: i64, _cap: i64) -> StoreResult<i64> {
        let windows = self.hot.windows();
        if let Some(n) = windows.count(key, since) {
            return Ok(n);
        }
        let per_second: Vec<(i64, i64)> = match key {
            RateKey::User(id) => {
                let held = self.user_index(since + user_requests::RATE_REACH).await?;
                held.created_per_second(id, since)
            }
            RateKey::Client(id) => {
                query_as(
                    "SELECT created_at, COUNT(*) FROM transactions WHERE client_id = $1 AND created_at >= $2 \
                     GROUP BY created_at",
                )
                .bind(id)
                .bind(since)
                .fetch_all(&self.pool)
                .await?
            }
        };
        let total = per_second.iter().map(|(_, n)| n).sum();
        Ok(windows.seed(key, since, &per_second).unwrap_or(total))
    }

    /// The index, brought up to date with the file and held: nothing else
    /// reads or changes it until the guard drops. Taken before the file's
    /// write lock, never after it (the group commit never takes it).
    async fn user_index(&self, now: i64) -> StoreResult<UserIndexGuard<'_>> {
        let mut index = self.users.lock().await;
        self.catch_up(&mut index, now).await?;
        Ok(index)
    }

    /// The inbox read found only `pending` among `candidates`: the index
    /// skips the others from now on (`Index::settle`). Not brought up to
    /// date first: only candidates are touched.
    async fn settle_candidates(&self, user_id: &str, candidates: &[Box<str>], pending: &[InboxItem]) {
        let pending: Vec<&str> = pending.iter().map(|i| i.transaction.id.as_str()).collect();
        if pending.len() < candidates.len() {
            self.users.lock().await.settle(user_id, candidates, &pending);
        }
    }

    /// [`Self::user_index`], as the shared statements ask for it (PostgreSQL
    /// has none).
    async fn lock_user_requests(&self, now: i64) -> StoreResult<Option<UserIndexGuard<'_>>> {
        Ok(Some(self.user_index(now).await?))
    }

    /// Under a held index, inside a transaction that holds the write lock:
    /// the rows committed since the index was brought up to date are read on
    /// this thread, never through the pool (whose other connections may wait
    /// for that lock).
    fn catch_up_in_transaction(&self, held: &mut Option<UserIndexGuard<'_>>, now: i64) -> StoreResult<()> {
        if let Some(index) = held {
            let rows = self.readers.rows_after(index.seen().unwrap_or(0), i64::MAX)?;
            index.caught_up(rows, now);
        }
        Ok(())
    }

    /// Brings the index up to date with the file: the rows added since the
    /// last look, read by rowid, or at the first use (or far behind) the
    /// recent rows through the expiry index. `now` is the caller's clock,
    /// which tests move.
    async fn catch_up(&self, index: &mut Index, now: i64) -> StoreResult<()> {
        use user_requests::{CATCH_UP, DIRECT_ROWS, LOAD, MAX_ROWID, RATE_REACH, RELOAD_AFTER, Row};
        if let Some(last) = index.seen() {
            let direct = match self.readers.rows_after(last, DIRECT_ROWS) {
                Err(e) if e.is_busy() => None,
                done => Some(done?),
            };
            let rows = match direct {
                Some(rows) if (rows.len() as i64) < DIRECT_ROWS => Some(rows),
                // Many new rows, or a lock met: through sqlx, off this thread.
                _ => {
                    let rows: Vec<Row> = query_as(CATCH_UP)
                        .bind(last)
                        .bind(RELOAD_AFTER + 1)
                        .fetch_all(&self.pool)
                        .await?;
                    (rows.len() as i64 <= RELOAD_AFTER).then_some(rows)
                }
            };
            if let Some(rows) = rows {
                index.caught_up(rows, now);
                return Ok(());
            }
        }
        // The highest rowid first: a row committed after it may be loaded
        // too, and is read again by the next catch-up (and kept once).
        let (max,): (Option<i64>,) = query_as(MAX_ROWID).fetch_one(&self.pool).await?;
        let rows: Vec<Row> = query_as(LOAD).bind(now - RATE_REACH).fetch_all(&self.pool).await?;
        index.loaded(rows, max.unwrap_or(0), now);
        Ok(())
    }
    /// The schema's migrations, embedded in the binary.
    pub const MIGRATOR: sqlx::migrate::Migrator = sqlx::migrate!("migrations/sqlite");
    /// One statement picks and leases, and SQLite has one writer at a time,
    /// so two workers never take the same row.
    const CLAIM_DELIVERIES: &str = "UPDATE outbox SET claimed_until = $2, attempts = attempts + 1 WHERE id IN ( \
         SELECT id FROM outbox WHERE state = 'pending' AND next_attempt_at <= $1 \
         AND claimed_until <= $1 AND target NOT IN (SELECT value FROM json_each($4)) \
         ORDER BY next_attempt_at LIMIT $3) \
         RETURNING id, transaction_id, kind, target, bearer, payload, attempts, give_up_at";
    /// The device pushes due, leased the same way as the outbox.
    const CLAIM_DEVICE_PUSHES: &str = "UPDATE device_pushes SET claimed_until = $2, attempts = attempts + 1 \
         WHERE (transaction_id, device_id) IN (SELECT transaction_id, device_id FROM device_pushes \
         WHERE state = 'pending' AND next_attempt_at <= $1 AND claimed_until <= $1 \
         ORDER BY next_attempt_at LIMIT $3) \
         RETURNING transaction_id, device_id, attempts, give_up_at, claimed_until";

    /// Opens (creating if needed) the database and runs the migrations.
    /// `synchronous` applies to every connection: by default (`full`) every
    /// commit is on disk before it is answered, and the group commit makes
    /// that one fsync per batch of backchannel requests.
    pub async fn open(url: &str, synchronous: super::SqliteSynchronous) -> anyhow::Result<Self> {
        if url.contains(":memory:") || url.contains("mode=memory") {
            // sqlx and the direct connections would each see a database of their own.
            anyhow::bail!("an in-memory SQLite database cannot be shared by trustid's connections; name a file");
        }
        let options = SqliteConnectOptions::from_str(url)?
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            .synchronous(match synchronous {
                super::SqliteSynchronous::Full => SqliteSynchronous::Full,
                super::SqliteSynchronous::Normal => SqliteSynchronous::Normal,
            })
            .busy_timeout(Duration::from_secs(5))
            .foreign_keys(true);
        // Only the group commit's writer checkpoints (`group_commit.rs`).
        let requests = options.clone().pragma("wal_autocheckpoint", "0");
        let pool = SqlitePoolOptions::new()
            .max_connections(8)
            .min_connections(1)
            .idle_timeout(None)
            // A local file cannot go away between uses: skip the PING round trip
            // sqlx would make on every acquire.
            .test_before_acquire(false)
            .connect_with(requests.clone())
            .await?;
        let unsynced = SqlitePoolOptions::new()
            .max_connections(2)
            .min_connections(0)
            .test_before_acquire(false)
            .connect_with(requests.synchronous(SqliteSynchronous::Normal))
            .await?;
        migrate(&options).await?;
        // The direct connections open the very file sqlx resolved.
        let path = options.get_filename();
        anyhow::ensure!(path.is_file(), "the SQLite database {} is not a file", path.display());
        Ok(Self {
            writer: GroupCommit::spawn(path, synchronous)?,
            users: UserRequests::default(),
            readers: direct::Readers::new(path.to_owned(), synchronous),
            pool,
            unsynced,
            hot: Hot::single_instance(),
            clients: ClientCache::default(),
        })
    }

    /// See `unsynced`.
    fn unsynced_pool(&self) -> &SqlitePool {
        &self.unsynced
    }
}

super::sql_store!(SqliteStore, sqlx::Sqlite);

/// A direct read's answer, or `None` when it met a lock: the caller then
/// reads through sqlx, whose own thread waits.
fn unless_busy<T>(read: StoreResult<T>) -> Option<StoreResult<T>> {
    match read {
        Err(e) if e.is_busy() => None,
        done => Some(done),
    }
}

/// Runs the migrations on a connection of their own with foreign keys off,
/// as SQLite's procedure for changing a table's constraints asks (a table
/// copied, the old one dropped, the copy renamed, then every reference
/// checked: see migration `20261130000001`).
async fn migrate(options: &SqliteConnectOptions) -> anyhow::Result<()> {
    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect_with(&options.clone().foreign_keys(false)).await?;
    SqliteStore::MIGRATOR.run(&mut conn).await?;
    conn.close().await?;
    Ok(())
}
