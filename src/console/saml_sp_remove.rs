//! `POST /admin/saml/{id}/remove`: the SP is forgotten, with its logins in
//! progress and the request IDs it sent; its requests are refused from then
//! on. Audited (`saml_sp.removed`).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};

use super::guard::{SignedIn, check_form};
use super::saml_sp::refused;
use crate::engine::AppState;
use crate::engine::saml_sps;
use crate::engine::users::Actor;
use crate::http::paths::ADMIN_SAML_PATH;

pub async fn remove(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    match saml_sps::remove(&state, &Actor::Admin(who.admin.email.to_string()), &id).await {
        Ok(()) => Redirect::to(ADMIN_SAML_PATH).into_response(),
        Err(e) => refused(e),
    }
}
