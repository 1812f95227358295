//! Ping and push delivery to relying parties (CIBA §10.2, §10.3, §12).
//! A decision writes what is owed to the outbox in the same database
//! transaction; this worker sends it, leasing each row so that several
//! workers (or instances) never send one twice, and wakes the moment a
//! decision is recorded.

pub mod devices;
pub mod in_flight;
pub mod owed;
pub mod payload;
pub mod send;

use std::sync::Arc;
use std::time::Duration;

use crate::domain::delivery::{DeliveryKind, DeliveryOutcome};
use crate::engine::AppState;
use crate::engine::metrics::Metrics;
use in_flight::InFlight;

/// A leased row belongs to its worker this long (ms); longer than a send.
const LEASE_MS: i64 = 60_000;
const BATCH: i64 = 32;
/// How often an idle worker looks for retries that came due.
const IDLE_TICK: Duration = Duration::from_millis(250);

/// When a failed attempt is tried again: exponential backoff from `first_ms`
/// (at most 30 s), or `None` once that would reach `give_up_at` (ms), so
/// that retries stop when the request expires. Shared by the outbox and the
/// device pushes.
pub fn retry_at(first_ms: i64, attempts: i64, now_ms: i64, give_up_at: i64) -> Option<i64> {
    const MAX_BACKOFF_MS: i64 = 30_000;
    let at = now_ms + (first_ms << (attempts - 1).clamp(0, 16)).min(MAX_BACKOFF_MS);
    (at < give_up_at).then_some(at)
}

/// Runs the delivery worker, and the device push worker beside it, until
/// draining begins.
pub fn spawn_worker(state: AppState) -> Workers {
    let devices = devices::spawn_worker(state.clone());
    let timeout = state.delivery_timeout;
    let notifications = tokio::spawn(async move {
        // A client that cannot be built (no TLS roots, say) would otherwise be
        // replaced by one that follows redirects and never times out.
        let sender = match send::Sender::new(timeout, &state.server.outbound) {
            Ok(sender) => Arc::new(sender),
            Err(e) => {
                tracing::error!(error = %e, "cannot build the notification HTTP client; pings and pushes stay owed");
                return;
            }
        };
        let wake = state.deliveries.clone();
        let in_flight = InFlight::new(wake.clone());
        work_loop(&wake, &state.drain, || run_once(&state, &sender, &in_flight)).await;
        in_flight.settled().await;
    });
    Workers([notifications, devices])
}

/// The two workers' tasks: both end once draining has begun and the sends
/// in flight are done.
pub struct Workers([tokio::task::JoinHandle<()>; 2]);

impl Workers {
    pub async fn finished(self) {
        for worker in self.0 {
            let _ = worker.await;
        }
    }
}

/// Runs `step` until draining begins: again at once while it says more may
/// be due (a claim came back full), else once woken through `wake` or after
/// `IDLE_TICK` (for what comes due
/// with time: retries, expiries). A step is never cut short, and the
/// workers then wait for their sends in flight: what was claimed is sent or
/// released. Shared by both workers.
pub(crate) async fn work_loop<F, Fut>(wake: &tokio::sync::Notify, drain: &super::drain::Drain, mut step: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = usize>,
{
    while !drain.is_draining() {
        // Register interest before looking, so a wake-up between an empty
        // claim and the wait is not lost.
        let woken = wake.notified();
        if step().await == 0 {
            tokio::select! {
                _ = woken => {}
                _ = tokio::time::sleep(IDLE_TICK) => {}
                () = drain.started() => {}
            }
        }
    }
}

/// How long an expiry notice is owed after the request expired (ms).
const EXPIRY_NOTICE_MS: i64 = 10 * 60 * 1000;

/// Owes push clients an `expired_token` notice for requests that expired
/// undecided. The unique outbox row per transaction makes racing sweepers safe.
/// Returns how many notices it owed.
pub async fn sweep_expired(state: &AppState) -> usize {
    let now_ms = state.clock.now_ms();
    let expired = match state.store.expired_unnotified(now_ms.div_euclid(1000), BATCH).await {
        Ok(expired) => expired,
        Err(e) => {
            tracing::error!(error = %e, "cannot look for expired requests");
            return 0;
        }
    };
    let mut owed = 0;
    for txn in expired {
        let Some(notify) = &txn.notify else { continue };
        let client = match state.store.client(&txn.client_id).await {
            Ok(Some(client)) if !client.is_disabled() => client,
            _ => continue,
        };
        let Some(target) = client.metadata.backchannel_client_notification_endpoint.as_deref() else {
            continue;
        };
        let mut delivery = payload::delivery(DeliveryKind::Push, &txn, target, notify, &payload::push_expired(notify));
        delivery.give_up_at = now_ms + EXPIRY_NOTICE_MS;
        match state.store.enqueue_delivery(&delivery, now_ms).await {
            Ok(inserted) => owed += usize::from(inserted),
            Err(e) => tracing::error!(error = %e, "cannot owe an expiry notice"),
        }
    }
    owed
}

/// Claims a batch and starts sending it, then owes the expiry notices due
/// and starts those; returns how many full batches it claimed (more may be
/// due at once). The claim comes first: a decision's relying party is
/// waiting for its ping now, and the sweep's read would only delay it. A
/// batch that came back short leaves the worker to wait for its next
/// wake-up: claiming again at once would only race the sends just started.
pub async fn run_once(state: &AppState, sender: &Arc<send::Sender>, in_flight: &InFlight) -> usize {
    let mut full = claim_and_send(state, sender, in_flight).await;
    if sweep_expired(state).await > 0 {
        full += claim_and_send(state, sender, in_flight).await;
    }
    full
}

/// Claims as many as there is room for and starts sending each; 1 when the
/// claim came back full, else 0.
async fn claim_and_send(state: &AppState, sender: &Arc<send::Sender>, in_flight: &InFlight) -> usize {
    let room = in_flight.room(BATCH);
    if room == 0 {
        return 0;
    }
    let now = state.clock.now_ms();
    let busy = in_flight.busy_targets();
    let batch = match state.store.claim_deliveries(now, now + LEASE_MS, room, &busy).await {
        Ok(batch) => batch,
        Err(e) => {
            tracing::error!(error = %e, "cannot claim deliveries");
            return 0;
        }
    };
    let full = usize::from(batch.len() as i64 == room);
    for delivery in batch {
        let state = state.clone();
        let sender = sender.clone();
        let target = delivery.target.clone();
        in_flight.spawn(Some(&target), async move {
            let outcome = sender.send(&delivery, state.clock.now_ms()).await;
            match &outcome {
                DeliveryOutcome::Done => Metrics::inc(&state.metrics.deliveries_done),
                DeliveryOutcome::Failed(why) => {
                    Metrics::inc(&state.metrics.deliveries_failed);
                    tracing::warn!(transaction_id = %delivery.transaction_id, kind = delivery.kind.as_str(), why, "delivery failed");
                }
                DeliveryOutcome::Retry { error, .. } => {
                    Metrics::inc(&state.metrics.deliveries_retried);
                    tracing::info!(transaction_id = %delivery.transaction_id, error, "delivery will be retried");
                }
            }
            if let Err(e) = state.store.finish_delivery(&delivery, &outcome, state.clock.now_ms()).await {
                tracing::error!(error = %e, "cannot record a delivery outcome");
            }
        });
    }
    full
}
