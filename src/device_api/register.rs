//! `POST /device/v1/devices`: a device registers its device key (in the
//! proof) and its auth key (in the body). It stays inactive until bound.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::proof::Proven;
use crate::crypto::p256_jwk::P256Jwk;
use crate::domain::device::{Device, DeviceStatus};
use crate::engine::AppState;
use crate::http::api_error::{ApiError, no_store};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Enrolment {
    auth_key: Value,
    /// Seed 002: the keys need the OS's prompt on every use.
    #[serde(default)]
    user_authentication_required: bool,
}

pub async fn enroll(State(state): State<AppState>, Proven(proof): Proven, body: Bytes) -> Result<Response, ApiError> {
    crate::http::api_error::reject_nul(&body)?;
    let req: Enrolment = serde_json::from_slice(&body)
        .map_err(|e| ApiError::bad_request("invalid_request", format!("body must be {{\"auth_key\": <JWK>}}: {e}")))?;
    let auth_key = P256Jwk::from_value(&req.auth_key)
        .map_err(|e| ApiError::bad_request("invalid_key", format!("auth_key: {e}")))?;
    if auth_key.thumbprint() == proof.device_id {
        return Err(ApiError::bad_request(
            "invalid_key",
            "the auth key must differ from the device key",
        ));
    }
    let candidate = Device {
        id: proof.device_id.clone().into(),
        device_key: proof.key.to_value().to_string(),
        auth_key: auth_key.to_value().to_string(),
        user_id: None,
        status: DeviceStatus::Inactive,
        failed_attempts: 0,
        preferred: false,
        push: None,
        created_at: state.clock.now(),
        user_authentication_required: req.user_authentication_required,
    };
    let (stored, created) = state.store.register_device(&candidate).await?;
    let status = if created { StatusCode::CREATED } else { StatusCode::OK };
    if stored.auth_key != candidate.auth_key {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "device_exists",
            "this device key is registered already, with another auth key",
        ));
    }
    tracing::info!(device_id = %stored.id, "device registered");
    Ok(no_store(
        status,
        Json(json!({"device_id": stored.id, "status": stored.status.as_str()})),
    ))
}
