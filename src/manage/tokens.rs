//! Seed 002: `POST /manage/v1/users/{userID}/registration-tokens` gives a user
//! the relying party already authenticated a short-lived, single-use token
//! that authorizes adding one more device from the app.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::json;

use super::{Manager, audit, not_found};
use crate::crypto::secret;
use crate::domain::lifecycle::RegistrationToken;
use crate::domain::user::UserStatus;
use crate::engine::AppState;
use crate::http::api_error::{ApiError, no_store};

pub async fn issue(
    State(state): State<AppState>,
    Manager(client): Manager,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    let user = state
        .store
        .user(&user_id)
        .await?
        .filter(|u| u.status != UserStatus::Removed)
        .ok_or_else(|| not_found("user"))?;
    if user.status == UserStatus::Locked {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            "user_locked",
            "the user is locked",
        ));
    }
    let now = state.clock.now();
    let token = secret::random_token();
    let record = RegistrationToken {
        digest: secret::digest(&token),
        user_id: user_id.clone().into(),
        client_id: client.id.clone(),
        created_at: now,
        expires_at: now + state.devices.registration_token_ttl,
        used_at: None,
    };
    state.store.insert_registration_token(&record).await?;
    audit(
        &state,
        format!("client:{}", client.id),
        "registration_token.issued",
        format!("user:{user_id}"),
        None,
    )
    .await?;
    Ok(no_store(
        StatusCode::CREATED,
        Json(json!({"registration_token": token, "user_id": user_id, "expires_at": record.expires_at})),
    ))
}
