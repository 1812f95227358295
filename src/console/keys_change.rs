//! `POST /admin/keys/rotate` (`use_after` seconds) and `POST
//! /admin/keys/retire` (`kid`): the rules of `trustid keys`, as the
//! signed-in admin (audited). The key this instance signs with cannot be
//! retired; the page says so.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::guard::{SignedIn, check_form, field};
use super::keys::page_with;
use super::page;
use crate::engine::AppState;
use crate::http::paths::ADMIN_KEYS_PATH;

/// Keys are rotated to sign within this many seconds at most (a year).
const MAX_USE_AFTER: i64 = 365 * 86_400;
/// And not before every instance has reloaded the directory (each minute)
/// and published them: a key must be in every JWKS before it signs.
const MIN_USE_AFTER: i64 = 120;

async fn done(
    state: &AppState,
    who: &SignedIn,
    action: &'static str,
    detail: String,
    result: anyhow::Result<()>,
) -> Response {
    match result {
        Ok(()) => {
            let admin = format!("admin:{}", who.admin.email);
            match state.audit(admin.clone(), action, admin, Some(detail)).await {
                Ok(()) => Redirect::to(ADMIN_KEYS_PATH).into_response(),
                Err(e) => {
                    tracing::error!(error = %e, "a key change was made but not audited");
                    page::error(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "The key change was made, but the audit trail could not record it: check the database.",
                    )
                }
            }
        }
        Err(e) => page_with(state, who, StatusCode::BAD_REQUEST, Some(&format!("{e:#}"))).await,
    }
}

pub async fn rotate(State(state): State<AppState>, who: SignedIn, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    let use_after = field(&body, "use_after").and_then(|v| v.trim().parse::<i64>().ok());
    let Some(use_after) = use_after.filter(|s| (MIN_USE_AFTER..=MAX_USE_AFTER).contains(s)) else {
        let why = "Give the delay before the new keys sign, in seconds (two minutes to a year: every instance must publish them first).";
        return page_with(&state, &who, StatusCode::BAD_REQUEST, Some(why)).await;
    };
    let now = state.clock.now();
    let ring = state.keys.clone();
    let result = tokio::task::spawn_blocking(move || ring.rotate(now, now + use_after))
        .await
        .unwrap_or_else(|e| Err(anyhow::anyhow!(e.to_string())));
    done(
        &state,
        &who,
        "keys.rotated",
        format!("signing from {}", now + use_after),
        result,
    )
    .await
}

pub async fn retire(State(state): State<AppState>, who: SignedIn, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    let kid = field(&body, "kid").unwrap_or_default();
    let now = state.clock.now();
    let (ring, key) = (state.keys.clone(), kid.clone());
    let result = tokio::task::spawn_blocking(move || ring.retire(&key, now))
        .await
        .unwrap_or_else(|e| Err(anyhow::anyhow!(e.to_string())));
    done(&state, &who, "keys.retired", kid, result).await
}
