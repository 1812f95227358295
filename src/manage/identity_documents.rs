//! Seed 000 §4: `GET /manage/v1/users/{user_id}/identity-documents` tells
//! the relying party which identity documents the user registered and what
//! the verification service said of them, and whose (never the documents
//! themselves); `DELETE` removes them, so the user can register another.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Manager, not_found};
use crate::domain::identity_document::IdentityDocument;
use crate::domain::user::UserStatus;
use crate::engine::AppState;
use crate::engine::identity_documents;
use crate::http::api_error::{ApiError, no_store};

pub async fn list(
    State(state): State<AppState>,
    Manager(_client): Manager,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    known_user(&state, &user_id).await?;
    let documents = state.store.identity_documents(&user_id).await?;
    let documents: Vec<Value> = documents.iter().map(IdentityDocument::shown).collect();
    Ok(no_store(
        StatusCode::OK,
        Json(json!({"user_id": user_id, "documents": documents})),
    ))
}

pub async fn remove(
    State(state): State<AppState>,
    Manager(client): Manager,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    known_user(&state, &user_id).await?;
    let removed = identity_documents::remove(&state, client.id.as_str(), &user_id).await?;
    Ok(no_store(
        StatusCode::OK,
        Json(json!({"user_id": user_id, "removed": removed})),
    ))
}

async fn known_user(state: &AppState, user_id: &str) -> Result<(), ApiError> {
    let user = state.store.user(user_id).await?;
    match user.is_none_or(|u| u.status == UserStatus::Removed) {
        true => Err(not_found("user")),
        false => Ok(()),
    }
}
