//! Persistence behind one trait. The backend is chosen once, from the
//! database URL, in [`open`]; no call site knows which one it talks to.
//! State changes that race (two devices deciding, two redemptions) are
//! settled here with conditional updates, never in memory.

mod rows;
pub mod sqlite;

use std::sync::Arc;

use async_trait::async_trait;

use crate::domain::client::Client;
use crate::domain::device::Device;
use crate::domain::transaction::{Status, Transaction};
use crate::domain::user::User;

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
}

pub type StoreResult<T> = Result<T, StoreError>;

/// A single-use challenge handed to one device for one transaction.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub nonce: String,
    pub transaction_id: String,
    pub device_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// An issued access token, known by its digest.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub digest: String,
    pub client_id: String,
    pub user_id: String,
    pub transaction_id: String,
    pub scope: String,
    pub expires_at: i64,
    pub revoked: bool,
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
    async fn client(&self, id: &str) -> StoreResult<Option<Client>>;

    async fn insert_user(&self, user: &User, apps: &[String]) -> StoreResult<()>;
    async fn user(&self, id: &str) -> StoreResult<Option<User>>;
    /// Resolves a `login_hint`: the user id, else the e-mail, else the phone.
    async fn user_by_hint(&self, hint: &str) -> StoreResult<Option<User>>;
    async fn user_has_app(&self, user_id: &str, app_id: &str) -> StoreResult<bool>;
    async fn active_device_count(&self, user_id: &str) -> StoreResult<i64>;

    /// Inserts a device, or returns the one already registered with that id;
    /// the flag says whether this call created it.
    async fn register_device(&self, device: &Device) -> StoreResult<(Device, bool)>;
    async fn device(&self, id: &str) -> StoreResult<Option<Device>>;
    async fn bind_device(&self, device_id: &str, user_id: &str) -> StoreResult<BindOutcome>;

    async fn insert_transaction(&self, txn: &Transaction) -> StoreResult<()>;
    async fn transaction(&self, id: &str) -> StoreResult<Option<Transaction>>;
    async fn transaction_by_auth_req(&self, digest: &str) -> StoreResult<Option<Transaction>>;
    async fn pending_for_user(&self, user_id: &str, now: i64) -> StoreResult<Vec<InboxItem>>;

    async fn insert_challenges(&self, challenges: &[Challenge]) -> StoreResult<()>;
    async fn challenge(&self, nonce: &str) -> StoreResult<Option<Challenge>>;
    async fn decide(&self, write: &DecisionWrite<'_>) -> StoreResult<DecideOutcome>;
    /// Counts a refused decision against the device, and against the user and
    /// transaction when they are known.
    async fn record_failed_attempt(
        &self,
        device_id: &str,
        user_id: Option<&str>,
        transaction_id: Option<&str>,
    ) -> StoreResult<()>;

    /// Marks an approved transaction consumed and stores its access token, in
    /// one database transaction. False when it was not approved any more.
    async fn redeem(
        &self,
        transaction_id: &str,
        token: &AccessToken,
        now: i64,
    ) -> StoreResult<bool>;
    async fn revoke_for_transaction(&self, transaction_id: &str) -> StoreResult<u64>;
    async fn access_token(&self, digest: &str) -> StoreResult<Option<AccessToken>>;

    /// Remembers `key` until `expires_at`; false when it was seen already.
    async fn remember_once(&self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool>;
}

/// Opens the store the URL names and brings its schema up to date.
pub async fn open(url: &str) -> anyhow::Result<Arc<dyn Store>> {
    if url.starts_with("sqlite:") {
        Ok(Arc::new(sqlite::SqliteStore::open(url).await?))
    } else {
        anyhow::bail!("unsupported database URL (expected sqlite://...)")
    }
}
