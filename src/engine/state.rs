//! What every handler can reach: the engine's settings sections, the store,
//! the keys, the clock, and the shared in-memory parts.

use std::sync::Arc;

use bytes::Bytes;

use super::client_keys::ClientKeys;
use super::metrics::Metrics;
use super::poll_gate::PollGate;
use super::settings::{Devices, EngineSettings, PushProviders, Requests, Server, Tokens};
use super::wakeup::Wakeups;
use crate::clock::Clock;
use crate::crypto::key_ring::KeyRing;
use crate::domain::lifecycle::{AuditEntry, Lockout};
use crate::store::{Store, StoreError};

/// Cloned for every request (axum's `State`): one reference count, not one
/// per field.
#[derive(Clone)]
pub struct AppState(Arc<Shared>);

impl std::ops::Deref for AppState {
    type Target = Shared;

    fn deref(&self) -> &Shared {
        &self.0
    }
}

pub struct Shared {
    pub server: Server,
    pub tokens: Tokens,
    pub requests: Requests,
    pub devices: Devices,
    pub lockout: Lockout,
    /// Time a notification endpoint or push provider has to answer.
    pub delivery_timeout: std::time::Duration,
    pub push: PushProviders,
    pub registration_access_token: Option<String>,
    pub store: Arc<dyn Store>,
    /// The signing keys, reloaded from the shared keys directory.
    pub keys: Arc<KeyRing>,
    pub clock: Arc<dyn Clock>,
    pub polls: Arc<PollGate>,
    pub client_keys: Arc<ClientKeys>,
    /// Wakes the delivery worker when a notification is owed.
    pub deliveries: Arc<tokio::sync::Notify>,
    /// Wakes the device push worker when a request owes device pushes.
    pub device_pushes: Arc<tokio::sync::Notify>,
    pub metrics: Arc<Metrics>,
    pub wakeups: Arc<Wakeups>,
    /// Discovery never changes while running: the wiring serialises it once.
    pub discovery_json: Bytes,
    /// The console dashboard's counts, read once for every open dashboard.
    pub dashboard: super::dashboard::CountsCache,
    /// What `/metrics` reads from the database, read once for every scrape.
    pub scraped: super::dashboard::ScrapeCache,
    /// Set when the process is told to stop: waits end, workers finish.
    pub drain: super::drain::Drain,
    /// The long-polls and event streams devices hold open, capped.
    pub open_waits: Arc<super::waits::OpenWaits>,
    /// Failed client authentications per client and address.
    pub auth_failures: super::auth_failures::AuthFailures,
    /// Each client's adaptive rules, briefly cached.
    pub risk_rules: super::risk::RulesCache,
}

impl AppState {
    pub fn new(
        settings: EngineSettings,
        store: Arc<dyn Store>,
        keys: KeyRing,
        clock: Arc<dyn Clock>,
        discovery_json: Bytes,
    ) -> Self {
        let wakeups = Arc::new(Wakeups::default());
        store.listen(wakeups.clone());
        let EngineSettings {
            server,
            tokens,
            requests,
            devices,
            lockout,
            delivery_timeout,
            push,
            registration_access_token,
            client_auth_failures_per_address,
        } = settings;
        let client_keys = Arc::new(ClientKeys::new(&server.outbound));
        Self(Arc::new(Shared {
            server,
            tokens,
            requests,
            devices,
            lockout,
            delivery_timeout,
            push,
            registration_access_token,
            store,
            keys: Arc::new(keys),
            clock,
            polls: Arc::new(PollGate::default()),
            client_keys,
            deliveries: Arc::new(tokio::sync::Notify::new()),
            device_pushes: Arc::new(tokio::sync::Notify::new()),
            metrics: Arc::new(Metrics::default()),
            wakeups,
            discovery_json,
            dashboard: Default::default(),
            scraped: Default::default(),
            drain: Default::default(),
            open_waits: Default::default(),
            auth_failures: super::auth_failures::AuthFailures::new(client_auth_failures_per_address),
            risk_rules: Default::default(),
        }))
    }

    /// [`Wakeups::wait`], ended early (false: not woken) by draining.
    pub async fn wait_for(
        &self,
        rx: &mut tokio::sync::broadcast::Receiver<String>,
        topic: &str,
        timeout: std::time::Duration,
    ) -> bool {
        tokio::select! {
            woken = Wakeups::wait(rx, topic, timeout) => woken,
            () = self.drain.started() => false,
        }
    }

    /// Wakes local waiters on `topic` and, through the database, other
    /// instances' waiters. A hint only: failures are logged, not returned.
    pub async fn publish(&self, topic: &str) {
        self.wakeups.publish(topic);
        if let Err(e) = self.store.publish(topic).await {
            tracing::warn!(error = %e, "cannot publish a wake-up");
        }
    }

    /// Appends to the audit trail (`at` = now).
    pub async fn audit(
        &self,
        actor: String,
        action: &'static str,
        subject: String,
        detail: Option<String>,
    ) -> Result<(), StoreError> {
        let entry = AuditEntry {
            at: self.clock.now(),
            actor,
            action,
            subject,
            detail,
        };
        self.store.audit(&entry).await
    }

    /// An endpoint's absolute URL under the issuer.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.issuer_base(), path)
    }
}
