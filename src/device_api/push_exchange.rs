//! `POST /device/v1/push/exchange`: a device trades the token a push
//! carried for the request it was about, as the inbox lists it (with a
//! fresh challenge to sign). Only the device the push went to can trade
//! it, and only while the request is open; the push itself never carries
//! the binding message.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::proof::Proven;
use crate::crypto::secret;
use crate::engine::AppState;
use crate::http::api_error::{ApiError, no_store};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExchangeBody {
    push_token: String,
}

pub async fn exchange(State(state): State<AppState>, proven: Proven, body: Bytes) -> Result<Response, ApiError> {
    crate::http::api_error::reject_nul(&body)?;
    let req: ExchangeBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_request",
            format!("body must be {{\"push_token\": \"...\"}}: {e}"),
        )
    })?;
    let device = proven.active_device(&state).await?;
    // One answer for every miss (unknown, another device's, decided,
    // expired, superseded by two later attempts): nothing to probe.
    let item = state
        .store
        .exchange_push_token(&secret::digest(&req.push_token), &device.id, state.clock.now())
        .await?
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::NOT_FOUND,
                "unknown_push_token",
                "the push token names no open request for this device; check the inbox",
            )
        })?;
    let listed = super::inbox::with_challenges(&state, &device, std::slice::from_ref(&item)).await?;
    // One item in, one out: an empty answer would be a bug, not a miss.
    let transaction = listed
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::server_error("the exchanged request could not be listed"))?;
    Ok(no_store(StatusCode::OK, Json(json!({"transaction": transaction}))))
}
