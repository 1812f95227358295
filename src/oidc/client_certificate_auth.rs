//! RFC 8705 §2: a client that sends only its `client_id` proves itself
//! with the TLS client certificate of the request, chained to `mtls_ca`
//! with the registered subject (`tls_client_auth`) or found in its own
//! JWKS (`self_signed_tls_client_auth`).

use std::sync::Arc;

use super::client_auth::registered_for;
use crate::crypto::client_cert::CertificateChain;
use crate::domain::client::{AuthMethod, Client};
use crate::engine::AppState;
use crate::oidc::error::{Challenge, OAuthError};

pub(super) async fn by_certificate(
    state: &AppState,
    id: &str,
    certificate: Option<&CertificateChain>,
) -> Result<Arc<Client>, OAuthError> {
    // A client of another method sent no credentials at all.
    let required = || OAuthError::invalid_client("client authentication is required").with_challenge(Challenge::Basic);
    let client = state.store.client(id).await?.ok_or_else(required)?;
    let method = client.auth_method();
    if !method.uses_certificate() {
        return Err(required());
    }
    let refuse = |why: String| OAuthError::invalid_client(why);
    let Some(chain) = certificate else {
        return Err(refuse(format!(
            "{}: present the client's TLS certificate",
            registered_for(method)
        )));
    };
    match method {
        AuthMethod::TlsClientAuth => {
            let ca = state
                .server
                .mtls
                .ca
                .as_ref()
                .ok_or_else(|| refuse("tls_client_auth is not offered: the server has no mtls_ca".into()))?;
            let subject = *client
                .metadata
                .tls_subjects()
                .first()
                .ok_or_else(|| refuse("this client registered no certificate subject".into()))?;
            ca.verify(chain, subject).map_err(|e| refuse(e.to_string()))?;
        }
        _ => {
            let now = state.clock.now();
            if !state.client_keys.holds_certificate(&client, chain, now).await {
                return Err(refuse(
                    "the TLS client certificate is not among this client's jwks certificates (x5c)".into(),
                ));
            }
        }
    }
    Ok(client)
}
