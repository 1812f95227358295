//! `GET|POST /userinfo` (OIDC Core §5.3): the ID token's user claims, for a
//! valid access token sent as `Authorization: Bearer` (RFC 6750 §2.1), with
//! the TLS client certificate it is bound to, if any (RFC 8705 §3).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use serde_json::Value;

use crate::crypto::id_token;
use crate::crypto::secret;
use crate::domain::claims::Sources;
use crate::engine::AppState;
use crate::http::client_certificate::PresentedCertificate;
use crate::oidc::error::{Challenge, OAuthError};

pub async fn describe_user(
    State(state): State<AppState>,
    certificate: PresentedCertificate,
    headers: HeaderMap,
) -> Result<Response, OAuthError> {
    let refuse = |why: &'static str| OAuthError::invalid_token(why).with_challenge(Challenge::Bearer);
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim())
        .ok_or_else(|| {
            // RFC 6750 §3.1: no credentials, so the challenge carries no error code.
            OAuthError::invalid_token("an access token is required as Authorization: Bearer")
                .with_challenge(Challenge::BearerRequired)
        })?;
    let record = state
        .store
        .access_token(&secret::digest(token))
        .await?
        .filter(|t| !t.revoked && t.expires_at > state.clock.now())
        .ok_or_else(|| refuse("the access token is invalid, expired or revoked"))?;
    if !certificate.honours(record.certificate_thumbprint.as_deref()) {
        return Err(refuse(
            "the access token is bound to a TLS client certificate this request did not present",
        ));
    }
    let store = state.store.as_ref();
    // A disabled client's tokens are no longer honoured.
    let client = store.client(record.client_id.as_str()).await?;
    if client.is_none_or(|c| c.is_disabled()) {
        return Err(refuse("the access token is invalid, expired or revoked"));
    }
    let gone = || refuse("the access token no longer names a user");
    let txn = store.transaction(&record.transaction_id).await?.ok_or_else(gone)?;
    let user = crate::engine::issue::claim_user(store, &txn).await?.ok_or_else(gone)?;
    let claims = id_token::user_claims(&Sources {
        transaction: &txn,
        scope: &record.scope,
        user: &user,
    });
    Ok(super::no_store_json(StatusCode::OK, Value::Object(claims)))
}
