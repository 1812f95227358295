//! The management API (relying-party server → trustid): device+user bindings
//! (seed 000), user registration, check-status and unregister (seed 001),
//! registration tokens, tracked actions and their adaptive rules (seed 002),
//! devices, lock and unlock. Every call
//! carries an access token of the `client_credentials` grant with scope
//! `trustid:manage`, issued only to clients granted management explicitly.
//! Errors use the API error schema (`{error, message}`).

pub mod action_validate;
pub mod actions;
pub mod bindings;
pub mod check_status;
pub mod device_pushes;
pub mod devices;
pub mod identity_documents;
pub mod qr;
pub mod register;
pub mod rule_item;
pub mod rules;
pub mod tokens;
pub mod unregister;

use axum::http::StatusCode;

use crate::engine::AppState;
use crate::http::api_error::ApiError;
pub use crate::http::manager::{Manager, SCOPE, json_body};

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
