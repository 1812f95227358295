//! Sends in flight, at most [`MAX`], each on its own task, and at most
//! [`PER_TARGET`] to one endpoint: a partner that hangs until the timeout
//! holds only its own sends, never the next claim of everyone else's (a
//! worker that awaited its whole batch let one hanging endpoint delay every
//! other client's ping by the timeout; one busy partner could also fill all
//! [`MAX`] places). A worker claims no more than the room left and skips the
//! endpoints at their cap; when a send ends while a worker found no room,
//! or an endpoint drops below its cap, the send wakes it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{Notify, Semaphore};

/// Sends one worker keeps in flight; a hanging partner can fill at most
/// this many, each for at most the delivery timeout.
pub const MAX: usize = 256;
/// Sends one worker keeps in flight to one endpoint.
pub const PER_TARGET: usize = 32;

pub struct InFlight {
    permits: Arc<Semaphore>,
    wake: Arc<Notify>,
    /// A claim found no room: the next send to end wakes the worker.
    starved: Arc<AtomicBool>,
    /// Sends in flight per endpoint; an endpoint with none has no entry.
    targets: Arc<Mutex<HashMap<String, usize>>>,
}

impl InFlight {
    pub fn new(wake: Arc<Notify>) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(MAX)),
            wake,
            starved: Arc::new(AtomicBool::new(false)),
            targets: Arc::default(),
        }
    }

    /// The endpoints at their cap, which a claim must skip.
    pub fn busy_targets(&self) -> Vec<String> {
        let Ok(targets) = self.targets.lock() else {
            return Vec::new();
        };
        targets
            .iter()
            .filter(|(_, n)| **n >= PER_TARGET)
            .map(|(target, _)| target.clone())
            .collect()
    }

    /// How many more sends may start now, at most `batch`.
    pub fn room(&self, batch: i64) -> i64 {
        let free = self.permits.available_permits();
        if free == 0 {
            self.starved.store(true, Ordering::Release);
        }
        i64::try_from(free).unwrap_or(i64::MAX).min(batch)
    }

    /// Runs `send` on a task of its own, holding one place (and one of
    /// `target`'s, when named) while it runs.
    pub fn spawn(&self, target: Option<&str>, send: impl Future<Output = ()> + Send + 'static) {
        // Callers claim no more than `room`; were there none, the send runs
        // anyway (it is claimed) and only the count is off by one.
        let place = self.permits.clone().try_acquire_owned().ok();
        let target = target.map(str::to_owned);
        if let (Some(target), Ok(mut targets)) = (&target, self.targets.lock()) {
            *targets.entry(target.clone()).or_default() += 1;
        }
        let (wake, starved, targets) = (self.wake.clone(), self.starved.clone(), self.targets.clone());
        tokio::spawn(async move {
            send.await;
            drop(place);
            let mut freed_target = false;
            if let (Some(target), Ok(mut targets)) = (target, targets.lock())
                && let Some(n) = targets.get_mut(&target)
            {
                freed_target = *n == PER_TARGET;
                *n -= 1;
                if *n == 0 {
                    targets.remove(&target);
                }
            }
            if starved.swap(false, Ordering::AcqRel) || freed_target {
                wake.notify_one();
            }
        });
    }

    /// Waits until every send started has ended (draining).
    pub async fn settled(&self) {
        let all = u32::try_from(MAX).unwrap_or(u32::MAX);
        let _ = self.permits.acquire_many(all).await;
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn room_shrinks_while_sends_run_and_a_starved_worker_is_woken() {
        let wake = Arc::new(Notify::new());
        let in_flight = InFlight::new(wake.clone());
        assert_eq!(in_flight.room(32), 32);
        let (release, hold) = tokio::sync::watch::channel(false);
        for _ in 0..MAX {
            let mut hold = hold.clone();
            in_flight.spawn(None, async move {
                let _ = hold.wait_for(|go| *go).await;
            });
        }
        assert_eq!(in_flight.room(32), 0, "full");
        let woken = wake.notified();
        release.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), woken)
            .await
            .expect("a starved worker is woken when a send ends");
        tokio::time::timeout(Duration::from_secs(5), in_flight.settled())
            .await
            .expect("settled once every send ended");
        assert_eq!(in_flight.room(32), 32);
    }

    #[tokio::test]
    async fn an_endpoint_at_its_cap_is_busy_until_one_of_its_sends_ends() {
        let wake = Arc::new(Notify::new());
        let in_flight = InFlight::new(wake.clone());
        let (release, hold) = tokio::sync::watch::channel(false);
        for _ in 0..PER_TARGET {
            let mut hold = hold.clone();
            in_flight.spawn(Some("https://hangs.example/cb"), async move {
                let _ = hold.wait_for(|go| *go).await;
            });
        }
        // Held too, so the count does not depend on when its task runs.
        let mut fine_hold = hold.clone();
        in_flight.spawn(Some("https://fine.example/cb"), async move {
            let _ = fine_hold.wait_for(|go| *go).await;
        });
        assert_eq!(in_flight.busy_targets(), ["https://hangs.example/cb"]);
        assert_eq!(
            in_flight.room(MAX as i64),
            (MAX - PER_TARGET - 1) as i64,
            "the others have room"
        );
        let woken = wake.notified();
        release.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(5), woken)
            .await
            .expect("woken once the endpoint drops below its cap");
        in_flight.settled().await;
        assert!(in_flight.busy_targets().is_empty());
    }
}
