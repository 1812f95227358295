//! The user and device lifecycle (seeds 000, 001, 002, 003): bindings,
//! registrations, registration tokens, activation and unregistration.

use async_trait::async_trait;
use sqlx::FromRow;

use super::StoreResult;
use crate::domain::delivery::Delivery;
use crate::domain::lifecycle::{Binding, Registration, RegistrationToken};
use crate::domain::transaction::Transaction;
use crate::domain::user::User;

/// What a device activates with.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// A binding, by id (its activation code was checked by the caller).
    Binding(&'a str),
    /// A registration, by id (its activation password was checked).
    Registration(&'a str),
    /// A registration token, by digest.
    Token(&'a str),
}

#[derive(Debug, Clone)]
pub enum ActivateOutcome {
    /// Bound and active; these open provisioning requests were approved by it.
    Activated { provisioned: Vec<Transaction> },
    /// The credential was used, removed or expired meanwhile.
    CredentialSpent,
    /// The device is bound to another user, locked or removed.
    DeviceUnavailable,
}

/// What unregistering a user removed.
#[derive(Debug, Clone, Default)]
pub struct Unregistered {
    pub devices: u64,
    pub bindings: u64,
    pub registrations: u64,
    /// Open transactions, now ended (denied) for their clients.
    pub transactions: Vec<Transaction>,
}

#[async_trait]
pub trait LifecycleStore: Send + Sync {
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

    /// Removes the user's devices, bindings, registrations and open requests.
    async fn unregister_user(&self, user_id: &str, now: i64) -> StoreResult<Unregistered>;

    /// Ends one open request as denied, by no device (an operator's cancel),
    /// storing the notification its client is owed with it; false if it was
    /// no longer open.
    async fn cancel_transaction(&self, id: &str, now: i64, delivery: Option<&Delivery>) -> StoreResult<bool>;
}

#[derive(FromRow)]
pub(crate) struct BindingRow {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) device_id: String,
    pub(crate) client_id: String,
    pub(crate) code_digest: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) used_at: Option<i64>,
    pub(crate) removed_at: Option<i64>,
}

impl From<BindingRow> for Binding {
    fn from(r: BindingRow) -> Self {
        Binding {
            id: r.id,
            user_id: r.user_id.into(),
            device_id: r.device_id.into(),
            client_id: r.client_id.into(),
            code_digest: r.code_digest,
            created_at: r.created_at,
            expires_at: r.expires_at,
            used_at: r.used_at,
            removed_at: r.removed_at,
        }
    }
}

#[derive(FromRow)]
pub(crate) struct RegistrationRow {
    pub(crate) id: String,
    pub(crate) user_id: String,
    pub(crate) client_id: String,
    pub(crate) password_digest: String,
    pub(crate) relationship_ref: Option<String>,
    pub(crate) client_ip: Option<String>,
    pub(crate) session_id: Option<String>,
    pub(crate) cddc: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) activated_at: Option<i64>,
    pub(crate) device_id: Option<String>,
    pub(crate) reported_at: Option<i64>,
    pub(crate) removed_at: Option<i64>,
}

impl From<RegistrationRow> for Registration {
    fn from(r: RegistrationRow) -> Self {
        Registration {
            id: r.id,
            user_id: r.user_id.into(),
            client_id: r.client_id.into(),
            password_digest: r.password_digest,
            relationship_ref: r.relationship_ref,
            client_ip: r.client_ip,
            session_id: r.session_id,
            cddc: r.cddc,
            created_at: r.created_at,
            expires_at: r.expires_at,
            activated_at: r.activated_at,
            device_id: r.device_id.map(Into::into),
            reported_at: r.reported_at,
            removed_at: r.removed_at,
        }
    }
}

#[derive(FromRow)]
pub(crate) struct RegistrationTokenRow {
    pub(crate) digest: String,
    pub(crate) user_id: String,
    pub(crate) client_id: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) used_at: Option<i64>,
}

impl From<RegistrationTokenRow> for RegistrationToken {
    fn from(r: RegistrationTokenRow) -> Self {
        RegistrationToken {
            digest: r.digest,
            user_id: r.user_id.into(),
            client_id: r.client_id.into(),
            created_at: r.created_at,
            expires_at: r.expires_at,
            used_at: r.used_at,
        }
    }
}

mod sql;
pub(crate) use sql::lifecycle_sql;
