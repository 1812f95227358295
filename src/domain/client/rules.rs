//! The registration rules a client's metadata must pass (CIBA §4,
//! FAPI-CIBA), wherever it comes from: `/register`, `trustid clients add`,
//! the console's forms. A refusal names the member at fault.

use serde_json::Value;

use super::{AuthMethod, ClientMetadata, DeliveryMode, SigningAlg};
use crate::domain::url::OutboundRule;

impl ClientMetadata {
    /// The rules of CIBA §4 and FAPI-CIBA; the error text is what
    /// `invalid_client_metadata` says. The URLs trustid calls follow `outbound`.
    pub fn validate(&self, outbound: &OutboundRule) -> Result<(), MetadataError> {
        let name = self.client_name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(invalid(
                "client_name",
                "client_name must be 1 to 100 printable characters",
            ));
        }
        let mode = self.backchannel_token_delivery_mode;
        const ENDPOINT: &str = "backchannel_client_notification_endpoint";
        match (&self.backchannel_client_notification_endpoint, mode.notifies()) {
            (None, true) => return Err(invalid(ENDPOINT, format!("{ENDPOINT} is required for {mode} clients"))),
            (Some(_), false) => {
                return Err(invalid(
                    ENDPOINT,
                    format!("{ENDPOINT} is only for ping and push clients"),
                ));
            }
            (Some(url), true) => {
                outbound
                    .check(url)
                    .map_err(|e| invalid(ENDPOINT, format!("{ENDPOINT} {e}")))?;
            }
            (None, false) => {}
        }
        for (member, uri) in [("jwks_uri", &self.jwks_uri), ("push_relay_uri", &self.push_relay_uri)] {
            if let Some(uri) = uri {
                outbound
                    .check(uri)
                    .map_err(|e| invalid(member, format!("{member} {e}")))?;
            }
        }
        if self.jwks.is_some() && self.jwks_uri.is_some() {
            return Err(invalid("jwks", "send jwks or jwks_uri, not both"));
        }
        for (member, set) in [
            ("jwks", &self.jwks),
            ("login_hint_token_jwks", &self.login_hint_token_jwks),
        ] {
            if let Some(set) = set
                && !is_jwk_set(set)
            {
                let why = format!("{member} must be a JWK Set: {{\"keys\": [{{\"kty\": ...}}, ...]}}");
                return Err(invalid(member, why));
            }
        }
        let has_keys = self.jwks.is_some() || self.jwks_uri.is_some();
        if self.token_endpoint_auth_method == AuthMethod::PrivateKeyJwt && !has_keys {
            return Err(invalid(
                "token_endpoint_auth_method",
                "private_key_jwt needs jwks or jwks_uri",
            ));
        }
        if self.backchannel_authentication_request_signing_alg.is_some() && !has_keys {
            return Err(invalid(
                "backchannel_authentication_request_signing_alg",
                "signed authentication requests need jwks or jwks_uri",
            ));
        }
        if self.login_hint_token_issuer.is_some() != self.login_hint_token_jwks.is_some() {
            return Err(invalid(
                "login_hint_token_issuer",
                "login_hint_token_issuer and login_hint_token_jwks go together",
            ));
        }
        if self.fapi_ciba {
            let fapi = |why: &str| Err(invalid("fapi_ciba", why));
            if self.token_endpoint_auth_method != AuthMethod::PrivateKeyJwt {
                return fapi("FAPI-CIBA clients must use private_key_jwt");
            }
            if mode == DeliveryMode::Push {
                return fapi("FAPI-CIBA does not allow push mode");
            }
            match self.backchannel_authentication_request_signing_alg {
                Some(alg) if SigningAlg::FAPI.contains(&alg) => {}
                _ => return fapi("FAPI-CIBA clients must sign requests with PS256 or ES256"),
            }
            if !SigningAlg::FAPI.contains(&self.id_token_signed_response_alg) {
                return fapi("FAPI-CIBA ID tokens must be PS256 or ES256");
            }
        }
        Ok(())
    }
}

/// Why metadata was refused, and the member (RFC 7591 name) at fault, so a
/// form can say it next to the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct MetadataError {
    pub member: &'static str,
    pub message: String,
}

fn invalid(member: &'static str, message: impl Into<String>) -> MetadataError {
    MetadataError {
        member,
        message: message.into(),
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn registration_rules_hold_and_name_the_member_at_fault() {
        type Mutation = fn(&mut ClientMetadata);
        const ENDPOINT: &str = "backchannel_client_notification_endpoint";
        let cases: Vec<(Mutation, &str, &str)> = vec![
            (|m| m.client_name = " ".into(), "client_name", "blank name"),
            (
                |m| m.backchannel_token_delivery_mode = DeliveryMode::Ping,
                ENDPOINT,
                "ping without endpoint",
            ),
            (
                |m| {
                    m.backchannel_token_delivery_mode = DeliveryMode::Push;
                    m.backchannel_client_notification_endpoint = Some("http://rp.example.com/cb".into());
                },
                ENDPOINT,
                "http endpoint",
            ),
            (
                |m| {
                    m.backchannel_token_delivery_mode = DeliveryMode::Ping;
                    m.backchannel_client_notification_endpoint = Some("https://10.0.0.7/cb".into());
                },
                ENDPOINT,
                "internal endpoint",
            ),
            (
                |m| m.backchannel_client_notification_endpoint = Some("https://rp.example.com/cb".into()),
                ENDPOINT,
                "poll with endpoint",
            ),
            (
                |m| m.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt,
                "token_endpoint_auth_method",
                "private_key_jwt without keys",
            ),
            (
                |m| m.backchannel_authentication_request_signing_alg = Some(SigningAlg::ES256),
                "backchannel_authentication_request_signing_alg",
                "signed requests without keys",
            ),
            (|m| m.jwks = Some(json!({"nope": 1})), "jwks", "jwks not a set"),
            (
                |m| {
                    m.jwks = Some(json!({"keys": []}));
                    m.jwks_uri = Some("https://rp.example.com/jwks".into());
                },
                "jwks",
                "both jwks and jwks_uri",
            ),
            (
                |m| m.jwks_uri = Some("https://localhost/jwks".into()),
                "jwks_uri",
                "internal jwks_uri",
            ),
            (|m| m.fapi_ciba = true, "fapi_ciba", "FAPI with secrets"),
            (
                |m| m.push_relay_uri = Some("http://relay.example.com/push".into()),
                "push_relay_uri",
                "http push relay",
            ),
            (
                |m| m.login_hint_token_issuer = Some("https://idp.example.com".into()),
                "login_hint_token_issuer",
                "issuer without keys",
            ),
        ];
        for (mutate, member, why) in cases {
            let mut m = ClientMetadata::poll("Bank");
            mutate(&mut m);
            assert_eq!(
                m.validate(&OutboundRule::strict()).map_err(|e| e.member),
                Err(member),
                "{why}"
            );
        }
        assert!(ClientMetadata::poll("Bank").validate(&OutboundRule::strict()).is_ok());
    }
}
