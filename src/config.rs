//! Settings: built-in defaults, then an optional TOML file, then `TRUSTID_*`
//! environment variables. Validated once at start-up; a bad value stops the
//! process with a message naming the setting.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Serialized, Toml};
use serde::{Deserialize, Serialize};
use url::Url;

use crate::domain::address::TrustedProxies;
use crate::domain::url::OutboundRule;

pub use crate::store::SqliteSynchronous;

/// Every setting trustid reads. Durations are whole seconds.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// The issuer identifier; every endpoint URL is derived from it.
    pub issuer: String,
    /// Address the HTTP server binds.
    pub listen: String,
    /// https served by trustid itself: the certificate chain (PEM, the
    /// server's certificate first) and its private key; plain HTTP (behind
    /// a proxy that terminates TLS) while unset. Re-read on SIGHUP and when
    /// the files change.
    pub tls_certificate: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// Mutual TLS (RFC 8705): clients may present a certificate (asked for
    /// by trustid's own TLS, or passed by a trusted proxy in
    /// `mtls_certificate_header`), to authenticate with
    /// `tls_client_auth`/`self_signed_tls_client_auth` and to have their
    /// access tokens bound to it.
    pub mtls: bool,
    /// PEM certificates of the CAs `tls_client_auth` certificates chain to.
    pub mtls_ca: Option<PathBuf>,
    /// The header a proxy in `mtls_proxies` passes the client's
    /// certificate in (RFC 9440 `Client-Cert`, or nginx's escaped PEM).
    pub mtls_certificate_header: Option<String>,
    /// The proxies (IPs or CIDRs) whose `mtls_certificate_header` is
    /// believed: only those that terminate TLS and overwrite the header.
    pub mtls_proxies: String,
    /// A second address serving only `/metrics` (plain HTTP, for a scraper
    /// on an internal network); `/metrics` then leaves the main listener.
    pub metrics_listen: Option<String>,
    /// `sqlite://path` (default) or `postgres://...`.
    pub database_url: String,
    /// SQLite only: when a commit counts as done (`PRAGMA synchronous`).
    pub sqlite_synchronous: SqliteSynchronous,
    /// Where the signing keys live; created on first start.
    pub keys_dir: PathBuf,
    /// Dev mode: http issuer and loopback callbacks allowed anywhere.
    pub dev: bool,
    /// Lifetime of access tokens.
    pub access_token_ttl: i64,
    /// Lifetime of ID tokens.
    pub id_token_ttl: i64,
    /// Minimum seconds between two token polls (CIBA §7.3 `interval`).
    pub poll_interval: i64,
    /// `expires_in` of a backchannel request that names no `requested_expiry`.
    pub request_expiry: i64,
    /// Upper bound for `requested_expiry`; larger values are clamped.
    pub max_request_expiry: i64,
    /// How long a device may take between fetching a challenge and deciding.
    pub challenge_ttl: i64,
    /// Accepted clock difference for device proofs and decisions, and for
    /// JWTs from clients.
    pub device_clock_skew: i64,
    /// Lifetime of refresh tokens (issued when `offline_access` is granted).
    pub refresh_token_ttl: i64,
    /// How long after its `exp` an `id_token_hint` is still accepted.
    pub id_token_hint_grace: i64,
    /// Backchannel requests one user may receive per minute (push fatigue).
    pub user_requests_per_minute: i64,
    /// Backchannel requests one client may send per minute.
    pub client_requests_per_minute: i64,
    /// Time a ping/push notification endpoint has to answer, in seconds.
    pub delivery_timeout: i64,
    /// Seconds `serve` gives in-flight requests and deliveries after a
    /// SIGTERM or SIGINT before it exits anyway.
    pub shutdown_grace: i64,
    /// Initial access token for RFC 7591 dynamic registration; registration
    /// is off (and not advertised) while unset.
    pub registration_access_token: Option<String>,
    /// The SAML IdP's entity ID; `{issuer}/saml` when unset.
    pub saml_entity_id: Option<String>,
    /// Every console admin must approve their sign-ins on a bound phone;
    /// an admin without one may only bind one.
    pub admin_second_factor: bool,
    /// Hosts (names or addresses, comma-separated) that trustid may call on
    /// a client's behalf although they are internal: an operator's own push
    /// relay, say. Empty: none (dev mode allows every loopback host).
    pub outbound_allow: String,
    /// Proxies whose `X-Forwarded-For` names the client (IPs or CIDRs,
    /// comma-separated); empty: none.
    pub trusted_proxies: String,
    /// Failed attempts that lock a device, and a user (0 = never).
    pub device_lockout_threshold: i64,
    pub user_lockout_threshold: i64,
    /// Failed client authentications from one address within five minutes
    /// after which that address is refused until they end; after 5, each
    /// failure is answered later (0 = no throttle).
    pub client_auth_failures_per_address: i64,
    /// Seconds a request has to be answered; long-polls and event streams
    /// are bounded by their own handlers.
    pub request_timeout: i64,
    /// Lifetime of a seed-000 activation code (the RP verifies the account meanwhile).
    pub activation_code_ttl: i64,
    /// Lifetime of a seed-001 activation password and its check-status session.
    pub activation_password_ttl: i64,
    /// Lifetime of a seed-002 registration token.
    pub registration_token_ttl: i64,
    /// Lifetime of a management API access token.
    pub management_token_ttl: i64,
    /// FCM HTTP v1: the Google service-account JSON file (`project_id`,
    /// `client_email`, `private_key`, `token_uri`). FCM is off while unset.
    pub fcm_service_account: Option<PathBuf>,
    /// Where the FCM API is (a local server in tests).
    pub fcm_base_url: String,
    /// APNs token-based auth: the `.p8` key file, its key id, the team id and
    /// the app's bundle id (`apns-topic`). APNs is off unless all four are set.
    pub apns_key_file: Option<PathBuf>,
    pub apns_key_id: Option<String>,
    pub apns_team_id: Option<String>,
    pub apns_topic: Option<String>,
    /// Where APNs is (`https://api.sandbox.push.apple.com` for development
    /// builds; a local HTTP/2 server in tests).
    pub apns_base_url: String,
    /// Which log lines are written: an `EnvFilter` (`info`, or levels per
    /// module such as `info,trustid::engine=debug`).
    pub log: String,
    /// `human` (text) or `json` (one object per line).
    pub log_format: LogFormat,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Human,
    Json,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            issuer: "http://127.0.0.1:8080".into(),
            listen: "127.0.0.1:8080".into(),
            tls_certificate: None,
            tls_key: None,
            mtls: false,
            mtls_ca: None,
            mtls_certificate_header: None,
            mtls_proxies: String::new(),
            metrics_listen: None,
            database_url: "sqlite://trustid.db".into(),
            sqlite_synchronous: SqliteSynchronous::Full,
            keys_dir: PathBuf::from("keys"),
            dev: false,
            access_token_ttl: 3600,
            id_token_ttl: 3600,
            poll_interval: 5,
            request_expiry: 300,
            max_request_expiry: 1800,
            challenge_ttl: 300,
            device_clock_skew: 120,
            refresh_token_ttl: 30 * 24 * 3600,
            id_token_hint_grace: 24 * 3600,
            user_requests_per_minute: 5,
            client_requests_per_minute: 1200,
            delivery_timeout: 10,
            shutdown_grace: 10,
            registration_access_token: None,
            saml_entity_id: None,
            admin_second_factor: false,
            trusted_proxies: String::new(),
            outbound_allow: String::new(),
            device_lockout_threshold: 5,
            user_lockout_threshold: 10,
            client_auth_failures_per_address: 20,
            request_timeout: 30,
            activation_code_ttl: 24 * 3600,
            activation_password_ttl: 600,
            registration_token_ttl: 300,
            management_token_ttl: 3600,
            fcm_service_account: None,
            fcm_base_url: "https://fcm.googleapis.com".into(),
            apns_key_file: None,
            apns_key_id: None,
            apns_team_id: None,
            apns_topic: None,
            apns_base_url: "https://api.push.apple.com".into(),
            log: "info".into(),
            log_format: LogFormat::Human,
        }
    }
}

/// A setting that cannot be used, with the setting's name.
#[derive(Debug, thiserror::Error)]
#[error("invalid setting `{name}`: {reason}")]
pub struct SettingsError {
    pub name: &'static str,
    pub reason: String,
}

fn invalid(name: &'static str, reason: impl Into<String>) -> SettingsError {
    SettingsError {
        name,
        reason: reason.into(),
    }
}

impl Settings {
    /// Reads defaults, `file` (if it exists) and `TRUSTID_*` variables.
    pub fn load(file: Option<&Path>) -> anyhow::Result<Self> {
        let mut figment = Figment::from(Serialized::defaults(Settings::default()));
        let path = file.map(Path::to_path_buf).unwrap_or_else(|| "trustid.toml".into());
        if path.exists() {
            figment = figment.merge(Toml::file(&path));
        } else if file.is_some() {
            anyhow::bail!("config file {} does not exist", path.display());
        }
        let settings: Settings = figment
            .merge(Env::prefixed("TRUSTID_").ignore(&[
                "config",
                "test_database_url",
                "require_node_rp",
                "require_walkthrough",
                "require_saml",
                "saml_python",
                "require_browser",
            ]))
            .extract()
            .map_err(|e| anyhow::anyhow!("invalid settings: {e}"))?;
        settings.validate()?;
        Ok(settings)
    }

    /// Checks every value that figment's types cannot.
    pub fn validate(&self) -> Result<(), SettingsError> {
        let issuer = Url::parse(&self.issuer).map_err(|e| invalid("issuer", e.to_string()))?;
        if issuer.query().is_some() || issuer.fragment().is_some() {
            return Err(invalid("issuer", "must not have a query or fragment"));
        }
        match issuer.scheme() {
            "https" => {}
            // A loopback issuer cannot be reached by anyone else, so a local
            // trial works without dev mode; anything else must be https.
            "http" if self.dev || crate::domain::url::is_loopback_url(&issuer) => {}
            _ => {
                return Err(invalid(
                    "issuer",
                    "must be https (http only on loopback or with dev = true)",
                ));
            }
        }
        self.listen
            .parse::<SocketAddr>()
            .map_err(|e| invalid("listen", format!("{e} (expected host:port)")))?;
        if let Some(metrics) = &self.metrics_listen {
            metrics
                .parse::<SocketAddr>()
                .map_err(|e| invalid("metrics_listen", format!("{e} (expected host:port)")))?;
        }
        let db = self.database_url.as_str();
        if !["sqlite:", "postgres:", "postgresql:"]
            .iter()
            .any(|p| db.starts_with(p))
        {
            return Err(invalid("database_url", "must be sqlite://... or postgres://..."));
        }

        positive("access_token_ttl", self.access_token_ttl)?;
        positive("id_token_ttl", self.id_token_ttl)?;
        positive("request_expiry", self.request_expiry)?;
        positive("challenge_ttl", self.challenge_ttl)?;
        positive("device_clock_skew", self.device_clock_skew)?;
        positive("refresh_token_ttl", self.refresh_token_ttl)?;
        positive("delivery_timeout", self.delivery_timeout)?;
        positive("shutdown_grace", self.shutdown_grace)?;
        positive("activation_code_ttl", self.activation_code_ttl)?;
        positive("activation_password_ttl", self.activation_password_ttl)?;
        positive("registration_token_ttl", self.registration_token_ttl)?;
        positive("management_token_ttl", self.management_token_ttl)?;
        if self.device_lockout_threshold < 0 {
            return Err(invalid("device_lockout_threshold", "must not be negative"));
        }
        if !(0..=i64::from(u32::MAX)).contains(&self.client_auth_failures_per_address) {
            return Err(invalid(
                "client_auth_failures_per_address",
                "must be between 0 and 4294967295",
            ));
        }
        positive("request_timeout", self.request_timeout)?;
        if self.user_lockout_threshold < 0 {
            return Err(invalid("user_lockout_threshold", "must not be negative"));
        }
        if self.id_token_hint_grace < 0 {
            return Err(invalid("id_token_hint_grace", "must not be negative"));
        }
        if self.user_requests_per_minute < 1 {
            return Err(invalid("user_requests_per_minute", "must be at least 1"));
        }
        if self.client_requests_per_minute < 1 {
            return Err(invalid("client_requests_per_minute", "must be at least 1"));
        }
        TrustedProxies::parse(&self.trusted_proxies).map_err(|e| invalid("trusted_proxies", e))?;
        OutboundRule::parse_allowed(&self.outbound_allow).map_err(|e| invalid("outbound_allow", e))?;
        if let Some(entity) = &self.saml_entity_id {
            crate::domain::saml_sp::EntityId::parse(entity).map_err(|e| invalid("saml_entity_id", e))?;
        }
        if self.registration_access_token.as_deref().is_some_and(|t| t.len() < 32) {
            return Err(invalid(
                "registration_access_token",
                "must be at least 32 characters (use a random value)",
            ));
        }
        if !(1..=21_600).contains(&self.poll_interval) {
            return Err(invalid("poll_interval", "must be between 1 and 21600"));
        }
        if self.max_request_expiry < self.request_expiry {
            return Err(invalid("max_request_expiry", "must not be smaller than request_expiry"));
        }
        tracing_subscriber::EnvFilter::try_new(&self.log).map_err(|e| invalid("log", e.to_string()))?;
        self.tls_files()?;
        self.validate_mtls()?;
        self.validate_push()
    }

    /// The device push providers: base URLs are https (http on loopback in
    /// dev mode), and configured credentials can be read and used.
    fn validate_push(&self) -> Result<(), SettingsError> {
        use crate::engine::delivery::devices::{apns, fcm};
        for (name, url) in [
            ("fcm_base_url", &self.fcm_base_url),
            ("apns_base_url", &self.apns_base_url),
        ] {
            crate::domain::url::check_callback_url(url, self.dev).map_err(|e| invalid(name, e))?;
        }
        if let Some(path) = &self.fcm_service_account {
            let account = fcm::ServiceAccount::read(path).map_err(|e| invalid("fcm_service_account", e))?;
            crate::domain::url::check_callback_url(&account.token_uri, self.dev)
                .map_err(|e| invalid("fcm_service_account", format!("token_uri {e}")))?;
        }
        let apns = [
            self.apns_key_file.is_some(),
            self.apns_key_id.is_some(),
            self.apns_team_id.is_some(),
            self.apns_topic.is_some(),
        ];
        if apns.contains(&true) && apns.contains(&false) {
            return Err(invalid(
                "apns_key_file",
                "apns_key_file, apns_key_id, apns_team_id and apns_topic go together",
            ));
        }
        if let Some(path) = &self.apns_key_file {
            apns::read_key(path).map_err(|e| invalid("apns_key_file", e))?;
        }
        Ok(())
    }
}

fn positive(name: &'static str, value: i64) -> Result<(), SettingsError> {
    if value > 0 {
        Ok(())
    } else {
        Err(invalid(name, "must be a positive number of seconds"))
    }
}

mod engine;
#[cfg(test)]
mod tests;
mod tls;
