//! The user and device lifecycle (seeds 000, 001, 002): bindings,
//! registrations, registration tokens, the audit trail and the lockout policy.

use super::ids::{ClientId, DeviceId, UserId};

/// Seed 000: a device+user binding waiting for the relying party's
/// activation code.
#[derive(Debug, Clone)]
pub struct Binding {
    pub id: String,
    pub user_id: UserId,
    pub device_id: DeviceId,
    pub client_id: ClientId,
    pub code_digest: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub removed_at: Option<i64>,
}

/// Seed 001: a user registration and where its activation stands.
#[derive(Debug, Clone)]
pub struct Registration {
    pub id: String,
    pub user_id: UserId,
    pub client_id: ClientId,
    pub password_digest: String,
    pub relationship_ref: Option<String>,
    pub client_ip: Option<String>,
    pub session_id: Option<String>,
    /// The browser CDDC fingerprint (JSON), kept as risk evidence.
    pub cddc: Option<String>,
    pub created_at: i64,
    pub expires_at: i64,
    pub activated_at: Option<i64>,
    pub device_id: Option<DeviceId>,
    /// When check-status reported `activated`; afterwards it says `unknown`.
    pub reported_at: Option<i64>,
    pub removed_at: Option<i64>,
}

/// Seed 002: a single-use token that lets a signed-in user add a device.
#[derive(Debug, Clone)]
pub struct RegistrationToken {
    pub digest: String,
    pub user_id: UserId,
    pub client_id: ClientId,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}

/// One line of the append-only audit trail.
#[derive(Debug, Clone)]
pub struct AuditEntry {
    pub at: i64,
    /// Who acted: `client:<id>`, `device:<id>` or `cli`.
    pub actor: String,
    pub action: &'static str,
    /// What it was done to: `user:<id>`, `device:<id>`.
    pub subject: String,
    pub detail: Option<String>,
}

/// Failed-attempt thresholds that lock a device or a user.
#[derive(Debug, Clone, Copy)]
pub struct Lockout {
    pub device_threshold: i64,
    pub user_threshold: i64,
}

/// What the device scans: where to activate, and with what (`field`, the
/// device API's name for the credential: `activation_password` or
/// `registration_token`).
pub fn activation_qr_payload(issuer: &str, field: &str, credential: &str) -> String {
    let query = form_urlencoded::Serializer::new(String::new())
        .append_pair("issuer", issuer)
        .append_pair(field, credential)
        .finish();
    format!("trustid://activate?{query}")
}
