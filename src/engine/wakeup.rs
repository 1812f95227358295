//! Wake-ups for waiters that must not poll the database in a loop (the
//! check-status long-poll; later the device inbox). Topics are strings such
//! as `registration:<user>`. A wake-up is only a hint: the waiter re-reads
//! the database. Across instances, PostgreSQL `NOTIFY` carries the topics
//! (`Store::publish` / `Store::listen`); SQLite runs one instance.

use crate::domain::ids::UserId;
use tokio::sync::broadcast;

#[derive(Debug)]
pub struct Wakeups {
    tx: broadcast::Sender<String>,
}

impl Default for Wakeups {
    fn default() -> Self {
        // Slow waiters may miss hints (they re-read on timeout anyway).
        let (tx, _) = broadcast::channel(1024);
        Self { tx }
    }
}

impl Wakeups {
    pub fn publish(&self, topic: &str) {
        let _ = self.tx.send(topic.to_owned());
    }

    pub fn subscribe(&self) -> broadcast::Receiver<String> {
        self.tx.subscribe()
    }

    /// Waits until `topic` is published or `timeout` passes; true if woken.
    /// Subscribe before checking the state you wait on, then call this.
    pub async fn wait(rx: &mut broadcast::Receiver<String>, topic: &str, timeout: std::time::Duration) -> bool {
        let wait = async {
            loop {
                match rx.recv().await {
                    Ok(t) if t == topic => return true,
                    Ok(_) => continue,
                    // Lagged: something may have been for us; let the caller re-read.
                    Err(broadcast::error::RecvError::Lagged(_)) => return true,
                    Err(broadcast::error::RecvError::Closed) => return false,
                }
            }
        };
        tokio::time::timeout(timeout, wait).await.unwrap_or(false)
    }
}

impl crate::store::TopicSink for Wakeups {
    fn deliver(&self, topic: &str) {
        self.publish(topic);
    }
}

/// The topic a change in a user's pending requests wakes (device inboxes).
pub fn inbox_topic(user_id: &UserId) -> String {
    format!("inbox:{user_id}")
}

/// The topic a registration's activation wakes.
pub fn registration_topic(user_id: &UserId) -> String {
    format!("registration:{user_id}")
}
