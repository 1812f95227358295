//! `POST /bc-authorize`: the backchannel authentication request (CIBA §7).
//! Order of checks follows §7.2: authenticate the client, validate the signed
//! request, validate the parameters, resolve the hint, then apply policy.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::client_auth;
use super::form::{Form, Params};
use super::hints::{self, UserHint};
use super::request_object;
use crate::crypto::secret;
use crate::delivery::devices;
use crate::domain::binding_message::{ActionContext, BindingMessage};
use crate::domain::client::{Client, DeliveryMode};
use crate::domain::push::DeviceRouting;
use crate::domain::scope::{self, Scope, ScopeError};
use crate::domain::transaction::{Notify, Status, Transaction};
use crate::domain::user::{User, UserStatus};
use crate::error::OAuthError;
use crate::metrics::Metrics;
use crate::state::AppState;
use crate::store::{Limited, OwedPushes};

const HINTS: [&str; 3] = ["login_hint", "login_hint_token", "id_token_hint"];
/// CIBA §7.1: at most 1024 characters.
const MAX_NOTIFICATION_TOKEN: usize = 1024;

/// A backchannel request whose parameters passed validation.
struct BackchannelRequest {
    scope: Scope,
    hint: UserHint,
    message: BindingMessage,
    acr: Option<String>,
    expires_in: i64,
    user_code: Option<String>,
    notification_token: Option<String>,
}

impl BackchannelRequest {
    fn parse(p: &Params, client: &Client, max_expiry: i64, default_expiry: i64) -> Result<Self, OAuthError> {
        let scope = Scope::parse(p.require("scope")?).map_err(|e| match e {
            ScopeError::NoOpenId => OAuthError::invalid_scope("scope must contain openid"),
            ScopeError::Unsupported(v) => OAuthError::invalid_scope(format!("scope value `{v}` is not supported")),
        })?;
        let given: Vec<&str> = HINTS.into_iter().filter(|h| p.has(h)).collect();
        let hint = match given.as_slice() {
            [] => {
                return Err(OAuthError::invalid_request(
                    "exactly one of login_hint, login_hint_token or id_token_hint is required",
                ));
            }
            ["login_hint"] => UserHint::LoginHint(p.require("login_hint")?.to_owned()),
            ["login_hint_token"] => UserHint::LoginHintToken(p.require("login_hint_token")?.to_owned()),
            ["id_token_hint"] => UserHint::IdTokenHint(p.require("id_token_hint")?.to_owned()),
            _ => {
                return Err(OAuthError::invalid_request(
                    "send only one of login_hint, login_hint_token and id_token_hint",
                ));
            }
        };
        let message = match p.get("binding_message") {
            Some(raw) => BindingMessage::parse(raw).map_err(|e| OAuthError::invalid_binding_message(e.0))?,
            // FAPI-CIBA §5.2.2-2: a binding message ties the two devices together.
            None if client.metadata.fapi_ciba => {
                return Err(OAuthError::invalid_request(
                    "binding_message is required for this client (FAPI-CIBA)",
                ));
            }
            // The device must show something, and signs the hash of what it shows.
            None => BindingMessage {
                context: ActionContext::Authentication,
                app_id: None,
                display_text: format!("{} asks you to confirm it is you", client.name()),
                user_status: None,
            },
        };
        let expires_in = match p.get("requested_expiry") {
            None => default_expiry,
            Some(raw) => parse_positive(raw)
                .ok_or_else(|| OAuthError::invalid_request("requested_expiry must be a positive integer"))?
                .min(max_expiry),
        };
        let notification_token = match (client.delivery_mode().notifies(), p.get("client_notification_token")) {
            (false, _) => None,
            (true, None) => {
                return Err(OAuthError::invalid_request(
                    "client_notification_token is required for ping and push clients",
                ));
            }
            (true, Some(token)) if !is_b64token(token) || token.len() > MAX_NOTIFICATION_TOKEN => {
                return Err(OAuthError::invalid_request(
                    "client_notification_token must be a bearer token (RFC 6750 b64token) of at most 1024 characters",
                ));
            }
            (true, Some(token)) => Some(token.to_owned()),
        };
        let user_code = match (client.metadata.backchannel_user_code_parameter, p.get("user_code")) {
            (true, None) => return Err(OAuthError::missing_user_code("user_code is required for this client")),
            (true, Some(code)) => Some(code.to_owned()),
            (false, _) => None,
        };
        Ok(Self {
            scope,
            hint,
            message,
            acr: p.get("acr_values").and_then(scope::choose_acr),
            expires_in,
            user_code,
            notification_token,
        })
    }
}

fn parse_positive(raw: &str) -> Option<i64> {
    if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    raw.parse::<i64>().ok().filter(|v| *v > 0)
}

/// RFC 6750 §2.1: `1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="`.
fn is_b64token(token: &str) -> bool {
    let body = token.trim_end_matches('=');
    !body.is_empty()
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b))
}

pub async fn authorize(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(form): Form,
) -> Result<Response, OAuthError> {
    let client = client_auth::authenticate(&state, &headers, &form).await?;
    if form.has("request_uri") {
        return Err(OAuthError::invalid_request(
            "request_uri is not supported; send the request object by value",
        ));
    }
    let params = match form.get("request") {
        Some(request) => request_object::unpack(&state, &client, &form, request).await?,
        None => {
            request_object::require_signed(&client)?;
            form
        }
    };
    let s = &state.settings;
    let req = BackchannelRequest::parse(&params, &client, s.max_request_expiry, s.request_expiry)?;
    let routing = devices::routing(&client, params.get(devices::ROUTING_PARAM))?;
    let (user, new_user, counts) = match req.message.context {
        ActionContext::Provisioning => {
            let (user, new_user) = provision(&state, &client, &req).await?;
            (user, new_user, None)
        }
        ActionContext::Authentication => {
            let (user, counts) = hints::resolve_counting_devices(&state, &client, &req.hint).await?;
            (user, false, counts)
        }
    };
    if let Some(code) = &req.user_code {
        check_user_code(&state, &user, code).await?;
    }
    admit(&state, &client, &user, counts.map(|c| c.active), &req).await?;
    if req.message.context == ActionContext::Provisioning {
        // Only an admitted request creates its user.
        record_provisioning(&state, &client, &user, new_user, &req).await?;
    }

    // One reading: the id's time prefix, created_at and the pushes' due time agree.
    let now_ms = state.clock.now_ms();
    let now = now_ms.div_euclid(1000);
    let id = secret::transaction_id(now_ms);
    let auth_req_id = secret::auth_req_id(&id);
    let notify = req.notification_token.map(|token| Notify {
        auth_req_id: auth_req_id.clone(),
        client_notification_token: token,
        push: client.delivery_mode() == DeliveryMode::Push,
    });
    let txn = Transaction {
        auth_req_digest: secret::auth_req_digest(&auth_req_id),
        id,
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
        notify,
        match_number: client.metadata.number_matching.then(secret::match_number),
        user_status: match req.message.context {
            ActionContext::Provisioning => req.message.user_status,
            ActionContext::Authentication => None,
        },
    };
    // A user none of whose devices has a push channel is reached through the
    // inbox alone: no push rows to write.
    let pushes = counts.is_none_or(|c| c.pushable > 0).then(|| OwedPushes {
        only_preferred: routing == DeviceRouting::Preferred,
        now_ms,
    });
    if state.store.insert_transaction(&txn, pushes).await? > 0 {
        state.device_pushes.notify_one();
    }
    Metrics::inc(&state.metrics.backchannel_accepted);
    state.publish(&crate::wakeup::inbox_topic(&user.id)).await;
    tracing::info!(client_id = %client.id, transaction_id = %txn.id, "backchannel request accepted");
    // CIBA §7.3: push clients never poll, so they get no interval.
    let mut body = match client.delivery_mode() {
        DeliveryMode::Push => json!({"auth_req_id": auth_req_id, "expires_in": req.expires_in}),
        _ => json!({"auth_req_id": auth_req_id, "expires_in": req.expires_in, "interval": s.poll_interval}),
    };
    if let Some(number) = &txn.match_number {
        // Shown by the relying party, typed by the user on the device.
        body["binding_number"] = json!(number);
    }
    Ok(super::no_store_json(StatusCode::OK, body))
}

/// Policy before anyone is disturbed (CIBA §13 `access_denied`): the user is
/// not locked, belongs to the app, has a device, and is not being flooded.
/// `active_devices` is the count read with the user, when it was.
async fn admit(
    state: &AppState,
    client: &Client,
    user: &User,
    active_devices: Option<i64>,
    req: &BackchannelRequest,
) -> Result<(), OAuthError> {
    let store = &state.store;
    let provisioning = req.message.context == ActionContext::Provisioning;
    // Provisioning sets the status itself and may precede any device.
    if user.status == UserStatus::Locked && !provisioning {
        return Err(OAuthError::access_denied("the user is locked"));
    }
    if let (ActionContext::Authentication, Some(app)) = (req.message.context, &req.message.app_id)
        && !store.user_has_app(&user.id, app).await?
    {
        return Err(OAuthError::access_denied(format!(
            "the user is not associated with appId `{app}`"
        )));
    }
    if !provisioning {
        let devices = match active_devices {
            Some(n) => n,
            None => store.active_device_count(&user.id).await?,
        };
        if devices == 0 {
            return Err(OAuthError::access_denied(
                "the user has no active device to authenticate with",
            ));
        }
    }
    let now = state.clock.now();
    let s = &state.settings;
    let caps = (s.user_requests_per_minute, s.client_requests_per_minute);
    match store.admit_rate(&user.id, &client.id, now - 60, caps, now).await? {
        Ok(()) => Ok(()),
        Err(Limited::User) => {
            Metrics::inc(&state.metrics.rate_limited_user);
            Err(rate_limited(
                "too many requests for this user in the last minute; try again later",
            ))
        }
        Err(Limited::Client) => {
            Metrics::inc(&state.metrics.rate_limited_client);
            Err(rate_limited(
                "this client sent too many requests in the last minute; try again later",
            ))
        }
    }
}

/// A policy denial with a hint of when the window has room again.
fn rate_limited(why: &'static str) -> OAuthError {
    let mut err = OAuthError::access_denied(why);
    err.retry_after = Some(60);
    err
}

/// CIBA §7.1.2. The user code is chosen by a person, so it is an argon2 hash;
/// checking it is kept off the async threads.
async fn check_user_code(state: &AppState, user: &User, code: &str) -> Result<(), OAuthError> {
    let wrong = || OAuthError::invalid_user_code("user_code is not correct");
    let Some(hash) = user.user_code_hash.clone() else {
        return Err(wrong());
    };
    let code = code.to_owned();
    let ok = tokio::task::spawn_blocking(move || crate::crypto::secret::verify_password(&code, &hash))
        .await
        .map_err(OAuthError::server_error)?;
    if ok {
        return Ok(());
    }
    // A wrong user code counts against the user (lockout policy).
    state
        .store
        .record_failed_attempt(None, Some(&user.id), None, state.settings.lockout())
        .await?;
    Err(wrong())
}

/// Seed 003 provisioning: the user named by `login_hint`, or the one to
/// create (with `userStatus`, default active) when new; `true` if new.
async fn provision(state: &AppState, client: &Client, req: &BackchannelRequest) -> Result<(User, bool), OAuthError> {
    let existing = match &req.hint {
        UserHint::LoginHint(_) => match hints::resolve(state, client, &req.hint).await {
            Ok(user) => Some(user),
            Err(e) if e.code == crate::error::ErrorCode::UnknownUserId => None,
            Err(e) => return Err(e),
        },
        _ => Some(hints::resolve(state, client, &req.hint).await?),
    };
    match existing {
        Some(user) if user.status == UserStatus::Removed => {
            Err(OAuthError::unknown_user_id("the user was unregistered"))
        }
        // An existing user takes `userStatus` only when the request is approved.
        Some(user) => Ok((user, false)),
        None => {
            let UserHint::LoginHint(id) = &req.hint else {
                return Err(OAuthError::unknown_user_id("no user matches the hint"));
            };
            if id.trim().is_empty() || id.chars().count() > 255 || id.chars().any(char::is_control) {
                return Err(OAuthError::invalid_request(
                    "login_hint must be 1 to 255 printable characters",
                ));
            }
            let user = User {
                id: id.clone(),
                email: None,
                phone: None,
                status: req.message.user_status.unwrap_or(UserStatus::Active),
                failed_attempts: 0,
                user_code_hash: None,
                static_password_hash: None,
                created_at: state.clock.now(),
            };
            Ok((user, true))
        }
    }
}

/// Creates the provisioned user when new, and writes the audit line.
async fn record_provisioning(
    state: &AppState,
    client: &Client,
    user: &User,
    new_user: bool,
    req: &BackchannelRequest,
) -> Result<(), OAuthError> {
    if new_user {
        state.store.create_user_if_absent(user).await?;
    }
    let entry = crate::domain::lifecycle::AuditEntry {
        at: state.clock.now(),
        actor: format!("client:{}", client.id),
        action: "user.provisioning_requested",
        subject: format!("user:{}", user.id),
        detail: req.message.app_id.clone(),
    };
    state.store.audit(&entry).await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{is_b64token, parse_positive};

    #[test]
    fn requested_expiry_must_be_a_positive_integer() {
        assert_eq!(parse_positive("30"), Some(30));
        for bad in ["0", "-5", "1.5", "abc", "", "+3", "99999999999999999999"] {
            assert_eq!(parse_positive(bad), None, "{bad}");
        }
    }

    #[test]
    fn notification_tokens_follow_the_bearer_syntax() {
        assert!(is_b64token("abc-._~+/XYZ09=="));
        for bad in ["", "==", "has space", "quote\"", "semi;colon"] {
            assert!(!is_b64token(bad), "{bad}");
        }
    }
}
