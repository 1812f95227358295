//! `POST /bc-authorize`: the backchannel authentication request (CIBA §7).
//! Order of checks follows §7.2: authenticate the client, validate the signed
//! request, validate the parameters, resolve the hint, then apply policy.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::client_auth;
use super::error::{ErrorCode, OAuthError};
use super::form::{Form, Params};
use super::hints::{self, UserHint};
use super::request_object;
use crate::domain::binding_message::{ActionContext, BindingMessage};
use crate::domain::client::{Client, DeliveryMode};
use crate::domain::identity_document::EXECUTIVE_ACR;
use crate::domain::push::DeviceRouting;
use crate::domain::risk::Outcome;
use crate::domain::scope::{self, Scope, ScopeError};
use crate::domain::user::UserStatus;
use crate::engine::AppState;
use crate::engine::start::{self, Refusal, StartRequest, Subject};
use crate::engine::{identity_documents, risk};
use crate::http::client_address::ClientAddress;
use crate::http::client_certificate::PresentedCertificate;
use crate::store::Limited;

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

/// The `/bc-authorize` parameter that overrides the client's device routing.
const ROUTING_PARAM: &str = "device_routing";

/// The routing for one request: the request's `device_routing`, else the
/// client's registered default.
fn routing(client: &Client, requested: Option<&str>) -> Result<DeviceRouting, OAuthError> {
    match requested {
        None => Ok(client.metadata.device_routing),
        Some(raw) => raw
            .parse()
            .map_err(|_| OAuthError::invalid_request("device_routing must be `all` or `preferred`")),
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
    from: ClientAddress,
    headers: HeaderMap,
    certificate: PresentedCertificate,
    Form(form): Form,
) -> Result<Response, OAuthError> {
    let client = client_auth::authenticate(&state, &from, &headers, &certificate, &form).await?;
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
    let r = &state.requests;
    let req = BackchannelRequest::parse(&params, &client, r.max_expiry, r.default_expiry)?;
    let routing = routing(&client, params.get(ROUTING_PARAM))?;
    let subject = match req.message.context {
        ActionContext::Provisioning => provision(&state, &client, &req).await?,
        ActionContext::Authentication | ActionContext::Saml => {
            let (user, counts) = hints::resolve_counting_devices(&state, &client, &req.hint).await?;
            Subject::Known(user, counts)
        }
    };
    let screened = match &subject {
        Subject::Known(user, _) => risk::screen(&state, &client, user).await?,
        Subject::New(_) => None,
    };
    if screened.as_ref().is_some_and(|(v, _)| v.outcome == Outcome::Block) {
        // The rule is named in the audit trail, not to the caller.
        return Err(OAuthError::access_denied(
            "the client's risk rules refused this request",
        ));
    }
    // The executive level: asked for, or required by a rule.
    let acr = match screened.as_ref().is_some_and(|(v, _)| v.executive) {
        true => Some(EXECUTIVE_ACR.to_owned()),
        false => req.acr,
    };
    if acr.as_deref() == Some(EXECUTIVE_ACR) {
        let ready = match &subject {
            Subject::Known(user, _) => identity_documents::executive_ready(&state, user.id.as_str()).await?,
            // A user not created yet has no document.
            Subject::New(_) => false,
        };
        if !ready {
            return Err(OAuthError::access_denied(
                "executive authentication needs an identity document the user registered on their device",
            ));
        }
    }
    let expires_in = req.expires_in;
    let started = start::start(
        &state,
        StartRequest {
            client: &client,
            subject,
            message: req.message,
            scope: req.scope,
            acr,
            expires_in,
            user_code: req.user_code,
            notification_token: req.notification_token,
            routing,
        },
    )
    .await
    .map_err(refused)?;
    if let Some((_, event)) = screened {
        risk::record(&state, event, started.transaction.id.as_str()).await?;
    }
    // CIBA §7.3: push clients never poll, so they get no interval.
    let auth_req_id = started.auth_req_id;
    let mut body = match client.delivery_mode() {
        DeliveryMode::Push => json!({"auth_req_id": auth_req_id, "expires_in": expires_in}),
        _ => json!({"auth_req_id": auth_req_id, "expires_in": expires_in, "interval": r.poll_interval}),
    };
    if let Some(number) = &started.transaction.match_number {
        // Shown by the relying party, typed by the user on the device.
        body["binding_number"] = json!(number);
    }
    Ok(super::no_store_json(StatusCode::OK, body))
}

/// The engine's refusal as CIBA §13 names it.
fn refused(refusal: Refusal) -> OAuthError {
    match refusal {
        Refusal::RateLimited(limited) => {
            let why = match limited {
                Limited::User => "too many requests for this user in the last minute; try again later",
                Limited::Client => "this client sent too many requests in the last minute; try again later",
            };
            let mut err = OAuthError::access_denied(why);
            err.retry_after = u32::try_from(start::RATE_WINDOW).ok();
            err
        }
        Refusal::WrongUserCode => OAuthError::invalid_user_code(refusal.to_string()),
        Refusal::UserLocked | Refusal::NotInApp(_) | Refusal::NoActiveDevice => {
            OAuthError::access_denied(refusal.to_string())
        }
        Refusal::Store(e) => OAuthError::from(e),
        Refusal::Internal(e) => OAuthError::server_error(e),
    }
}

/// Seed 003 provisioning: the user named by `login_hint`, or the one to
/// create (with `userStatus`, default active) when new.
async fn provision(state: &AppState, client: &Client, req: &BackchannelRequest) -> Result<Subject, OAuthError> {
    let existing = match &req.hint {
        UserHint::LoginHint(_) => match hints::resolve(state, client, &req.hint).await {
            Ok(user) => Some(user),
            Err(e) if e.code == ErrorCode::UnknownUserId => None,
            Err(e) => return Err(e),
        },
        _ => Some(hints::resolve(state, client, &req.hint).await?),
    };
    match existing {
        Some(user) if user.status == UserStatus::Removed => {
            Err(OAuthError::unknown_user_id("the user was unregistered"))
        }
        // An existing user takes `userStatus` only when the request is approved.
        Some(user) => Ok(Subject::Known(user, None)),
        None => {
            let UserHint::LoginHint(id) = &req.hint else {
                return Err(OAuthError::unknown_user_id("no user matches the hint"));
            };
            if id.trim().is_empty() || id.chars().count() > 255 || id.chars().any(char::is_control) {
                return Err(OAuthError::invalid_request(
                    "login_hint must be 1 to 255 printable characters",
                ));
            }
            Ok(Subject::New(start::provisioned_user(
                id.as_str().into(),
                &req.message,
                state.clock.now(),
            )))
        }
    }
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
