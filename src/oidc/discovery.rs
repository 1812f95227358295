//! `GET /.well-known/openid-configuration` (OIDC Discovery §4, CIBA §4):
//! built from the constants the router and the grants use, serialised once
//! at start-up.

use axum::extract::State;
use axum::response::Response;
use serde_json::{Value, json};

use crate::domain::claims;
use crate::domain::client::{AuthMethod, DeliveryMode, SigningAlg};
use crate::domain::scope;
use crate::engine::AppState;
use crate::engine::settings::Server;
use crate::http::paths::*;

pub async fn describe(State(state): State<AppState>) -> Response {
    super::cached_json(state.discovery_json.clone())
}

/// CIBA Core §4.
pub const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";
/// RFC 6749 §6.
pub const REFRESH_GRANT: &str = "refresh_token";
/// RFC 6749 §4.4, for the management API only.
pub const CLIENT_CREDENTIALS_GRANT: &str = "client_credentials";

/// The JWT members every ID token carries, besides the evidence claims.
const STANDARD_CLAIMS: [&str; 9] = [
    "sub",
    "iss",
    "aud",
    "exp",
    "iat",
    "auth_time",
    "acr",
    "email",
    "phone_number",
];

/// `/.well-known/openid-configuration` (OIDC Discovery §3, CIBA §4).
pub fn document(server: &Server, registration: bool) -> Value {
    let base = server.issuer_base();
    let url = |path: &str| format!("{base}{path}");
    let claims: Vec<&str> = STANDARD_CLAIMS.into_iter().chain(claims::oidc_claim_names()).collect();
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    let mtls = server.mtls.support;
    let auth_methods: Vec<&str> = AuthMethod::ALL
        .iter()
        .filter(|m| m.offered(mtls))
        .map(|m| m.as_str())
        .collect();
    let mut d = json!({
        "issuer": server.issuer,
        // OIDC Discovery requires an authorization endpoint. trustid is
        // CIBA-only: it answers every front-channel request with an error,
        // and response_types_supported is accordingly empty.
        "authorization_endpoint": url(AUTHORIZE_PATH),
        "token_endpoint": url(TOKEN_PATH),
        "userinfo_endpoint": url(USERINFO_PATH),
        "jwks_uri": url(JWKS_PATH),
        "introspection_endpoint": url(INTROSPECT_PATH),
        "revocation_endpoint": url(REVOKE_PATH),
        "backchannel_authentication_endpoint": url(BACKCHANNEL_PATH),
        "backchannel_token_delivery_modes_supported":
            DeliveryMode::SUPPORTED.iter().map(|m| m.as_str()).collect::<Vec<_>>(),
        "backchannel_authentication_request_signing_alg_values_supported": algs,
        "backchannel_user_code_parameter_supported": true,
        "grant_types_supported": [CIBA_GRANT, REFRESH_GRANT, CLIENT_CREDENTIALS_GRANT],
        "response_types_supported": [],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": algs,
        "token_endpoint_auth_methods_supported": auth_methods,
        "token_endpoint_auth_signing_alg_values_supported": algs,
        "introspection_endpoint_auth_methods_supported": auth_methods,
        "revocation_endpoint_auth_methods_supported": auth_methods,
        "scopes_supported": scope::SUPPORTED,
        "acr_values_supported": scope::ACR_VALUES,
        "claims_supported": claims,
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
    });
    if registration {
        d["registration_endpoint"] = json!(url(REGISTER_PATH));
    }
    if mtls.certificates {
        // RFC 8705 §5: the endpoints a client uses with its certificate.
        // The same listener asks every client for one, so they are the
        // usual ones.
        d["tls_client_certificate_bound_access_tokens"] = json!(true);
        d["mtls_endpoint_aliases"] = json!({
            "token_endpoint": url(TOKEN_PATH),
            "backchannel_authentication_endpoint": url(BACKCHANNEL_PATH),
            "userinfo_endpoint": url(USERINFO_PATH),
            "introspection_endpoint": url(INTROSPECT_PATH),
            "revocation_endpoint": url(REVOKE_PATH),
        });
    }
    d
}
