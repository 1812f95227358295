//! `GET /admin/users?q=…`: finds a user by id, e-mail or phone (exact).

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::guard::SignedIn;
use super::page;
use crate::domain::user::UserStatus;
use crate::engine::AppState;

#[derive(Template)]
#[template(path = "admin/users.html")]
struct Users<'a> {
    email: &'a str,
    csrf: &'a str,
    q: &'a str,
    found: Option<String>,
}

pub async fn search(State(state): State<AppState>, who: SignedIn, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let q = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "q")
        .map(|(_, v)| v.trim().to_owned())
        .unwrap_or_default();
    let found = if q.is_empty() {
        None
    } else {
        match state.store.user_by_hint_counting_devices(&q).await {
            Ok(found) => found
                .filter(|(u, _)| u.status != UserStatus::Removed)
                .map(|(u, _)| u.id.into_string()),
            Err(e) => {
                tracing::error!(error = %e, "cannot find a user");
                return page::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The console cannot read its database now.",
                );
            }
        }
    };
    page::render(
        StatusCode::OK,
        &Users {
            email: who.admin.email.as_str(),
            csrf: &who.session.csrf,
            q: &q,
            found,
        },
    )
}
