//! `GET /device/v1/inbox`: the pending requests of the device's user, each
//! with a fresh single-use challenge to sign into the decision.

use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

use super::error::{ApiError, no_store};
use super::proof::Proven;
use crate::crypto::secret;
use crate::state::AppState;
use crate::store::Challenge;
use axum::http::StatusCode;
use axum::response::Response;

pub async fn list(State(state): State<AppState>, proven: Proven) -> Result<Response, ApiError> {
    let device = proven.active_device(&state).await?;
    let user_id = device.user_id.as_deref().unwrap_or_default();
    let now = state.clock.now();
    let items = state.store.pending_for_user(user_id, now).await?;
    let challenges: Vec<Challenge> = items
        .iter()
        .map(|item| Challenge {
            nonce: secret::random_token(),
            transaction_id: item.transaction.id.clone(),
            device_id: device.id.clone(),
            expires_at: item.transaction.expires_at.min(now + state.settings.challenge_ttl),
            used_at: None,
        })
        .collect();
    state.store.insert_challenges(&challenges).await?;
    let listed: Vec<Value> = items
        .iter()
        .zip(&challenges)
        .map(|(item, challenge)| {
            let t = &item.transaction;
            json!({
                "transaction_id": t.id,
                "client_name": item.client_name,
                "binding_message": t.display_text,
                "transaction_type": t.context.as_str(),
                "app_id": t.app_id,
                "scope": t.scope,
                "created_at": t.created_at,
                "expires_at": t.expires_at,
                "nonce": challenge.nonce,
                "nonce_expires_at": challenge.expires_at,
            })
        })
        .collect();
    Ok(no_store(StatusCode::OK, Json(json!({"transactions": listed}))))
}
