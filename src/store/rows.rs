//! Row types as the database returns them, and their checked conversion into
//! domain values (enums are stored as text with CHECK constraints).

use sqlx::FromRow;

use super::StoreError;
use crate::domain::binding_message::ActionContext;
use crate::domain::challenge::Challenge;
use crate::domain::client::Client;
use crate::domain::delivery::{Delivery, DevicePush, PushRecord};
use crate::domain::device::Device;
use crate::domain::lifecycle::{Binding, Registration, RegistrationToken};
use crate::domain::push::PushAddress;
use crate::domain::token::{AccessToken, ManagementToken, RefreshToken};
use crate::domain::transaction::{Notify, Transaction};
use crate::domain::user::User;

fn parse<T: std::str::FromStr<Err = String>>(value: &str) -> Result<T, StoreError> {
    value.parse().map_err(StoreError::Corrupt)
}

#[derive(FromRow)]
pub struct ClientRow {
    id: String,
    secret_digest: Option<String>,
    metadata: String,
    created_at: i64,
}

impl TryFrom<ClientRow> for Client {
    type Error = StoreError;
    fn try_from(r: ClientRow) -> Result<Self, StoreError> {
        Ok(Client {
            metadata: serde_json::from_str(&r.metadata)
                .map_err(|e| StoreError::Corrupt(format!("client metadata: {e}")))?,
            id: r.id,
            secret_digest: r.secret_digest,
            created_at: r.created_at,
        })
    }
}

#[derive(FromRow)]
pub struct UserRow {
    id: String,
    email: Option<String>,
    phone: Option<String>,
    status: String,
    failed_attempts: i64,
    user_code_hash: Option<String>,
    static_password_hash: Option<String>,
    created_at: i64,
}

impl TryFrom<UserRow> for User {
    type Error = StoreError;
    fn try_from(r: UserRow) -> Result<Self, StoreError> {
        Ok(User {
            status: parse(&r.status)?,
            id: r.id,
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
pub struct DeviceRow {
    id: String,
    device_key: String,
    auth_key: String,
    user_id: Option<String>,
    status: String,
    failed_attempts: i64,
    preferred: i64,
    created_at: i64,
    push_channel: Option<String>,
    push_address: Option<String>,
}

impl TryFrom<DeviceRow> for Device {
    type Error = StoreError;
    fn try_from(r: DeviceRow) -> Result<Self, StoreError> {
        Ok(Device {
            status: parse(&r.status)?,
            id: r.id,
            device_key: r.device_key,
            auth_key: r.auth_key,
            user_id: r.user_id,
            failed_attempts: r.failed_attempts,
            preferred: r.preferred != 0,
            push: match (r.push_channel, r.push_address) {
                (Some(channel), Some(address)) => Some((parse(&channel)?, PushAddress::stored(address))),
                _ => None,
            },
            created_at: r.created_at,
        })
    }
}

#[derive(FromRow)]
pub struct TransactionRow {
    id: String,
    auth_req_digest: String,
    client_id: String,
    user_id: String,
    context: String,
    app_id: Option<String>,
    display_text: String,
    scope: String,
    acr: Option<String>,
    status: String,
    created_at: i64,
    expires_at: i64,
    decided_at: Option<i64>,
    poll_interval: i64,
    device_id: Option<String>,
    failed_attempts: i64,
    failed_device_id: Option<String>,
    auth_req_id: Option<String>,
    notification_token: Option<String>,
    notify_kind: Option<String>,
    user_status: Option<String>,
    match_number: Option<String>,
}

impl TryFrom<TransactionRow> for Transaction {
    type Error = StoreError;
    fn try_from(r: TransactionRow) -> Result<Self, StoreError> {
        let context = match r.context.as_str() {
            "authentication" => ActionContext::Authentication,
            "provisioning" => ActionContext::Provisioning,
            other => return Err(StoreError::Corrupt(format!("context `{other}`"))),
        };
        Ok(Transaction {
            status: parse(&r.status)?,
            context,
            id: r.id,
            auth_req_digest: r.auth_req_digest,
            client_id: r.client_id,
            user_id: r.user_id,
            app_id: r.app_id,
            display_text: r.display_text,
            scope: r.scope,
            acr: r.acr,
            created_at: r.created_at,
            expires_at: r.expires_at,
            decided_at: r.decided_at,
            interval: r.poll_interval,
            device_id: r.device_id,
            failed_attempts: r.failed_attempts,
            failed_device_id: r.failed_device_id,
            notify: match (r.auth_req_id, r.notification_token) {
                (Some(auth_req_id), Some(client_notification_token)) => Some(Notify {
                    auth_req_id,
                    client_notification_token,
                    push: r.notify_kind.as_deref() == Some("push"),
                }),
                _ => None,
            },
            user_status: r.user_status.as_deref().map(parse).transpose()?,
            match_number: r.match_number,
        })
    }
}

/// The columns the direct SQLite path reads, by position: rusqlite finds a
/// column by name by comparing every name before it (22 for a
/// transaction), which was a tenth of the backchannel's user read.
/// `sql::USER_BY_ID`, `sql::USER_BY_HINT` and `sql::TXN_COLUMNS` list them
/// in this order (tested in `direct.rs`).
pub(super) const USER_FIELDS: [&str; 8] = [
    "id",
    "email",
    "phone",
    "status",
    "failed_attempts",
    "user_code_hash",
    "static_password_hash",
    "created_at",
];

/// `TransactionRow::from_direct` reads these by index; the test holds
/// `sql::TXN_COLUMNS` to this order.
#[cfg(test)]
pub(super) const TXN_FIELDS: [&str; 22] = [
    "id",
    "auth_req_digest",
    "client_id",
    "user_id",
    "context",
    "app_id",
    "display_text",
    "scope",
    "acr",
    "status",
    "created_at",
    "expires_at",
    "decided_at",
    "poll_interval",
    "device_id",
    "failed_attempts",
    "failed_device_id",
    "auth_req_id",
    "notification_token",
    "notify_kind",
    "user_status",
    "match_number",
];

impl UserRow {
    /// The same row read by the direct SQLite path (columns by position,
    /// [`USER_FIELDS`]).
    pub(super) fn from_direct(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            email: r.get(1)?,
            phone: r.get(2)?,
            status: r.get(3)?,
            failed_attempts: r.get(4)?,
            user_code_hash: r.get(5)?,
            static_password_hash: r.get(6)?,
            created_at: r.get(7)?,
        })
    }
}

impl TransactionRow {
    /// The same row read by the direct SQLite path (columns by position,
    /// [`TXN_FIELDS`]).
    pub(super) fn from_direct(r: &rusqlite::Row<'_>) -> rusqlite::Result<Self> {
        Ok(Self {
            id: r.get(0)?,
            auth_req_digest: r.get(1)?,
            client_id: r.get(2)?,
            user_id: r.get(3)?,
            context: r.get(4)?,
            app_id: r.get(5)?,
            display_text: r.get(6)?,
            scope: r.get(7)?,
            acr: r.get(8)?,
            status: r.get(9)?,
            created_at: r.get(10)?,
            expires_at: r.get(11)?,
            decided_at: r.get(12)?,
            poll_interval: r.get(13)?,
            device_id: r.get(14)?,
            failed_attempts: r.get(15)?,
            failed_device_id: r.get(16)?,
            auth_req_id: r.get(17)?,
            notification_token: r.get(18)?,
            notify_kind: r.get(19)?,
            user_status: r.get(20)?,
            match_number: r.get(21)?,
        })
    }
}

/// A user and, read in the same statement, how many active devices they
/// have and how many of those have a push channel.
#[derive(FromRow)]
pub struct UserDevicesRow {
    #[sqlx(flatten)]
    pub user: UserRow,
    pub active_devices: i64,
    pub pushable_devices: i64,
}

#[derive(FromRow)]
pub struct InboxRow {
    #[sqlx(flatten)]
    pub transaction: TransactionRow,
    pub client_name: String,
}

#[derive(FromRow)]
pub struct ChallengeRow {
    nonce: String,
    transaction_id: String,
    device_id: String,
    expires_at: i64,
    used_at: Option<i64>,
}

impl From<ChallengeRow> for Challenge {
    fn from(r: ChallengeRow) -> Self {
        Challenge {
            nonce: r.nonce,
            transaction_id: r.transaction_id,
            device_id: r.device_id,
            expires_at: r.expires_at,
            used_at: r.used_at,
        }
    }
}

#[derive(FromRow)]
pub struct AccessTokenRow {
    digest: String,
    client_id: String,
    user_id: String,
    transaction_id: String,
    scope: String,
    expires_at: i64,
    revoked: i64,
}

impl From<AccessTokenRow> for AccessToken {
    fn from(r: AccessTokenRow) -> Self {
        AccessToken {
            digest: r.digest,
            client_id: r.client_id,
            user_id: r.user_id,
            transaction_id: r.transaction_id,
            scope: r.scope,
            expires_at: r.expires_at,
            revoked: r.revoked != 0,
        }
    }
}

#[derive(FromRow)]
pub struct RefreshTokenRow {
    digest: String,
    family: String,
    client_id: String,
    user_id: String,
    transaction_id: String,
    scope: String,
    created_at: i64,
    expires_at: i64,
    revoked: i64,
}

impl From<RefreshTokenRow> for RefreshToken {
    fn from(r: RefreshTokenRow) -> Self {
        RefreshToken {
            digest: r.digest,
            family: r.family,
            client_id: r.client_id,
            user_id: r.user_id,
            transaction_id: r.transaction_id,
            scope: r.scope,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked: r.revoked != 0,
        }
    }
}

#[derive(FromRow)]
pub struct DeliveryRow {
    id: String,
    transaction_id: String,
    kind: String,
    target: String,
    bearer: String,
    payload: String,
    attempts: i64,
    give_up_at: i64,
}

impl TryFrom<DeliveryRow> for Delivery {
    type Error = StoreError;
    fn try_from(r: DeliveryRow) -> Result<Self, StoreError> {
        Ok(Delivery {
            kind: parse(&r.kind)?,
            id: r.id,
            transaction_id: r.transaction_id,
            target: r.target,
            bearer: r.bearer,
            payload: r.payload,
            attempts: r.attempts,
            give_up_at: r.give_up_at,
        })
    }
}

#[derive(FromRow)]
pub struct BindingRow {
    id: String,
    user_id: String,
    device_id: String,
    client_id: String,
    code_digest: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
    removed_at: Option<i64>,
}

impl From<BindingRow> for Binding {
    fn from(r: BindingRow) -> Self {
        Binding {
            id: r.id,
            user_id: r.user_id,
            device_id: r.device_id,
            client_id: r.client_id,
            code_digest: r.code_digest,
            created_at: r.created_at,
            expires_at: r.expires_at,
            used_at: r.used_at,
            removed_at: r.removed_at,
        }
    }
}

#[derive(FromRow)]
pub struct RegistrationRow {
    id: String,
    user_id: String,
    client_id: String,
    password_digest: String,
    relationship_ref: Option<String>,
    client_ip: Option<String>,
    session_id: Option<String>,
    cddc: Option<String>,
    created_at: i64,
    expires_at: i64,
    activated_at: Option<i64>,
    device_id: Option<String>,
    reported_at: Option<i64>,
    removed_at: Option<i64>,
}

impl From<RegistrationRow> for Registration {
    fn from(r: RegistrationRow) -> Self {
        Registration {
            id: r.id,
            user_id: r.user_id,
            client_id: r.client_id,
            password_digest: r.password_digest,
            relationship_ref: r.relationship_ref,
            client_ip: r.client_ip,
            session_id: r.session_id,
            cddc: r.cddc,
            created_at: r.created_at,
            expires_at: r.expires_at,
            activated_at: r.activated_at,
            device_id: r.device_id,
            reported_at: r.reported_at,
            removed_at: r.removed_at,
        }
    }
}

#[derive(FromRow)]
pub struct RegistrationTokenRow {
    digest: String,
    user_id: String,
    client_id: String,
    created_at: i64,
    expires_at: i64,
    used_at: Option<i64>,
}

impl From<RegistrationTokenRow> for RegistrationToken {
    fn from(r: RegistrationTokenRow) -> Self {
        RegistrationToken {
            digest: r.digest,
            user_id: r.user_id,
            client_id: r.client_id,
            created_at: r.created_at,
            expires_at: r.expires_at,
            used_at: r.used_at,
        }
    }
}

#[derive(FromRow)]
pub struct ManagementTokenRow {
    digest: String,
    client_id: String,
    scope: String,
    expires_at: i64,
    revoked: i64,
}

impl From<ManagementTokenRow> for ManagementToken {
    fn from(r: ManagementTokenRow) -> Self {
        ManagementToken {
            digest: r.digest,
            client_id: r.client_id,
            scope: r.scope,
            expires_at: r.expires_at,
            revoked: r.revoked != 0,
        }
    }
}

#[derive(FromRow)]
pub struct DevicePushRow {
    transaction_id: String,
    device_id: String,
    attempts: i64,
    give_up_at: i64,
    claimed_until: i64,
}

impl From<DevicePushRow> for DevicePush {
    fn from(r: DevicePushRow) -> Self {
        DevicePush {
            transaction_id: r.transaction_id,
            device_id: r.device_id,
            attempts: r.attempts,
            give_up_at: r.give_up_at,
            lease_until: r.claimed_until,
        }
    }
}

#[derive(FromRow)]
pub struct PushRecordRow {
    device_id: String,
    state: String,
    channel: Option<String>,
    attempts: i64,
    last_error: Option<String>,
    created_at: i64,
    finished_at: Option<i64>,
}

impl TryFrom<PushRecordRow> for PushRecord {
    type Error = StoreError;
    fn try_from(r: PushRecordRow) -> Result<Self, StoreError> {
        Ok(PushRecord {
            state: parse(&r.state)?,
            channel: r.channel.as_deref().map(parse).transpose()?,
            device_id: r.device_id,
            attempts: r.attempts,
            last_error: r.last_error,
            created_at: r.created_at,
            finished_at: r.finished_at,
        })
    }
}
