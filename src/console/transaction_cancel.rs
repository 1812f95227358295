//! `POST /admin/transactions/{id}/cancel`: ends an open request as the
//! signed-in admin (see `engine::cancel`), then shows its timeline.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::guard::{SignedIn, check_form};
use super::page::{self, path_segment};
use crate::engine::AppState;
use crate::engine::cancel::{self, Refusal};
use crate::engine::users::Actor;

pub async fn cancel(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    let actor = Actor::Admin(who.admin.email.to_string());
    match cancel::cancel(&state, &actor, &id).await {
        Ok(()) => Redirect::to(&format!("/admin/transactions/{}", path_segment(&id))).into_response(),
        Err(Refusal::Unknown) => page::error(StatusCode::NOT_FOUND, "There is no such transaction."),
        Err(Refusal::NotOpen) => page::error(
            StatusCode::CONFLICT,
            "This request is no longer open: it was decided or expired before the cancel reached it.",
        ),
        Err(Refusal::Unaudited(e)) => {
            tracing::error!(error = %e, "a request was cancelled but not audited");
            page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The request was cancelled, but the audit trail could not record it: check the database.",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot cancel a request");
            page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot cancel this request now.",
            )
        }
    }
}
