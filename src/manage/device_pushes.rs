//! `POST /manage/v1/device-pushes`: how a request's pushes to devices went,
//! device by device (channel, state, attempts, last error). The request is
//! named by its `auth_req_id` in the body, which keeps the id out of URLs
//! and logs; a client sees only its own requests.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Manager, json_body, not_found};
use crate::crypto::secret;
use crate::domain::transaction::Phase;
use crate::engine::AppState;
use crate::http::api_error::{ApiError, no_store};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Query {
    auth_req_id: String,
}

pub async fn report(
    State(state): State<AppState>,
    Manager(client): Manager,
    body: Bytes,
) -> Result<Response, ApiError> {
    let q: Query = json_body(&body)?;
    let txn = state
        .store
        .transaction_by_auth_req(&secret::auth_req_digest(&q.auth_req_id))
        .await?
        .filter(|t| t.client_id == client.id)
        .ok_or_else(|| not_found("request of this client"))?;
    let pushes: Vec<Value> = state
        .store
        .device_pushes_of(&txn.id)
        .await?
        .into_iter()
        .map(|p| {
            json!({
                "device_id": p.device_id,
                "channel": p.channel.map(|c| c.as_str()),
                "state": p.state.as_str(),
                "attempts": p.attempts,
                "last_error": p.last_error,
                "created_at": p.created_at.div_euclid(1000),
                "finished_at": p.finished_at.map(|t| t.div_euclid(1000)),
            })
        })
        .collect();
    let status = match txn.phase(state.clock.now()) {
        Phase::Pending => "pending",
        Phase::Expired => "expired",
        Phase::Approved | Phase::Consumed => "approved",
        Phase::Denied => "denied",
    };
    Ok(no_store(
        StatusCode::OK,
        Json(json!({"transaction_id": txn.id, "status": status, "device_pushes": pushes})),
    ))
}
