//! Users and their devices: status, lockout counters, push channels.

use async_trait::async_trait;
use sqlx::FromRow;

use super::{BindOutcome, DeviceCounts, StoreError, StoreResult, parse};
use crate::domain::device::Device;
use crate::domain::lifecycle::Lockout;
use crate::domain::push::{PushAddress, PushChannel};
use crate::domain::user::{User, UserStatus};

/// The users' columns the direct path reads by position, in
/// `sqlite::direct::USER_FIELDS` order (a test holds them together).
macro_rules! user_columns {
    () => {
        "u.id, u.email, u.phone, u.status, u.failed_attempts, u.user_code_hash, u.static_password_hash, u.created_at"
    };
}

/// A user by their id: one statement for sqlx (which reads [`UserRow`] by
/// column name) and SQLite's direct path (by position).
pub(crate) const USER_ROW_BY_ID: &str = concat!("SELECT ", user_columns!(), " FROM users u WHERE u.id = $1");

/// A user by their id with their device counts: one probe of the primary key
/// and one pass over the user's devices (the aliases match [`USER_BY_HINT`]).
pub(crate) const USER_BY_ID: &str = concat!(
    "SELECT ",
    user_columns!(),
    ", COUNT(d.user_id) AS active_devices, \
     COUNT(d.push_channel) AS pushable_devices \
     FROM users u LEFT JOIN devices d ON d.user_id = u.id AND d.status = 'active' \
     WHERE u.id = $1 GROUP BY u.id"
);

/// A user by `login_hint` with their device counts. The RP's own identifier
/// wins over e-mail, e-mail over phone.
pub(crate) const USER_BY_HINT: &str = concat!(
    "SELECT ",
    user_columns!(),
    ", \
     (SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id AND d.status = 'active') AS active_devices, \
     (SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id AND d.status = 'active' \
      AND d.push_channel IS NOT NULL) AS pushable_devices \
     FROM users u WHERE u.id = $1 OR u.email = $1 OR u.phone = $1 \
     ORDER BY CASE WHEN u.id = $1 THEN 0 WHEN u.email = $1 THEN 1 ELSE 2 END LIMIT 1"
);

/// [`UserStore::users_list`]: `$1` the status, `$2` a LIKE pattern, `$3` the limit.
pub(crate) const USERS_LIST: &str = "SELECT * FROM users \
     WHERE (CAST($1 AS TEXT) IS NULL AND status != 'removed' OR status = $1) \
       AND (CAST($2 AS TEXT) IS NULL OR LOWER(id) LIKE $2 ESCAPE '\\' \
            OR LOWER(COALESCE(email, '')) LIKE $2 ESCAPE '\\' OR LOWER(COALESCE(phone, '')) LIKE $2 ESCAPE '\\') \
     ORDER BY created_at DESC, id DESC LIMIT $3";

/// `text` as a LIKE pattern matching any value that contains it, any case.
pub(crate) fn containing(text: &str) -> String {
    let escaped = text
        .to_lowercase()
        .replace('\\', "\\\\")
        .replace('%', "\\%")
        .replace('_', "\\_");
    format!("%{escaped}%")
}

#[async_trait]
pub trait UserStore: Send + Sync {
    async fn insert_user(&self, user: &User, apps: &[String]) -> StoreResult<()>;

    /// Inserts the user unless one with that id exists; true if it did not.
    async fn create_user_if_absent(&self, user: &User) -> StoreResult<bool>;

    async fn set_user_code(&self, user_id: &str, hash: &str) -> StoreResult<bool>;

    /// Sets the status; unlocking also clears the failed attempts.
    async fn set_user_status(&self, user_id: &str, status: UserStatus) -> StoreResult<bool>;

    async fn user(&self, id: &str) -> StoreResult<Option<User>>;

    /// Up to `limit` users, newest first: those with `status` (all but
    /// removed ones without), whose id, e-mail or phone contains `search`
    /// (any case).
    async fn users_list(&self, status: Option<&str>, search: Option<&str>, limit: i64) -> StoreResult<Vec<User>>;

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

    async fn devices_of(&self, user_id: &str) -> StoreResult<Vec<Device>>;

    async fn set_preferred_device(&self, user_id: &str, device_id: &str) -> StoreResult<bool>;

    async fn remove_device(&self, user_id: &str, device_id: &str) -> StoreResult<bool>;

    /// Locks an active device of the user, or unlocks a locked one (its
    /// failed attempts forgotten); false if it was in neither state.
    async fn set_device_locked(&self, user_id: &str, device_id: &str, locked: bool) -> StoreResult<bool>;

    /// Sets (or with `None` clears) how a device is woken; false if unknown.
    async fn set_push_channel(&self, device_id: &str, push: Option<(PushChannel, &PushAddress)>) -> StoreResult<bool>;

    /// Clears a device's push channel if its address is still `address` (the
    /// provider said it is dead); false if the device has another one now.
    async fn forget_dead_push_address(&self, device_id: &str, address: &PushAddress) -> StoreResult<bool>;

    /// Counts a refused attempt against the device, the user and the
    /// transaction when known (whose timeline then shows why), and locks
    /// whatever reached its threshold. Returns whether the device and the
    /// user are now locked.
    async fn record_failed_attempt(
        &self,
        device_id: Option<&str>,
        user_id: Option<&str>,
        on: Option<FailedOn<'_>>,
        lockout: Lockout,
    ) -> StoreResult<(bool, bool)>;
}

/// The transaction a failed attempt was made on, and why it failed (the
/// device API's refusal code).
#[derive(Debug, Clone, Copy)]
pub struct FailedOn<'a> {
    pub transaction_id: &'a str,
    pub reason: &'static str,
    /// Clock milliseconds.
    pub at_ms: i64,
}

#[derive(FromRow)]
pub(crate) struct UserRow {
    pub(crate) id: String,
    pub(crate) email: Option<String>,
    pub(crate) phone: Option<String>,
    pub(crate) status: String,
    pub(crate) failed_attempts: i64,
    pub(crate) user_code_hash: Option<String>,
    pub(crate) static_password_hash: Option<String>,
    pub(crate) created_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            status: parse(&r.status)?,
            id: r.id.into(),
            email: r.email,
            phone: r.phone,
            failed_attempts: r.failed_attempts,
            user_code_hash: r.user_code_hash,
            static_password_hash: r.static_password_hash,
            created_at: r.created_at,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct DeviceRow {
    pub(crate) id: String,
    pub(crate) device_key: String,
    pub(crate) auth_key: String,
    pub(crate) user_id: Option<String>,
    pub(crate) status: String,
    pub(crate) failed_attempts: i64,
    pub(crate) preferred: i64,
    pub(crate) created_at: i64,
    pub(crate) push_channel: Option<String>,
    pub(crate) push_address: Option<String>,
    pub(crate) user_authentication_required: i64,
}

impl TryFrom<DeviceRow> for Device {
    type Error = StoreError;
    fn try_from(r: DeviceRow) -> Result<Self, StoreError> {
        Ok(Device {
            status: parse(&r.status)?,
            id: r.id.into(),
            device_key: r.device_key,
            auth_key: r.auth_key,
            user_id: r.user_id.map(Into::into),
            failed_attempts: r.failed_attempts,
            preferred: r.preferred != 0,
            push: match (r.push_channel, r.push_address) {
                (Some(channel), Some(address)) => Some((parse(&channel)?, PushAddress::stored(address))),
                _ => None,
            },
            created_at: r.created_at,
            user_authentication_required: r.user_authentication_required != 0,
        })
    }
}

/// A user and, read in the same statement, how many active devices they
/// have and how many of those have a push channel.
#[derive(FromRow)]
pub(crate) struct UserDevicesRow {
    #[sqlx(flatten)]
    pub(crate) user: UserRow,
    pub(crate) active_devices: i64,
    pub(crate) pushable_devices: i64,
}

mod sql;
pub(crate) use sql::user_sql;
