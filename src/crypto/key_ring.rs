//! The signing keys an instance serves, reloaded from the keys directory
//! that instances share (`keys.rs`).

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use bytes::Bytes;

use super::keys::SigningKeys;

/// The keys an instance serves, reloaded from the shared directory so a
/// rotation reaches every instance without a restart.
pub struct KeyRing {
    dir: PathBuf,
    current: RwLock<(Arc<SigningKeys>, Bytes)>,
    /// False while a first start still generates keys ([`Self::complete`]).
    complete: tokio::sync::watch::Sender<bool>,
}

impl KeyRing {
    pub fn new(dir: PathBuf, keys: SigningKeys) -> Self {
        let jwks = Bytes::from(keys.jwks().to_string());
        Self {
            dir,
            current: RwLock::new((Arc::new(keys), jwks)),
            complete: tokio::sync::watch::Sender::new(true),
        }
    }

    /// For keys from [`SigningKeys::load_quick`] that lack some algorithm:
    /// generates the missing keys on a blocking thread, then loads them.
    /// Until then [`Self::ready`] waits, so nothing signs with, or publishes,
    /// an incomplete set.
    pub fn complete(self: &Arc<Self>, now: i64) {
        self.complete.send_replace(false);
        let ring = self.clone();
        tokio::task::spawn_blocking(move || {
            // Marked complete however this ends, a panic included: waiters
            // must never hang. On failure the error is logged and the
            // incomplete set stays: signing with a missing algorithm then
            // fails instead of waiting (the minutely reload tries again).
            struct Done(Arc<KeyRing>);
            impl Drop for Done {
                fn drop(&mut self) {
                    self.0.complete.send_replace(true);
                }
            }
            let done = Done(ring);
            done.0.reload(now);
        });
    }

    /// The keys, once every algorithm has one (at once but on a first start).
    pub async fn ready(&self) -> Arc<SigningKeys> {
        let mut complete = self.complete.subscribe();
        let _ = complete.wait_for(|done| *done).await;
        self.get()
    }

    /// The serialised JWKS, once complete.
    pub async fn ready_jwks_json(&self) -> Bytes {
        let mut complete = self.complete.subscribe();
        let _ = complete.wait_for(|done| *done).await;
        self.jwks_json()
    }

    /// False while a first start still generates keys.
    pub fn is_complete(&self) -> bool {
        *self.complete.borrow()
    }

    pub fn get(&self) -> Arc<SigningKeys> {
        match self.current.read() {
            Ok(c) => c.0.clone(),
            Err(poisoned) => poisoned.into_inner().0.clone(),
        }
    }

    /// The serialised JWKS.
    pub fn jwks_json(&self) -> Bytes {
        match self.current.read() {
            Ok(c) => c.1.clone(),
            Err(poisoned) => poisoned.into_inner().1.clone(),
        }
    }

    /// `trustid keys rotate` from inside: new keys published now, signing
    /// from `not_before`; this instance reloads at once, others within a
    /// minute. Blocking (key generation, files).
    pub fn rotate(&self, now: i64, not_before: i64) -> anyhow::Result<()> {
        SigningKeys::rotate(&self.dir, now, not_before)?;
        self.reload(now);
        Ok(())
    }

    /// `trustid keys retire KID` from inside; the signing key is refused. Blocking.
    pub fn retire(&self, kid: &str, now: i64) -> anyhow::Result<()> {
        SigningKeys::retire(&self.dir, kid, now)?;
        self.reload(now);
        Ok(())
    }

    /// Re-reads the directory; on failure the keys in use stay.
    pub fn reload(&self, now: i64) {
        match SigningKeys::load_at(&self.dir, now) {
            Ok(keys) => {
                let jwks = Bytes::from(keys.jwks().to_string());
                if let Ok(mut c) = self.current.write() {
                    *c = (Arc::new(keys), jwks);
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot reload the signing keys; keeping the current ones"),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{Value, json};

    use super::*;
    use crate::domain::client::SigningAlg;

    #[tokio::test]
    async fn a_first_start_signs_and_publishes_only_once_the_rsa_keys_exist() {
        let dir = tempfile::tempdir().unwrap();
        let (keys, incomplete) = SigningKeys::load_quick(dir.path(), 0).unwrap();
        assert!(incomplete, "only ES256 is generated on the start path");
        assert_eq!(keys.jwks()["keys"].as_array().unwrap().len(), 1);
        let ring = Arc::new(KeyRing::new(dir.path().to_path_buf(), keys));
        ring.complete(0);
        let jwks: Value = serde_json::from_slice(&ring.ready_jwks_json().await).unwrap();
        assert_eq!(
            jwks["keys"].as_array().unwrap().len(),
            3,
            "the JWKS waits for every key"
        );
        let payload = json!({"sub": "x"});
        assert!(ring.ready().await.sign_jwt(SigningAlg::RS256, &payload).is_ok());
        let (_, incomplete) = SigningKeys::load_quick(dir.path(), 0).unwrap();
        assert!(!incomplete, "a warm start has every key");
    }
}
