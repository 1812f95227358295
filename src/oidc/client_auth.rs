//! Client authentication at the token, backchannel, introspection and
//! revocation endpoints (RFC 6749 §2.3.1, RFC 7523 `private_key_jwt`, RFC
//! 8705 TLS client certificates; CIBA §7.1 uses the token endpoint's
//! methods). Every failure, a disabled client's too, is 401
//! `invalid_client`, with `WWW-Authenticate: Basic` when Basic was tried.

use std::sync::Arc;

use axum::http::{HeaderMap, StatusCode, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::form::Params;
use crate::crypto::client_cert::CertificateChain;
use crate::crypto::jwt::{self, JwtError};
use crate::crypto::secret;
use crate::domain::client::{AuthMethod, Client, SigningAlg};
use crate::engine::AppState;
use crate::engine::metrics::{Metrics, Replay};
use crate::http::client_address::ClientAddress;
use crate::http::client_certificate::PresentedCertificate;
use crate::http::paths::{BACKCHANNEL_PATH, INTROSPECT_PATH, REVOKE_PATH, TOKEN_PATH};
use crate::oidc::error::{Challenge, ErrorCode, OAuthError};

pub const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
/// A client assertion may not live longer than this (seconds).
const MAX_ASSERTION_LIFETIME: i64 = 3600;

enum Presented {
    Secret {
        id: String,
        secret: String,
        method: AuthMethod,
    },
    Assertion {
        jwt: String,
    },
    /// Only a `client_id`: the TLS client certificate is the proof (RFC 8705 §2).
    Certificate {
        id: String,
    },
}

impl Presented {
    /// The client the credentials claim to be (unverified).
    fn claimed_client(&self) -> Option<String> {
        match self {
            Presented::Secret { id, .. } | Presented::Certificate { id } => Some(id.clone()),
            Presented::Assertion { jwt } => jwt::peek_claims(jwt)
                .ok()?
                .get("iss")?
                .as_str()
                .filter(|iss| secret::is_clean(iss))
                .map(str::to_owned),
        }
    }
}

fn basic_credentials(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, creds)| creds.trim())
}

/// What the request presents; a lone `client_id` stands for a certificate
/// only where the server takes certificates (`mtls`).
fn presented(headers: &HeaderMap, form: &Params, mtls: bool) -> Result<Presented, OAuthError> {
    let basic = basic_credentials(headers);
    let methods = [basic.is_some(), form.has("client_secret"), form.has("client_assertion")];
    if methods.iter().filter(|m| **m).count() > 1 {
        return Err(OAuthError::invalid_request(
            "use exactly one client authentication method",
        ));
    }
    if let Some(creds) = basic {
        let fail = || OAuthError::invalid_client("malformed Basic credentials").with_challenge(Challenge::Basic);
        let decoded = STANDARD.decode(creds).map_err(|_| fail())?;
        let text = String::from_utf8(decoded).map_err(|_| fail())?;
        let (id, secret) = text.split_once(':').ok_or_else(fail)?;
        // RFC 6749 §2.3.1: both halves are form-encoded before base64.
        let decode = |s: &str| {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
                .unwrap_or_default()
        };
        let (id, secret) = (decode(id), decode(secret));
        if !secret::is_clean(&id) || secret.contains('\0') {
            return Err(fail());
        }
        if form.get("client_id").is_some_and(|form_id| form_id != id) {
            return Err(
                OAuthError::invalid_client("client_id does not match the Basic credentials")
                    .with_challenge(Challenge::Basic),
            );
        }
        return Ok(Presented::Secret {
            id,
            secret,
            method: AuthMethod::ClientSecretBasic,
        });
    }
    if let Some(jwt) = form.get("client_assertion") {
        if form.get("client_assertion_type") != Some(JWT_BEARER) {
            return Err(OAuthError::invalid_client(format!(
                "client_assertion_type must be {JWT_BEARER}"
            )));
        }
        return Ok(Presented::Assertion { jwt: jwt.to_owned() });
    }
    match (form.get("client_id"), form.get("client_secret")) {
        (Some(id), Some(secret)) => Ok(Presented::Secret {
            id: id.to_owned(),
            secret: secret.to_owned(),
            method: AuthMethod::ClientSecretPost,
        }),
        (Some(id), None) if mtls && secret::is_clean(id) => Ok(Presented::Certificate { id: id.to_owned() }),
        _ => Err(OAuthError::invalid_client("client authentication is required").with_challenge(Challenge::Basic)),
    }
}

/// Returns the authenticated client, or `invalid_client`; a disabled
/// client is refused once it has proved who it is, so only it learns why.
/// Failures are counted by client and address (`engine::auth_failures`):
/// after a few each answer comes later, and an address that failed too
/// often is refused (429) without its credentials being looked at.
pub async fn authenticate(
    state: &AppState,
    from: &ClientAddress,
    headers: &HeaderMap,
    certificate: &PresentedCertificate,
    form: &Params,
) -> Result<Arc<Client>, OAuthError> {
    let now = state.clock.now();
    if let Some(wait) = state.auth_failures.refused(&from.throttle_key, now) {
        Metrics::inc(&state.metrics.client_auth_refused);
        let mut refused = OAuthError::invalid_client("too many failed client authentications from this address")
            .with_status(StatusCode::TOO_MANY_REQUESTS);
        refused.retry_after = Some(u32::try_from(wait).unwrap_or(u32::MAX));
        return Err(refused);
    }
    let (claimed, verified) = match presented(headers, form, state.server.mtls.support.certificates) {
        Ok(presented) => (
            presented.claimed_client(),
            verify(state, presented, certificate.chain(), form).await,
        ),
        Err(e) => (None, Err(e)),
    };
    match verified {
        Err(e) if e.code == ErrorCode::InvalidClient => {
            failed(state, claimed, from, now).await;
            Err(e)
        }
        other => other,
    }
}

async fn verify(
    state: &AppState,
    presented: Presented,
    certificate: Option<&CertificateChain>,
    form: &Params,
) -> Result<Arc<Client>, OAuthError> {
    let (client, challenge) = match presented {
        Presented::Secret { id, secret, method } => {
            let challenge = match method {
                AuthMethod::ClientSecretBasic => Challenge::Basic,
                _ => Challenge::None,
            };
            (by_secret(state, &id, &secret, method).await?, challenge)
        }
        Presented::Assertion { jwt } => (by_assertion(state, &jwt, form.get("client_id")).await?, Challenge::None),
        Presented::Certificate { id } => (
            super::client_certificate_auth::by_certificate(state, &id, certificate).await?,
            Challenge::None,
        ),
    };
    if client.is_disabled() {
        return Err(OAuthError::invalid_client("this client is disabled").with_challenge(challenge));
    }
    Ok(client)
}

/// Counts a failure (per client only for a registered one: a stranger's
/// made-up ids must not fill the table), audits the moment a client or an
/// address starts being slowed or refused, and holds the answer.
async fn failed(state: &AppState, claimed: Option<String>, from: &ClientAddress, now: i64) {
    Metrics::inc(&state.metrics.client_auth_failed);
    let registered = match claimed {
        Some(id) => state.store.client(&id).await.ok().flatten().map(|_| id),
        None => None,
    };
    let counted = state
        .auth_failures
        .failed(registered.as_deref(), &from.throttle_key, now);
    let address = format!("address:{}", from.address);
    let crossings = [
        (
            counted.client_slowed,
            "client_auth.slowed",
            registered.map(|id| format!("client:{id}")),
        ),
        (counted.address_slowed, "client_auth.slowed", Some(address.clone())),
        (counted.address_refused, "client_auth.refused", Some(address)),
    ];
    for (crossed, action, subject) in crossings {
        let Some(subject) = subject.filter(|_| crossed) else {
            continue;
        };
        tracing::warn!(action, subject, "client authentication failures");
        let detail = Some(format!("from {}", from.address));
        if let Err(e) = state.audit("trustid".into(), action, subject, detail).await {
            tracing::warn!(error = %e, "cannot audit client authentication failures");
        }
    }
    if !counted.delay.is_zero() {
        Metrics::inc(&state.metrics.client_auth_slowed);
        tokio::time::sleep(counted.delay).await;
    }
}

pub(super) fn registered_for(method: AuthMethod) -> &'static str {
    match method {
        AuthMethod::ClientSecretBasic => "this client is registered for client_secret_basic",
        AuthMethod::ClientSecretPost => "this client is registered for client_secret_post",
        AuthMethod::PrivateKeyJwt => "this client is registered for private_key_jwt",
        AuthMethod::TlsClientAuth => "this client is registered for tls_client_auth",
        AuthMethod::SelfSignedTlsClientAuth => "this client is registered for self_signed_tls_client_auth",
    }
}

async fn by_secret(state: &AppState, id: &str, secret: &str, method: AuthMethod) -> Result<Arc<Client>, OAuthError> {
    let challenge = match method {
        AuthMethod::ClientSecretBasic => Challenge::Basic,
        _ => Challenge::None,
    };
    let refuse = |why: &'static str| OAuthError::invalid_client(why).with_challenge(challenge);
    let client = state.store.client(id).await?;
    let digest = client.as_ref().and_then(|c| c.secret_digest.as_deref()).unwrap_or("");
    // Hash even for an unknown id, so it costs what a wrong secret costs.
    let matches = secret::matches_digest(secret, digest);
    let Some(client) = client.filter(|_| matches) else {
        return Err(refuse("client authentication failed"));
    };
    if client.auth_method() != method {
        return Err(refuse(registered_for(client.auth_method())));
    }
    Ok(client)
}

/// RFC 7523 §3: `iss` = `sub` = client_id, `aud` names trustid, `exp` in the
/// future, `jti` never seen before.
async fn by_assertion(
    state: &AppState,
    assertion: &str,
    form_client_id: Option<&str>,
) -> Result<Arc<Client>, OAuthError> {
    let refuse = |why: String| OAuthError::invalid_client(why);
    let unverified = jwt::peek_claims(assertion).map_err(|_| refuse("client_assertion is not a JWT".into()))?;
    let Some(client_id) = unverified
        .get("iss")
        .and_then(|v| v.as_str())
        .filter(|i| secret::is_clean(i))
    else {
        return Err(refuse("client_assertion needs iss".into()));
    };
    if form_client_id.is_some_and(|id| id != client_id) {
        return Err(refuse("client_id does not match the client_assertion".into()));
    }
    let client = state
        .store
        .client(client_id)
        .await?
        .ok_or_else(|| refuse("client authentication failed".into()))?;
    if client.auth_method() != AuthMethod::PrivateKeyJwt {
        return Err(refuse(registered_for(client.auth_method()).into()));
    }
    let allowed: &[SigningAlg] = if client.metadata.fapi_ciba {
        &SigningAlg::FAPI
    } else {
        &SigningAlg::ALL
    };
    let now = state.clock.now();
    let verified = state
        .client_keys
        .verify(&client, assertion, allowed, now)
        .await
        .map_err(|e| match e {
            JwtError::AlgNotAllowed(alg) => refuse(format!("client_assertion alg {alg} is not accepted")),
            _ => refuse("client_assertion signature does not verify with the client's keys".into()),
        })?;
    let claims = &verified.claims;
    if claims.get("sub").and_then(|v| v.as_str()) != Some(client_id) {
        return Err(refuse("client_assertion sub must equal iss (the client_id)".into()));
    }
    let audiences = [
        state.server.issuer.as_str(),
        state.server.issuer_base(),
        &state.url(TOKEN_PATH),
        &state.url(BACKCHANNEL_PATH),
        &state.url(INTROSPECT_PATH),
        &state.url(REVOKE_PATH),
    ];
    if !jwt::audience_contains(claims, &audiences) {
        return Err(refuse(
            "client_assertion aud must be the issuer, the token or the backchannel endpoint".into(),
        ));
    }
    let exp = jwt::numeric(claims, "exp").ok_or_else(|| refuse("client_assertion needs exp".into()))?;
    let skew = state.devices.clock_skew;
    if exp <= now - skew {
        return Err(refuse("client_assertion has expired".into()));
    }
    if exp > now + MAX_ASSERTION_LIFETIME {
        return Err(refuse(
            "client_assertion lives too long (exp more than an hour ahead)".into(),
        ));
    }
    let jti = claims
        .get("jti")
        .and_then(|v| v.as_str())
        .filter(|j| secret::is_clean(j) && j.len() <= 256)
        .ok_or_else(|| refuse("client_assertion needs a printable jti".into()))?;
    let key = format!("assertion:{client_id}:{jti}");
    if !state.store.remember_once(&key, exp + skew, now).await? {
        state.metrics.replay(Replay::ClientAssertion, client_id);
        return Err(refuse("client_assertion was used before (jti replayed)".into()));
    }
    Ok(client)
}
