//! `/admin/phone`: the signed-in admin's phones (the console's second
//! factor), and binding one: `POST` makes a registration token and its
//! QR code, shown once, for trustid's device app to scan. A session opened
//! by password alone where a phone is required comes here, and only here.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::guard::{AnySession, check_form};
use super::page::{self, instant, qr_svg};
use crate::domain::device::Device;
use crate::engine::AppState;
use crate::engine::admin_second_factor;
use crate::http::paths::ADMIN_SIGN_IN_PHONE_PATH;

pub struct Shown {
    svg: String,
    token: String,
    expires: String,
}

#[derive(Template)]
#[template(path = "admin/phone.html")]
struct PhonePage<'a> {
    email: &'a str,
    csrf: &'a str,
    required: bool,
    second_factor: bool,
    /// The admin has a phone but this session was opened without it: it
    /// may not bind another (else a stolen password would add a phone).
    password_only: bool,
    /// Each phone's id, status, push channel and when it was registered.
    phones: Vec<(String, &'static str, &'static str, String)>,
    enrolment: Option<Shown>,
}

fn rows(phones: Vec<Device>) -> Vec<(String, &'static str, &'static str, String)> {
    phones
        .into_iter()
        .map(|d| {
            let channel = d.push.as_ref().map_or("none (inbox only)", |(c, _)| c.as_str());
            (d.id.into_string(), d.status.as_str(), channel, instant(d.created_at))
        })
        .collect()
}

async fn render(state: &AppState, who: &AnySession, status: StatusCode, enrolment: Option<Shown>) -> Response {
    let phones = match admin_second_factor::phones(state, &who.admin).await {
        Ok(phones) => rows(phones),
        Err(e) => return page::unavailable(&e, "cannot list an admin's phones"),
    };
    let shown = PhonePage {
        password_only: !who.session.second_factor && !phones.is_empty(),
        email: who.admin.email.as_str(),
        csrf: &who.session.csrf,
        required: state.server.admin_second_factor,
        second_factor: who.session.second_factor,
        phones,
        enrolment,
    };
    page::render(status, &shown)
}

pub async fn show(State(state): State<AppState>, who: AnySession) -> Response {
    if who.session.awaiting_transaction.is_some() {
        return Redirect::to(ADMIN_SIGN_IN_PHONE_PATH).into_response();
    }
    render(&state, &who, StatusCode::OK, None).await
}

pub async fn bind(State(state): State<AppState>, who: AnySession, headers: HeaderMap, body: Bytes) -> Response {
    if who.session.awaiting_transaction.is_some() {
        return Redirect::to(ADMIN_SIGN_IN_PHONE_PATH).into_response();
    }
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    if !who.session.second_factor {
        match admin_second_factor::has_phone(&state, &who.admin).await {
            Ok(false) => {}
            Ok(true) => {
                return page::error(
                    StatusCode::FORBIDDEN,
                    "Your account has a phone: only a sign-in approved on it may bind another. \
                     Sign out and sign in again with it; if it is lost, an operator runs `trustid admin forget-phones`.",
                );
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot read an admin's phones");
                return page::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The console cannot bind a phone now.",
                );
            }
        }
    }
    let enrolment = match admin_second_factor::enrol(&state, &who.admin).await {
        Ok(e) => e,
        Err(e) => {
            tracing::error!(error = %e, "cannot begin binding an admin's phone");
            return page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot bind a phone now.",
            );
        }
    };
    let shown = Shown {
        svg: qr_svg(&enrolment.qr_payload),
        token: enrolment.token,
        expires: instant(enrolment.expires_at),
    };
    render(&state, &who, StatusCode::OK, Some(shown)).await
}
