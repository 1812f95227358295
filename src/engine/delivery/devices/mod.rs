//! Push to devices (seed 004): when a request is created, the
//! user's preferred device or all their active devices are woken through
//! their push channel (webhook relay, FCM or APNs). A push carries only an
//! exchange token; the device trades it, with its device proof, for the
//! inbox item. Pushes are owed in `device_pushes` (written in the request's
//! own commit), sent by this worker under a lease, retried
//! with backoff until the request is decided or expires, and withdrawn
//! once it is. The inbox stays the source of truth: a device that misses
//! every push still finds the request there.

pub mod apns;
pub mod channel;
pub mod fcm;
pub mod webhook;

use std::sync::Arc;

use crate::crypto::secret;
use crate::domain::delivery::{DevicePush, PushOutcome};
use crate::domain::device::DeviceStatus;
use crate::domain::push::PushChannel;
use crate::domain::transaction::{Status, Transaction};
use crate::engine::AppState;
use crate::store::{Store, StoreResult};
use channel::{Channels, Outgoing, SendError};

use super::in_flight::InFlight;

/// What a lease allows beyond the HTTP calls: the store reads and writes
/// around them (ms).
const LEASE_MARGIN_MS: i64 = 10_000;
const BATCH: i64 = 32;
const FIRST_BACKOFF_MS: i64 = 500;

/// Runs the device push worker until draining begins and its sends end.
pub fn spawn_worker(state: AppState) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        // Always loops, even with no usable channel: owed pushes must still
        // be withdrawn or failed, and the report must say why.
        let channels = Channels::new(&state);
        let wake = state.device_pushes.clone();
        let in_flight = InFlight::new(wake.clone());
        super::work_loop(&wake, &state.drain, || run_once(&state, &channels, &in_flight)).await;
        in_flight.settled().await;
    })
}

/// Withdraws what is no longer needed, then claims as many as there is room
/// for and starts sending them; 1 when the claim came back full (more may be
/// due at once), else 0.
pub async fn run_once(state: &AppState, channels: &Arc<Channels>, in_flight: &InFlight) -> usize {
    let now_ms = state.clock.now_ms();
    match state
        .store
        .withdraw_device_pushes(now_ms.div_euclid(1000), now_ms)
        .await
    {
        Ok(n) => count(state, &PushOutcome::Withdrawn(String::new()), n),
        Err(e) => tracing::error!(error = %e, "cannot withdraw device pushes"),
    }
    let room = in_flight.room(BATCH);
    if room == 0 {
        return 0;
    }
    let lease_until = now_ms.saturating_add(lease_ms(state.delivery_timeout));
    let batch = match state.store.claim_device_pushes(now_ms, lease_until, room).await {
        Ok(batch) => batch,
        Err(e) => {
            tracing::error!(error = %e, "cannot claim device pushes");
            return 0;
        }
    };
    let full = usize::from(batch.len() as i64 == room);
    for push in batch {
        let state = state.clone();
        let channels = channels.clone();
        in_flight.spawn(None, async move {
            let outcome = match attempt(&state, &channels, &push).await {
                Ok(outcome) => outcome,
                Err(e) => {
                    // The lease runs out and the push is tried again.
                    tracing::error!(error = %e, transaction_id = %push.transaction_id, "device push failed to run");
                    return;
                }
            };
            let now_ms = state.clock.now_ms();
            match state.store.finish_device_push(&push, &outcome, now_ms).await {
                Ok(true) => observe(&state, &push, &outcome),
                // Another worker holds it now; its outcome stands.
                Ok(false) => tracing::warn!(transaction_id = %push.transaction_id, "device push lease ran out before its outcome"),
                Err(e) => tracing::error!(error = %e, "cannot record a device push outcome"),
            }
        });
    }
    full
}

/// How long a claimed push belongs to its worker (ms): an attempt may make
/// two HTTP calls of up to `delivery_timeout` each (FCM: the access
/// token, then the message), plus the store around them.
fn lease_ms(delivery_timeout: std::time::Duration) -> i64 {
    i64::try_from(delivery_timeout.as_millis())
        .unwrap_or(i64::MAX)
        .saturating_mul(2)
        .saturating_add(LEASE_MARGIN_MS)
}

/// Counts `n` outcomes like `outcome` (one, or a bulk withdrawal): the one
/// place `trustid_device_pushes_total` moves.
fn count(state: &AppState, outcome: &PushOutcome, n: u64) {
    let m = &state.metrics;
    let counter = match outcome {
        PushOutcome::Sent(_) => &m.device_pushes_sent,
        PushOutcome::Retry { .. } => &m.device_pushes_retried,
        PushOutcome::Failed(..) => &m.device_pushes_failed,
        PushOutcome::Withdrawn(_) => &m.device_pushes_withdrawn,
    };
    counter.fetch_add(n, std::sync::atomic::Ordering::Relaxed);
}

/// Counts and logs an outcome: ids and the channel's answer, never a token.
fn observe(state: &AppState, push: &DevicePush, outcome: &PushOutcome) {
    count(state, outcome, 1);
    let error = match outcome {
        PushOutcome::Sent(_) => None,
        PushOutcome::Retry { error, .. } | PushOutcome::Failed(_, error) | PushOutcome::Withdrawn(error) => Some(error),
    };
    let (txn, device) = (&push.transaction_id, &push.device_id);
    match error {
        None => tracing::info!(transaction_id = %txn, device_id = %device, "device push sent"),
        Some(error) => tracing::info!(transaction_id = %txn, device_id = %device, error, "device push not sent"),
    }
}

/// One attempt: re-read the request and the device (either may have
/// changed since the push was owed), mint an exchange token, send.
async fn attempt(state: &AppState, channels: &Channels, push: &DevicePush) -> anyhow::Result<PushOutcome> {
    let store = &state.store;
    let now = state.clock.now();
    let Some(txn) = store.transaction(&push.transaction_id).await? else {
        return Ok(PushOutcome::Withdrawn("the request is gone".into()));
    };
    if txn.status != Status::Pending || txn.expires_at <= now {
        return Ok(PushOutcome::Withdrawn("the request was decided or expired".into()));
    }
    let device = store.device(&push.device_id).await?;
    let Some((kind, address)) = device
        .filter(|d| d.status == DeviceStatus::Active && d.user_id.as_deref() == Some(txn.user_id.as_str()))
        .and_then(|d| d.push)
    else {
        return Ok(PushOutcome::Withdrawn(
            "the device is not active or has no push channel".into(),
        ));
    };
    let channel = match channels.get(kind) {
        Ok(channel) => channel,
        Err(why) => return Ok(PushOutcome::Failed(kind, why)),
    };
    // Only the webhook channel goes through a relay: no reads for the others.
    let relay_uri = match kind {
        PushChannel::Webhook => relay_for(store.as_ref(), &txn).await?,
        _ => None,
    };
    let token = secret::random_token();
    // Checked again where it is written: the request may have been decided
    // since it was read, and nothing may go out about a decided request.
    if !store.set_push_token(push, &secret::digest(&token), now).await? {
        return Ok(PushOutcome::Withdrawn("the request was decided or expired".into()));
    }
    let outgoing = Outgoing {
        transaction_id: &txn.id,
        client_id: &txn.client_id,
        address: &address,
        push_token: &token,
        expires_at: txn.expires_at,
        now,
        relay_uri: relay_uri.as_deref(),
    };
    Ok(match channel.send(&outgoing).await {
        Ok(()) => PushOutcome::Sent(kind),
        Err(SendError::Final(error)) => PushOutcome::Failed(kind, error),
        Err(SendError::DeadAddress(error)) => {
            // Only if the device still has this address: it may have set a new one meanwhile.
            store.forget_dead_push_address(&push.device_id, &address).await?;
            PushOutcome::Failed(kind, format!("{error}; the device's push channel was cleared"))
        }
        Err(SendError::Retry(error)) => {
            match super::retry_at(FIRST_BACKOFF_MS, push.attempts, state.clock.now_ms(), push.give_up_at) {
                Some(at) => PushOutcome::Retry {
                    channel: kind,
                    at,
                    error,
                },
                None => PushOutcome::Failed(kind, format!("gave up after {} attempts: {error}", push.attempts)),
            }
        }
    })
}

/// The relay a webhook push goes through: the app's, when the request names
/// an app its own client set a relay for (several apps of one customer may
/// each run their own notification service), else the client's. Looked up
/// by the request's client, so naming another customer's appId leads only
/// to one's own relay.
async fn relay_for(store: &dyn Store, txn: &Transaction) -> StoreResult<Option<String>> {
    if let Some(app_id) = txn.app_id.as_deref()
        && let Some(uri) = store.app_push_relay(&txn.client_id, app_id).await?
    {
        return Ok(Some(uri));
    }
    Ok(store
        .client(&txn.client_id)
        .await?
        .and_then(|c| c.metadata.push_relay_uri.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_lease_outlasts_two_http_calls_and_never_overflows() {
        assert_eq!(lease_ms(Duration::from_secs(10)), 2 * 10_000 + LEASE_MARGIN_MS);
        assert_eq!(lease_ms(Duration::from_secs(60)), 2 * 60_000 + LEASE_MARGIN_MS);
        assert_eq!(lease_ms(Duration::MAX), i64::MAX);
    }
}
