//! Signed authentication requests (CIBA §7.1.1; FAPI-CIBA §5.2.2). The
//! `request` JWT carries every authentication parameter; none may appear
//! beside it in the form. Every defect is 400 `invalid_request`.

use serde_json::Value;

use super::form::Params;
use crate::crypto::jwt::{self, JwtError};
use crate::domain::client::Client;
use crate::engine::AppState;
use crate::engine::metrics::Replay;
use crate::oidc::error::OAuthError;

/// Parameters that belong inside the request object (CIBA §7.1).
pub const AUTH_PARAMS: [&str; 11] = [
    "scope",
    "client_notification_token",
    "acr_values",
    "login_hint_token",
    "id_token_hint",
    "login_hint",
    "binding_message",
    "user_code",
    "requested_expiry",
    "request_context",
    // trustid's own: which of the user's devices are pushed (seed 004).
    "device_routing",
];

/// FAPI-CIBA: a request object lives at most an hour, and `nbf` is not older.
const FAPI_MAX_LIFETIME: i64 = 3600;
/// Any request object: `exp` at most an hour ahead.
const MAX_LIFETIME: i64 = 3600;

fn bad(why: impl Into<std::borrow::Cow<'static, str>>) -> OAuthError {
    OAuthError::invalid_request(why)
}

/// Verifies the request object and returns its parameters as a form would.
pub async fn unpack(state: &AppState, client: &Client, form: &Params, request: &str) -> Result<Params, OAuthError> {
    if let Some(outside) = AUTH_PARAMS.iter().find(|p| form.has(p)) {
        return Err(bad(format!(
            "`{outside}` must be inside the signed request, not beside it"
        )));
    }
    let Some(registered) = client.metadata.backchannel_authentication_request_signing_alg else {
        return Err(bad(
            "this client has not registered backchannel_authentication_request_signing_alg",
        ));
    };
    let header = jwt::peek_header(request).map_err(|_| bad("request is not a signed JWT"))?;
    if let Some(typ) = header.get("typ").and_then(Value::as_str)
        && !typ.eq_ignore_ascii_case("oauth-authz-req+jwt")
        && !typ.eq_ignore_ascii_case("jwt")
    {
        return Err(bad("request typ must be oauth-authz-req+jwt"));
    }
    let now = state.clock.now();
    let verified = state
        .client_keys
        .verify(client, request, &[registered], now)
        .await
        .map_err(|e| match e {
            JwtError::AlgNotAllowed(alg) => bad(format!("request must be signed with {registered}, not {alg}")),
            JwtError::Malformed => bad("request is not a signed JWT"),
            _ => bad("request signature does not verify with this client's keys"),
        })?;
    let claims = &verified.claims;
    let skew = state.devices.clock_skew;
    let issuer = [state.server.issuer.as_str(), state.server.issuer_base()];
    if !jwt::audience_contains(claims, &issuer) {
        return Err(bad("request aud must contain the issuer"));
    }
    if claims.get("iss").and_then(Value::as_str) != Some(client.id.as_str()) {
        return Err(bad("request iss must be the authenticated client's id"));
    }
    if claims
        .get("client_id")
        .is_some_and(|c| c.as_str() != Some(client.id.as_str()))
    {
        return Err(bad("request client_id must be the authenticated client's id"));
    }
    let exp = jwt::numeric(claims, "exp").ok_or_else(|| bad("request needs exp"))?;
    if exp <= now - skew {
        return Err(bad("request has expired"));
    }
    // Bounded so the jti replay record lives no longer than this either.
    if exp > now + MAX_LIFETIME {
        return Err(bad("request lives too long (exp more than an hour ahead)"));
    }
    jwt::numeric(claims, "iat").ok_or_else(|| bad("request needs iat"))?;
    let nbf = jwt::numeric(claims, "nbf").ok_or_else(|| bad("request needs nbf"))?;
    if nbf > now + skew {
        return Err(bad("request nbf is in the future"));
    }
    if client.metadata.fapi_ciba {
        if exp - nbf > FAPI_MAX_LIFETIME {
            return Err(bad("request lifetime (exp - nbf) must not exceed 60 minutes"));
        }
        if nbf < now - FAPI_MAX_LIFETIME {
            return Err(bad("request nbf is more than 60 minutes in the past"));
        }
    }
    let jti = claims
        .get("jti")
        .and_then(Value::as_str)
        .filter(|j| crate::crypto::secret::is_clean(j) && j.len() <= 256)
        .ok_or_else(|| bad("request needs a printable jti"))?;
    if !state
        .store
        .remember_once(&format!("request:{}:{jti}", client.id), exp + skew, now)
        .await?
    {
        state.metrics.replay(Replay::RequestObject, client.id.as_str());
        return Err(bad("request jti was used before"));
    }
    let mut params = Params::default();
    for name in AUTH_PARAMS {
        let value = match claims.get(name) {
            None | Some(Value::Null) => continue,
            Some(Value::String(s)) if s.contains('\0') => {
                return Err(bad(format!("`{name}` in the request contains a NUL byte")));
            }
            Some(Value::String(s)) => s.clone(),
            // CIBA §7.1.1: requested_expiry may be a JSON number.
            Some(Value::Number(n)) if name == "requested_expiry" => n.to_string(),
            Some(Value::Object(_)) if name == "request_context" => continue,
            Some(_) => return Err(bad(format!("`{name}` in the request must be a string"))),
        };
        params.insert(name, value);
    }
    Ok(params)
}

/// FAPI-CIBA requires signed requests; others may send either.
pub fn require_signed(client: &Client) -> Result<(), OAuthError> {
    if client.metadata.fapi_ciba {
        return Err(bad("this client must send a signed request (FAPI-CIBA)"));
    }
    Ok(())
}
