//! `POST /admin/sign-out`: ends this session and clears its cookie.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};

use super::guard::{SignedIn, check_form, cookie_name, secure};
use super::page;
use crate::engine::AppState;
use crate::engine::admin_sessions;
use crate::http::paths::ADMIN_SIGN_IN_PATH;

pub async fn sign_out(State(state): State<AppState>, who: SignedIn, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    if let Err(e) = admin_sessions::revoke(&state, &who.admin, &who.session.id).await {
        tracing::error!(error = %e, "cannot end a console session");
        return page::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The console cannot sign you out now.",
        );
    }
    let secure = if secure(&state) { "; Secure" } else { "" };
    let clear = format!(
        "{}=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict{secure}",
        cookie_name(&state)
    );
    let mut response = Redirect::to(ADMIN_SIGN_IN_PATH).into_response();
    if let Ok(v) = HeaderValue::from_str(&clear) {
        response.headers_mut().insert(header::SET_COOKIE, v);
    }
    response
}
