//! `GET /admin/sign-in/phone`: a sign-in waiting for the admin's phone
//! (`engine::admin_second_factor`). It shows the number to type there and
//! reloads itself; once the phone approved, it opens the session (a new id
//! and cookie: the waiting one is never promoted); denied or expired, it
//! ends the waiting session and says so.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::guard::{AnySession, set_cookie};
use super::page;
use crate::engine::AppState;
use crate::engine::admin_second_factor::{self, Outcome};
use crate::engine::admin_sessions;
use crate::http::paths::ADMIN_PATH;

#[derive(Template)]
#[template(path = "admin/sign_in_phone.html")]
struct Waiting<'a> {
    csrf: &'a str,
    match_number: Option<String>,
    left: i64,
}

pub async fn wait(State(state): State<AppState>, who: AnySession) -> Response {
    if who.session.awaiting_transaction.is_none() {
        return Redirect::to(ADMIN_PATH).into_response();
    }
    let outcome = match admin_second_factor::outcome(&state, &who.session).await {
        Ok(outcome) => outcome,
        Err(e) => return page::unavailable(&e, "cannot follow a sign-in on the phone"),
    };
    let failed = match outcome {
        Outcome::Waiting { match_number } => {
            let left = match &who.session.awaiting_transaction {
                Some(id) => match state.store.transaction(id).await {
                    Ok(Some(t)) => (t.expires_at - state.clock.now()).max(0),
                    _ => 0,
                },
                None => 0,
            };
            let waiting = Waiting {
                csrf: &who.session.csrf,
                match_number,
                left,
            };
            return page::render(StatusCode::OK, &waiting);
        }
        Outcome::Approved { device_id } => {
            return match admin_sessions::finish_second_factor(&state, &who.session, &who.admin, &device_id).await {
                Ok(Some(signed_in)) => {
                    let mut response = Redirect::to(ADMIN_PATH).into_response();
                    set_cookie(&state, &mut response, Some(&signed_in.secret));
                    response
                }
                // Another tab finished it: this cookie's session has ended.
                Ok(None) => Redirect::to(ADMIN_PATH).into_response(),
                Err(e) => page::unavailable(&e, "cannot follow a sign-in on the phone"),
            };
        }
        Outcome::Denied => "denied",
        Outcome::Expired => "not answered in time",
    };
    if let Err(e) = admin_sessions::fail_second_factor(&state, &who.session, &who.admin, failed).await {
        return page::unavailable(&e, "cannot follow a sign-in on the phone");
    }
    let mut response = page::error(
        StatusCode::FORBIDDEN,
        &format!("This sign-in was {failed} on your phone. Sign in again to retry."),
    );
    set_cookie(&state, &mut response, None);
    response
}
