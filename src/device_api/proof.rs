//! The device proof as an extractor: a request that reaches a device handler
//! carries a fresh, unreplayed proof signed with the device key.

use axum::extract::FromRequestParts;
use axum::http::StatusCode;
use axum::http::request::Parts;

use crate::crypto::device_jws::{self, DeviceProof};
use crate::domain::device::{Device, DeviceStatus};
use crate::engine::AppState;
use crate::engine::metrics::Replay;
use crate::http::api_error::ApiError;

/// The HTTP header that carries the proof.
pub const HEADER: &str = "DPoP";

/// A verified proof of the device key.
pub struct Proven(pub DeviceProof);

fn unauthorized(message: impl Into<String>) -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_proof", message)
}

impl FromRequestParts<AppState> for Proven {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let mut values = parts.headers.get_all(HEADER).iter();
        let (Some(value), None) = (values.next(), values.next()) else {
            return Err(unauthorized("exactly one DPoP header with a device proof is required"));
        };
        let token = value
            .to_str()
            .map_err(|_| unauthorized("the DPoP header is not ASCII"))?;
        let htu = state.url(parts.uri.path());
        let now = state.clock.now();
        let proof = device_jws::verify_proof(token, parts.method.as_str(), &htu, now, state.devices.clock_skew)
            .map_err(|e| unauthorized(format!("device proof refused: {e}")))?;
        // A proof is only fresh for the skew window; remember its jti that long.
        let key = format!("proof:{}:{}", proof.device_id, proof.jti);
        if !state
            .store
            .remember_proof(&key, proof.iat + 2 * state.devices.clock_skew, now)
            .await?
        {
            state.metrics.replay(Replay::DeviceProof, &proof.device_id);
            return Err(unauthorized("device proof refused: jti was used before"));
        }
        Ok(Proven(proof))
    }
}

impl Proven {
    /// The registered, active device the proof speaks for.
    pub async fn active_device(&self, state: &AppState) -> Result<Device, ApiError> {
        let device = state
            .store
            .device(&self.0.device_id)
            .await?
            .ok_or_else(|| unauthorized("no device is registered with this key"))?;
        if device.status != DeviceStatus::Active || device.user_id.is_none() {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "device_not_active",
                format!("the device is {}; it must be bound to a user and active", device.status),
            ));
        }
        Ok(device)
    }
}
