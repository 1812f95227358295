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

use super::register::refused_by_rules;
use super::{Manager, json_body};
use crate::domain::address::canonical_ip;
use crate::domain::cddc::Cddc;
use crate::domain::ids::UserId;
use crate::domain::risk::Outcome;
use crate::domain::user::UserStatus;
use crate::engine::AppState;
use crate::engine::risk;
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
    let fingerprint = evidence
        .as_ref()
        .and_then(|e| serde_json::from_value::<Cddc>(e.cddc.clone()?).ok())
        .and_then(|c| c.fingerprint());
    let address = evidence.as_ref().and_then(|e| canonical_ip(e.client_ip.as_deref()?));
    let detail = evidence.map(|e| serde_json::to_string(&e).unwrap_or_default());
    let user_id = UserId::from(user_id);
    let user = state.store.user(user_id.as_str()).await?;
    if let Some(user) = user.filter(|u| u.status != UserStatus::Removed) {
        let verdict = risk::screen_registration(
            &state,
            &client,
            &user,
            "unregister",
            address.as_deref(),
            fingerprint.as_deref(),
        )
        .await?;
        if verdict != Outcome::Allow {
            return Err(refused_by_rules());
        }
    }
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
