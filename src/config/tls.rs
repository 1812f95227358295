//! The TLS settings: the pair trustid serves https with, and mutual TLS.

use super::{Settings, SettingsError, invalid};
use crate::crypto::tls_files::TlsFiles;
use crate::domain::address::TrustedProxies;

impl Settings {
    /// The pair to serve https with, checked; `None` for plain HTTP.
    pub fn tls_files(&self) -> Result<Option<TlsFiles>, SettingsError> {
        let files = match (&self.tls_certificate, &self.tls_key) {
            (None, None) => return Ok(None),
            (Some(certificate), Some(key)) => TlsFiles {
                certificate: certificate.clone(),
                key: key.clone(),
            },
            (Some(_), None) => return Err(invalid("tls_key", "tls_certificate needs its key")),
            (None, Some(_)) => return Err(invalid("tls_certificate", "tls_key needs its certificate")),
        };
        files.load().map_err(|e| invalid(e.setting, e.reason))?;
        Ok(Some(files))
    }

    /// Mutual TLS needs a way for certificates to arrive, and what it
    /// names must load.
    pub(super) fn validate_mtls(&self) -> Result<(), SettingsError> {
        let header = self.mtls_certificate_header.as_deref();
        if !self.mtls {
            let proxies = !self.mtls_proxies.trim().is_empty();
            for (name, set) in [
                ("mtls_ca", self.mtls_ca.is_some()),
                ("mtls_certificate_header", header.is_some()),
                ("mtls_proxies", proxies),
            ] {
                if set {
                    return Err(invalid(name, "only means something with mtls = true"));
                }
            }
            return Ok(());
        }
        if self.tls_certificate.is_none() && header.is_none() {
            return Err(invalid(
                "mtls",
                "needs tls_certificate (trustid asks clients for certificates) or mtls_certificate_header \
                 (a proxy in front passes them)",
            ));
        }
        if let Some(header) = header {
            axum::http::HeaderName::from_bytes(header.as_bytes())
                .map_err(|_| invalid("mtls_certificate_header", "must be an HTTP header name"))?;
            // Apart from trusted_proxies: a certificate is public, so whoever
            // may set this header may claim to be any certificate client.
            if self.mtls_proxies.trim().is_empty() {
                return Err(invalid(
                    "mtls_certificate_header",
                    "is believed only from mtls_proxies, which is empty",
                ));
            }
        } else if !self.mtls_proxies.trim().is_empty() {
            return Err(invalid(
                "mtls_proxies",
                "only means something with mtls_certificate_header",
            ));
        }
        TrustedProxies::parse(&self.mtls_proxies).map_err(|e| invalid("mtls_proxies", e))?;
        if let Some(path) = &self.mtls_ca {
            crate::crypto::client_cert::ClientCa::load(path).map_err(|e| invalid("mtls_ca", e))?;
        }
        Ok(())
    }
}
