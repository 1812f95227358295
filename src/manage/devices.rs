//! A user's devices and status: list them, choose the preferred device,
//! remove one, lock and unlock the user. The changes are the engine's
//! (`engine::users`); this face parses and renders.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::Manager;
use crate::domain::ids::{DeviceId, UserId};
use crate::domain::user::UserStatus;
use crate::engine::AppState;
use crate::engine::users::{self, Actor};
use crate::http::api_error::{ApiError, no_store};

pub async fn list(
    State(state): State<AppState>,
    Manager(client): Manager,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    let actor = Actor::Client(client.id.clone());
    let (user, devices) = users::devices(&state, &actor, &UserId::from(user_id)).await?;
    let devices: Vec<Value> = devices
        .into_iter()
        .map(|d| {
            json!({"device_id": d.id, "status": d.status.as_str(), "preferred": d.preferred,
                   "failed_attempts": d.failed_attempts, "created_at": d.created_at})
        })
        .collect();
    Ok(no_store(
        StatusCode::OK,
        Json(
            json!({"user_id": user.id, "status": user.status.as_str(), "failed_attempts": user.failed_attempts, "devices": devices}),
        ),
    ))
}

pub async fn prefer(
    State(state): State<AppState>,
    Manager(client): Manager,
    Path((user_id, device_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let actor = Actor::Client(client.id.clone());
    users::prefer_device(&state, &actor, &user_id.into(), &DeviceId::from(device_id)).await?;
    Ok(no_store(StatusCode::NO_CONTENT, ()))
}

pub async fn remove(
    State(state): State<AppState>,
    Manager(client): Manager,
    Path((user_id, device_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    let actor = Actor::Client(client.id.clone());
    users::remove_device(&state, &actor, &user_id.into(), &DeviceId::from(device_id)).await?;
    Ok(no_store(StatusCode::NO_CONTENT, ()))
}

async fn set_status(state: &AppState, actor: Actor, user_id: String, status: UserStatus) -> Result<Response, ApiError> {
    let user_id = UserId::from(user_id);
    users::set_status(state, &actor, &user_id, status).await?;
    Ok(no_store(
        StatusCode::OK,
        Json(json!({"user_id": user_id, "status": status.as_str()})),
    ))
}

pub async fn lock(
    State(state): State<AppState>,
    Manager(client): Manager,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    set_status(&state, Actor::Client(client.id.clone()), user_id, UserStatus::Locked).await
}

pub async fn unlock(
    State(state): State<AppState>,
    Manager(client): Manager,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    set_status(&state, Actor::Client(client.id.clone()), user_id, UserStatus::Active).await
}
