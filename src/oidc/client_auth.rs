//! Client authentication at the token and backchannel endpoints (RFC 6749
//! §2.3.1; CIBA §7.1 uses the token endpoint's methods). Every failure is
//! 401 `invalid_client`, with `WWW-Authenticate: Basic` when Basic was tried.

use axum::http::{HeaderMap, header};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::form::Params;
use crate::crypto::secret;
use crate::domain::client::{AuthMethod, Client};
use crate::error::{Challenge, OAuthError};
use crate::state::AppState;

struct Presented {
    id: String,
    secret: String,
    method: AuthMethod,
}

fn presented(headers: &HeaderMap, form: &Params) -> Result<Presented, OAuthError> {
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("basic"))
        .map(|(_, creds)| creds.trim());
    if let Some(creds) = basic {
        let fail = || {
            OAuthError::invalid_client("malformed Basic credentials")
                .with_challenge(Challenge::Basic)
        };
        if form.has("client_secret") || form.has("client_assertion") {
            return Err(OAuthError::invalid_request(
                "use exactly one client authentication method",
            ));
        }
        let decoded = STANDARD.decode(creds).map_err(|_| fail())?;
        let text = String::from_utf8(decoded).map_err(|_| fail())?;
        let (id, secret) = text.split_once(':').ok_or_else(fail)?;
        // RFC 6749 §2.3.1: both halves are form-encoded before base64.
        let decode = |s: &str| {
            form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        let (id, secret) = (
            decode(id).unwrap_or_default(),
            decode(secret).unwrap_or_default(),
        );
        if let Some(form_id) = form.get("client_id")
            && form_id != id
        {
            return Err(OAuthError::invalid_client(
                "client_id does not match the Basic credentials",
            )
            .with_challenge(Challenge::Basic));
        }
        return Ok(Presented {
            id,
            secret,
            method: AuthMethod::ClientSecretBasic,
        });
    }
    if form.has("client_assertion") {
        return Err(OAuthError::invalid_client(
            "client assertions are not supported; use client_secret_basic or client_secret_post",
        ));
    }
    match (form.get("client_id"), form.get("client_secret")) {
        (Some(id), Some(secret)) => Ok(Presented {
            id: id.to_owned(),
            secret: secret.to_owned(),
            method: AuthMethod::ClientSecretPost,
        }),
        _ => Err(
            OAuthError::invalid_client("client authentication is required")
                .with_challenge(Challenge::Basic),
        ),
    }
}

/// Returns the authenticated client, or `invalid_client`.
pub async fn authenticate(
    state: &AppState,
    headers: &HeaderMap,
    form: &Params,
) -> Result<Client, OAuthError> {
    let p = presented(headers, form)?;
    let challenge = match p.method {
        AuthMethod::ClientSecretBasic => Challenge::Basic,
        AuthMethod::ClientSecretPost => Challenge::None,
    };
    let refuse = |why: &'static str| OAuthError::invalid_client(why).with_challenge(challenge);
    let Some(client) = state.store.client(&p.id).await? else {
        // Hash anyway so an unknown id costs what a wrong secret costs.
        let _ = secret::matches_digest(&p.secret, "");
        return Err(refuse("client authentication failed"));
    };
    if !secret::matches_digest(&p.secret, &client.secret_digest) {
        return Err(refuse("client authentication failed"));
    }
    if client.auth_method != p.method {
        return Err(refuse(match client.auth_method {
            AuthMethod::ClientSecretBasic => "this client is registered for client_secret_basic",
            AuthMethod::ClientSecretPost => "this client is registered for client_secret_post",
        }));
    }
    Ok(client)
}
