//! `POST /bc-authorize`: the backchannel authentication request (CIBA §7).
//! Order of checks follows §7.2: authenticate the client, validate the
//! parameters, resolve the hint, then apply policy.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::client_auth;
use super::form::{Form, Params};
use crate::crypto::secret;
use crate::domain::binding_message::{ActionContext, BindingMessage};
use crate::domain::client::{Client, DeliveryMode};
use crate::domain::scope::{self, Scope, ScopeError};
use crate::domain::transaction::{Status, Transaction};
use crate::domain::user::UserStatus;
use crate::error::OAuthError;
use crate::state::AppState;

const HINTS: [&str; 3] = ["login_hint", "login_hint_token", "id_token_hint"];

/// A backchannel request whose parameters passed validation.
struct BackchannelRequest {
    scope: Scope,
    login_hint: String,
    message: BindingMessage,
    acr: Option<String>,
    expires_in: i64,
}

impl BackchannelRequest {
    fn parse(
        p: &Params,
        client: &Client,
        max_expiry: i64,
        default_expiry: i64,
    ) -> Result<Self, OAuthError> {
        let scope = Scope::parse(p.require("scope")?).map_err(|e| match e {
            ScopeError::NoOpenId => OAuthError::invalid_scope("scope must contain openid"),
            ScopeError::Unsupported(v) => {
                OAuthError::invalid_scope(format!("scope value `{v}` is not supported"))
            }
        })?;
        let given: Vec<&str> = HINTS.into_iter().filter(|h| p.has(h)).collect();
        let login_hint = match given.as_slice() {
            [] => {
                return Err(OAuthError::invalid_request(
                    "exactly one of login_hint, login_hint_token or id_token_hint is required",
                ));
            }
            ["login_hint"] => p.require("login_hint")?.to_owned(),
            [one] => {
                return Err(OAuthError::invalid_request(format!(
                    "{one} is not supported by this server; identify the user with login_hint"
                )));
            }
            _ => {
                return Err(OAuthError::invalid_request(
                    "send only one of login_hint, login_hint_token and id_token_hint",
                ));
            }
        };
        let message = match p.get("binding_message") {
            Some(raw) => {
                BindingMessage::parse(raw).map_err(|e| OAuthError::invalid_binding_message(e.0))?
            }
            // The device must show something, and signs the hash of what it shows.
            None => BindingMessage {
                context: ActionContext::Authentication,
                app_id: None,
                display_text: format!("{} asks you to confirm it is you", client.name),
                user_status: None,
            },
        };
        let expires_in = match p.get("requested_expiry") {
            None => default_expiry,
            Some(raw) => parse_positive(raw)
                .ok_or_else(|| {
                    OAuthError::invalid_request("requested_expiry must be a positive integer")
                })?
                .min(max_expiry),
        };
        Ok(Self {
            scope,
            login_hint,
            message,
            acr: p.get("acr_values").and_then(scope::choose_acr),
            expires_in,
        })
    }
}

fn parse_positive(raw: &str) -> Option<i64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse::<i64>().ok().filter(|v| *v > 0)
}

pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Result<Response, OAuthError> {
    let client = client_auth::authenticate(&state, &headers, &params).await?;
    if params.has("request") || params.has("request_uri") {
        return Err(OAuthError::invalid_request(
            "signed authentication requests are not supported; send the parameters in the form",
        ));
    }
    if client.delivery_mode != DeliveryMode::Poll {
        return Err(OAuthError::unauthorized_client(
            "this client's token delivery mode is not supported by this server",
        ));
    }
    let s = &state.settings;
    let req = BackchannelRequest::parse(&params, &client, s.max_request_expiry, s.request_expiry)?;

    let store = &state.store;
    let user = store
        .user_by_hint(&req.login_hint)
        .await?
        .ok_or_else(|| OAuthError::unknown_user_id("no user matches login_hint"))?;
    if user.status == UserStatus::Locked {
        return Err(OAuthError::access_denied("the user is locked"));
    }
    if let (ActionContext::Authentication, Some(app)) = (req.message.context, &req.message.app_id)
        && !store.user_has_app(&user.id, app).await?
    {
        return Err(OAuthError::access_denied(format!(
            "the user is not associated with appId `{app}`"
        )));
    }
    if store.active_device_count(&user.id).await? == 0 {
        return Err(OAuthError::access_denied(
            "the user has no active device to authenticate with",
        ));
    }

    let now = state.clock.now();
    let auth_req_id = secret::random_token();
    let txn = Transaction {
        id: secret::random_id(),
        auth_req_digest: secret::digest(&auth_req_id),
        client_id: client.id.clone(),
        user_id: user.id.clone(),
        context: req.message.context,
        app_id: req.message.app_id,
        display_text: req.message.display_text,
        scope: req.scope.as_str().to_owned(),
        acr: req.acr,
        status: Status::Pending,
        created_at: now,
        expires_at: now + req.expires_in,
        decided_at: None,
        interval: s.poll_interval,
        device_id: None,
        failed_attempts: 0,
        failed_device_id: None,
    };
    store.insert_transaction(&txn).await?;
    tracing::info!(client_id = %client.id, transaction_id = %txn.id, "backchannel request accepted");
    Ok(super::no_store_json(
        StatusCode::OK,
        json!({"auth_req_id": auth_req_id, "expires_in": req.expires_in, "interval": s.poll_interval}),
    ))
}

#[cfg(test)]
mod tests {
    use super::parse_positive;

    #[test]
    fn requested_expiry_must_be_a_positive_integer() {
        assert_eq!(parse_positive("30"), Some(30));
        for bad in ["0", "-5", "1.5", "abc", "", "+3", "99999999999999999999"] {
            assert_eq!(parse_positive(bad), None, "{bad}");
        }
    }
}
