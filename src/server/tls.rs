//! https served by trustid itself (rustls). The pair is read again on
//! SIGHUP and when either file changes (checked every [`RELOAD_CHECK`]),
//! without dropping connections: each handshake takes the pair current at
//! that moment, open connections keep theirs. A pair that does not load
//! (half-copied files, a key that is not the certificate's) is logged and
//! the previous one kept.

use std::sync::{Arc, RwLock};
use std::time::Duration;

use anyhow::Context;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::WebPkiSupportedAlgorithms;
use rustls::pki_types::{CertificateDer, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
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

    /// `serve`'s acceptor: TLS 1.2 and 1.3, HTTP/2 or HTTP/1.1 by ALPN;
    /// with `mtls`, clients are asked for a certificate.
    pub fn acceptor(self: &Arc<Self>, mtls: bool) -> anyhow::Result<TlsAcceptor> {
        let builder = rustls::ServerConfig::builder_with_provider(Arc::new(provider()))
            .with_safe_default_protocol_versions()
            .context("TLS configuration")?;
        let builder = match mtls {
            true => builder.with_client_cert_verifier(Arc::new(AnyClientCertificate::new())),
            false => builder.with_no_client_auth(),
        };
        let mut config = builder.with_cert_resolver(self.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(TlsAcceptor::from(Arc::new(config)))
    }
}

impl ResolvesServerCert for Certificates {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.current.read().ok().map(|pair| pair.clone())
    }
}

/// Asks for a client certificate without requiring one, and accepts any
/// chain whose key signed the handshake: whether it proves a client is
/// decided per client after the handshake (RFC 8705: a CA for
/// `tls_client_auth`, the client's own JWKS for self-signed certificates).
#[derive(Debug)]
struct AnyClientCertificate {
    algorithms: WebPkiSupportedAlgorithms,
}

impl AnyClientCertificate {
    fn new() -> Self {
        Self {
            algorithms: provider().signature_verification_algorithms,
        }
    }
}

impl ClientCertVerifier for AnyClientCertificate {
    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
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
