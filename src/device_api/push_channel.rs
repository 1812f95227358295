//! `PUT /device/v1/push-channel`: a device says how it can be woken
//! (`webhook` with its relay-side device token, `fcm` with its registration
//! token, `apns` with its device token); `DELETE` clears it, leaving the
//! inbox. The token is never echoed back nor logged.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::proof::Proven;
use crate::domain::push::{PushAddress, PushChannel};
use crate::engine::AppState;
use crate::http::api_error::{ApiError, no_store};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ChannelBody {
    channel: String,
    token: String,
}

/// Whether this server can send on `channel` (FCM and APNs need credentials).
fn configured(state: &AppState, channel: PushChannel) -> bool {
    match channel {
        PushChannel::Webhook => true,
        PushChannel::Fcm => state.push.fcm_service_account.is_some(),
        PushChannel::Apns => state.push.apns.is_some(),
    }
}

pub async fn set(State(state): State<AppState>, proven: Proven, body: Bytes) -> Result<Response, ApiError> {
    crate::http::api_error::reject_nul(&body)?;
    let req: ChannelBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_request",
            format!("body must be {{\"channel\": \"webhook\" | \"fcm\" | \"apns\", \"token\": \"...\"}}: {e}"),
        )
    })?;
    let channel: PushChannel = req
        .channel
        .parse()
        .map_err(|_| ApiError::bad_request("invalid_push_channel", "channel must be `webhook`, `fcm` or `apns`"))?;
    if !configured(&state, channel) {
        return Err(ApiError::bad_request(
            "unsupported_push_channel",
            format!("this server is not configured to send through {channel}"),
        ));
    }
    let address =
        PushAddress::parse(channel, &req.token).map_err(|e| ApiError::bad_request("invalid_push_token", e))?;
    let device = proven.active_device(&state).await?;
    state
        .store
        .set_push_channel(&device.id, Some((channel, &address)))
        .await?;
    tracing::info!(device_id = %device.id, channel = channel.as_str(), "push channel set");
    Ok(no_store(StatusCode::OK, Json(json!({"channel": channel.as_str()}))))
}

pub async fn clear(State(state): State<AppState>, proven: Proven) -> Result<Response, ApiError> {
    let device = proven.active_device(&state).await?;
    state.store.set_push_channel(&device.id, None).await?;
    Ok(no_store(StatusCode::NO_CONTENT, ()))
}
