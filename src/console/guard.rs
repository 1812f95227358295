//! Who is asking: the signed-in admin behind the session cookie (or a
//! redirect to the sign-in page), and the checks every state-changing form
//! passes: the request comes from trustid's own origin, and carries the
//! session's CSRF token.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use subtle::ConstantTimeEq;

use super::page;
use crate::domain::admin::{ABSOLUTE_TIMEOUT, Admin, AdminSession};
use crate::engine::AppState;
use crate::engine::admin_second_factor;
use crate::engine::admin_sessions;
use crate::http::paths::{ADMIN_PHONE_PATH, ADMIN_SIGN_IN_PATH, ADMIN_SIGN_IN_PHONE_PATH};

/// The session cookie's name: `__Host-` prefixed (Secure, Path=/, no Domain:
/// no other host or path can set or shadow it) unless the issuer is plain
/// http (dev mode), where browsers refuse a Secure cookie.
pub fn cookie_name(state: &AppState) -> &'static str {
    if secure(state) {
        "__Host-trustid_admin"
    } else {
        "trustid_admin"
    }
}

pub fn secure(state: &AppState) -> bool {
    state.server.issuer.starts_with("https:")
}

/// Sets the session cookie on `response` to `secret` (a new session), or
/// with `None` clears it. `SameSite=Strict`, `HttpOnly`, `Secure` on https.
pub fn set_cookie(state: &AppState, response: &mut Response, secret: Option<&str>) {
    let secure = if secure(state) { "; Secure" } else { "" };
    let cookie = match secret {
        Some(secret) => format!(
            "{}={secret}; Path=/; Max-Age={ABSOLUTE_TIMEOUT}; HttpOnly; SameSite=Strict{secure}",
            cookie_name(state)
        ),
        None => format!(
            "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}",
            cookie_name(state)
        ),
    };
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
}

/// The session cookie's value in `headers`, if any.
pub fn cookie(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let wanted = cookie_name(state);
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == wanted)
        .map(|(_, v)| v.to_owned())
}

/// A signed-in admin and their session: past the phone when they have one,
/// and past it at all when every admin must have one. Otherwise a redirect:
/// to sign in, to the page waiting for the phone, or to bind one.
pub struct SignedIn {
    pub admin: Admin,
    pub session: AdminSession,
}

impl FromRequestParts<AppState> for SignedIn {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let AnySession { admin, session } = AnySession::from_request_parts(parts, state).await?;
        if session.awaiting_transaction.is_some() {
            return Err(Redirect::to(ADMIN_SIGN_IN_PHONE_PATH).into_response());
        }
        if !session.second_factor && needs_phone(state, &admin).await? {
            return Err(Redirect::to(ADMIN_PHONE_PATH).into_response());
        }
        Ok(SignedIn { admin, session })
    }
}

/// Whether `admin` must have signed in with a phone: every admin must where
/// it is required, and an admin with one bound must everywhere (a session
/// opened by password alone before, or while, it was bound opens nothing).
pub async fn needs_phone(state: &AppState, admin: &Admin) -> Result<bool, Response> {
    if state.server.admin_second_factor {
        return Ok(true);
    }
    if admin.device_user_id.is_none() {
        return Ok(false);
    }
    admin_second_factor::has_phone(state, admin).await.map_err(|e| {
        tracing::error!(error = %e, "cannot read an admin's phones");
        page::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "the console cannot reach its database",
        )
    })
}

/// Any live session: also one waiting for the phone, or opened by password
/// alone where a phone is required (they may sign out, wait, bind one).
pub struct AnySession {
    pub admin: Admin,
    pub session: AdminSession,
}

impl FromRequestParts<AppState> for AnySession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let to_sign_in = || Redirect::to(ADMIN_SIGN_IN_PATH).into_response();
        let secret = cookie(state, &parts.headers).ok_or_else(to_sign_in)?;
        match admin_sessions::session(state, &secret).await {
            Ok(Some((session, admin))) => Ok(AnySession { admin, session }),
            Ok(None) => Err(to_sign_in()),
            Err(e) => {
                tracing::error!(error = %e, "cannot read a console session");
                Err(page::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "the console cannot reach its database",
                ))
            }
        }
    }
}

/// Why a form was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormRefusal {
    /// Not sent from trustid's own pages.
    CrossOrigin,
    /// The session's CSRF token is missing or wrong.
    BadToken,
}

impl IntoResponse for FormRefusal {
    fn into_response(self) -> Response {
        let why = match self {
            FormRefusal::CrossOrigin => "This form was not sent from the console's own pages.",
            FormRefusal::BadToken => {
                "This form has expired or was not made by the console. Reload the page and try again."
            }
        };
        page::error(StatusCode::FORBIDDEN, why)
    }
}

/// Refuses a state-changing request that does not come from trustid's own
/// pages: `Origin` must be the issuer's origin, or `Sec-Fetch-Site` say
/// `same-origin`; neither present is refused too.
pub fn same_origin(state: &AppState, headers: &HeaderMap) -> Result<(), FormRefusal> {
    let origin = headers.get(header::ORIGIN).and_then(|v| v.to_str().ok());
    let fetch_site = headers.get("sec-fetch-site").and_then(|v| v.to_str().ok());
    let ours = url::Url::parse(&state.server.issuer)
        .map(|u| u.origin().ascii_serialization())
        .unwrap_or_default();
    let same = match (origin, fetch_site) {
        (Some(o), _) => o == ours,
        (None, Some(site)) => site == "same-origin",
        (None, None) => false,
    };
    if same { Ok(()) } else { Err(FormRefusal::CrossOrigin) }
}

/// A form of a signed-in page: same origin, and its `csrf` field the
/// session's token (compared in constant time).
pub fn check_form(
    state: &AppState,
    headers: &HeaderMap,
    session: &AdminSession,
    body: &[u8],
) -> Result<(), FormRefusal> {
    same_origin(state, headers)?;
    let given = field(body, "csrf").unwrap_or_default();
    if bool::from(given.as_bytes().ct_eq(session.csrf.as_bytes())) {
        Ok(())
    } else {
        Err(FormRefusal::BadToken)
    }
}

/// The value of field `name` of a form body.
pub fn field(body: &[u8], name: &str) -> Option<String> {
    form_urlencoded::parse(body)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// Every value of field `name` of a form body (checkboxes sharing a name).
pub fn fields(body: &[u8], name: &str) -> Vec<String> {
    form_urlencoded::parse(body)
        .filter(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
        .collect()
}
