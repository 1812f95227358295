//! Issue 22: `GET /manage/v1/rules` lists the calling client's adaptive
//! rules in the order they are evaluated; `POST` adds one. A rule is
//! `{name, conditions, outcome, applies_to}` (`domain::risk::Rule`) with an
//! optional `position` (lower first; default after the last).

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Manager, json_body};
use crate::domain::risk::Rule;
use crate::engine::AppState;
use crate::engine::risk_rules::{self, Refusal};
use crate::engine::users::Actor;
use crate::http::api_error::{ApiError, no_store};
use crate::store::risk::StoredRule;

pub async fn list(State(state): State<AppState>, Manager(client): Manager) -> Result<Response, ApiError> {
    let rules = state.store.risk_rules(client.id.as_str()).await?;
    let rules: Vec<Value> = rules.iter().map(StoredRule::shown).collect();
    Ok(no_store(StatusCode::OK, Json(json!({ "rules": rules }))))
}

pub async fn add(State(state): State<AppState>, Manager(client): Manager, body: Bytes) -> Result<Response, ApiError> {
    let (rule, position) = rule_body(&body)?;
    let actor = Actor::Client(client.id.clone());
    let stored = risk_rules::add(&state, &actor, &client, rule, position)
        .await
        .map_err(refusal)?;
    Ok(no_store(StatusCode::CREATED, Json(stored.shown())))
}

/// A rule and its optional position from a JSON body.
pub fn rule_body(body: &[u8]) -> Result<(Rule, Option<i64>), ApiError> {
    let mut value: Value = json_body(body)?;
    let position = match value.as_object_mut().and_then(|o| o.remove("position")) {
        None | Some(Value::Null) => None,
        Some(p) => Some(p.as_i64().filter(|p| (0..=1_000_000).contains(p)).ok_or_else(|| {
            ApiError::bad_request("invalid_request", "position must be an integer from 0 to 1000000")
        })?),
    };
    let rule = serde_json::from_value(value)
        .map_err(|e| ApiError::bad_request("invalid_request", format!("invalid rule: {e}")))?;
    Ok((rule, position))
}

pub fn refusal(e: Refusal) -> ApiError {
    match e {
        Refusal::Invalid(why) => ApiError::bad_request("invalid_request", format!("invalid rule: {why}")),
        Refusal::UnknownRule => super::not_found("rule"),
        Refusal::TooMany => ApiError::new(StatusCode::CONFLICT, "too_many_rules", e.to_string()),
        Refusal::Store(e) => e.into(),
    }
}
