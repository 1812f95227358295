//! What a decided transaction owes a ping or push client: the notification,
//! and for a push approval the tokens it carries (the transaction is then
//! consumed at once, since a push client never redeems its `auth_req_id`).

use crate::domain::client::DeliveryMode;
use crate::domain::delivery::{Delivery, DeliveryKind};
use crate::domain::ids::DeviceId;
use crate::domain::token::Issued;
use crate::domain::transaction::{Decision, Status, Transaction};
use crate::engine::AppState;
use crate::engine::delivery::payload;
use crate::engine::issue::{self, Mint};
use crate::engine::metrics::Metrics;

pub struct Owed {
    pub delivery: Delivery,
    /// The status to store instead of the decision's own (push approvals).
    pub outcome: Option<Status>,
    pub issued: Option<Issued>,
}

/// The notification owed for `decision` on `txn` by `device_id`, if its
/// client is notified. `txn` is the transaction as it was before deciding.
pub async fn for_decision(
    state: &AppState,
    txn: &Transaction,
    device_id: &DeviceId,
    decision: Decision,
    now: i64,
) -> anyhow::Result<Option<Owed>> {
    let Some(notify) = &txn.notify else {
        return Ok(None);
    };
    let client = state
        .store
        .client(&txn.client_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("transaction names a missing client"))?;
    // A disabled client is owed nothing: no ping, and no tokens pushed to it.
    if client.is_disabled() {
        return Ok(None);
    }
    let kind = match client.delivery_mode() {
        DeliveryMode::Push => DeliveryKind::Push,
        _ => DeliveryKind::Ping,
    };
    let Some(target) = client.metadata.backchannel_client_notification_endpoint.as_deref() else {
        return Ok(None);
    };
    if kind == DeliveryKind::Ping || decision == Decision::Deny {
        let body = payload::for_decision(kind, decision, notify, None);
        return Ok(Some(Owed {
            delivery: payload::delivery(kind, txn, target, notify, &body),
            outcome: None,
            issued: None,
        }));
    }
    let approved = Transaction {
        status: Status::Approved,
        decided_at: Some(now),
        device_id: Some(device_id.clone()),
        ..txn.clone()
    };
    let mint = Mint {
        transaction: &approved,
        auth_req_id: Some(&notify.auth_req_id),
        scope: &txn.scope,
        refresh_family: None,
        // Registration refuses certificate-bound tokens to push clients.
        certificate_thumbprint: None,
    };
    let minted = issue::mint(state, &client, &mint).await?;
    Metrics::inc(&state.metrics.tokens_issued);
    let body = payload::for_decision(kind, decision, notify, Some(&minted.response));
    Ok(Some(Owed {
        delivery: payload::delivery(kind, txn, target, notify, &body),
        outcome: Some(Status::Consumed),
        issued: Some(minted.issued),
    }))
}

/// The notification owed when trustid ends an open request itself (the user
/// was unregistered): a ping, or a push of `transaction_failed`.
pub async fn for_failure(state: &AppState, txn: &Transaction) -> anyhow::Result<Option<Delivery>> {
    let Some(notify) = &txn.notify else {
        return Ok(None);
    };
    let Some(client) = state.store.client(&txn.client_id).await? else {
        return Ok(None);
    };
    // A disabled client is told nothing.
    if client.is_disabled() {
        return Ok(None);
    }
    let Some(target) = client.metadata.backchannel_client_notification_endpoint.as_deref() else {
        return Ok(None);
    };
    let (kind, body) = match client.delivery_mode() {
        DeliveryMode::Push => (DeliveryKind::Push, payload::push_failed(notify)),
        _ => (DeliveryKind::Ping, payload::ping(notify)),
    };
    Ok(Some(payload::delivery(kind, txn, target, notify, &body)))
}
