//! Relying-party clients and the choices they registered.

use std::fmt;
use std::str::FromStr;

/// How a client proves who it is at the token and backchannel endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 2] = [AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
        }
    }
}

/// CIBA Core §5 token delivery modes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryMode {
    Poll,
    Ping,
    Push,
}

impl DeliveryMode {
    /// The modes that work end to end; discovery and client creation read this.
    pub const SUPPORTED: [DeliveryMode; 1] = [DeliveryMode::Poll];

    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryMode::Poll => "poll",
            DeliveryMode::Ping => "ping",
            DeliveryMode::Push => "push",
        }
    }
}

/// JWS algorithms trustid signs ID tokens with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SigningAlg {
    ES256,
    RS256,
}

impl SigningAlg {
    pub const ALL: [SigningAlg; 2] = [SigningAlg::ES256, SigningAlg::RS256];

    pub fn as_str(self) -> &'static str {
        match self {
            SigningAlg::ES256 => "ES256",
            SigningAlg::RS256 => "RS256",
        }
    }
}

macro_rules! str_enum {
    ($ty:ty, $what:literal, [$($variant:expr),+]) => {
        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                [$($variant),+]
                    .into_iter()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| format!("unknown {} `{s}`", $what))
            }
        }
        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use str_enum;

str_enum!(
    AuthMethod,
    "auth method",
    [AuthMethod::ClientSecretBasic, AuthMethod::ClientSecretPost]
);
str_enum!(
    DeliveryMode,
    "delivery mode",
    [DeliveryMode::Poll, DeliveryMode::Ping, DeliveryMode::Push]
);
str_enum!(
    SigningAlg,
    "signing alg",
    [SigningAlg::ES256, SigningAlg::RS256]
);

/// A registered relying party, as stored.
#[derive(Debug, Clone)]
pub struct Client {
    pub id: String,
    pub name: String,
    /// SHA-256 of the secret; the secret itself is shown once and forgotten.
    pub secret_digest: String,
    pub auth_method: AuthMethod,
    pub delivery_mode: DeliveryMode,
    pub id_token_alg: SigningAlg,
    pub created_at: i64,
}
