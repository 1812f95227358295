//! Seed 001: `POST /manage/v1/users/{userID}/unregister` removes the user's
//! devices, bindings, pending registrations and open requests (which end as
//! denied for their clients: a ping, or a push of `transaction_failed`), keeps
//! the audit trail, and answers what was removed.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::{Manager, json_body};
use crate::domain::ids::UserId;
use crate::engine::AppState;
use crate::engine::users::{self, Actor};
use crate::http::api_error::{ApiError, no_store};

#[derive(Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Unregister {
    object_type: Option<String>,
    cddc: Option<serde_json::Value>,
    #[serde(rename = "clientIP")]
    client_ip: Option<String>,
    relationship_ref: Option<String>,
    #[serde(rename = "sessionID")]
    session_id: Option<String>,
}

pub async fn unregister(
    State(state): State<AppState>,
    Manager(client): Manager,
    Path(user_id): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    let evidence: Option<Unregister> = if body.is_empty() { None } else { Some(json_body(&body)?) };
    if evidence
        .as_ref()
        .and_then(|e| e.object_type.as_deref())
        .is_some_and(|t| t != "AdaptiveUnregisterUserInput")
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            "objectType must be AdaptiveUnregisterUserInput",
        ));
    }
    let detail = evidence.map(|e| serde_json::to_string(&e).unwrap_or_default());
    let user_id = UserId::from(user_id);
    let actor = Actor::Client(client.id.clone());
    let removed = users::unregister(&state, &actor, &user_id, detail).await?;
    Ok(no_store(
        StatusCode::OK,
        Json(json!({
            "userID": user_id,
            "removed": {
                "devices": removed.devices,
                "bindings": removed.bindings,
                "registrations": removed.registrations,
                "transactions": removed.transactions,
            }
        })),
    ))
}
