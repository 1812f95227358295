//! `/admin/sign-in`: the form, and signing in. A success starts a new
//! session (a new cookie: a session id set before sign-in is never
//! promoted), `SameSite=Strict`, `HttpOnly`, `Secure` outside dev mode.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::guard::{self, field, same_origin, set_cookie};
use super::page;
use crate::engine::AppState;
use crate::engine::admin_sessions::{self, Origin, SignInRefusal};
use crate::http::client_address::ClientAddress;
use crate::http::paths::{ADMIN_PATH, ADMIN_SIGN_IN_PHONE_PATH};

#[derive(Template)]
#[template(path = "admin/sign_in.html")]
struct SignInPage<'a> {
    error: Option<&'a str>,
    email: &'a str,
}

pub async fn form(State(state): State<AppState>, headers: HeaderMap) -> Response {
    // Already signed in: on to the dashboard.
    if let Some(secret) = guard::cookie(&state, &headers)
        && let Ok(Some(_)) = admin_sessions::session(&state, &secret).await
    {
        return Redirect::to(ADMIN_PATH).into_response();
    }
    page::render(StatusCode::OK, &SignInPage { error: None, email: "" })
}

pub async fn submit(
    State(state): State<AppState>,
    ClientAddress { address, throttle_key }: ClientAddress,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = same_origin(&state, &headers) {
        return refused.into_response();
    }
    let email = field(&body, "email").unwrap_or_default();
    let password = field(&body, "password").unwrap_or_default();
    let user_agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let from = Origin {
        address: &address,
        throttle_key: &throttle_key,
        user_agent,
    };
    let again = |status, error: &str| {
        page::render(
            status,
            &SignInPage {
                error: Some(error),
                email: &email,
            },
        )
    };
    match admin_sessions::sign_in(&state, &email, &password, &from).await {
        Ok(signed_in) => {
            let next = match signed_in.session.awaiting_transaction {
                Some(_) => ADMIN_SIGN_IN_PHONE_PATH,
                None => ADMIN_PATH,
            };
            let mut response = Redirect::to(next).into_response();
            set_cookie(&state, &mut response, Some(&signed_in.secret));
            response
        }
        Err(SignInRefusal::Wrong) => again(StatusCode::UNAUTHORIZED, "The e-mail or the password is wrong."),
        Err(SignInRefusal::PhoneUnavailable(why)) => {
            tracing::warn!(reason = %why, "an admin's phone cannot be asked");
            again(
                StatusCode::SERVICE_UNAVAILABLE,
                "Your phone cannot be asked to approve this sign-in now (locked, or too many requests). Try again later, or ask another admin.",
            )
        }
        Err(SignInRefusal::Throttled) => again(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many failed sign-ins. Wait a few minutes, then try again.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "console sign-in failed");
            page::error(StatusCode::INTERNAL_SERVER_ERROR, "The console cannot sign you in now.")
        }
    }
}
