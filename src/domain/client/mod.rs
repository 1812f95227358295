//! Relying-party clients and what they registered (RFC 7591 names, CIBA §4).

use super::ids::ClientId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::push::DeviceRouting;
use super::str_enum::str_enum;

mod rules;

pub use rules::MetadataError;

/// How a client proves who it is at the token and backchannel endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
    /// RFC 8705 §2.1: a TLS client certificate chaining to `mtls_ca`, whose
    /// subject or SAN is the registered one.
    TlsClientAuth,
    /// RFC 8705 §2.2: a TLS client certificate found in the client's JWKS (`x5c`).
    SelfSignedTlsClientAuth,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 5] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
        AuthMethod::TlsClientAuth,
        AuthMethod::SelfSignedTlsClientAuth,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
            AuthMethod::TlsClientAuth => "tls_client_auth",
            AuthMethod::SelfSignedTlsClientAuth => "self_signed_tls_client_auth",
        }
    }

    pub fn uses_secret(self) -> bool {
        matches!(self, AuthMethod::ClientSecretBasic | AuthMethod::ClientSecretPost)
    }

    /// Proved by the TLS client certificate (RFC 8705).
    pub fn uses_certificate(self) -> bool {
        matches!(self, AuthMethod::TlsClientAuth | AuthMethod::SelfSignedTlsClientAuth)
    }

    /// Whether a server offering `mtls` accepts this method.
    pub fn offered(self, mtls: MtlsSupport) -> bool {
        match self {
            AuthMethod::TlsClientAuth => mtls.ca,
            AuthMethod::SelfSignedTlsClientAuth => mtls.certificates,
            _ => true,
        }
    }
}

/// What the server's mutual TLS settings offer clients: certificates at all
/// (`mtls`), and a CA to chain them to for `tls_client_auth` (`mtls_ca`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct MtlsSupport {
    pub certificates: bool,
    pub ca: bool,
}

/// The one certificate name a `tls_client_auth` client registered (RFC
/// 8705 §2.1.2), member name and value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsSubject<'a> {
    Dn(&'a str),
    SanDns(&'a str),
    SanUri(&'a str),
    SanIp(&'a str),
    SanEmail(&'a str),
}

impl TlsSubject<'_> {
    /// The RFC 8705 metadata member it was registered in.
    pub fn member(self) -> &'static str {
        match self {
            TlsSubject::Dn(_) => "tls_client_auth_subject_dn",
            TlsSubject::SanDns(_) => "tls_client_auth_san_dns",
            TlsSubject::SanUri(_) => "tls_client_auth_san_uri",
            TlsSubject::SanIp(_) => "tls_client_auth_san_ip",
            TlsSubject::SanEmail(_) => "tls_client_auth_san_email",
        }
    }
}

/// CIBA Core §5 token delivery modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryMode {
    Poll,
    Ping,
    Push,
}

impl DeliveryMode {
    /// The modes that work end to end; discovery and registration read this.
    pub const SUPPORTED: [DeliveryMode; 3] = [DeliveryMode::Poll, DeliveryMode::Ping, DeliveryMode::Push];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Poll => "poll",
            DeliveryMode::Ping => "ping",
            DeliveryMode::Push => "push",
        }
    }

    /// Ping and push deliver to the client's notification endpoint.
    pub fn notifies(self) -> bool {
        self != DeliveryMode::Poll
    }
}

/// JWS algorithms: trustid signs ID tokens with them and accepts them from
/// clients (asymmetric only; never `none` or HS*).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum SigningAlg {
    ES256,
    PS256,
    RS256,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 3] = [SigningAlg::ES256, SigningAlg::PS256, SigningAlg::RS256];
    /// FAPI-CIBA §8.10 / the conformance suite: PS256 or ES256 only.
    pub const FAPI: [SigningAlg; 2] = [SigningAlg::ES256, SigningAlg::PS256];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::ES256 => "ES256",
            SigningAlg::PS256 => "PS256",
            SigningAlg::RS256 => "RS256",
        }
    }
}

str_enum!(
    AuthMethod,
    "auth method",
    [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
        AuthMethod::TlsClientAuth,
        AuthMethod::SelfSignedTlsClientAuth
    ]
);
str_enum!(
    DeliveryMode,
    "delivery mode",
    [DeliveryMode::Poll, DeliveryMode::Ping, DeliveryMode::Push]
);
str_enum!(
    SigningAlg,
    "signing alg",
    [SigningAlg::ES256, SigningAlg::PS256, SigningAlg::RS256]
);

/// A client's registration, in RFC 7591 / CIBA §4 member names. Stored as
/// JSON; validated by [`ClientMetadata::validate`] before it is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClientMetadata {
    pub client_name: String,
    pub token_endpoint_auth_method: AuthMethod,
    pub backchannel_token_delivery_mode: DeliveryMode,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_client_notification_endpoint: Option<String>,
    /// Set when the client sends signed authentication requests (CIBA §7.1.1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backchannel_authentication_request_signing_alg: Option<SigningAlg>,
    #[serde(default)]
    pub backchannel_user_code_parameter: bool,
    pub id_token_signed_response_alg: SigningAlg,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub jwks_uri: Option<String>,
    /// The FAPI-CIBA profile: signed requests, private_key_jwt, PS256/ES256,
    /// no push, binding_message required.
    #[serde(default)]
    pub fapi_ciba: bool,
    /// May use the management API (users, devices), through an access token
    /// of the `client_credentials` grant with scope `trustid:manage`.
    #[serde(default)]
    pub management: bool,
    /// Number matching: the acknowledgement carries a two-digit number the
    /// relying party shows; the user must type it on the device.
    #[serde(default)]
    pub number_matching: bool,
    /// Issuer whose `login_hint_token`s this client may send, and its keys.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_hint_token_issuer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub login_hint_token_jwks: Option<Value>,
    /// Which of the user's devices this client's requests are pushed to,
    /// unless a request says otherwise (`device_routing`).
    #[serde(default, skip_serializing_if = "is_default_routing")]
    pub device_routing: DeviceRouting,
    /// The client's push relay (its own notification service): devices on
    /// the `webhook` channel are reached through it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub push_relay_uri: Option<String>,
    /// RFC 8705 §2.1.2: the certificate a `tls_client_auth` client presents
    /// is the one with this subject DN (RFC 4514), or this SAN.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_subject_dn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_dns: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_client_auth_san_email: Option<String>,
    /// RFC 8705 §3: access tokens are bound to the certificate the client
    /// presented when it got them (`cnf.x5t#S256`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub tls_client_certificate_bound_access_tokens: bool,
    /// The relying party's identity verification service (seed 000 §4): a
    /// document's parsed fields go there once, and its verdict is kept.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_verification_uri: Option<String>,
}

fn is_default_routing(r: &DeviceRouting) -> bool {
    *r == DeviceRouting::All
}

impl ClientMetadata {
    /// A poll client authenticating with `client_secret_basic`, ES256 ID tokens.
    pub fn poll(name: &str) -> Self {
        Self {
            client_name: name.to_owned(),
            token_endpoint_auth_method: AuthMethod::ClientSecretBasic,
            backchannel_token_delivery_mode: DeliveryMode::Poll,
            backchannel_client_notification_endpoint: None,
            backchannel_authentication_request_signing_alg: None,
            backchannel_user_code_parameter: false,
            id_token_signed_response_alg: SigningAlg::ES256,
            jwks: None,
            jwks_uri: None,
            fapi_ciba: false,
            management: false,
            number_matching: false,
            login_hint_token_issuer: None,
            login_hint_token_jwks: None,
            device_routing: DeviceRouting::All,
            push_relay_uri: None,
            tls_client_auth_subject_dn: None,
            tls_client_auth_san_dns: None,
            tls_client_auth_san_uri: None,
            tls_client_auth_san_ip: None,
            tls_client_auth_san_email: None,
            tls_client_certificate_bound_access_tokens: false,
            identity_verification_uri: None,
        }
    }

    /// The certificate names registered for `tls_client_auth`, in RFC 8705's order.
    pub fn tls_subjects(&self) -> Vec<TlsSubject<'_>> {
        [
            self.tls_client_auth_subject_dn.as_deref().map(TlsSubject::Dn),
            self.tls_client_auth_san_dns.as_deref().map(TlsSubject::SanDns),
            self.tls_client_auth_san_uri.as_deref().map(TlsSubject::SanUri),
            self.tls_client_auth_san_ip.as_deref().map(TlsSubject::SanIp),
            self.tls_client_auth_san_email.as_deref().map(TlsSubject::SanEmail),
        ]
        .into_iter()
        .flatten()
        .collect()
    }
}

/// A registered relying party, as stored.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: ClientId,
    /// SHA-256 of the secret for the `client_secret_*` methods; the secret is
    /// shown once and forgotten.
    pub secret_digest: Option<String>,
    pub metadata: ClientMetadata,
    pub created_at: i64,
    /// Last changed after registration (metadata, secret, enabled state).
    pub updated_at: Option<i64>,
    /// Set while disabled: every client authentication fails.
    pub disabled_at: Option<i64>,
}

impl Client {
    pub fn name(&self) -> &str {
        &self.metadata.client_name
    }

    pub fn auth_method(&self) -> AuthMethod {
        self.metadata.token_endpoint_auth_method
    }

    pub fn delivery_mode(&self) -> DeliveryMode {
        self.metadata.backchannel_token_delivery_mode
    }

    pub fn id_token_alg(&self) -> SigningAlg {
        self.metadata.id_token_signed_response_alg
    }

    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}
