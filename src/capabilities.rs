//! What trustid serves and supports, in one place: the router mounts these
//! paths and discovery advertises these values, so the two cannot drift.

use serde_json::{Value, json};

use crate::config::Settings;
use crate::domain::claims;
use crate::domain::client::{AuthMethod, DeliveryMode, SigningAlg};
use crate::domain::scope;

pub const DISCOVERY_PATH: &str = "/.well-known/openid-configuration";
pub const JWKS_PATH: &str = "/jwks";
pub const AUTHORIZE_PATH: &str = "/authorize";
pub const BACKCHANNEL_PATH: &str = "/bc-authorize";
pub const TOKEN_PATH: &str = "/token";
pub const USERINFO_PATH: &str = "/userinfo";
pub const INTROSPECT_PATH: &str = "/introspect";
pub const REVOKE_PATH: &str = "/revoke";
pub const REGISTER_PATH: &str = "/register";
pub const METRICS_PATH: &str = "/metrics";
pub const OPENAPI_PATH: &str = "/openapi.yaml";
pub const DEVICES_PATH: &str = "/device/v1/devices";
pub const INBOX_PATH: &str = "/device/v1/inbox";
pub const INBOX_STREAM_PATH: &str = "/device/v1/inbox/stream";
pub const DECISION_PATH: &str = "/device/v1/transactions/{id}/decision";
pub const ACTIVATE_PATH: &str = "/device/v1/activate";
pub const BINDINGS_PATH: &str = "/manage/v1/bindings";
pub const BINDINGS_ACTIVATE_PATH: &str = "/manage/v1/bindings/activate";
pub const USERS_REGISTER_PATH: &str = "/manage/v1/users/register";
pub const CHECK_STATUS_PATH: &str = "/manage/v1/registrations/check-status";
pub const QR_PATH: &str = "/manage/v1/qr.svg";
pub const UNREGISTER_PATH: &str = "/manage/v1/users/{user_id}/unregister";
pub const REGISTRATION_TOKENS_PATH: &str = "/manage/v1/users/{user_id}/registration-tokens";
pub const USER_DEVICES_PATH: &str = "/manage/v1/users/{user_id}/devices";
pub const USER_DEVICE_PATH: &str = "/manage/v1/users/{user_id}/devices/{device_id}";
pub const PREFERRED_DEVICE_PATH: &str = "/manage/v1/users/{user_id}/devices/{device_id}/preferred";
pub const LOCK_PATH: &str = "/manage/v1/users/{user_id}/lock";
pub const UNLOCK_PATH: &str = "/manage/v1/users/{user_id}/unlock";
pub const PUSH_CHANNEL_PATH: &str = "/device/v1/push-channel";
pub const PUSH_EXCHANGE_PATH: &str = "/device/v1/push/exchange";
pub const DEVICE_PUSHES_PATH: &str = "/manage/v1/device-pushes";

/// Every path the router mounts; the OpenAPI test holds `openapi.yaml` to it.
pub const ALL_PATHS: [&str; 31] = [
    DISCOVERY_PATH,
    JWKS_PATH,
    AUTHORIZE_PATH,
    BACKCHANNEL_PATH,
    TOKEN_PATH,
    USERINFO_PATH,
    INTROSPECT_PATH,
    REVOKE_PATH,
    REGISTER_PATH,
    METRICS_PATH,
    OPENAPI_PATH,
    DEVICES_PATH,
    INBOX_PATH,
    INBOX_STREAM_PATH,
    DECISION_PATH,
    ACTIVATE_PATH,
    BINDINGS_PATH,
    BINDINGS_ACTIVATE_PATH,
    USERS_REGISTER_PATH,
    CHECK_STATUS_PATH,
    QR_PATH,
    UNREGISTER_PATH,
    REGISTRATION_TOKENS_PATH,
    USER_DEVICES_PATH,
    USER_DEVICE_PATH,
    PREFERRED_DEVICE_PATH,
    LOCK_PATH,
    UNLOCK_PATH,
    PUSH_CHANNEL_PATH,
    PUSH_EXCHANGE_PATH,
    DEVICE_PUSHES_PATH,
];

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
pub fn discovery(settings: &Settings) -> Value {
    let base = settings.issuer_base();
    let url = |path: &str| format!("{base}{path}");
    let claims: Vec<&str> = STANDARD_CLAIMS.into_iter().chain(claims::oidc_claim_names()).collect();
    let algs: Vec<&str> = SigningAlg::ALL.iter().map(|a| a.as_str()).collect();
    let auth_methods: Vec<&str> = AuthMethod::ALL.iter().map(|m| m.as_str()).collect();
    let mut d = json!({
        "issuer": settings.issuer,
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
    if settings.registration_access_token.is_some() {
        d["registration_endpoint"] = json!(url(REGISTER_PATH));
    }
    d
}
