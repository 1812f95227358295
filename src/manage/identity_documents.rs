//! Seed 000 §4: `GET /manage/v1/users/{user_id}/identity-documents` tells
//! the relying party which identity documents the user registered and what
//! the verification service said of them (never the documents themselves).

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Manager, not_found};
use crate::device_api::identity_documents::shown;
use crate::domain::user::UserStatus;
use crate::engine::AppState;
use crate::http::api_error::{ApiError, no_store};

pub async fn list(
    State(state): State<AppState>,
    Manager(_client): Manager,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    let user = state.store.user(&user_id).await?;
    if user.is_none_or(|u| u.status == UserStatus::Removed) {
        return Err(not_found("user"));
    }
    let documents = state.store.identity_documents(&user_id).await?;
    let documents: Vec<Value> = documents.iter().map(shown).collect();
    Ok(no_store(
        StatusCode::OK,
        Json(json!({"user_id": user_id, "documents": documents})),
    ))
}
