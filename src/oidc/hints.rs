//! The three ways to name the user (CIBA §7.1): `login_hint` (the user id,
//! e-mail or phone), `login_hint_token` (a JWT from an issuer this client
//! trusts) and `id_token_hint` (an ID token trustid issued to this client).

use serde_json::Value;

use crate::crypto::jwt;
use crate::domain::client::{Client, SigningAlg};
use crate::domain::user::User;
use crate::engine::AppState;
use crate::oidc::error::OAuthError;
use crate::store::DeviceCounts;

/// The hint a request carried, exactly one of three.
pub enum UserHint {
    LoginHint(String),
    LoginHintToken(String),
    IdTokenHint(String),
}

fn unknown(why: &'static str) -> OAuthError {
    OAuthError::unknown_user_id(why)
}

/// Resolves the hint to a user, or the error CIBA §13 names for it.
pub async fn resolve(state: &AppState, client: &Client, hint: &UserHint) -> Result<User, OAuthError> {
    Ok(resolve_counting_devices(state, client, hint).await?.0)
}

/// As [`resolve`], with the user's active devices when the same read could
/// count them (not for `id_token_hint`).
pub async fn resolve_counting_devices(
    state: &AppState,
    client: &Client,
    hint: &UserHint,
) -> Result<(User, Option<DeviceCounts>), OAuthError> {
    let lookup = match hint {
        UserHint::LoginHint(hint) => hint.clone(),
        UserHint::LoginHintToken(token) => login_hint_token_subject(state, client, token)?,
        UserHint::IdTokenHint(token) => return Ok((id_token_hint_user(state, client, token).await?, None)),
    };
    let (user, devices) = state
        .store
        .user_by_hint_counting_devices(&lookup)
        .await?
        .ok_or_else(|| unknown("no user matches the hint"))?;
    Ok((user, Some(devices)))
}

fn login_hint_token_subject(state: &AppState, client: &Client, token: &str) -> Result<String, OAuthError> {
    let (Some(issuer), Some(jwks)) = (
        &client.metadata.login_hint_token_issuer,
        &client.metadata.login_hint_token_jwks,
    ) else {
        return Err(OAuthError::invalid_request(
            "this client has no trusted login_hint_token issuer registered",
        ));
    };
    let verified = jwt::verify(token, jwks, &SigningAlg::ALL)
        .map_err(|e| OAuthError::invalid_request(format!("login_hint_token refused: {e}")))?;
    let claims = &verified.claims;
    if claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str()) {
        return Err(OAuthError::invalid_request(
            "login_hint_token was not issued by the trusted issuer",
        ));
    }
    match jwt::numeric(claims, "exp") {
        Some(exp) if exp > state.clock.now() - state.devices.clock_skew => {}
        Some(_) => {
            return Err(OAuthError::new(
                crate::oidc::error::ErrorCode::ExpiredLoginHintToken,
                "login_hint_token has expired",
            ));
        }
        None => return Err(OAuthError::invalid_request("login_hint_token needs exp")),
    }
    // RFC 9493 subject identifiers (`sub_id`), or a plain `sub`.
    let subject = match claims.get("sub_id") {
        Some(sub_id) => match sub_id.get("format").and_then(Value::as_str) {
            Some("email") => sub_id.get("email"),
            Some("phone_number") => sub_id.get("phone_number"),
            Some("opaque") => sub_id.get("id"),
            Some("iss_sub") => sub_id.get("sub"),
            _ => None,
        },
        None => claims.get("sub"),
    };
    subject
        .and_then(Value::as_str)
        .filter(|s| crate::crypto::secret::is_clean(s))
        .map(str::to_owned)
        .ok_or_else(|| OAuthError::invalid_request("login_hint_token names no subject (sub or sub_id)"))
}

/// CIBA §14: issued by trustid, to this client; an expired one is accepted
/// for a configured grace period.
async fn id_token_hint_user(state: &AppState, client: &Client, token: &str) -> Result<User, OAuthError> {
    let claims = state
        .keys
        .ready()
        .await
        .verify_own(token)
        .ok_or_else(|| unknown("id_token_hint is not an ID token signed by trustid"))?;
    if claims.get("iss").and_then(Value::as_str) != Some(state.server.issuer.as_str()) {
        return Err(unknown("id_token_hint was issued by another issuer"));
    }
    if !jwt::audience_contains(&claims, &[client.id.as_str()]) {
        return Err(unknown("id_token_hint was issued to another client"));
    }
    let exp = jwt::numeric(&claims, "exp").unwrap_or(0);
    if exp + state.tokens.id_token_hint_grace <= state.clock.now() {
        return Err(unknown("id_token_hint expired too long ago"));
    }
    let sub = claims.get("sub").and_then(Value::as_str).unwrap_or_default();
    state
        .store
        .user(sub)
        .await?
        .ok_or_else(|| unknown("the user of id_token_hint no longer exists"))
}
