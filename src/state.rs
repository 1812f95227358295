//! What every handler can reach.

use std::sync::Arc;

use axum::body::Bytes;

use crate::clock::Clock;
use crate::config::Settings;
use crate::crypto::keys::{KeyRing, SigningKeys};
use crate::metrics::Metrics;
use crate::oidc::client_keys::ClientKeys;
use crate::oidc::poll_gate::PollGate;
use crate::store::Store;

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
    pub settings: Arc<Settings>,
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
    pub wakeups: Arc<crate::wakeup::Wakeups>,
    /// Discovery and JWKS never change while running: serialised once.
    pub discovery_json: Bytes,
}

impl AppState {
    pub fn new(settings: Settings, store: Arc<dyn Store>, keys: SigningKeys, clock: Arc<dyn Clock>) -> Self {
        let keys_dir = settings.keys_dir.clone();
        let discovery_json = Bytes::from(crate::capabilities::discovery(&settings).to_string());
        let wakeups = Arc::new(crate::wakeup::Wakeups::default());
        store.listen(wakeups.clone());
        Self(Arc::new(Shared {
            settings: Arc::new(settings),
            store,
            keys: Arc::new(KeyRing::new(keys_dir, keys)),
            clock,
            polls: Arc::new(PollGate::default()),
            client_keys: Arc::new(ClientKeys::default()),
            deliveries: Arc::new(tokio::sync::Notify::new()),
            device_pushes: Arc::new(tokio::sync::Notify::new()),
            metrics: Arc::new(Metrics::default()),
            wakeups,
            discovery_json,
        }))
    }

    /// Wakes local waiters on `topic` and, through the database, other
    /// instances' waiters. A hint only: failures are logged, not returned.
    pub async fn publish(&self, topic: &str) {
        self.wakeups.publish(topic);
        if let Err(e) = self.store.publish(topic).await {
            tracing::warn!(error = %e, "cannot publish a wake-up");
        }
    }

    /// An endpoint's absolute URL under the issuer.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.settings.issuer_base(), path)
    }
}
