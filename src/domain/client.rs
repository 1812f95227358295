//! Relying-party clients and what they registered (RFC 7591 names, CIBA §4).

use super::ids::ClientId;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::push::DeviceRouting;
use super::str_enum::str_enum;
use super::url::check_callback_url;

/// How a client proves who it is at the token and backchannel endpoints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthMethod {
    ClientSecretBasic,
    ClientSecretPost,
    PrivateKeyJwt,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 3] = [
        AuthMethod::ClientSecretBasic,
        AuthMethod::ClientSecretPost,
        AuthMethod::PrivateKeyJwt,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::ClientSecretBasic => "client_secret_basic",
            AuthMethod::ClientSecretPost => "client_secret_post",
            AuthMethod::PrivateKeyJwt => "private_key_jwt",
        }
    }

    pub fn uses_secret(self) -> bool {
        self != AuthMethod::PrivateKeyJwt
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
        AuthMethod::PrivateKeyJwt
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
        }
    }

    /// The rules of CIBA §4 and FAPI-CIBA; the error text is what
    /// `invalid_client_metadata` says. `dev` allows http on loopback.
    pub fn validate(&self, dev: bool) -> Result<(), String> {
        let name = self.client_name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err("client_name must be 1 to 100 printable characters".into());
        }
        let mode = self.backchannel_token_delivery_mode;
        match (&self.backchannel_client_notification_endpoint, mode.notifies()) {
            (None, true) => {
                return Err(format!(
                    "backchannel_client_notification_endpoint is required for {mode} clients"
                ));
            }
            (Some(_), false) => {
                return Err("backchannel_client_notification_endpoint is only for ping and push clients".into());
            }
            (Some(url), true) => {
                check_callback_url(url, dev).map_err(|e| format!("backchannel_client_notification_endpoint {e}"))?;
            }
            (None, false) => {}
        }
        if let Some(uri) = &self.jwks_uri {
            check_callback_url(uri, dev).map_err(|e| format!("jwks_uri {e}"))?;
        }
        if let Some(uri) = &self.push_relay_uri {
            check_callback_url(uri, dev).map_err(|e| format!("push_relay_uri {e}"))?;
        }
        if self.jwks.is_some() && self.jwks_uri.is_some() {
            return Err("send jwks or jwks_uri, not both".into());
        }
        for (name, set) in [
            ("jwks", &self.jwks),
            ("login_hint_token_jwks", &self.login_hint_token_jwks),
        ] {
            if let Some(set) = set
                && !is_jwk_set(set)
            {
                return Err(format!(
                    "{name} must be a JWK Set: {{\"keys\": [{{\"kty\": ...}}, ...]}}"
                ));
            }
        }
        let has_keys = self.jwks.is_some() || self.jwks_uri.is_some();
        if self.token_endpoint_auth_method == AuthMethod::PrivateKeyJwt && !has_keys {
            return Err("private_key_jwt needs jwks or jwks_uri".into());
        }
        if self.backchannel_authentication_request_signing_alg.is_some() && !has_keys {
            return Err("signed authentication requests need jwks or jwks_uri".into());
        }
        if self.login_hint_token_issuer.is_some() != self.login_hint_token_jwks.is_some() {
            return Err("login_hint_token_issuer and login_hint_token_jwks go together".into());
        }
        if self.fapi_ciba {
            if self.token_endpoint_auth_method != AuthMethod::PrivateKeyJwt {
                return Err("FAPI-CIBA clients must use private_key_jwt".into());
            }
            if mode == DeliveryMode::Push {
                return Err("FAPI-CIBA does not allow push mode".into());
            }
            match self.backchannel_authentication_request_signing_alg {
                Some(alg) if SigningAlg::FAPI.contains(&alg) => {}
                _ => return Err("FAPI-CIBA clients must sign requests with PS256 or ES256".into()),
            }
            if !SigningAlg::FAPI.contains(&self.id_token_signed_response_alg) {
                return Err("FAPI-CIBA ID tokens must be PS256 or ES256".into());
            }
        }
        Ok(())
    }
}

/// `{"keys": [...]}` where every key is an object with a string `kty`.
fn is_jwk_set(set: &Value) -> bool {
    set.as_object().is_some_and(|o| {
        o.get("keys").and_then(Value::as_array).is_some_and(|keys| {
            keys.iter().all(|k| {
                k.as_object()
                    .is_some_and(|k| k.get("kty").is_some_and(Value::is_string))
            })
        })
    })
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registration_rules_hold() {
        type Mutation = fn(&mut ClientMetadata);
        let cases: Vec<(Mutation, &str)> = vec![
            (|m| m.client_name = " ".into(), "blank name"),
            (
                |m| m.backchannel_token_delivery_mode = DeliveryMode::Ping,
                "ping without endpoint",
            ),
            (
                |m| {
                    m.backchannel_token_delivery_mode = DeliveryMode::Push;
                    m.backchannel_client_notification_endpoint = Some("http://rp.example.com/cb".into());
                },
                "http endpoint",
            ),
            (
                |m| m.backchannel_client_notification_endpoint = Some("https://rp.example.com/cb".into()),
                "poll with endpoint",
            ),
            (
                |m| m.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt,
                "private_key_jwt without keys",
            ),
            (
                |m| m.backchannel_authentication_request_signing_alg = Some(SigningAlg::ES256),
                "signed requests without keys",
            ),
            (|m| m.jwks = Some(json!({"nope": 1})), "jwks not a set"),
            (
                |m| {
                    m.jwks = Some(json!({"keys": []}));
                    m.jwks_uri = Some("https://rp.example.com/jwks".into());
                },
                "both jwks and jwks_uri",
            ),
            (|m| m.fapi_ciba = true, "FAPI with secrets"),
            (
                |m| m.push_relay_uri = Some("http://relay.example.com/push".into()),
                "http push relay",
            ),
            (
                |m| m.login_hint_token_issuer = Some("https://idp.example.com".into()),
                "issuer without keys",
            ),
        ];
        for (mutate, why) in cases {
            let mut m = ClientMetadata::poll("Bank");
            mutate(&mut m);
            assert!(m.validate(false).is_err(), "{why}");
        }
        assert!(ClientMetadata::poll("Bank").validate(false).is_ok());
    }
}
