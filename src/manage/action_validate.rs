//! Seed 002: `POST /manage/v1/actions/validate` answers, once, the outcome
//! of the action a token was issued for: ALLOW, or how its challenge ended
//! (the deciding device and when). A challenge still open is answered 409
//! without using the token up.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::actions::check_action;
use super::{Manager, json_body};
use crate::engine::AppState;
use crate::engine::actions::{self, Invalid};
use crate::http::api_error::{ApiError, no_store};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Validate {
    token: String,
    action: Option<String>,
}

pub async fn validate(
    State(state): State<AppState>,
    Manager(client): Manager,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: Validate = json_body(&body)?;
    if let Some(action) = &req.action {
        check_action(action)?;
    }
    let answer = actions::validate(&state, &client, &req.token, req.action.as_deref())
        .await
        .map_err(rejection)?;
    Ok(no_store(
        StatusCode::OK,
        Json(json!({
            "state": answer.state.as_str(),
            "verified": answer.verified,
            "user_id": answer.user_id,
            "action": answer.action,
            "rule": answer.rule,
            "transaction_id": answer.transaction_id,
            "device_id": answer.device_id,
            "decided_at": answer.decided_at,
        })),
    ))
}

fn rejection(e: Invalid) -> ApiError {
    let message = e.to_string();
    let (status, code) = match e {
        Invalid::Store(e) => return e.into(),
        Invalid::Unknown => (StatusCode::NOT_FOUND, "unknown_token"),
        Invalid::OtherAction => (StatusCode::BAD_REQUEST, "action_mismatch"),
        Invalid::Expired => (StatusCode::BAD_REQUEST, "expired_token"),
        Invalid::Pending => (StatusCode::CONFLICT, "challenge_pending"),
        Invalid::AlreadyValidated => (StatusCode::CONFLICT, "already_validated"),
    };
    ApiError::new(status, code, message)
}
