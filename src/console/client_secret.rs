//! `POST /admin/clients/{id}/secret`: a new secret for a `client_secret_*`
//! client, shown once on the page that answers; the old one stops working
//! at once here, on other instances within the client cache's TTL.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client::{Shown, page_of, refused};
use super::guard::{SignedIn, check_form};
use super::page;
use crate::domain::ids::ClientId;
use crate::engine::AppState;
use crate::engine::clients::{self, Refusal};
use crate::engine::users::Actor;

pub async fn rotate(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    let id = ClientId::from(id.as_str());
    let actor = Actor::Admin(who.admin.email.to_string());
    let secret = match clients::rotate_secret(&state, &actor, &id).await {
        Ok(secret) => secret,
        Err(Refusal::Unaudited(e)) => {
            tracing::error!(error = %e, "a secret was rotated but not audited");
            return page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "A new secret was stored, but the audit log could not record it, so it is not shown. \
                 Rotate again once the database answers.",
            );
        }
        Err(e) => return refused(e),
    };
    match clients::changeable(&state, &id).await {
        Ok(client) => {
            let shown = Shown {
                new_secret: Some(secret),
                ..Shown::default()
            };
            page_of(&who, &client, StatusCode::OK, shown)
        }
        Err(e) => refused(e),
    }
}
