//! Seed 002: `POST /manage/v1/users/{userID}/registration-tokens` gives a user
//! the relying party already authenticated a short-lived, single-use token
//! that authorizes adding one more device from the app.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{Manager, not_found};
use crate::domain::ids::UserId;
use crate::engine::AppState;
use crate::engine::users::{self, Actor, Refusal};
use crate::http::api_error::{ApiError, no_store};

pub async fn issue(
    State(state): State<AppState>,
    Manager(client): Manager,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    let actor = Actor::Client(client.id.clone());
    let (token, expires_at) =
        match users::registration_token(&state, &actor, &UserId::from(user_id.as_str()), &client.id).await {
            Ok(issued) => issued,
            Err(Refusal::UnknownUser) => return Err(not_found("user")),
            Err(Refusal::UserLocked) => {
                return Err(ApiError::new(
                    StatusCode::FORBIDDEN,
                    "user_locked",
                    "the user is locked",
                ));
            }
            Err(Refusal::Store(e)) => return Err(e.into()),
            Err(e) => return Err(ApiError::server_error(e)),
        };
    Ok(no_store(
        StatusCode::CREATED,
        Json(json!({"registration_token": token, "user_id": user_id, "expires_at": expires_at})),
    ))
}
