//! `POST /admin/sign-out`: ends this session and clears its cookie (any
//! session: one waiting for the phone too, whose request the phone then
//! drops).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::guard::{AnySession, check_form, set_cookie};
use super::page;
use crate::engine::AppState;
use crate::engine::admin_sessions;
use crate::engine::cancel;
use crate::engine::users::Actor;
use crate::http::paths::ADMIN_SIGN_IN_PATH;

pub async fn sign_out(State(state): State<AppState>, who: AnySession, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    // A sign-in given up while waiting: the phone drops its request.
    if let Some(txn) = &who.session.awaiting_transaction {
        let actor = Actor::Admin(who.admin.email.to_string());
        match cancel::cancel(&state, &actor, txn).await {
            Ok(()) | Err(cancel::Refusal::NotOpen | cancel::Refusal::Unknown) => {}
            Err(e) => tracing::warn!(error = %e, "cannot withdraw a sign-in from the phone"),
        }
    }
    if let Err(e) = admin_sessions::revoke(&state, &who.admin, &who.session.id).await {
        tracing::error!(error = %e, "cannot end a console session");
        return page::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The console cannot sign you out now.",
        );
    }
    let mut response = Redirect::to(ADMIN_SIGN_IN_PATH).into_response();
    set_cookie(&state, &mut response, None);
    response
}
