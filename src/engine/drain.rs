//! Draining: once `trustid serve` is told to stop (SIGTERM, SIGINT), waits
//! end early with their normal answer (a long-poll its "nothing new", an
//! event stream its end), the workers finish the delivery in hand and take
//! no more, and the listener stops accepting. What is owed stays in the
//! outbox for the next start.

use tokio::sync::watch;

#[derive(Debug)]
pub struct Drain(watch::Sender<bool>);

impl Default for Drain {
    fn default() -> Self {
        Self(watch::channel(false).0)
    }
}

impl Drain {
    /// Begins draining; idempotent.
    pub fn start(&self) {
        self.0.send_replace(true);
    }

    pub fn is_draining(&self) -> bool {
        *self.0.borrow()
    }

    /// Completes once draining has begun (at once if it has). Owns what it
    /// needs, so an event stream can hold it.
    pub fn started(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self.0.subscribe();
        async move {
            // The sender lives in the state, which outlives every waiter.
            let _ = rx.wait_for(|draining| *draining).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waiters_made_before_and_after_the_start_complete() {
        let drain = Drain::default();
        let before = drain.started();
        assert!(!drain.is_draining());
        let pending = tokio::time::timeout(std::time::Duration::from_millis(20), drain.started()).await;
        assert!(pending.is_err(), "nothing completes before the start");
        drain.start();
        before.await;
        drain.started().await;
        assert!(drain.is_draining());
    }
}
