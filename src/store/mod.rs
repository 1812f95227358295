//! Persistence behind one trait per aggregate ([`prelude`]), summed up in
//! [`Store`]. The backend is chosen once, from the database URL, in
//! [`open`]; no call site knows which one it talks to. Each aggregate's file
//! holds its trait, its row types and the SQL both backends share;
//! `sqlite/` holds what only SQLite does.
//! State changes that race (two devices deciding, two redemptions) are
//! settled here with conditional updates, never in memory.

pub mod admins;
pub mod audit;
pub mod batch_sizes;
pub mod challenges;
pub mod clients;
pub mod console;
pub mod deliveries;
pub mod flow_sql;
pub mod identity_documents;
pub mod lifecycle;
pub mod migrate_data;
pub mod pending_cache;
pub mod postgres;
pub mod risk;
pub mod saml_login;
pub mod saml_sp;
pub mod signals;
pub mod sqlite;
pub mod timeline;
pub mod tokens;
pub mod transactions;
pub mod users;

use std::sync::Arc;

pub use transactions::{Limited, RateKey};

use crate::domain::delivery::Delivery;
use crate::domain::token::Issued;
use crate::domain::transaction::{Status, Transaction};

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
    /// The database cannot be reached or is restarting (a dropped
    /// connection, a full pool, PostgreSQL shutting down or starting up) or,
    /// on SQLite, stayed locked: worth answering "try again shortly", not
    /// "internal error".
    pub fn is_unavailable(&self) -> bool {
        match self {
            StoreError::Backend(e) => match e {
                sqlx::Error::Io(_)
                | sqlx::Error::PoolTimedOut
                | sqlx::Error::PoolClosed
                | sqlx::Error::Tls(_)
                | sqlx::Error::Protocol(_)
                | sqlx::Error::WorkerCrashed => true,
                // SQLSTATE class 08 (connection exception), 57P (operator
                // intervention: admin shutdown, crash shutdown, cannot connect now).
                // On SQLite the code is a number: SQLITE_BUSY or SQLITE_LOCKED
                // (5, 6, with their extended codes) after the busy timeout.
                sqlx::Error::Database(db) => db.code().is_some_and(|c| match c.parse::<i32>() {
                    Ok(sqlite) => matches!(sqlite & 0xff, 5 | 6),
                    Err(_) => c.starts_with("08") || c.starts_with("57P"),
                }),
                _ => false,
            },
            StoreError::Direct(_) => self.is_busy(),
            _ => false,
        }
    }

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

/// Everything the app asks of its database, one aggregate per trait; the
/// one handle the app holds is an `Arc<dyn Store>`.
pub trait Store:
    AdminStore
    + ClientStore
    + ConsoleStore
    + UserStore
    + TransactionStore
    + TokenStore
    + DeliveryStore
    + LifecycleStore
    + AuditStore
    + SamlLoginStore
    + SamlSpStore
    + RiskStore
    + IdentityDocumentStore
    + Signals
    + TimelineStore
    + 'static
{
}

impl<T> Store for T where
    T: AdminStore
        + ClientStore
        + ConsoleStore
        + UserStore
        + TransactionStore
        + TokenStore
        + DeliveryStore
        + LifecycleStore
        + AuditStore
        + SamlLoginStore
        + SamlSpStore
        + RiskStore
        + IdentityDocumentStore
        + Signals
        + TimelineStore
        + 'static
{
}

/// The aggregate traits, for call sites that call the store's methods.
pub mod prelude {
    pub use super::Store;
    pub use super::admins::AdminStore;
    pub use super::audit::AuditStore;
    pub use super::clients::ClientStore;
    pub use super::console::ConsoleStore;
    pub use super::deliveries::DeliveryStore;
    pub use super::identity_documents::IdentityDocumentStore;
    pub use super::lifecycle::LifecycleStore;
    pub use super::risk::RiskStore;
    pub use super::saml_login::SamlLoginStore;
    pub use super::saml_sp::SamlSpStore;
    pub use super::signals::Signals;
    pub use super::timeline::TimelineStore;
    pub use super::tokens::TokenStore;
    pub use super::transactions::TransactionStore;
    pub use super::users::UserStore;
}

pub use prelude::*;

/// Implements every aggregate trait for `$store` (a pool of `$db` in `pool`)
/// with the SQL both backends share.
macro_rules! sql_store {
    ($store:ty, $db:ty) => {
        $crate::store::admins::admin_sql!($store, $db);
        $crate::store::audit::audit_sql!($store, $db);
        $crate::store::clients::client_sql!($store, $db);
        $crate::store::console::console_sql!($store, $db);
        $crate::store::deliveries::delivery_sql!($store, $db);
        $crate::store::lifecycle::lifecycle_sql!($store, $db);
        $crate::store::saml_login::saml_login_sql!($store, $db);
        $crate::store::risk::risk_sql!($store, $db);
        $crate::store::identity_documents::identity_document_sql!($store, $db);
        $crate::store::saml_sp::saml_sp_sql!($store, $db);
        $crate::store::signals::signal_sql!($store, $db);
        $crate::store::timeline::timeline_sql!($store, $db);
        $crate::store::tokens::token_sql!($store, $db);
        $crate::store::transactions::transaction_sql!($store, $db);
        $crate::store::users::user_sql!($store, $db);
    };
}
pub(crate) use sql_store;

/// A stored enum's text back into the enum.
fn parse<T: std::str::FromStr<Err = String>>(value: &str) -> Result<T, StoreError> {
    value.parse().map_err(StoreError::Corrupt)
}

/// A unique violation as [`StoreError::Conflict`] naming `what`.
fn conflict(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Backend(e),
    }
}

/// Where another instance's topics are handed (the process's wake-ups).
pub trait TopicSink: Send + Sync {
    fn deliver(&self, topic: &str);
}

/// When SQLite reports a commit done. Backchannel requests are committed in
/// groups, so `full` costs them one fsync per group; decisions, challenges
/// and token issues pay one each.
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
