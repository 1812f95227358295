//! Issue 22: `PUT /manage/v1/rules/{rule_id}` replaces one of the calling
//! client's rules (and its position, when given); `DELETE` removes it.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::Manager;
use super::rules::{refusal, rule_body};
use crate::engine::AppState;
use crate::engine::risk_rules;
use crate::engine::users::Actor;
use crate::http::api_error::{ApiError, no_store};

pub async fn update(
    State(state): State<AppState>,
    Manager(client): Manager,
    Path(rule_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let (rule, position) = rule_body(&body)?;
    let actor = Actor::Client(client.id.clone());
    let stored = risk_rules::update(&state, &actor, &client, &rule_id, rule, position)
        .await
        .map_err(refusal)?;
    Ok(no_store(StatusCode::OK, Json(stored.shown())))
}

pub async fn remove(
    State(state): State<AppState>,
    Manager(client): Manager,
    Path(rule_id): Path<String>,
) -> Result<Response, ApiError> {
    let actor = Actor::Client(client.id.clone());
    risk_rules::remove(&state, &actor, &client, &rule_id)
        .await
        .map_err(refusal)?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
