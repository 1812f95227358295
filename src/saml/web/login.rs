//! `POST /saml/login/{id}`: the user names themself (id, e-mail or phone)
//! and their devices are pushed; the browser goes on to the wait page.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::answer::{Destination, failure_page, internal};
use super::cookie;
use super::page::{Page, escape};
use crate::domain::saml_login::SamlLogin;
use crate::domain::saml_sp::SamlSp;
use crate::engine::AppState;
use crate::engine::saml_login::{self, Refusal};
use crate::engine::start;
use crate::http::paths::{SAML_LOGIN_PATH, SAML_WAIT_PATH};
use crate::saml::xml::status::{SubStatus, TopStatus};
use crate::store::Limited;

/// The longest name a user may type.
const MAX_WHO: usize = 256;

pub async fn name_user(
    State(state): State<AppState>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let secret = cookie::read(&headers, &id);
    let login = match saml_login::find(&state, &id, secret.as_deref()).await {
        Ok(login) => login,
        Err(e) => return refusal_page(&e).into_response(),
    };
    if login.answered_at.is_some() {
        return answered_page().into_response();
    }
    if login.transaction_id.is_some() {
        return wait_redirect(&state, &login.id, None);
    }
    let sp = match sp_of(&state, &login).await {
        Ok(sp) => sp,
        Err(page) => return page.into_response(),
    };
    let who = form_urlencoded::parse(&body)
        .find(|(k, _)| k == "who")
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    if who.is_empty() || who.len() > MAX_WHO || who.chars().any(char::is_control) {
        let why = "Enter your user id, e-mail address or phone number.";
        return who_page(&state, &login, &sp, Some(why), StatusCode::BAD_REQUEST).into_response();
    }
    start_and_wait(&state, &login, &sp, &who, None).await
}

/// Starts the login's transaction for `who` and sends the browser to wait;
/// a refusal is the form again, a page, or a failure Response.
pub async fn start_and_wait(
    state: &AppState,
    login: &SamlLogin,
    sp: &SamlSp,
    who: &str,
    set_cookie: Option<String>,
) -> Response {
    let from_form = set_cookie.is_none();
    let failed = match saml_login::start_transaction(state, login, sp, who).await {
        Ok(()) => return wait_redirect(state, &login.id, set_cookie),
        Err(e) => e,
    };
    let (second, message) = match &failed {
        // Unknown and deviceless users are told apart by nobody.
        Refusal::UnknownUser | Refusal::Start(start::Refusal::NoActiveDevice) if from_form => {
            let why = "No device could be reached for that name. Check it and try again.";
            return who_page(state, login, sp, Some(why), StatusCode::BAD_REQUEST).into_response();
        }
        Refusal::Start(start::Refusal::RateLimited(limited)) => {
            let why = match limited {
                Limited::User => "Too many sign-in requests were sent to this user.",
                Limited::Client => "Too many sign-ins to this service are under way.",
            };
            let page = Page::error(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("{why} Wait a minute, then go back to the service and sign in again."),
            );
            return page.into_response();
        }
        Refusal::UnknownUser => (SubStatus::UnknownPrincipal, "the Subject names no trustid user"),
        Refusal::Start(start::Refusal::NoActiveDevice) => (SubStatus::AuthnFailed, "the user has no active device"),
        Refusal::Start(start::Refusal::UserLocked) => (SubStatus::AuthnFailed, "the user is locked"),
        Refusal::Start(start::Refusal::NotInApp(_)) => (
            SubStatus::RequestDenied,
            "the user is not associated with this service's app",
        ),
        other => return internal(other).into_response(),
    };
    answer_failure(state, login, sp, second, message, set_cookie).await
}

/// Claims the login's one answer and posts a failure Response.
pub async fn answer_failure(
    state: &AppState,
    login: &SamlLogin,
    sp: &SamlSp,
    second: SubStatus,
    message: &str,
    set_cookie: Option<String>,
) -> Response {
    match saml_login::claim_answer(state, login).await {
        Ok(true) => {}
        Ok(false) => return answered_page().into_response(),
        Err(e) => return internal(&e).into_response(),
    }
    let to = Destination {
        sp,
        acs_url: &login.acs_url,
        in_response_to: login.request_id.as_deref(),
        relay_state: login.relay_state.as_deref(),
    };
    let mut page = failure_page(state, &to, TopStatus::Responder, second, message).await;
    page.set_cookie = set_cookie;
    page.into_response()
}

pub fn answered_page() -> Page {
    Page::error(
        StatusCode::CONFLICT,
        "This sign-in was answered already. Go back to the service and sign in again.",
    )
}

/// The SP a login is for; removed since, the login is over.
pub async fn sp_of(state: &AppState, login: &SamlLogin) -> Result<SamlSp, Page> {
    let sp = state
        .store
        .saml_sp_by_id(&login.sp_id)
        .await
        .map_err(|e| internal(&e))?;
    sp.ok_or_else(|| {
        Page::error(
            StatusCode::GONE,
            "The service you are signing in to is no longer registered.",
        )
    })
}

pub fn refusal_page(e: &Refusal) -> Page {
    match e {
        Refusal::UnknownLogin => Page::error(
            StatusCode::NOT_FOUND,
            "This sign-in is unknown to this browser. Go back to the service and sign in again.",
        ),
        Refusal::Answered => answered_page(),
        Refusal::LoginExpired => Page::error(
            StatusCode::GONE,
            "This sign-in has expired. Go back to the service and sign in again.",
        ),
        other => internal(other),
    }
}

fn wait_redirect(state: &AppState, login_id: &str, set_cookie: Option<String>) -> Response {
    let mut response = Redirect::to(&super::login_url(state, SAML_WAIT_PATH, login_id)).into_response();
    if let Some(cookie) = set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().insert(header::SET_COOKIE, cookie);
    }
    response
}

/// The form that asks who is signing in.
pub fn who_page(state: &AppState, login: &SamlLogin, sp: &SamlSp, error: Option<&str>, status: StatusCode) -> Page {
    let error = error
        .map(|e| format!("<p role=\"alert\">{}</p>", escape(e)))
        .unwrap_or_default();
    let body = format!(
        "<h1>Sign in to {name}</h1>{error}\
         <form method=\"post\" action=\"{action}\">\
         <label for=\"who\">User id, e-mail or phone</label> \
         <input id=\"who\" name=\"who\" autocomplete=\"username\" required maxlength=\"{MAX_WHO}\" autofocus> \
         <button type=\"submit\">Send to my phone</button></form>\
         <p>You will approve this sign-in on your phone.</p>",
        name = escape(&sp.settings.display_name),
        action = escape(&super::login_url(state, SAML_LOGIN_PATH, &login.id)),
    );
    Page::new(status, "Sign in", body)
}
