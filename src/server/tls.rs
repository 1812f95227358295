//! https served by trustid itself (rustls). The pair is read again on
//! SIGHUP and when either file changes (checked every [`RELOAD_CHECK`]),
//! without dropping connections: each handshake takes the pair current at
//! that moment, open connections keep theirs. A pair that does not load
//! (half-copied files, a key that is not the certificate's) is logged and
//! the previous one kept.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio_rustls::TlsAcceptor;

use crate::crypto::tls_files::{TlsFiles, provider};

/// How often the files are checked for a change.
pub const RELOAD_CHECK: Duration = Duration::from_secs(5);

/// The pair handshakes use now.
#[derive(Debug)]
pub struct Certificates {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
}

impl Certificates {
    pub fn load(files: TlsFiles) -> anyhow::Result<Arc<Self>> {
        let pair = files.load().map_err(|e| anyhow::anyhow!("invalid setting `{e}`"))?;
        Ok(Arc::new(Self {
            files,
            current: RwLock::new(Arc::new(pair)),
        }))
    }

    /// Reads the files again; on failure the current pair stays.
    fn reload(&self) -> Result<(), String> {
        let pair = Arc::new(self.files.load().map_err(|e| e.to_string())?);
        *self.current.write().map_err(|_| "poisoned lock".to_owned())? = pair;
        Ok(())
    }

    /// `serve`'s acceptor: TLS 1.2 and 1.3, HTTP/2 or HTTP/1.1 by ALPN.
    pub fn acceptor(self: &Arc<Self>) -> anyhow::Result<TlsAcceptor> {
        let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .context("TLS configuration")?
            .with_no_client_auth()
            .with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|pair| pair.clone())
    }
}

/// Reloads `certificates` on SIGHUP and when their files change, for as
/// long as the process runs. Without TLS a SIGHUP is only logged: its
/// default action would kill the process (`systemctl reload` sends it).
pub fn spawn_reloader(certificates: Option<Arc<Certificates>>) -> anyhow::Result<()> {
    use tokio::signal::unix::{SignalKind, signal};
    let mut hangup = signal(SignalKind::hangup()).context("cannot listen for SIGHUP")?;
    tokio::spawn(async move {
        let Some(certificates) = certificates else {
            while hangup.recv().await.is_some() {
                tracing::info!("SIGHUP: nothing to reload (no tls_certificate)");
            }
            return;
        };
        let mut seen = certificates.files.stamp();
        let mut tick = tokio::time::interval(RELOAD_CHECK);
        loop {
            let why = tokio::select! {
                _ = hangup.recv() => "SIGHUP",
                _ = tick.tick() => match certificates.files.stamp() {
                    stamp if stamp == seen => continue,
                    _ => "the files changed",
                },
            };
            seen = certificates.files.stamp();
            let reloading = certificates.clone();
            match tokio::task::spawn_blocking(move || reloading.reload()).await {
                Ok(Ok(())) => tracing::info!(why, "TLS certificate reloaded"),
                Ok(Err(error)) => {
                    tracing::warn!(why, %error, "TLS certificate not reloaded; the previous one stays")
                }
                Err(_) => {}
            }
        }
    });
    Ok(())
}
