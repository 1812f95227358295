//! `POST /device/v1/transactions/{id}/decision`: the device approves or
//! denies with a JWS signed by its auth key; the engine checks and records
//! it (`engine::decide`), this face renders the outcome.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::proof::Proven;
use crate::crypto::device_jws;
use crate::engine::AppState;
use crate::engine::decide::{self, Refusal};
use crate::engine::metrics::Replay;
use crate::http::api_error::{ApiError, no_store, reject_nul};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    decision_jws: String,
}

pub async fn decide(
    State(state): State<AppState>,
    Path(txn_id): Path<String>,
    proven: Proven,
    body: Bytes,
) -> Result<Response, ApiError> {
    let device = proven.active_device(&state).await?;
    let txn = state.store.transaction(&txn_id).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_transaction",
            "no transaction has this id",
        )
    })?;
    reject_nul(&body)?;
    let body: DecisionBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_request",
            format!("body must be {{\"decision_jws\": <compact JWS>}}: {e}"),
        )
    })?;
    let jws = body.decision_jws.as_str();
    device_jws::check_decision_shape(jws).map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;
    let decision = decide::decide(&state, &device, &txn, jws).await.map_err(|refusal| {
        if matches!(refusal, Refusal::NonceReplayed) {
            state.metrics.replay(Replay::DecisionNonce, txn.id.as_str());
        }
        refused(refusal)
    })?;
    let body = json!({"transaction_id": txn.id, "status": decision.outcome().as_str()});
    Ok(no_store(StatusCode::OK, Json(body)))
}

/// The engine's refusal in the API error schema.
fn refused(refusal: Refusal) -> ApiError {
    let status = match &refusal {
        Refusal::Store(_) | Refusal::Internal(_) => {
            return match refusal {
                Refusal::Store(e) => ApiError::from(e),
                other => ApiError::server_error(other),
            };
        }
        Refusal::DeviceNotBound | Refusal::UserLocked => StatusCode::FORBIDDEN,
        Refusal::NonceReplayed | Refusal::AlreadyDecided => StatusCode::CONFLICT,
        Refusal::Expired => StatusCode::GONE,
        Refusal::BadSignature
        | Refusal::InvalidDecision(_)
        | Refusal::OtherTransaction
        | Refusal::ForeignNonce
        | Refusal::MessageMismatch
        | Refusal::NumberMismatch
        | Refusal::DocumentMismatch
        | Refusal::NonceExpired => StatusCode::BAD_REQUEST,
    };
    ApiError::new(status, refusal.code(), refusal.to_string())
}
