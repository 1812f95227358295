//! Persistence behind one trait. The backend is chosen once, from the
//! database URL, in [`open`]; no call site knows which one it talks to.
//! State changes that race (two devices deciding, two redemptions) are
//! settled here with conditional updates, never in memory.

mod direct;
mod group_commit;
mod hot;
pub mod lifecycle;
pub mod postgres;
mod rows;
mod sql;
pub mod sqlite;
mod user_cache;
mod user_requests;

use std::sync::Arc;

use async_trait::async_trait;

pub use hot::{Limited, RateKey};

use crate::domain::challenge::Challenge;
use crate::domain::client::Client;
use crate::domain::delivery::{Delivery, DeliveryOutcome, DevicePush, PushOutcome, PushRecord};
use crate::domain::device::Device;
use crate::domain::lifecycle::{AuditEntry, Binding, Lockout, Registration, RegistrationToken};
use crate::domain::push::{PushAddress, PushChannel};
use crate::domain::token::{AccessToken, Issued, ManagementToken, RefreshToken};
use crate::domain::transaction::{Status, Transaction};
use crate::domain::user::{User, UserStatus};
use lifecycle::{ActivateOutcome, Credential, Unregistered};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique value (id, email, phone) is already taken.
    #[error("already exists: {0}")]
    Conflict(&'static str),
    /// A stored value no longer parses: a bug or a hand-edited database.
    #[error("corrupt row: {0}")]
    Corrupt(String),
    #[error(transparent)]
    Backend(#[from] sqlx::Error),
    /// From the statements SQLite runs without sqlx (`direct.rs`).
    #[error(transparent)]
    Direct(#[from] rusqlite::Error),
}

impl StoreError {
    /// SQLite could not take a lock in time (`direct.rs` readers give up
    /// quickly and let sqlx's thread wait instead).
    pub fn is_busy(&self) -> bool {
        use rusqlite::ErrorCode::{DatabaseBusy, DatabaseLocked};
        matches!(self, StoreError::Direct(e) if matches!(e.sqlite_error_code(), Some(DatabaseBusy | DatabaseLocked)))
    }
}

pub type StoreResult<T> = Result<T, StoreError>;

/// The pushes a new request owes: to the user's active devices that have a
/// channel, all of them, or with `only_preferred` the preferred one (all
/// when none is preferred). They are given up when the request expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OwedPushes {
    pub only_preferred: bool,
    /// When the first attempt is due (clock ms).
    pub now_ms: i64,
}

/// A user's active devices, and how many of them have a push channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DeviceCounts {
    pub active: i64,
    pub pushable: i64,
}

/// A pending transaction as a device's inbox lists it.
#[derive(Debug, Clone)]
pub struct InboxItem {
    pub transaction: Transaction,
    pub client_name: String,
}

/// A device's decision, to be applied atomically with its nonce.
#[derive(Debug, Clone)]
pub struct DecisionWrite<'a> {
    pub transaction_id: &'a str,
    pub nonce: &'a str,
    pub device_id: &'a str,
    pub outcome: Status,
    pub now: i64,
    /// For an approved provisioning request: associate this user with this app.
    pub associate: Option<(&'a str, &'a str)>,
    /// For an approved provisioning request: give the user this status.
    pub user_status: Option<(&'a str, &'a str)>,
    /// For a ping or push client: the notification owed, stored atomically.
    pub delivery: Option<Delivery>,
    /// For a push client's approval: the tokens pushed (the transaction is
    /// then consumed at once, since the client never polls).
    pub issued: Option<Issued>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecideOutcome {
    Decided,
    /// The nonce was used already, expired, or belongs elsewhere.
    NonceRejected,
    /// Someone else decided first, or the transaction expired meanwhile.
    NotPending,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BindOutcome {
    Bound,
    UnknownDevice,
    UnknownUser,
    /// Bound to another user, removed or locked.
    NotBindable,
}

#[async_trait]
pub trait Store: Send + Sync + 'static {
    async fn insert_client(&self, client: &Client) -> StoreResult<()>;
    async fn client(&self, id: &str) -> StoreResult<Option<Arc<Client>>>;

    async fn insert_user(&self, user: &User, apps: &[String]) -> StoreResult<()>;
    async fn set_user_code(&self, user_id: &str, hash: &str) -> StoreResult<bool>;
    async fn user(&self, id: &str) -> StoreResult<Option<User>>;
    /// Resolves a `login_hint` (the user id, else the e-mail, else the phone),
    /// with the user's active devices counted in the same statement (one
    /// round trip for the backchannel request).
    async fn user_by_hint_counting_devices(&self, hint: &str) -> StoreResult<Option<(User, DeviceCounts)>>;
    async fn user_has_app(&self, user_id: &str, app_id: &str) -> StoreResult<bool>;
    async fn active_device_count(&self, user_id: &str) -> StoreResult<i64>;

    /// Inserts a device, or returns the one already registered with that id;
    /// the flag says whether this call created it.
    async fn register_device(&self, device: &Device) -> StoreResult<(Device, bool)>;
    async fn device(&self, id: &str) -> StoreResult<Option<Device>>;
    async fn bind_device(&self, device_id: &str, user_id: &str) -> StoreResult<BindOutcome>;

    /// Stores a new request and, in the same commit, the device pushes it
    /// owes (`pushes`); returns how many pushes are owed.
    async fn insert_transaction(&self, txn: &Transaction, pushes: Option<OwedPushes>) -> StoreResult<u64>;
    async fn transaction(&self, id: &str) -> StoreResult<Option<Transaction>>;
    async fn transaction_by_auth_req(&self, digest: &str) -> StoreResult<Option<Transaction>>;
    /// What a token poll needs: `transaction_by_auth_req`, answered from
    /// memory when the store can tell the request is still pending (never an
    /// approved one). `now` (clock seconds) bounds how long an entry is trusted.
    async fn poll_transaction(&self, digest: &str, now: i64) -> StoreResult<Option<Arc<Transaction>>>;
    async fn pending_for_user(&self, user_id: &str, now: i64) -> StoreResult<Vec<InboxItem>>;

    async fn insert_challenges(&self, challenges: &[Challenge]) -> StoreResult<()>;
    async fn challenge(&self, nonce: &str) -> StoreResult<Option<Challenge>>;
    async fn decide(&self, write: &DecisionWrite<'_>) -> StoreResult<DecideOutcome>;
    /// Counts a refused attempt against the device, the user and the
    /// transaction when known, and locks whatever reached its threshold.
    /// Returns whether the device and the user are now locked.
    async fn record_failed_attempt(
        &self,
        device_id: Option<&str>,
        user_id: Option<&str>,
        transaction_id: Option<&str>,
        lockout: Lockout,
    ) -> StoreResult<(bool, bool)>;

    /// Admits one backchannel request against the per-user and per-client
    /// caps (`caps`: requests since `since`), counting it at `at` when
    /// admitted. On SQLite check and count are one step, so concurrent
    /// requests cannot all slip under a cap; on PostgreSQL the counts are read
    /// and the request is counted by its row.
    async fn admit_rate(
        &self,
        user_id: &str,
        client_id: &str,
        since: i64,
        caps: (i64, i64),
        at: i64,
    ) -> StoreResult<Result<(), Limited>>;

    /// Marks an approved transaction consumed and stores its tokens, in one
    /// database transaction. False when it was not approved any more.
    async fn redeem(&self, transaction_id: &str, issued: &Issued, now: i64) -> StoreResult<bool>;
    /// Revokes every token issued for a transaction (a replayed `auth_req_id`).
    async fn revoke_for_transaction(&self, transaction_id: &str) -> StoreResult<u64>;
    async fn access_token(&self, digest: &str) -> StoreResult<Option<AccessToken>>;
    async fn refresh_token(&self, digest: &str) -> StoreResult<Option<RefreshToken>>;
    /// Revokes `old` and stores its successor and a new access token, if
    /// `old` was still live. False when it had been used already.
    async fn rotate_refresh(&self, old_digest: &str, issued: &Issued) -> StoreResult<bool>;
    async fn revoke_refresh_family(&self, family: &str) -> StoreResult<u64>;
    async fn revoke_access_token(&self, digest: &str) -> StoreResult<u64>;

    /// Leases up to `limit` due deliveries until `lease_until` (ms).
    async fn claim_deliveries(&self, now_ms: i64, lease_until: i64, limit: i64) -> StoreResult<Vec<Delivery>>;
    async fn finish_delivery(&self, id: &str, outcome: &DeliveryOutcome) -> StoreResult<()>;
    /// Push transactions that expired undecided and were not notified yet.
    async fn expired_unnotified(&self, now: i64, limit: i64) -> StoreResult<Vec<Transaction>>;
    /// Stores a notification unless the transaction has one; false if it had.
    async fn enqueue_delivery(&self, delivery: &Delivery, now_ms: i64) -> StoreResult<bool>;
    // --- the user and device lifecycle (seeds 000, 001, 002) ---

    /// Creates the user when `new_user` is given, then the binding.
    async fn create_binding(&self, binding: &Binding, new_user: Option<&User>) -> StoreResult<()>;
    async fn binding_by_code(&self, code_digest: &str) -> StoreResult<Option<Binding>>;
    /// Creates (or revives a removed) user, then the registration.
    async fn create_registration(&self, registration: &Registration, user: &User) -> StoreResult<()>;
    async fn registration_by_password(&self, password_digest: &str) -> StoreResult<Option<Registration>>;
    /// The user's newest registration that was not removed.
    async fn latest_registration(&self, user_id: &str) -> StoreResult<Option<Registration>>;
    async fn mark_reported(&self, registration_id: &str, now: i64) -> StoreResult<()>;
    async fn insert_registration_token(&self, token: &RegistrationToken) -> StoreResult<()>;
    async fn registration_token(&self, digest: &str) -> StoreResult<Option<RegistrationToken>>;
    /// Spends the credential, binds and activates the device, and approves
    /// the user's open provisioning requests, in one database transaction.
    async fn activate(
        &self,
        credential: Credential<'_>,
        device_id: &str,
        user_id: &str,
        now: i64,
    ) -> StoreResult<ActivateOutcome>;
    /// Inserts the user unless one with that id exists; true if it did not.
    async fn create_user_if_absent(&self, user: &User) -> StoreResult<bool>;
    /// Sets the status; unlocking also clears the failed attempts.
    async fn set_user_status(&self, user_id: &str, status: UserStatus) -> StoreResult<bool>;
    async fn devices_of(&self, user_id: &str) -> StoreResult<Vec<Device>>;
    async fn set_preferred_device(&self, user_id: &str, device_id: &str) -> StoreResult<bool>;
    async fn remove_device(&self, user_id: &str, device_id: &str) -> StoreResult<bool>;
    /// Removes the user's devices, bindings, registrations and open requests.
    async fn unregister_user(&self, user_id: &str, now: i64) -> StoreResult<Unregistered>;
    /// Stores the outcome of a request approved outside a device decision
    /// (provisioning by activation): tokens for push, and the notification.
    async fn settle_notification(
        &self,
        transaction_id: &str,
        issued: Option<&Issued>,
        delivery: &Delivery,
        now_ms: i64,
    ) -> StoreResult<bool>;
    async fn insert_management_token(&self, token: &ManagementToken) -> StoreResult<()>;
    async fn management_token(&self, digest: &str) -> StoreResult<Option<ManagementToken>>;
    async fn audit(&self, entry: &AuditEntry) -> StoreResult<()>;
    /// The audit trail about `subject`, oldest first.
    async fn audit_of(&self, subject: &str) -> StoreResult<Vec<(i64, String, String)>>;

    /// Tells other instances about `topic` (PostgreSQL NOTIFY); a no-op on
    /// SQLite, which serves one instance.
    async fn publish(&self, topic: &str) -> StoreResult<()>;
    /// Forwards other instances' topics into `sink` until the process ends.
    fn listen(&self, sink: Arc<dyn TopicSink>);

    /// Remembers `key` until `expires_at`; false when it was seen already.
    async fn remember_once(&self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool>;
    /// As `remember_once`, for a device proof's `jti`: on SQLite committed
    /// without an fsync of its own (`SqliteStore::unsynced`).
    async fn remember_proof(&self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool>;

    // --- push to devices (issue 5) ---

    /// Sets (or with `None` clears) how a device is woken; false if unknown.
    async fn set_push_channel(&self, device_id: &str, push: Option<(PushChannel, &PushAddress)>) -> StoreResult<bool>;
    /// Clears a device's push channel if its address is still `address` (the
    /// provider said it is dead); false if the device has another one now.
    async fn forget_dead_push_address(&self, device_id: &str, address: &PushAddress) -> StoreResult<bool>;
    /// Sets (or with `None` removes) the push relay a client set for one of
    /// its apps; false if there was none to remove.
    async fn set_app_push_relay(&self, client_id: &str, app_id: &str, uri: Option<&str>, now: i64)
    -> StoreResult<bool>;
    /// The push relay a client set for an app, when one is set.
    async fn app_push_relay(&self, client_id: &str, app_id: &str) -> StoreResult<Option<String>>;
    /// Withdraws the pushes still owed for transactions that were decided or
    /// expired (`now` in seconds): nobody needs waking about them any more.
    async fn withdraw_device_pushes(&self, now: i64, now_ms: i64) -> StoreResult<u64>;
    /// Leases up to `limit` due device pushes until `lease_until` (ms).
    async fn claim_device_pushes(&self, now_ms: i64, lease_until: i64, limit: i64) -> StoreResult<Vec<DevicePush>>;
    /// Stores the digest of the exchange token about to be sent; the previous
    /// attempt's stays valid too (a slow attempt may have been delivered), the
    /// one before stops working. Only while the request is pending and
    /// unexpired (`now` in seconds) and the push still carries this worker's
    /// lease: false when not, and nothing may be sent.
    async fn set_push_token(&self, push: &DevicePush, digest: &str, now: i64) -> StoreResult<bool>;
    /// Records how an attempt ended, if the push still carries this worker's
    /// lease; false when another worker took it over.
    async fn finish_device_push(&self, push: &DevicePush, outcome: &PushOutcome, now_ms: i64) -> StoreResult<bool>;
    /// The pushes owed for a transaction, by device.
    async fn device_pushes_of(&self, transaction_id: &str) -> StoreResult<Vec<PushRecord>>;
    /// The pending request an exchange token was sent about, if the token was
    /// sent to `device_id` and the request is still open (`now` in seconds).
    async fn exchange_push_token(&self, digest: &str, device_id: &str, now: i64) -> StoreResult<Option<InboxItem>>;
}

/// Where another instance's topics are handed (the process's wake-ups).
pub trait TopicSink: Send + Sync {
    fn deliver(&self, topic: &str);
}

/// When SQLite reports a commit done. Backchannel requests are committed in
/// groups, so `full` costs them one fsync per group; decisions, challenges
/// and token issues pay one each (`bench/README.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SqliteSynchronous {
    /// The WAL is synced at every commit: nothing answered is lost, even to
    /// a power cut.
    Full,
    /// Synced at checkpoints only: a process crash loses nothing, a power
    /// cut (or kernel crash) may lose the last commits, never corrupts.
    Normal,
}

impl SqliteSynchronous {
    pub fn as_pragma(self) -> &'static str {
        match self {
            SqliteSynchronous::Full => "FULL",
            SqliteSynchronous::Normal => "NORMAL",
        }
    }
}

/// Opens the store `database_url` names and brings its schema up to date.
/// `synchronous` applies to SQLite only.
pub async fn open(database_url: &str, synchronous: SqliteSynchronous) -> anyhow::Result<Arc<dyn Store>> {
    let url = database_url;
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url, synchronous).await?))
    } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
        Ok(Arc::new(postgres::PgStore::open(url).await?))
    } else {
        anyhow::bail!("unsupported database URL (expected sqlite://... or postgres://...)")
    }
}

/// The SQLite migration files, in the order sqlx applies them (tests that
/// build a database by hand, or stop it at a given migration).
#[cfg(test)]
pub(crate) fn sqlite_migration_files() -> Vec<std::path::PathBuf> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations/sqlite");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("migrations/sqlite")
        .map(|e| e.expect("a migration file").path())
        .collect();
    files.sort();
    files
}
