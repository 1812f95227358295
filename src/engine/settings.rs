//! The engine's settings, in sections. The wiring (`config`) reads and
//! validates the operator's flat settings file and hands each section to
//! what it configures; nothing here reads a file or the environment.
//! Durations are whole seconds unless the type says otherwise.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::crypto::client_cert::ClientCa;
use crate::domain::address::TrustedProxies;
use crate::domain::client::MtlsSupport;

/// Who trustid is.
#[derive(Debug, Clone)]
pub struct Server {
    /// The issuer identifier; every endpoint URL is derived from it.
    pub issuer: String,
    /// Dev mode: http and loopback callbacks allowed.
    pub dev: bool,
    /// The SAML IdP's entity ID (default `{issuer}/saml`).
    pub saml_entity_id: String,
    /// Console admins must approve sign-ins on a bound phone.
    pub admin_second_factor: bool,
    /// Whose `X-Forwarded-For` names the client (the sign-in throttle's
    /// address).
    pub trusted_proxies: crate::domain::address::TrustedProxies,
    /// Where trustid may call on a client's behalf.
    pub outbound: crate::domain::url::OutboundRule,
    /// Time a request has to be answered (long-polls and event streams
    /// excepted: their handlers bound them).
    pub request_timeout: Duration,
    /// `/metrics` is served on `metrics_listen` only.
    pub metrics_separate: bool,
    /// Mutual TLS (RFC 8705).
    pub mtls: Mtls,
}

/// What clients may prove with a TLS certificate, and where it comes from.
#[derive(Debug, Clone, Default)]
pub struct Mtls {
    pub support: MtlsSupport,
    /// The CAs `tls_client_auth` chains to.
    pub ca: Option<Arc<ClientCa>>,
    /// The header (lower case) a proxy in `proxies` passes the certificate in.
    pub header: Option<String>,
    pub proxies: TrustedProxies,
}

impl Server {
    /// The issuer without a trailing slash, the base of every endpoint URL.
    pub fn issuer_base(&self) -> &str {
        self.issuer.trim_end_matches('/')
    }
}

/// Lifetimes of what the token endpoint and the management API issue.
#[derive(Debug, Clone, Copy)]
pub struct Tokens {
    pub access_ttl: i64,
    pub id_ttl: i64,
    pub refresh_ttl: i64,
    pub management_ttl: i64,
    /// How long after its `exp` an `id_token_hint` is still accepted.
    pub id_token_hint_grace: i64,
}

/// Backchannel requests: their lifetime, the poll pace and the caps.
#[derive(Debug, Clone, Copy)]
pub struct Requests {
    /// Minimum seconds between two token polls (CIBA §7.3 `interval`).
    pub poll_interval: i64,
    /// `expires_in` of a request that names no `requested_expiry`.
    pub default_expiry: i64,
    /// Upper bound for `requested_expiry`; larger values are clamped.
    pub max_expiry: i64,
    /// Requests one user may receive per minute (push fatigue).
    pub user_per_minute: i64,
    /// Requests one client may send per minute.
    pub client_per_minute: i64,
}

/// Devices: proofs, challenges and the lifecycle credentials.
#[derive(Debug, Clone, Copy)]
pub struct Devices {
    /// How long a device may take between fetching a challenge and deciding.
    pub challenge_ttl: i64,
    /// Accepted clock difference for device proofs and decisions, and for
    /// JWTs from clients.
    pub clock_skew: i64,
    /// Seed 000: lifetime of an activation code.
    pub activation_code_ttl: i64,
    /// Seed 001: lifetime of an activation password and its check-status session.
    pub activation_password_ttl: i64,
    /// Seed 002: lifetime of a registration token.
    pub registration_token_ttl: i64,
}

/// The device push providers; each is off while its credentials are unset.
#[derive(Debug, Clone)]
pub struct PushProviders {
    /// FCM HTTP v1: the Google service-account JSON file.
    pub fcm_service_account: Option<PathBuf>,
    pub fcm_base_url: String,
    /// APNs: all four set, or APNs is off (the wiring checks they go together).
    pub apns: Option<ApnsCredentials>,
    pub apns_base_url: String,
}

/// APNs token-based authentication.
#[derive(Debug, Clone)]
pub struct ApnsCredentials {
    pub key_file: PathBuf,
    pub key_id: String,
    pub team_id: String,
    pub topic: String,
}

/// Every section the engine holds.
#[derive(Debug, Clone)]
pub struct EngineSettings {
    pub server: Server,
    pub tokens: Tokens,
    pub requests: Requests,
    pub devices: Devices,
    pub lockout: crate::domain::lifecycle::Lockout,
    /// Time a ping/push notification endpoint or push provider has to answer.
    pub delivery_timeout: Duration,
    pub push: PushProviders,
    /// Initial access token for RFC 7591 dynamic registration; off while unset.
    pub registration_access_token: Option<String>,
    /// Failed client authentications from one address, within five minutes,
    /// after which it is refused until they end (0 = never).
    pub client_auth_failures_per_address: u32,
}
