//! Client public keys: the registered `jwks`, or `jwks_uri` fetched and
//! cached, fetched again when a JWT names a key the cached set lacks (key
//! rotation), at most once per [`REFETCH_AFTER`] seconds per URI.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::Value;

use crate::crypto::client_cert::CertificateChain;
use crate::crypto::jwt::{self, JwtError, Verified};
use crate::domain::client::{Client, SigningAlg};
use crate::domain::url::OutboundRule;

/// A cached set is trusted this long before it is fetched again.
const CACHE_SECS: i64 = 300;
/// An unknown `kid` triggers a fetch only if the set is older than this.
const REFETCH_AFTER: i64 = 10;
const MAX_JWKS_BYTES: usize = 64 * 1024;

pub struct ClientKeys {
    http: Option<reqwest::Client>,
    rule: OutboundRule,
    cache: Mutex<HashMap<String, (i64, Arc<Value>)>>,
}

impl ClientKeys {
    /// Fetches `jwks_uri`s under `rule` (a client's URL, like a
    /// notification endpoint). A client that cannot be built fetches
    /// nothing: the default one would follow redirects and resolve anywhere.
    pub fn new(rule: &OutboundRule) -> Self {
        let http = super::outbound::client(Duration::from_secs(5), rule);
        if let Err(e) = &http {
            tracing::error!(error = %e, "cannot build the jwks_uri HTTP client; keys by URI will not verify");
        }
        Self {
            http: http.ok(),
            rule: rule.clone(),
            cache: Mutex::new(HashMap::new()),
        }
    }

    async fn fetch(&self, uri: &str, now: i64) -> Option<Arc<Value>> {
        if let Err(e) = self.rule.check(uri) {
            tracing::warn!(uri, error = %e, "jwks_uri refused");
            return None;
        }
        let res = self.http.as_ref()?.get(uri).send().await.ok()?;
        if !res.status().is_success() {
            tracing::warn!(uri, status = res.status().as_u16(), "jwks_uri fetch failed");
            return None;
        }
        let body = super::outbound::read_capped(res, MAX_JWKS_BYTES).await?;
        let set: Value = serde_json::from_slice(&body).ok()?;
        if !set.get("keys").is_some_and(Value::is_array) {
            return None;
        }
        let set = Arc::new(set);
        if let Ok(mut cache) = self.cache.lock() {
            cache.insert(uri.to_owned(), (now, set.clone()));
        }
        Some(set)
    }

    fn cached(&self, uri: &str) -> Option<(i64, Arc<Value>)> {
        self.cache.lock().ok()?.get(uri).cloned()
    }

    /// `self_signed_tls_client_auth`: whether `chain`'s certificate is one
    /// of the client's keys (`x5c`).
    pub async fn holds_certificate(&self, client: &Client, chain: &CertificateChain, now: i64) -> bool {
        let found = |set: &Value| chain.is_in_jwks(set).then_some(()).ok_or(JwtError::NoKey);
        self.with_keys(client, now, found).await.is_ok()
    }

    /// Verifies a JWT the client signed, with one of `allowed`.
    pub async fn verify(
        &self,
        client: &Client,
        token: &str,
        allowed: &[SigningAlg],
        now: i64,
    ) -> Result<Verified, JwtError> {
        self.with_keys(client, now, |set| jwt::verify(token, set, allowed))
            .await
    }

    /// `find` over the client's key set: the registered `jwks`, or the
    /// `jwks_uri` set (cached), fetched again when `find` says `NoKey` and
    /// the cached set is older than [`REFETCH_AFTER`] (the client may have
    /// rotated its keys).
    async fn with_keys<T>(
        &self,
        client: &Client,
        now: i64,
        find: impl Fn(&Value) -> Result<T, JwtError>,
    ) -> Result<T, JwtError> {
        if let Some(set) = &client.metadata.jwks {
            return find(set);
        }
        let Some(uri) = client.metadata.jwks_uri.as_deref() else {
            return Err(JwtError::NoKey);
        };
        let (fetched_at, set) = match self.cached(uri) {
            Some((at, set)) if now - at < CACHE_SECS => (at, set),
            _ => (now, self.fetch(uri, now).await.ok_or(JwtError::NoKey)?),
        };
        match find(&set) {
            Err(JwtError::NoKey) if now - fetched_at >= REFETCH_AFTER => {
                let fresh = self.fetch(uri, now).await.ok_or(JwtError::NoKey)?;
                find(&fresh)
            }
            other => other,
        }
    }
}
