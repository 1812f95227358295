//! `POST /admin/users/{id}/status` (`status` = `locked` or `active`): locks
//! or unlocks a user, as the signed-in admin (audited).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::guard::{SignedIn, check_form, field};
use super::page::{self, path_segment};
use crate::domain::ids::UserId;
use crate::domain::user::UserStatus;
use crate::engine::AppState;
use crate::engine::users::{self, Actor, Refusal};

pub async fn set(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    let status = match field(&body, "status").as_deref() {
        Some("locked") => UserStatus::Locked,
        Some("active") => UserStatus::Active,
        _ => return page::error(StatusCode::BAD_REQUEST, "A user is set locked or active."),
    };
    let actor = Actor::Admin(who.admin.email.to_string());
    match users::set_status(&state, &actor, &UserId::from(id.as_str()), status).await {
        Ok(()) => Redirect::to(&format!("/admin/users/{}", path_segment(&id))).into_response(),
        Err(Refusal::UnknownUser) => page::error(StatusCode::NOT_FOUND, "There is no such user."),
        Err(e) => {
            tracing::error!(error = %e, "cannot set a user's status");
            page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot change this user now.",
            )
        }
    }
}
