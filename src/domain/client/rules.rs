//! The registration rules a client's metadata must pass (CIBA §4,
//! FAPI-CIBA), wherever it comes from: `/register`, `trustid clients add`,
//! the console's forms. A refusal names the member at fault.

use serde_json::Value;

use super::{AuthMethod, ClientMetadata, DeliveryMode, MtlsSupport, SigningAlg, TlsSubject};
use crate::domain::distinguished_name::DistinguishedName;
use crate::domain::url::OutboundRule;

impl ClientMetadata {
    /// The rules of CIBA §4 and FAPI-CIBA; the error text is what
    /// `invalid_client_metadata` says. The URLs trustid calls follow
    /// `outbound`; the RFC 8705 methods need what `mtls` offers.
    pub fn validate(&self, outbound: &OutboundRule, mtls: MtlsSupport) -> Result<(), MetadataError> {
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
        for (member, uri) in [
            ("jwks_uri", &self.jwks_uri),
            ("push_relay_uri", &self.push_relay_uri),
            ("identity_verification_uri", &self.identity_verification_uri),
        ] {
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
        self.validate_mtls(mtls)?;
        if self.fapi_ciba {
            let fapi = |why: &str| Err(invalid("fapi_ciba", why));
            let method = self.token_endpoint_auth_method;
            if method != AuthMethod::PrivateKeyJwt && !method.uses_certificate() {
                return fapi(match mtls.certificates {
                    true => {
                        "FAPI-CIBA clients must use private_key_jwt, tls_client_auth or self_signed_tls_client_auth"
                    }
                    false => "FAPI-CIBA clients must use private_key_jwt",
                });
            }
            // FAPI 1 Advanced §5.2.2-5: sender-constrained access tokens,
            // wherever the server can bind them.
            if mtls.certificates && !self.tls_client_certificate_bound_access_tokens {
                return fapi("FAPI-CIBA clients must set tls_client_certificate_bound_access_tokens");
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

impl ClientMetadata {
    /// RFC 8705: the certificate methods and bound tokens, only where the
    /// server offers them; `tls_client_auth` names its certificate once.
    fn validate_mtls(&self, mtls: MtlsSupport) -> Result<(), MetadataError> {
        const METHOD: &str = "token_endpoint_auth_method";
        let method = self.token_endpoint_auth_method;
        if !method.offered(mtls) {
            let needs = match method {
                AuthMethod::TlsClientAuth => "the mtls and mtls_ca settings",
                _ => "the mtls setting",
            };
            return Err(invalid(
                METHOD,
                format!("{method} is not offered: this server needs {needs}"),
            ));
        }
        let subjects = self.tls_subjects();
        match (method, subjects.as_slice()) {
            (AuthMethod::TlsClientAuth, []) => {
                return Err(invalid(
                    "tls_client_auth_subject_dn",
                    "tls_client_auth needs one of tls_client_auth_subject_dn, tls_client_auth_san_dns, \
                     tls_client_auth_san_uri, tls_client_auth_san_ip, tls_client_auth_san_email",
                ));
            }
            (AuthMethod::TlsClientAuth, [TlsSubject::Dn(dn)]) => {
                DistinguishedName::parse(dn)
                    .map_err(|e| invalid("tls_client_auth_subject_dn", format!("tls_client_auth_subject_dn {e}")))?;
            }
            (AuthMethod::TlsClientAuth, [TlsSubject::SanIp(ip)]) => {
                ip.parse::<std::net::IpAddr>()
                    .map_err(|_| invalid("tls_client_auth_san_ip", "tls_client_auth_san_ip must be an IP address"))?;
            }
            (AuthMethod::TlsClientAuth, [_]) => {}
            (AuthMethod::TlsClientAuth, [_, second, ..]) => {
                return Err(invalid(
                    second.member(),
                    "name the certificate by exactly one tls_client_auth_* member (RFC 8705 §2.1.2)",
                ));
            }
            (_, []) => {}
            (_, [first, ..]) => {
                return Err(invalid(
                    first.member(),
                    format!("{} is only for tls_client_auth clients", first.member()),
                ));
            }
        }
        if method == AuthMethod::SelfSignedTlsClientAuth {
            // An inline set must hold a certificate; a jwks_uri set is read when used.
            let inline_x5c = self
                .jwks
                .as_ref()
                .and_then(|set| set.get("keys")?.as_array().cloned())
                .is_some_and(|keys| keys.iter().any(|k| k.get("x5c").is_some_and(Value::is_array)));
            if !inline_x5c && self.jwks_uri.is_none() {
                return Err(invalid(
                    METHOD,
                    "self_signed_tls_client_auth needs jwks holding the certificate (x5c), or jwks_uri",
                ));
            }
        }
        const BOUND: &str = "tls_client_certificate_bound_access_tokens";
        if self.tls_client_certificate_bound_access_tokens {
            if !mtls.certificates {
                return Err(invalid(BOUND, format!("{BOUND} needs the server's mtls setting")));
            }
            // A push client is handed its tokens without presenting a certificate.
            if self.backchannel_token_delivery_mode == DeliveryMode::Push {
                return Err(invalid(BOUND, format!("{BOUND} is not available to push clients")));
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
#[path = "rules_tests.rs"]
mod tests;
