//! Activating a device for a user with one of the seeds' credentials: an
//! activation code (seed 000, from the relying party or the device), an
//! activation password (seed 001) or a registration token (seed 002). Each
//! refusal is distinct and changes nothing; success binds and activates the
//! device, completes the user's open provisioning requests (seed 003) and
//! wakes check-status waiters.

use serde_json::{Value, json};

use super::metrics::Replay;
use crate::crypto::secret;
use crate::domain::device::{Device, DeviceStatus};
use crate::domain::ids::UserId;
use crate::domain::transaction::Decision;
use crate::domain::user::UserStatus;
use crate::engine::AppState;
use crate::engine::delivery::owed;
use crate::engine::wakeup::{inbox_topic, registration_topic};
use crate::store::StoreError;
use crate::store::lifecycle::{ActivateOutcome, Credential};

/// The credential presented.
pub enum Presented<'a> {
    Code(&'a str),
    Password(&'a str),
    Token(&'a str),
}

/// Why an activation was refused; each names its credential's state.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no binding has this activation code")]
    UnknownCode,
    #[error("this activation code was used already")]
    CodeUsed,
    #[error("this activation code has expired")]
    CodeExpired,
    #[error("this activation code is for another device")]
    WrongDevice,
    #[error("no registration has this activation password")]
    UnknownPassword,
    #[error("this activation password was used already")]
    PasswordUsed,
    #[error("this activation password has expired")]
    PasswordExpired,
    #[error("no such registration token")]
    UnknownToken,
    #[error("this registration token was used already")]
    TokenUsed,
    #[error("this registration token has expired")]
    TokenExpired,
    /// A password or token names no device: only a device presents one.
    #[error("a device activates with a {0}")]
    DeviceRequired(&'static str),
    #[error("the device is bound to another user, locked or removed")]
    DeviceUnavailable,
    #[error("the user was unregistered")]
    UserRemoved,
    #[error("the credential was used or expired meanwhile")]
    CredentialSpent,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// How a face reports a refusal: what kind of failure it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// Nothing matches what was presented, or the request lacks a part.
    Invalid,
    /// The credential or the device was taken already.
    Spent,
    Expired,
    /// The credential belongs to another device.
    Forbidden,
    /// The store or another part failed: not the caller's doing.
    Internal,
}

impl Refusal {
    /// The stable, snake_case name of the refusal (the API's error code).
    pub fn code(&self) -> &'static str {
        match self {
            Refusal::UnknownCode => "invalid_activation_code",
            Refusal::CodeUsed => "activation_code_used",
            Refusal::CodeExpired => "activation_code_expired",
            Refusal::WrongDevice => "wrong_device",
            Refusal::UnknownPassword => "invalid_activation_password",
            Refusal::PasswordUsed => "activation_password_used",
            Refusal::PasswordExpired => "activation_password_expired",
            Refusal::UnknownToken => "invalid_registration_token",
            Refusal::TokenUsed => "registration_token_used",
            Refusal::TokenExpired => "registration_token_expired",
            Refusal::DeviceRequired(_) => "invalid_request",
            Refusal::DeviceUnavailable => "device_unavailable",
            Refusal::UserRemoved => "user_removed",
            Refusal::CredentialSpent => "credential_spent",
            Refusal::Store(_) | Refusal::Internal(_) => "server_error",
        }
    }

    pub fn kind(&self) -> RefusalKind {
        match self {
            Refusal::UnknownCode | Refusal::UnknownPassword | Refusal::UnknownToken | Refusal::DeviceRequired(_) => {
                RefusalKind::Invalid
            }
            Refusal::CodeUsed
            | Refusal::PasswordUsed
            | Refusal::TokenUsed
            | Refusal::DeviceUnavailable
            | Refusal::UserRemoved
            | Refusal::CredentialSpent => RefusalKind::Spent,
            Refusal::CodeExpired | Refusal::PasswordExpired | Refusal::TokenExpired => RefusalKind::Expired,
            Refusal::WrongDevice => RefusalKind::Forbidden,
            Refusal::Store(_) | Refusal::Internal(_) => RefusalKind::Internal,
        }
    }
}

/// Whether `device` can be activated for `user_id`.
fn check_device(device: &Device, user_id: &UserId) -> Result<(), Refusal> {
    let free = device.status == DeviceStatus::Inactive
        || (device.status == DeviceStatus::Active && device.user_id.as_ref() == Some(user_id));
    if free { Ok(()) } else { Err(Refusal::DeviceUnavailable) }
}

/// Activates `device` (the device API) or the binding's device (the
/// management API, `device` = None) with `presented`.
pub async fn activate(state: &AppState, presented: Presented<'_>, device: Option<&Device>) -> Result<Value, Refusal> {
    let activated = try_activate(state, presented, device).await;
    // A spent credential presented again (a used code, password or token).
    if let Err(refusal) = &activated
        && refusal.kind() == RefusalKind::Spent
    {
        state.metrics.replay(
            Replay::ActivationCredential,
            device.map_or("management API", |d| d.id.as_str()),
        );
    }
    activated
}

async fn try_activate(state: &AppState, presented: Presented<'_>, device: Option<&Device>) -> Result<Value, Refusal> {
    let now = state.clock.now();
    let store = &state.store;
    let (credential_id, user_id, device_id, kind) = match presented {
        Presented::Code(code) => {
            let b = store
                .binding_by_code(&secret::digest(code))
                .await?
                .filter(|b| b.removed_at.is_none())
                .ok_or_else(|| Refusal::UnknownCode)?;
            if b.used_at.is_some() {
                return Err(Refusal::CodeUsed);
            }
            if b.expires_at <= now {
                return Err(Refusal::CodeExpired);
            }
            if device.is_some_and(|d| d.id != b.device_id) {
                return Err(Refusal::WrongDevice);
            }
            (b.id, b.user_id, b.device_id, 0)
        }
        Presented::Password(password) => {
            let r = store
                .registration_by_password(&secret::digest(password))
                .await?
                .filter(|r| r.removed_at.is_none())
                .ok_or_else(|| Refusal::UnknownPassword)?;
            if r.activated_at.is_some() {
                return Err(Refusal::PasswordUsed);
            }
            if r.expires_at <= now {
                return Err(Refusal::PasswordExpired);
            }
            let d = device.ok_or_else(|| Refusal::DeviceRequired("password"))?;
            (r.id, r.user_id, d.id.clone(), 1)
        }
        Presented::Token(token) => {
            let digest = secret::digest(token);
            let t = store
                .registration_token(&digest)
                .await?
                .ok_or_else(|| Refusal::UnknownToken)?;
            if t.used_at.is_some() {
                return Err(Refusal::TokenUsed);
            }
            if t.expires_at <= now {
                return Err(Refusal::TokenExpired);
            }
            let d = device.ok_or_else(|| Refusal::DeviceRequired("token"))?;
            (digest, t.user_id, d.id.clone(), 2)
        }
    };
    let target = match device {
        Some(d) => d.clone(),
        None => store
            .device(&device_id)
            .await?
            .ok_or_else(|| Refusal::Internal("binding names a missing device".into()))?,
    };
    check_device(&target, &user_id)?;
    if store
        .user(&user_id)
        .await?
        .is_none_or(|u| u.status == UserStatus::Removed)
    {
        return Err(Refusal::UserRemoved);
    }
    let credential = match kind {
        0 => Credential::Binding(&credential_id),
        1 => Credential::Registration(&credential_id),
        _ => Credential::Token(&credential_id),
    };
    let provisioned = match store.activate(credential, &device_id, &user_id, now).await? {
        ActivateOutcome::Activated { provisioned } => provisioned,
        ActivateOutcome::CredentialSpent => {
            return Err(Refusal::CredentialSpent);
        }
        ActivateOutcome::DeviceUnavailable => {
            return Err(Refusal::DeviceUnavailable);
        }
    };
    // The provisioning requests this activation approved notify their clients.
    let now_ms = state.clock.now_ms();
    for txn in &provisioned {
        let owed = owed::for_decision(state, txn, &device_id, Decision::Approve, now)
            .await
            .map_err(|e| Refusal::Internal(format!("{e:#}")))?;
        if let Some(o) = owed {
            store
                .settle_notification(&txn.id, o.issued.as_ref(), &o.delivery, now_ms)
                .await?;
            state.deliveries.notify_one();
        }
    }
    state.publish(&registration_topic(&user_id)).await;
    if !provisioned.is_empty() {
        state.publish(&inbox_topic(&user_id)).await;
    }
    state
        .audit(
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
