//! `POST /register`: RFC 7591 dynamic client registration with the CIBA
//! metadata (CIBA §4), guarded by an initial access token. Off unless
//! `registration_access_token` is set.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use subtle::ConstantTimeEq;

use super::discovery::{CIBA_GRANT, REFRESH_GRANT};
use crate::domain::client::{AuthMethod, ClientMetadata, DeliveryMode, SigningAlg};
use crate::engine::AppState;
use crate::engine::admin;
use crate::oidc::error::{Challenge, OAuthError};

/// The members trustid reads; others (redirect_uris, logo_uri, ...) are
/// ignored, as RFC 7591 §2 allows.
#[derive(Deserialize)]
struct Registration {
    client_name: Option<String>,
    #[serde(default)]
    token_endpoint_auth_method: Option<AuthMethod>,
    backchannel_token_delivery_mode: Option<DeliveryMode>,
    backchannel_client_notification_endpoint: Option<String>,
    backchannel_authentication_request_signing_alg: Option<SigningAlg>,
    #[serde(default)]
    backchannel_user_code_parameter: bool,
    id_token_signed_response_alg: Option<SigningAlg>,
    jwks: Option<Value>,
    jwks_uri: Option<String>,
    grant_types: Option<Vec<String>>,
    #[serde(default)]
    fapi_ciba: bool,
    #[serde(default)]
    number_matching: bool,
    tls_client_auth_subject_dn: Option<String>,
    tls_client_auth_san_dns: Option<String>,
    tls_client_auth_san_uri: Option<String>,
    tls_client_auth_san_ip: Option<String>,
    tls_client_auth_san_email: Option<String>,
    #[serde(default)]
    tls_client_certificate_bound_access_tokens: bool,
    identity_verification_uri: Option<String>,
}

fn metadata_error(why: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::invalid_client_metadata(why)
}

pub async fn register(State(state): State<AppState>, headers: HeaderMap, body: Bytes) -> Result<Response, OAuthError> {
    let Some(expected) = state.registration_access_token.as_deref() else {
        return Err(OAuthError::invalid_request("dynamic registration is not enabled"));
    };
    let presented = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .unwrap_or("");
    if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(
            OAuthError::invalid_token("a valid initial access token is required").with_challenge(Challenge::Bearer)
        );
    }
    let r: Registration = serde_json::from_slice(&body)
        .map_err(|e| metadata_error(format!("the body must be a JSON object of client metadata: {e}")))?;
    let mode = r
        .backchannel_token_delivery_mode
        .ok_or_else(|| metadata_error("backchannel_token_delivery_mode is required"))?;
    if let Some(grants) = &r.grant_types {
        if mode != DeliveryMode::Push && !grants.iter().any(|g| g == CIBA_GRANT) {
            return Err(metadata_error(format!(
                "poll and ping clients must include {CIBA_GRANT} in grant_types"
            )));
        }
        if let Some(other) = grants.iter().find(|g| *g != CIBA_GRANT && *g != REFRESH_GRANT) {
            return Err(metadata_error(format!("grant type `{other}` is not supported")));
        }
    }
    let metadata = ClientMetadata {
        client_name: r.client_name.unwrap_or_else(|| "Unnamed client".into()),
        token_endpoint_auth_method: r.token_endpoint_auth_method.unwrap_or(AuthMethod::ClientSecretBasic),
        backchannel_token_delivery_mode: mode,
        backchannel_client_notification_endpoint: r.backchannel_client_notification_endpoint,
        backchannel_authentication_request_signing_alg: r.backchannel_authentication_request_signing_alg,
        backchannel_user_code_parameter: r.backchannel_user_code_parameter,
        id_token_signed_response_alg: r.id_token_signed_response_alg.unwrap_or(SigningAlg::ES256),
        jwks: r.jwks,
        jwks_uri: r.jwks_uri,
        fapi_ciba: r.fapi_ciba,
        // Management access is granted by an operator, never self-registered.
        management: false,
        number_matching: r.number_matching,
        login_hint_token_issuer: None,
        login_hint_token_jwks: None,
        // Push to devices is set up by an operator (`trustid clients add`).
        device_routing: Default::default(),
        push_relay_uri: None,
        tls_client_auth_subject_dn: r.tls_client_auth_subject_dn,
        tls_client_auth_san_dns: r.tls_client_auth_san_dns,
        tls_client_auth_san_uri: r.tls_client_auth_san_uri,
        tls_client_auth_san_ip: r.tls_client_auth_san_ip,
        tls_client_auth_san_email: r.tls_client_auth_san_email,
        tls_client_certificate_bound_access_tokens: r.tls_client_certificate_bound_access_tokens,
        identity_verification_uri: r.identity_verification_uri,
    };
    let created = admin::register_client(
        state.store.as_ref(),
        metadata,
        &state.server.outbound,
        state.server.mtls.support,
        state.clock.now(),
    )
    .await
    .map_err(|e| match e {
        admin::AdminError::Invalid(why) => metadata_error(why),
        admin::AdminError::Store(e) => OAuthError::from(e),
    })?;
    let mut body = serde_json::to_value(&created.metadata).map_err(OAuthError::server_error)?;
    body["client_id"] = json!(created.client_id);
    body["client_id_issued_at"] = json!(state.clock.now());
    // Push clients never use the CIBA grant at the token endpoint (CIBA §11).
    body["grant_types"] = match mode {
        DeliveryMode::Push => json!([REFRESH_GRANT]),
        _ => json!([CIBA_GRANT, REFRESH_GRANT]),
    };
    if let Some(secret) = created.client_secret {
        body["client_secret"] = json!(secret);
        body["client_secret_expires_at"] = json!(0);
    }
    Ok(super::no_store_json(StatusCode::CREATED, body))
}
