//! Seed 001: `POST /manage/v1/registrations/check-status`. Without
//! `timeoutSeconds` it answers at once (`pending` / `activated`); with it, it
//! waits for the activation without holding a database connection or a
//! thread, answering `activated` the moment it happens or `timeout`. Once
//! `activated` was reported, and after the session expired, it answers
//! `unknown`.

use std::time::Duration;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::{Manager, json_body};
use crate::domain::ids::UserId;
use crate::engine::AppState;
use crate::engine::wakeup::registration_topic;
use crate::http::api_error::{ApiError, no_store};

/// Longest wait a caller may ask for.
const MAX_WAIT_SECS: u64 = 120;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct CheckStatus {
    login: String,
    timeout_seconds: Option<u64>,
}

enum Seen {
    Pending,
    Activated,
    Unknown,
}

async fn look(state: &AppState, login: &str) -> Result<Seen, ApiError> {
    let now = state.clock.now();
    let Some(r) = state.store.latest_registration(login).await? else {
        return Ok(Seen::Unknown);
    };
    Ok(match (r.activated_at, r.reported_at) {
        (_, Some(_)) => Seen::Unknown,
        _ if r.expires_at <= now => Seen::Unknown,
        (Some(_), None) => {
            state.store.mark_reported(&r.id, now).await?;
            Seen::Activated
        }
        (None, None) => Seen::Pending,
    })
}

pub async fn check(
    State(state): State<AppState>,
    Manager(_client): Manager,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: CheckStatus = json_body(&body)?;
    if req.timeout_seconds.is_some_and(|t| t == 0 || t > MAX_WAIT_SECS) {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("timeoutSeconds must be between 1 and {MAX_WAIT_SECS}"),
        ));
    }
    let topic = registration_topic(&UserId::new(req.login.as_str()));
    // Subscribe before reading, so an activation in between still wakes us.
    let mut rx = state.wakeups.subscribe();
    let status = match (look(&state, &req.login).await?, req.timeout_seconds) {
        (Seen::Activated, _) => "activated",
        (Seen::Unknown, _) => "unknown",
        (Seen::Pending, None) => "pending",
        (Seen::Pending, Some(secs)) => {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
            loop {
                let left = deadline.saturating_duration_since(tokio::time::Instant::now());
                if left.is_zero() || !state.wait_for(&mut rx, &topic, left).await {
                    break "timeout";
                }
                match look(&state, &req.login).await? {
                    Seen::Activated => break "activated",
                    Seen::Unknown => break "unknown",
                    Seen::Pending => continue,
                }
            }
        }
    };
    Ok(no_store(StatusCode::OK, Json(json!({"activationStatus": status}))))
}
