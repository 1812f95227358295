//! `/admin/sessions`: the signed-in admin's own sessions, each revocable.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::guard::{SignedIn, check_form};
use super::page::{self, instant};
use crate::engine::AppState;
use crate::engine::admin_sessions;
use crate::http::paths::ADMIN_SESSIONS_PATH;

/// A session as the list shows it.
struct Row {
    id: String,
    created_at: String,
    last_seen_at: String,
    address: String,
    user_agent: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "admin/sessions.html")]
struct Sessions<'a> {
    email: &'a str,
    csrf: &'a str,
    sessions: Vec<Row>,
}

pub async fn list(State(state): State<AppState>, who: SignedIn) -> Response {
    let all = match admin_sessions::sessions(&state, &who.admin).await {
        Ok(all) => all,
        Err(e) => {
            tracing::error!(error = %e, "cannot list console sessions");
            return page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot read its database now.",
            );
        }
    };
    let sessions = all
        .into_iter()
        .map(|s| Row {
            current: s.id == who.session.id,
            created_at: instant(s.created_at),
            last_seen_at: instant(s.last_seen_at),
            id: s.id,
            address: s.address,
            user_agent: s.user_agent,
        })
        .collect();
    page::render(
        StatusCode::OK,
        &Sessions {
            email: who.admin.email.as_str(),
            csrf: &who.session.csrf,
            sessions,
        },
    )
}

pub async fn revoke(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    match admin_sessions::revoke(&state, &who.admin, &id).await {
        Ok(true) => Redirect::to(ADMIN_SESSIONS_PATH).into_response(),
        Ok(false) => page::error(StatusCode::NOT_FOUND, "You have no such session."),
        Err(e) => {
            tracing::error!(error = %e, "cannot revoke a console session");
            page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot reach its database now.",
            )
        }
    }
}
