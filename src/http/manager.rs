//! The management token (`client_credentials`, scope `trustid:manage`) that
//! opens the management API, shared by every face with an endpoint under
//! `/manage/v1/` (the management face, and the SAML face's attribute export).

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use super::api_error::ApiError;
use super::client_certificate::PresentedCertificate;
use crate::crypto::secret;
use crate::domain::client::Client;
use crate::engine::AppState;

/// The scope that opens the management API.
pub use crate::domain::scope::MANAGE as SCOPE;

/// The client calling the management API, authenticated by its token.
pub struct Manager(pub std::sync::Arc<Client>);

fn unauthorized(message: &str) -> Response {
    let mut res = ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", message).into_response();
    res.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(r#"Bearer realm="trustid", scope="trustid:manage""#),
    );
    res
}

impl FromRequestParts<AppState> for Manager {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, t)| t.trim())
            .ok_or_else(|| unauthorized("a management access token is required as Authorization: Bearer"))?;
        let record = state
            .store
            .management_token(&secret::digest(token))
            .await
            .map_err(|e| ApiError::from(e).into_response())?
            .filter(|t| !t.revoked && t.expires_at > state.clock.now())
            .ok_or_else(|| unauthorized("the access token is invalid or expired"))?;
        let certificate = PresentedCertificate::from_request_parts(parts, state).await;
        if !certificate.is_ok_and(|c| c.honours(record.certificate_thumbprint.as_deref())) {
            return Err(unauthorized(
                "the access token is bound to a TLS client certificate this request did not present",
            ));
        }
        if !crate::domain::scope::grants(&record.scope, SCOPE) {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "insufficient_scope",
                "the token lacks trustid:manage",
            )
            .into_response());
        }
        let client = state
            .store
            .client(&record.client_id)
            .await
            .map_err(|e| ApiError::from(e).into_response())?
            .filter(|c| c.metadata.management)
            .ok_or_else(|| {
                ApiError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    "this client may not use the management API",
                )
                .into_response()
            })?;
        // A token issued before its client was disabled dies with it.
        if client.is_disabled() {
            return Err(unauthorized("the token's client is disabled"));
        }
        Ok(Manager(client))
    }
}

/// Parses a JSON body into `T`, or answers 400 `invalid_request` naming the problem.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    super::api_error::reject_nul(body)?;
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("invalid_request", format!("invalid JSON body: {e}")))
}
