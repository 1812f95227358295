//! An operator ends an open request (the console's cancel). It ends as
//! unregistration ends one: denied by no device, its client told by its
//! mode (a poll or a ping's poll gets `access_denied`, a push client a
//! push of `transaction_failed`), its user's devices drop it from their
//! inboxes, and the audit trail names the operator.

use crate::domain::transaction::Phase;
use crate::engine::AppState;
use crate::engine::delivery::owed;
use crate::engine::users::Actor;
use crate::engine::wakeup;
use crate::store::StoreError;

/// Why a request was not cancelled; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("there is no such request")]
    Unknown,
    #[error("the request is no longer open")]
    NotOpen,
    /// Cancelled; its audit entry could not be written.
    #[error("cancelled, but the audit trail could not record it: {0}")]
    Unaudited(StoreError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

pub async fn cancel(state: &AppState, actor: &Actor, id: &str) -> Result<(), Refusal> {
    let txn = state.store.transaction(id).await?.ok_or(Refusal::Unknown)?;
    let now = state.clock.now();
    if txn.phase(now) != Phase::Pending {
        return Err(Refusal::NotOpen);
    }
    let owed = owed::for_failure(state, &txn)
        .await
        .map_err(|e| Refusal::Internal(format!("{e:#}")))?;
    if !state.store.cancel_transaction(id, now, owed.as_ref()).await? {
        return Err(Refusal::NotOpen);
    }
    if owed.is_some() {
        state.deliveries.notify_one();
    }
    state.publish(&wakeup::inbox_topic(&txn.user_id)).await;
    let subject = format!("transaction:{id}");
    state
        .audit(actor.audit_name(), "transaction.cancelled", subject, None)
        .await
        .map_err(Refusal::Unaudited)
}
