//! A user's devices and status: list them, choose the preferred device,
//! remove one, lock and unlock the user.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{Value, json};

use super::{Manager, audit, not_found};
use crate::domain::user::{User, UserStatus};
use crate::engine::AppState;
use crate::http::api_error::{ApiError, no_store};

async fn live_user(state: &AppState, user_id: &str) -> Result<User, ApiError> {
    state
        .store
        .user(user_id)
        .await?
        .filter(|u| u.status != UserStatus::Removed)
        .ok_or_else(|| not_found("user"))
}

pub async fn list(
    State(state): State<AppState>,
    Manager(_c): Manager,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    let user = live_user(&state, &user_id).await?;
    let devices: Vec<Value> = state
        .store
        .devices_of(&user_id)
        .await?
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
    live_user(&state, &user_id).await?;
    if !state.store.set_preferred_device(&user_id, &device_id).await? {
        return Err(not_found("active device of this user"));
    }
    audit(
        &state,
        format!("client:{}", client.id),
        "device.preferred",
        format!("user:{user_id}"),
        Some(device_id),
    )
    .await?;
    Ok(no_store(StatusCode::NO_CONTENT, ()))
}

pub async fn remove(
    State(state): State<AppState>,
    Manager(client): Manager,
    Path((user_id, device_id)): Path<(String, String)>,
) -> Result<Response, ApiError> {
    live_user(&state, &user_id).await?;
    if !state.store.remove_device(&user_id, &device_id).await? {
        return Err(not_found("device of this user"));
    }
    audit(
        &state,
        format!("client:{}", client.id),
        "device.removed",
        format!("user:{user_id}"),
        Some(device_id),
    )
    .await?;
    Ok(no_store(StatusCode::NO_CONTENT, ()))
}

async fn set_status(
    state: &AppState,
    client_id: &str,
    user_id: &str,
    status: UserStatus,
) -> Result<Response, ApiError> {
    live_user(state, user_id).await?;
    state.store.set_user_status(user_id, status).await?;
    let action = if status == UserStatus::Locked {
        "user.locked"
    } else {
        "user.unlocked"
    };
    audit(
        state,
        format!("client:{client_id}"),
        action,
        format!("user:{user_id}"),
        None,
    )
    .await?;
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
    set_status(&state, &client.id, &user_id, UserStatus::Locked).await
}

pub async fn unlock(
    State(state): State<AppState>,
    Manager(client): Manager,
    Path(user_id): Path<String>,
) -> Result<Response, ApiError> {
    set_status(&state, &client.id, &user_id, UserStatus::Active).await
}
