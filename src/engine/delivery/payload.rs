//! What a ping or push notification says (CIBA §10.2, §10.3, §12).

use serde_json::{Value, json};

use crate::domain::delivery::{Delivery, DeliveryKind};
use crate::domain::transaction::{Decision, Notify, Transaction};

/// Ping: exactly `{"auth_req_id"}`, approved or denied alike.
pub fn ping(notify: &Notify) -> Value {
    json!({"auth_req_id": notify.auth_req_id})
}

/// Push on denial: the error and the id it is about.
pub fn push_denied(notify: &Notify) -> Value {
    json!({
        "error": "access_denied",
        "error_description": "the user denied the request",
        "auth_req_id": notify.auth_req_id,
    })
}

/// Push on expiry (CIBA §12 `expired_token`).
pub fn push_expired(notify: &Notify) -> Value {
    json!({
        "error": "expired_token",
        "error_description": "the user did not decide before the request expired",
        "auth_req_id": notify.auth_req_id,
    })
}

/// Push when trustid ended the request itself (CIBA §12 `transaction_failed`).
pub fn push_failed(notify: &Notify) -> Value {
    json!({
        "error": "transaction_failed",
        "error_description": "the request was ended because the user was unregistered",
        "auth_req_id": notify.auth_req_id,
    })
}

/// Push on approval: the token response plus the id it answers.
pub fn push_tokens(notify: &Notify, token_response: &Value) -> Value {
    let mut body = token_response.clone();
    body["auth_req_id"] = json!(notify.auth_req_id);
    body
}

/// The outbox row for a notification about `txn`; it is owed until the
/// transaction would have expired.
pub fn delivery(kind: DeliveryKind, txn: &Transaction, target: &str, notify: &Notify, body: &Value) -> Delivery {
    Delivery {
        id: crate::domain::ids::random_id(),
        transaction_id: txn.id.clone(),
        kind,
        target: target.to_owned(),
        bearer: notify.client_notification_token.clone(),
        payload: body.to_string(),
        attempts: 0,
        give_up_at: txn.expires_at * 1000,
    }
}

/// The payload for a decision, given the token response when pushing an approval.
pub fn for_decision(kind: DeliveryKind, decision: Decision, notify: &Notify, tokens: Option<&Value>) -> Value {
    match (kind, decision, tokens) {
        (DeliveryKind::Ping, _, _) => ping(notify),
        (DeliveryKind::Push, Decision::Approve, Some(tokens)) => push_tokens(notify, tokens),
        (DeliveryKind::Push, _, _) => push_denied(notify),
    }
}
