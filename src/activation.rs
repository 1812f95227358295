//! Activating a device for a user with one of the seeds' credentials: an
//! activation code (seed 000, from the relying party or the device), an
//! activation password (seed 001) or a registration token (seed 002). Each
//! refusal is distinct and changes nothing; success binds and activates the
//! device, completes the user's open provisioning requests (seed 003) and
//! wakes check-status waiters.

use axum::http::StatusCode;
use serde_json::{Value, json};

use crate::crypto::secret;
use crate::delivery::owed;
use crate::device_api::error::ApiError;
use crate::domain::device::{Device, DeviceStatus};
use crate::domain::transaction::Decision;
use crate::state::AppState;
use crate::store::lifecycle::{ActivateOutcome, Credential};
use crate::wakeup::registration_topic;

/// The credential presented.
pub enum Presented<'a> {
    Code(&'a str),
    Password(&'a str),
    Token(&'a str),
}

fn refuse(status: StatusCode, code: &'static str, message: &str) -> ApiError {
    ApiError::new(status, code, message)
}

/// Whether `device` can be activated for `user_id`.
fn check_device(device: &Device, user_id: &str) -> Result<(), ApiError> {
    let free = device.status == DeviceStatus::Inactive
        || (device.status == DeviceStatus::Active && device.user_id.as_deref() == Some(user_id));
    if free {
        Ok(())
    } else {
        Err(refuse(
            StatusCode::CONFLICT,
            "device_unavailable",
            "the device is bound to another user, locked or removed",
        ))
    }
}

/// Activates `device` (the device API) or the binding's device (the
/// management API, `device` = None) with `presented`.
pub async fn activate(state: &AppState, presented: Presented<'_>, device: Option<&Device>) -> Result<Value, ApiError> {
    let now = state.clock.now();
    let store = &state.store;
    let (credential_id, user_id, device_id, kind) = match presented {
        Presented::Code(code) => {
            let b = store
                .binding_by_code(&secret::digest(code))
                .await?
                .filter(|b| b.removed_at.is_none())
                .ok_or_else(|| {
                    refuse(
                        StatusCode::BAD_REQUEST,
                        "invalid_activation_code",
                        "no binding has this activation code",
                    )
                })?;
            if b.used_at.is_some() {
                return Err(refuse(
                    StatusCode::CONFLICT,
                    "activation_code_used",
                    "this activation code was used already",
                ));
            }
            if b.expires_at <= now {
                return Err(refuse(
                    StatusCode::GONE,
                    "activation_code_expired",
                    "this activation code has expired",
                ));
            }
            if device.is_some_and(|d| d.id != b.device_id) {
                return Err(refuse(
                    StatusCode::FORBIDDEN,
                    "wrong_device",
                    "this activation code is for another device",
                ));
            }
            (b.id, b.user_id, b.device_id, 0)
        }
        Presented::Password(password) => {
            let r = store
                .registration_by_password(&secret::digest(password))
                .await?
                .filter(|r| r.removed_at.is_none())
                .ok_or_else(|| {
                    refuse(
                        StatusCode::BAD_REQUEST,
                        "invalid_activation_password",
                        "no registration has this activation password",
                    )
                })?;
            if r.activated_at.is_some() {
                return Err(refuse(
                    StatusCode::CONFLICT,
                    "activation_password_used",
                    "this activation password was used already",
                ));
            }
            if r.expires_at <= now {
                return Err(refuse(
                    StatusCode::GONE,
                    "activation_password_expired",
                    "this activation password has expired",
                ));
            }
            let d = device.ok_or_else(|| {
                refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "a device activates with a password",
                )
            })?;
            (r.id, r.user_id, d.id.clone(), 1)
        }
        Presented::Token(token) => {
            let digest = secret::digest(token);
            let t = store.registration_token(&digest).await?.ok_or_else(|| {
                refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_registration_token",
                    "no such registration token",
                )
            })?;
            if t.used_at.is_some() {
                return Err(refuse(
                    StatusCode::CONFLICT,
                    "registration_token_used",
                    "this registration token was used already",
                ));
            }
            if t.expires_at <= now {
                return Err(refuse(
                    StatusCode::GONE,
                    "registration_token_expired",
                    "this registration token has expired",
                ));
            }
            let d = device.ok_or_else(|| {
                refuse(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "a device activates with a token",
                )
            })?;
            (digest, t.user_id, d.id.clone(), 2)
        }
    };
    let target = match device {
        Some(d) => d.clone(),
        None => store
            .device(&device_id)
            .await?
            .ok_or_else(|| ApiError::server_error("binding names a missing device"))?,
    };
    check_device(&target, &user_id)?;
    if store
        .user(&user_id)
        .await?
        .is_none_or(|u| u.status == crate::domain::user::UserStatus::Removed)
    {
        return Err(refuse(
            StatusCode::CONFLICT,
            "user_removed",
            "the user was unregistered",
        ));
    }
    let credential = match kind {
        0 => Credential::Binding(&credential_id),
        1 => Credential::Registration(&credential_id),
        _ => Credential::Token(&credential_id),
    };
    let provisioned = match store.activate(credential, &device_id, &user_id, now).await? {
        ActivateOutcome::Activated { provisioned } => provisioned,
        ActivateOutcome::CredentialSpent => {
            return Err(refuse(
                StatusCode::CONFLICT,
                "credential_spent",
                "the credential was used or expired meanwhile",
            ));
        }
        ActivateOutcome::DeviceUnavailable => {
            return Err(refuse(
                StatusCode::CONFLICT,
                "device_unavailable",
                "the device is bound to another user, locked or removed",
            ));
        }
    };
    // The provisioning requests this activation approved notify their clients.
    let now_ms = state.clock.now_ms();
    for txn in &provisioned {
        let owed = owed::for_decision(state, txn, &device_id, Decision::Approve, now)
            .await
            .map_err(ApiError::server_error)?;
        if let Some(o) = owed {
            store
                .settle_notification(&txn.id, o.issued.as_ref(), &o.delivery, now_ms)
                .await?;
            state.deliveries.notify_one();
        }
    }
    state.publish(&registration_topic(&user_id)).await;
    if !provisioned.is_empty() {
        state.publish(&crate::wakeup::inbox_topic(&user_id)).await;
    }
    crate::manage::audit(
        state,
        format!("device:{device_id}"),
        "device.activated",
        format!("user:{user_id}"),
        None,
    )
    .await?;
    tracing::info!(device_id = %device_id, "device activated");
    Ok(json!({
        "user_id": user_id,
        "device_id": device_id,
        "status": "active",
        "provisioned_transactions": provisioned.iter().map(|t| t.id.clone()).collect::<Vec<_>>(),
    }))
}
