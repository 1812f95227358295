//! Seed 000: `POST /manage/v1/bindings` binds a registered device to a user
//! (creating the user when new) and answers an activation code;
//! `POST /manage/v1/bindings/activate` activates it once the relying party
//! verified the account.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::{Manager, audit, check_text, json_body};
use crate::crypto::secret;
use crate::domain::device::DeviceStatus;
use crate::domain::lifecycle::Binding;
use crate::domain::user::{User, UserStatus};
use crate::engine::AppState;
use crate::engine::activation::{self, Presented};
use crate::http::api_error::{ApiError, no_store};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct NewBinding {
    user_id: String,
    device_id: String,
    email: Option<String>,
    phone: Option<String>,
}

pub async fn bind(State(state): State<AppState>, Manager(client): Manager, body: Bytes) -> Result<Response, ApiError> {
    let req: NewBinding = json_body(&body)?;
    check_text("user_id", &req.user_id, 255)?;
    let store = &state.store;
    let device = store.device(&req.device_id).await?.ok_or_else(|| {
        ApiError::new(
            StatusCode::NOT_FOUND,
            "unknown_device",
            "no device is registered with this id",
        )
    })?;
    match (device.status, device.user_id.as_deref()) {
        (DeviceStatus::Inactive, _) => {}
        (DeviceStatus::Active, Some(owner)) if owner == req.user_id => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "already_bound",
                "the device is already active for this user",
            ));
        }
        (DeviceStatus::Active, Some(_)) => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "device_bound_elsewhere",
                "the device is bound to another user",
            ));
        }
        _ => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "device_unavailable",
                "the device is locked or removed",
            ));
        }
    }
    let now = state.clock.now();
    let new_user = match store.user(&req.user_id).await? {
        Some(u) if u.status == UserStatus::Removed => {
            return Err(ApiError::new(
                StatusCode::CONFLICT,
                "user_removed",
                "the user was unregistered; register again",
            ));
        }
        Some(_) => None,
        None => Some(User {
            id: req.user_id.clone().into(),
            email: req.email.clone(),
            phone: req.phone.clone(),
            status: UserStatus::Active,
            failed_attempts: 0,
            user_code_hash: None,
            static_password_hash: None,
            created_at: now,
        }),
    };
    let code = secret::random_token();
    let binding = Binding {
        id: crate::domain::ids::random_id(),
        user_id: req.user_id.clone().into(),
        device_id: device.id.clone(),
        client_id: client.id.clone(),
        code_digest: secret::digest(&code),
        created_at: now,
        expires_at: now + state.devices.activation_code_ttl,
        used_at: None,
        removed_at: None,
    };
    store.create_binding(&binding, new_user.as_ref()).await?;
    audit(
        &state,
        format!("client:{}", client.id),
        "binding.created",
        format!("user:{}", req.user_id),
        Some(binding.id.clone()),
    )
    .await?;
    Ok(no_store(
        StatusCode::CREATED,
        Json(json!({
            "binding_id": binding.id,
            "user_id": req.user_id,
            "device_id": device.id,
            "user_created": new_user.is_some(),
            "activation_code": code,
            "expires_at": binding.expires_at,
        })),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Activation {
    activation_code: String,
}

pub async fn activate(
    State(state): State<AppState>,
    Manager(_client): Manager,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: Activation = json_body(&body)?;
    let done = activation::activate(&state, Presented::Code(&req.activation_code), None).await?;
    Ok(no_store(StatusCode::OK, Json(done)))
}
