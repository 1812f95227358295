//! `POST /admin/clients/{id}/disable` and `…/enable`: a disabled client
//! fails every client authentication (`invalid_client`) and is owed no
//! notification, until it is enabled again. Its open requests run on to
//! their expiry; nothing of them reaches it.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::client::{location, refused};
use super::guard::{SignedIn, check_form};
use crate::domain::ids::ClientId;
use crate::engine::AppState;
use crate::engine::clients;
use crate::engine::users::Actor;

async fn set(state: AppState, who: SignedIn, id: String, headers: HeaderMap, body: Bytes, disabled: bool) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    let actor = Actor::Admin(who.admin.email.to_string());
    match clients::set_disabled(&state, &actor, &ClientId::from(id.as_str()), disabled).await {
        Ok(()) => Redirect::to(&location(&id)).into_response(),
        Err(e) => refused(e),
    }
}

pub async fn disable(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    set(state, who, id, headers, body, true).await
}

pub async fn enable(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    set(state, who, id, headers, body, false).await
}
