//! `POST /device/v1/activate`: a registered device activates for a user with
//! exactly one of `activation_code` (seed 000), `activation_password`
//! (seed 001, usually scanned from the QR code) or `registration_token`
//! (seed 002). Proven with the device key like every device request.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::proof::Proven;
use crate::engine::AppState;
use crate::engine::activation::{self, Presented};
use crate::http::api_error::{ApiError, no_store};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Activate {
    activation_code: Option<String>,
    activation_password: Option<String>,
    registration_token: Option<String>,
}

pub async fn activate(State(state): State<AppState>, Proven(proof): Proven, body: Bytes) -> Result<Response, ApiError> {
    crate::http::api_error::reject_nul(&body)?;
    let req: Activate = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_request", format!("invalid JSON body: {e}")))?;
    let presented = match (&req.activation_code, &req.activation_password, &req.registration_token) {
        (Some(c), None, None) => Presented::Code(c),
        (None, Some(p), None) => Presented::Password(p),
        (None, None, Some(t)) => Presented::Token(t),
        _ => {
            return Err(ApiError::bad_request(
                "invalid_request",
                "send exactly one of activation_code, activation_password and registration_token",
            ));
        }
    };
    let device = state.store.device(&proof.device_id).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "invalid_proof",
            "no device is registered with this key",
        )
    })?;
    let done = activation::activate(&state, presented, Some(&device)).await?;
    Ok(no_store(StatusCode::OK, Json(done)))
}
