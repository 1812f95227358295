//! `POST /manage/v1/saml/assertions {"transaction_id", "sp"}`: the signed
//! Assertion of an approved transaction with what that SP may receive, for
//! SPs that take the evidence out of band from the relying party's server.
//! Management token; the API error schema. The transaction must be the
//! calling client's, an approved authentication of an active user, and the
//! SP must name the client among its exporters. The Assertion confirms its
//! subject by sender-vouches, with no ACS: no Web SSO profile accepts it as
//! a login. It is not encrypted: it goes to the client over TLS.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::evidence::{EvidenceError, facts, released};
use crate::domain::transaction::Phase;
use crate::domain::user::UserStatus;
use crate::engine::AppState;
use crate::http::api_error::{ApiError, no_store};
use crate::http::manager::{Manager, json_body};
use crate::saml::xml::assertion::signed_assertion;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ExportRequest {
    transaction_id: String,
    sp: String,
}

fn not_found(message: &str) -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", message)
}

pub async fn export(
    State(state): State<AppState>,
    Manager(client): Manager,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: ExportRequest = json_body(&body)?;
    // Another client's transaction is not told apart from a missing one.
    let transaction = state
        .store
        .transaction(&req.transaction_id)
        .await?
        .filter(|t| t.client_id == client.id)
        .ok_or_else(|| not_found("no such transaction for this client"))?;
    let approved = matches!(transaction.phase(state.clock.now()), Phase::Approved | Phase::Consumed);
    if !approved || !transaction.context.authenticates() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "not_approved",
            "the transaction is not an approved authentication",
        ));
    }
    // An SP this client may not export for is not told apart from a missing one.
    let sp = state
        .store
        .saml_sp(&req.sp)
        .await?
        .filter(|sp| sp.settings.exporters.iter().any(|c| *c == client.id.as_str()))
        .ok_or_else(|| not_found("no SAML service provider by that entity ID exports for this client"))?;
    let user = state
        .store
        .user(&transaction.user_id)
        .await?
        .filter(|u| u.status == UserStatus::Active)
        .ok_or_else(|| ApiError::new(StatusCode::CONFLICT, "user_locked", "the user is locked or gone"))?;
    let released = released(&state, &sp, &transaction, &user).await.map_err(|e| match e {
        EvidenceError::NoNameId => ApiError::new(StatusCode::CONFLICT, "no_name_id", e.to_string()),
        EvidenceError::Internal(e) => ApiError::server_error(e),
    })?;
    let facts = facts(&state, &sp, &released, &transaction, None, None);
    let keys = state.keys.ready().await;
    let saml = keys
        .saml()
        .ok_or_else(|| ApiError::server_error("this server has no SAML signing key"))?;
    let built = signed_assertion(&facts, saml.signer()).map_err(ApiError::server_error)?;
    state
        .audit(
            format!("client:{}", client.id),
            "saml.assertion_exported",
            format!("transaction:{}", transaction.id),
            Some(sp.entity_id().to_string()),
        )
        .await?;
    Ok(no_store(
        StatusCode::OK,
        Json(json!({
            "assertion": built.xml,
            "assertion_id": built.id,
            "sp": sp.entity_id(),
            "transaction_id": transaction.id,
        })),
    ))
}
