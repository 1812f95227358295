//! The management API (relying-party server → trustid): device+user bindings
//! (seed 000), user registration, check-status and unregister (seed 001),
//! registration tokens (seed 002), devices, lock and unlock. Every call
//! carries an access token of the `client_credentials` grant with scope
//! `trustid:manage`, issued only to clients granted management explicitly.
//! Errors use the API error schema (`{error, message}`).

pub mod bindings;
pub mod check_status;
pub mod device_pushes;
pub mod devices;
pub mod qr;
pub mod register;
pub mod tokens;
pub mod unregister;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::de::DeserializeOwned;

use crate::crypto::secret;
use crate::domain::client::Client;
use crate::engine::AppState;
use crate::http::api_error::ApiError;

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
        Ok(Manager(client))
    }
}

/// Parses a JSON body into `T`, or answers 400 `invalid_request` naming the problem.
pub fn json_body<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    crate::http::api_error::reject_nul(body)?;
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request("invalid_request", format!("invalid JSON body: {e}")))
}

/// Appends to the audit trail; a failure fails the call, never hidden.
pub async fn audit(
    state: &AppState,
    actor: String,
    action: &'static str,
    subject: String,
    detail: Option<String>,
) -> Result<(), ApiError> {
    Ok(state.audit(actor, action, subject, detail).await?)
}

/// A user id, e-mail or phone as the seeds allow it: printable, bounded.
pub fn check_text(field: &str, value: &str, max: usize) -> Result<(), ApiError> {
    if value.trim().is_empty() || value.chars().count() > max || value.chars().any(char::is_control) {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("{field} must be 1 to {max} printable characters"),
        ));
    }
    Ok(())
}

pub fn not_found(what: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", format!("no such {what}"))
}
