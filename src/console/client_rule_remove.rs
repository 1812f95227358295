//! `POST /admin/clients/{id}/rules/{rule_id}/remove`: removes one of the
//! client's adaptive rules, audited under the admin.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::client::refused;
use super::client_rules::rules_location;
use super::guard::{SignedIn, check_form};
use super::page;
use crate::domain::ids::ClientId;
use crate::engine::AppState;
use crate::engine::users::Actor;
use crate::engine::{clients, risk_rules};

pub async fn remove(
    State(state): State<AppState>,
    who: SignedIn,
    Path((id, rule_id)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    let client = match clients::changeable(&state, &ClientId::from(id.as_str())).await {
        Ok(client) => client,
        Err(e) => return refused(e),
    };
    let actor = Actor::Admin(who.admin.email.to_string());
    match risk_rules::remove(&state, &actor, &client, &rule_id).await {
        Ok(()) => Redirect::to(&rules_location(&id)).into_response(),
        Err(risk_rules::Refusal::Store(e)) => page::unavailable(&e, "cannot remove a rule"),
        Err(e) => page::error(StatusCode::NOT_FOUND, &format!("{e}.")),
    }
}
