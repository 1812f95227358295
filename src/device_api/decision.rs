//! `POST /device/v1/transactions/{id}/decision`: the device approves or
//! denies with a JWS signed by its auth key (format in `crypto::device_jws`).
//! A forged signature, a foreign or reused nonce, a message hash that does
//! not match what was shown, or a device of another user is refused and
//! counted as a failed attempt; nothing else changes.

use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::Deserialize;
use serde_json::json;

use super::error::{ApiError, no_store};
use super::proof::Proven;
use crate::crypto::device_jws::{self, JwsError};
use crate::crypto::p256_jwk::P256Jwk;
use crate::delivery::owed;
use crate::domain::binding_message::ActionContext;
use crate::domain::device::Device;
use crate::domain::transaction::{Decision, Phase, Transaction};
use crate::state::AppState;
use crate::store::{DecideOutcome, DecisionWrite};
use axum::response::Response;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    decision_jws: String,
}

/// A refusal that counts as a failed attempt of the device and the user,
/// and may lock either (lockout policy).
async fn failed(state: &AppState, device: &Device, txn: &Transaction, err: ApiError) -> ApiError {
    let lockout = state.settings.lockout();
    let store = &state.store;
    match store
        .record_failed_attempt(Some(&device.id), Some(&txn.user_id), Some(&txn.id), lockout)
        .await
    {
        Ok((device_locked, user_locked)) => {
            tracing::warn!(device_id = %device.id, transaction_id = %txn.id, reason = err.code, device_locked, user_locked, "failed device attempt");
            err
        }
        Err(e) => ApiError::from(e),
    }
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
    super::error::reject_nul(&body)?;
    let body: DecisionBody = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(
            "invalid_request",
            format!("body must be {{\"decision_jws\": <compact JWS>}}: {e}"),
        )
    })?;
    let jws = body.decision_jws.as_str();
    device_jws::check_decision_shape(jws).map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;

    if device.user_id.as_deref() != Some(txn.user_id.as_str()) {
        // Counted against the device and its own user, never against the
        // transaction's user: a stranger must not move someone else's counters.
        state
            .store
            .record_failed_attempt(
                Some(&device.id),
                device.user_id.as_deref(),
                None,
                state.settings.lockout(),
            )
            .await?;
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "device_not_bound",
            "this device is not bound to the user of the transaction",
        ));
    }
    let auth_key = P256Jwk::from_json(&device.auth_key).map_err(|e| ApiError::server_error(e.0))?;
    let now = state.clock.now();
    let signed = match device_jws::verify_decision(jws, &auth_key, now, state.settings.device_clock_skew) {
        Ok(signed) => signed,
        Err(JwsError::BadSignature) => {
            let err = ApiError::bad_request(
                "invalid_signature",
                "the decision is not signed by this device's auth key",
            );
            return Err(failed(&state, &device, &txn, err).await);
        }
        Err(e) => return Err(ApiError::bad_request("invalid_decision", e.to_string())),
    };
    if signed.txn != txn.id {
        return Err(ApiError::bad_request(
            "invalid_decision",
            "txn in the decision does not match the URL",
        ));
    }

    let challenge = match state.store.challenge(&signed.nonce).await? {
        Some(c) if c.transaction_id == txn.id && c.device_id == device.id => c,
        _ => {
            let err = ApiError::bad_request(
                "invalid_nonce",
                "the nonce was not issued to this device for this transaction",
            );
            return Err(failed(&state, &device, &txn, err).await);
        }
    };
    if challenge.used_at.is_some() {
        let err = ApiError::new(StatusCode::CONFLICT, "nonce_replayed", "this nonce was used already");
        return Err(failed(&state, &device, &txn, err).await);
    }
    if signed.bm_hash != device_jws::bm_hash(&txn.display_text) {
        let err = ApiError::bad_request(
            "message_mismatch",
            "bm_hash does not match the text of this transaction",
        );
        return Err(failed(&state, &device, &txn, err).await);
    }
    if let Some(expected) = &txn.match_number
        && signed.decision == Decision::Approve
        && signed.number.as_deref() != Some(expected.as_str())
    {
        let err = ApiError::bad_request(
            "number_mismatch",
            "the number typed is not the one the relying party shows",
        );
        return Err(failed(&state, &device, &txn, err).await);
    }
    if txn.context == ActionContext::Authentication
        && state
            .store
            .user(&txn.user_id)
            .await?
            .is_some_and(|u| u.status != crate::domain::user::UserStatus::Active)
    {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "user_locked",
            "the user is locked; nothing can be approved",
        ));
    }
    // Late is not an attack: expiry and a stale challenge are not counted.
    txn.can_decide(now).map_err(refusal)?;
    if challenge.expires_at <= now {
        return Err(ApiError::bad_request(
            "nonce_expired",
            "the nonce expired; fetch the inbox again",
        ));
    }

    let approved_provisioning = signed.decision == Decision::Approve && txn.context == ActionContext::Provisioning;
    let associate = match &txn.app_id {
        Some(app) if approved_provisioning => Some((txn.user_id.as_str(), app.as_str())),
        _ => None,
    };
    let user_status = match txn.user_status {
        Some(status) if approved_provisioning => Some((txn.user_id.as_str(), status.as_str())),
        _ => None,
    };
    let owed = owed::for_decision(&state, &txn, &device.id, signed.decision, now)
        .await
        .map_err(ApiError::server_error)?;
    let delivery = owed.as_ref().map(|o| o.delivery.clone());
    let write = DecisionWrite {
        transaction_id: &txn.id,
        nonce: &signed.nonce,
        device_id: &device.id,
        outcome: owed
            .as_ref()
            .and_then(|o| o.outcome)
            .unwrap_or(signed.decision.outcome()),
        now,
        associate,
        user_status,
        delivery,
        issued: owed.and_then(|o| o.issued),
    };
    match state.store.decide(&write).await? {
        DecideOutcome::Decided => {}
        DecideOutcome::NonceRejected => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "nonce_replayed",
                "this nonce was used already",
            ));
        }
        DecideOutcome::NotPending => return Err(refusal(Phase::Approved)),
    }
    if write.delivery.is_some() {
        state.deliveries.notify_one();
    }
    // The user's other devices drop the request from their inboxes.
    state.publish(&crate::wakeup::inbox_topic(&txn.user_id)).await;
    if signed.decision == Decision::Deny && signed.reason.as_deref() == Some("fraud") {
        // The user says they did not start this: a failed attempt (lockout policy).
        state
            .store
            .record_failed_attempt(
                Some(&device.id),
                Some(&txn.user_id),
                Some(&txn.id),
                state.settings.lockout(),
            )
            .await?;
    }
    tracing::info!(device_id = %device.id, transaction_id = %txn.id, decision = signed.decision.as_str(), "decision recorded");
    let body = json!({"transaction_id": txn.id, "status": signed.decision.outcome().as_str()});
    Ok(no_store(StatusCode::OK, Json(body)))
}

fn refusal(phase: Phase) -> ApiError {
    match phase {
        Phase::Expired => ApiError::new(StatusCode::GONE, "transaction_expired", "the transaction has expired"),
        _ => ApiError::new(
            StatusCode::CONFLICT,
            "already_decided",
            "the transaction has been decided already",
        ),
    }
}
