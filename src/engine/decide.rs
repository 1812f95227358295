//! Deciding a transaction with a decision the device signed (format in
//! `crypto::device_jws`). A forged signature, a foreign or reused nonce, a
//! message hash that does not match what was shown, or a wrong typed number
//! is refused and counted as a failed attempt of the device and the user
//! (lockout policy); a device of another user counts against that device and
//! its own user. Lateness is not an attack and is not counted. A refusal
//! changes nothing else; each face renders a [`Refusal`] in its own format.

use crate::crypto::device_jws::{self, JwsError};
use crate::crypto::p256_jwk::P256Jwk;
use crate::domain::binding_message::ActionContext;
use crate::domain::device::Device;
use crate::domain::identity_document::{DocumentKind, DocumentStatus, EXECUTIVE_ACR};
use crate::domain::transaction::{Decision, Phase, Status, Transaction};
use crate::domain::user::UserStatus;
use crate::engine::AppState;
use crate::engine::delivery::owed;
use crate::engine::users;
use crate::engine::wakeup;
use crate::store::users::FailedOn;
use crate::store::{DecideOutcome, DecisionWrite, StoreError};
use subtle::ConstantTimeEq;

/// Why a decision was not recorded.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("this device is not bound to the user of the transaction")]
    DeviceNotBound,
    #[error("the decision is not signed by this device's auth key")]
    BadSignature,
    /// The JWS is well signed but says something unusable (expired, bad claims).
    #[error("{0}")]
    InvalidDecision(String),
    #[error("txn in the decision does not match the URL")]
    OtherTransaction,
    #[error("the nonce was not issued to this device for this transaction")]
    ForeignNonce,
    #[error("this nonce was used already")]
    NonceReplayed,
    #[error("bm_hash does not match the text of this transaction")]
    MessageMismatch,
    #[error("the number typed is not the one the relying party shows")]
    NumberMismatch,
    #[error("an executive approval needs the user's identity document, and document_hash is not its hash")]
    DocumentMismatch,
    #[error("the user is locked; nothing can be approved")]
    UserLocked,
    #[error("the transaction has expired")]
    Expired,
    #[error("the transaction has been decided already")]
    AlreadyDecided,
    #[error("the nonce expired; fetch the inbox again")]
    NonceExpired,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

impl Refusal {
    /// The stable, snake_case name of the refusal (the device API's code).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::DeviceNotBound => "device_not_bound",
            Refusal::BadSignature => "invalid_signature",
            Refusal::InvalidDecision(_) | Refusal::OtherTransaction => "invalid_decision",
            Refusal::ForeignNonce => "invalid_nonce",
            Refusal::NonceReplayed => "nonce_replayed",
            Refusal::MessageMismatch => "message_mismatch",
            Refusal::NumberMismatch => "number_mismatch",
            Refusal::DocumentMismatch => "document_mismatch",
            Refusal::UserLocked => "user_locked",
            Refusal::Expired => "transaction_expired",
            Refusal::AlreadyDecided => "already_decided",
            Refusal::NonceExpired => "nonce_expired",
            Refusal::Store(_) | Refusal::Internal(_) => "server_error",
        }
    }

    fn from_phase(phase: Phase) -> Self {
        match phase {
            Phase::Expired => Refusal::Expired,
            _ => Refusal::AlreadyDecided,
        }
    }
}

/// Applies the decision `jws`, signed by `device`, to `txn`; returns the
/// decision recorded.
pub async fn decide(state: &AppState, device: &Device, txn: &Transaction, jws: &str) -> Result<Decision, Refusal> {
    if device.user_id.as_deref() != Some(txn.user_id.as_str()) {
        // Never counted against the transaction's user: a stranger must not
        // move someone else's counters.
        state
            .store
            .record_failed_attempt(Some(&device.id), device.user_id.as_deref(), None, state.lockout)
            .await?;
        return Err(Refusal::DeviceNotBound);
    }
    let auth_key = P256Jwk::from_json(&device.auth_key).map_err(|e| Refusal::Internal(e.0.to_string()))?;
    let now = state.clock.now();
    let signed = match device_jws::verify_decision(jws, &auth_key, now, state.devices.clock_skew) {
        Ok(signed) => signed,
        Err(JwsError::BadSignature) => return Err(failed(state, device, txn, Refusal::BadSignature).await),
        Err(e) => return Err(Refusal::InvalidDecision(e.to_string())),
    };
    if signed.txn != txn.id {
        return Err(Refusal::OtherTransaction);
    }
    let challenge = match state.store.challenge(&signed.nonce).await? {
        Some(c) if c.transaction_id == txn.id && c.device_id == device.id => c,
        _ => return Err(failed(state, device, txn, Refusal::ForeignNonce).await),
    };
    if challenge.used_at.is_some() {
        return Err(failed(state, device, txn, Refusal::NonceReplayed).await);
    }
    if signed.bm_hash != device_jws::bm_hash(&txn.display_text) {
        return Err(failed(state, device, txn, Refusal::MessageMismatch).await);
    }
    if let Some(expected) = &txn.match_number
        && signed.decision == Decision::Approve
        && signed.number.as_deref() != Some(expected.as_str())
    {
        return Err(failed(state, device, txn, Refusal::NumberMismatch).await);
    }
    if txn.acr.as_deref() == Some(EXECUTIVE_ACR)
        && signed.decision == Decision::Approve
        && !document_matches(state, txn, signed.document_hash.as_deref()).await?
    {
        return Err(failed(state, device, txn, Refusal::DocumentMismatch).await);
    }
    if txn.context.authenticates()
        && state
            .store
            .user(&txn.user_id)
            .await?
            .is_some_and(|u| u.status != UserStatus::Active)
    {
        return Err(Refusal::UserLocked);
    }
    txn.can_decide(now).map_err(Refusal::from_phase)?;
    if challenge.expires_at <= now {
        return Err(Refusal::NonceExpired);
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
    let owed = owed::for_decision(state, txn, &device.id, signed.decision, now)
        .await
        .map_err(|e| match e.downcast::<StoreError>() {
            Ok(store) => Refusal::Store(store),
            Err(e) => Refusal::Internal(format!("{e:#}")),
        })?;
    let delivery = owed.as_ref().map(|o| o.delivery.clone());
    let outcome: Status = owed
        .as_ref()
        .and_then(|o| o.outcome)
        .unwrap_or(signed.decision.outcome());
    let write = DecisionWrite {
        transaction_id: &txn.id,
        nonce: &signed.nonce,
        device_id: &device.id,
        outcome,
        now,
        associate,
        user_status,
        delivery,
        issued: owed.and_then(|o| o.issued),
    };
    match state.store.decide(&write).await? {
        DecideOutcome::Decided => state
            .metrics
            .decided(signed.decision == Decision::Approve, now - txn.created_at),
        DecideOutcome::NonceRejected => return Err(Refusal::NonceReplayed),
        DecideOutcome::NotPending => return Err(Refusal::from_phase(Phase::Approved)),
    }
    if write.delivery.is_some() {
        state.deliveries.notify_one();
    }
    // The user's other devices drop the request from their inboxes.
    state.publish(&wakeup::inbox_topic(&txn.user_id)).await;
    if signed.decision == Decision::Deny && signed.reason.as_deref() == Some("fraud") {
        // The user says they did not start this: a failed attempt.
        let locked = state
            .store
            .record_failed_attempt(
                Some(&device.id),
                Some(&txn.user_id),
                failed_on(state, txn, "reported_fraud"),
                state.lockout,
            )
            .await?;
        users::audit_lockouts(state, Some(&device.id), Some(&txn.user_id), locked, "reported_fraud").await?;
    }
    tracing::info!(device_id = %device.id, transaction_id = %txn.id, decision = signed.decision.as_str(), "decision recorded");
    Ok(signed.decision)
}

/// Whether `presented` is the hash of the user's registered, not rejected,
/// driver's licence (compared in constant time).
async fn document_matches(state: &AppState, txn: &Transaction, presented: Option<&str>) -> Result<bool, Refusal> {
    let Some(presented) = presented else {
        return Ok(false);
    };
    let doc = state
        .store
        .identity_document(txn.user_id.as_str(), DocumentKind::DriverLicense)
        .await?;
    Ok(doc.is_some_and(|d| {
        d.status != DocumentStatus::Rejected && bool::from(d.hash.as_bytes().ct_eq(presented.as_bytes()))
    }))
}

/// A refusal that counts as a failed attempt of the device and the user,
/// and may lock either.
async fn failed(state: &AppState, device: &Device, txn: &Transaction, refusal: Refusal) -> Refusal {
    let counted = state
        .store
        .record_failed_attempt(
            Some(&device.id),
            Some(&txn.user_id),
            failed_on(state, txn, refusal.code()),
            state.lockout,
        )
        .await;
    crate::engine::metrics::Metrics::inc(&state.metrics.failed_attempts);
    let locked = match counted {
        Ok(locked) => locked,
        Err(e) => return Refusal::Store(e),
    };
    tracing::warn!(device_id = %device.id, transaction_id = %txn.id, reason = refusal.code(), device_locked = locked.0, user_locked = locked.1, "failed device attempt");
    match users::audit_lockouts(state, Some(&device.id), Some(&txn.user_id), locked, refusal.code()).await {
        Ok(()) => refusal,
        Err(e) => Refusal::Store(e),
    }
}

fn failed_on<'a>(state: &AppState, txn: &'a Transaction, reason: &'static str) -> Option<FailedOn<'a>> {
    Some(FailedOn {
        transaction_id: txn.id.as_str(),
        reason,
        at_ms: state.clock.now_ms(),
    })
}
