//! Administering users and their devices: what a relying party does through
//! the management API today and an admin will do through the console. Every
//! change is written to the audit trail under the name of who made it.

use crate::crypto::secret;
use crate::domain::admin::is_console_user;
use crate::domain::device::Device;
use crate::domain::ids::{ClientId, DeviceId, UserId};
use crate::domain::lifecycle::RegistrationToken;
use crate::domain::user::{User, UserStatus};
use crate::engine::AppState;
use crate::engine::delivery::owed;
use crate::store::StoreError;

/// Who asks for an administrative change, as the audit trail names them.
#[derive(Debug, Clone)]
pub enum Actor {
    /// A relying party, through its management token.
    Client(ClientId),
    /// An operator, by their sign-in name.
    Admin(String),
    /// An operator at the command line (`trustid users lock`, …), who has
    /// the server's settings and so its database.
    Operator,
}

impl Actor {
    pub(crate) fn audit_name(&self) -> String {
        match self {
            Actor::Client(id) => format!("client:{id}"),
            Actor::Admin(name) => format!("admin:{name}"),
            Actor::Operator => "cli".to_owned(),
        }
    }
}

/// Why an administrative change was not made; nothing changed.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no such user")]
    UnknownUser,
    #[error("no such active device of this user")]
    NoActiveDevice,
    #[error("no such device of this user")]
    UnknownDevice,
    #[error("the user is locked")]
    UserLocked,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// What unregistering a user removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Unregistered {
    pub devices: u64,
    pub bindings: u64,
    pub registrations: u64,
    /// Open requests, ended as denied for their clients.
    pub transactions: usize,
}

/// The user, unless unknown or unregistered, or (to a relying party) one
/// holding an admin's phones: those are the console's alone.
pub async fn user_for(state: &AppState, actor: &Actor, user_id: &UserId) -> Result<User, Refusal> {
    if matches!(actor, Actor::Client(_)) && is_console_user(user_id.as_str()) {
        return Err(Refusal::UnknownUser);
    }
    live_user(state, user_id).await
}

/// The user, unless unknown or unregistered.
pub async fn live_user(state: &AppState, user_id: &UserId) -> Result<User, Refusal> {
    state
        .store
        .user(user_id)
        .await?
        .filter(|u| u.status != UserStatus::Removed)
        .ok_or(Refusal::UnknownUser)
}

/// A live user and their devices, as `actor` may see them.
pub async fn devices(state: &AppState, actor: &Actor, user_id: &UserId) -> Result<(User, Vec<Device>), Refusal> {
    let user = user_for(state, actor, user_id).await?;
    let devices = state.store.devices_of(user_id).await?;
    Ok((user, devices))
}

/// Makes `device_id` the device reached first among the user's active ones.
pub async fn prefer_device(
    state: &AppState,
    actor: &Actor,
    user_id: &UserId,
    device_id: &DeviceId,
) -> Result<(), Refusal> {
    user_for(state, actor, user_id).await?;
    if !state.store.set_preferred_device(user_id, device_id).await? {
        return Err(Refusal::NoActiveDevice);
    }
    audit(state, actor, "device.preferred", user_id, Some(device_id.to_string())).await
}

/// Removes one of the user's devices.
pub async fn remove_device(
    state: &AppState,
    actor: &Actor,
    user_id: &UserId,
    device_id: &DeviceId,
) -> Result<(), Refusal> {
    user_for(state, actor, user_id).await?;
    if !state.store.remove_device(user_id, device_id).await? {
        return Err(Refusal::UnknownDevice);
    }
    audit(state, actor, "device.removed", user_id, Some(device_id.to_string())).await
}

/// Seed 002: a single-use token that lets the user add one more device
/// from the app, issued on behalf of `client` (the relying party, or the
/// console's own); the token (shown once) and when it expires.
pub async fn registration_token(
    state: &AppState,
    actor: &Actor,
    user_id: &UserId,
    client: &ClientId,
) -> Result<(String, i64), Refusal> {
    if user_for(state, actor, user_id).await?.status == UserStatus::Locked {
        return Err(Refusal::UserLocked);
    }
    let now = state.clock.now();
    let token = secret::random_token();
    let record = RegistrationToken {
        digest: secret::digest(&token),
        user_id: user_id.clone(),
        client_id: client.clone(),
        created_at: now,
        expires_at: now + state.devices.registration_token_ttl,
        used_at: None,
    };
    state.store.insert_registration_token(&record).await?;
    audit(state, actor, "registration_token.issued", user_id, None).await?;
    Ok((token, record.expires_at))
}

/// Locks one of the user's active devices, or unlocks a locked one.
pub async fn set_device_locked(
    state: &AppState,
    actor: &Actor,
    user_id: &UserId,
    device_id: &DeviceId,
    locked: bool,
) -> Result<(), Refusal> {
    user_for(state, actor, user_id).await?;
    if !state.store.set_device_locked(user_id, device_id, locked).await? {
        return Err(Refusal::UnknownDevice);
    }
    let action = if locked { "device.locked" } else { "device.unlocked" };
    audit(state, actor, action, user_id, Some(device_id.to_string())).await
}

/// Locks (`Locked`) or unlocks (`Active`) a live user.
pub async fn set_status(state: &AppState, actor: &Actor, user_id: &UserId, status: UserStatus) -> Result<(), Refusal> {
    user_for(state, actor, user_id).await?;
    state.store.set_user_status(user_id, status).await?;
    let action = match status {
        UserStatus::Locked => "user.locked",
        _ => "user.unlocked",
    };
    audit(state, actor, action, user_id, None).await
}

/// Removes the user's devices, bindings, registrations and open requests;
/// each open request's client is told it failed (a ping, or a push of
/// `transaction_failed`). The user stays, removed, for the audit trail.
pub async fn unregister(
    state: &AppState,
    actor: &Actor,
    user_id: &UserId,
    detail: Option<String>,
) -> Result<Unregistered, Refusal> {
    user_for(state, actor, user_id).await?;
    let removed = state.store.unregister_user(user_id, state.clock.now()).await?;
    let now_ms = state.clock.now_ms();
    for txn in &removed.transactions {
        let owed = owed::for_failure(state, txn)
            .await
            .map_err(|e| Refusal::Internal(format!("{e:#}")))?;
        if let Some(delivery) = owed {
            state.store.enqueue_delivery(&delivery, now_ms).await?;
            state.deliveries.notify_one();
        }
    }
    audit(state, actor, "user.unregistered", user_id, detail).await?;
    Ok(Unregistered {
        devices: removed.devices,
        bindings: removed.bindings,
        registrations: removed.registrations,
        transactions: removed.transactions.len(),
    })
}

/// Writes the lockouts a failed attempt caused (`locked`: the device's,
/// the user's, as `record_failed_attempt` returns them) to the audit trail.
pub async fn audit_lockouts(
    state: &AppState,
    device_id: Option<&DeviceId>,
    user_id: Option<&UserId>,
    locked: (bool, bool),
    why: &str,
) -> Result<(), StoreError> {
    use crate::engine::metrics::Metrics;
    if locked.0 {
        Metrics::inc(&state.metrics.lockouts_device);
    }
    if locked.1 {
        Metrics::inc(&state.metrics.lockouts_user);
    }
    if let (Some(device), true) = (device_id, locked.0) {
        let detail = Some(format!("after a failed attempt: {why}"));
        state
            .audit(
                "trustid".into(),
                "device.locked_out",
                format!("device:{device}"),
                detail,
            )
            .await?;
    }
    if let (Some(user), true) = (user_id, locked.1) {
        let detail = Some(format!("after a failed attempt: {why}"));
        state
            .audit("trustid".into(), "user.locked_out", format!("user:{user}"), detail)
            .await?;
    }
    Ok(())
}

async fn audit(
    state: &AppState,
    actor: &Actor,
    action: &'static str,
    user_id: &UserId,
    detail: Option<String>,
) -> Result<(), Refusal> {
    Ok(state
        .audit(actor.audit_name(), action, format!("user:{user_id}"), detail)
        .await?)
}
