//! An admin's phone as the console's second factor. The console is a
//! relying party of trustid itself: its client `console` (no secret, no
//! keys: it never authenticates anywhere) starts a transaction for the
//! trustid user that holds the admin's phones (`console:` and 128 random
//! bits, named on the admin's row), and the sign-in waits for the phone's
//! signed approval like any CIBA request — pushes, number matching,
//! lockout and rate limits included. Number matching is always on: whoever
//! holds the password can make the phone ring, but only the browser that
//! typed it sees the number to type on the phone.

use std::sync::Arc;

use crate::domain::admin::{Admin, AdminSession, CONSOLE_CLIENT, CONSOLE_USER_PREFIX};
use crate::domain::binding_message::{ActionContext, BindingMessage};
use crate::domain::client::{Client, ClientMetadata};
use crate::domain::device::{Device, DeviceStatus};
use crate::domain::ids::{ClientId, UserId, random_id};
use crate::domain::lifecycle::activation_qr_payload;
use crate::domain::scope::Scope;
use crate::domain::transaction::Phase;
use crate::domain::user::{User, UserStatus};
use crate::engine::AppState;
use crate::engine::start::{self, StartRequest, Subject};
use crate::engine::users::{self, Actor};
use crate::store::StoreError;

/// How long a sign-in waits for the phone.
pub const SIGN_IN_EXPIRY: i64 = 120;

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error(transparent)]
    Start(#[from] start::Refusal),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// What the admin's phone scans to bind itself: a registration token
/// (seed 002: a signed-in user adds a device) of the admin's device user.
pub struct Enrolment {
    pub token: String,
    pub qr_payload: String,
    pub expires_at: i64,
}

/// Begins binding a phone to `admin`: their device user is made on the
/// first call, then a single-use token the phone activates with (the device
/// API's `/device/v1/activate`).
pub async fn enrol(state: &AppState, admin: &Admin) -> Result<Enrolment, Refusal> {
    let now = state.clock.now();
    let user_for = |id: &str| User {
        id: id.into(),
        email: None,
        phone: None,
        status: UserStatus::Active,
        failed_attempts: 0,
        user_code_hash: None,
        static_password_hash: None,
        created_at: now,
    };
    let user_id = match &admin.device_user_id {
        Some(id) => id.clone(),
        None => {
            // The user first: the admin's row refers to it.
            let id = format!("{CONSOLE_USER_PREFIX}{}", random_id());
            state.store.create_user_if_absent(&user_for(&id)).await?;
            if state.store.set_admin_device_user(&admin.id, &id).await? {
                id
            } else {
                // Another request named one first: use that.
                let fresh = state.store.admin_by_email(admin.email.as_str()).await?;
                fresh
                    .and_then(|a| a.device_user_id)
                    .ok_or_else(|| Refusal::Internal("the admin has no device user".into()))?
            }
        }
    };
    let client = console_client(state).await?;
    let actor = Actor::Admin(admin.email.to_string());
    let issued = users::registration_token(state, &actor, &UserId::from(user_id.as_str()), &client.id).await;
    let (token, expires_at) = issued.map_err(|e| match e {
        users::Refusal::Store(e) => Refusal::Store(e),
        other => Refusal::Internal(other.to_string()),
    })?;
    let who = format!("admin:{}", admin.email);
    state
        .audit(who.clone(), "admin.phone_binding_started", who, None)
        .await?;
    Ok(Enrolment {
        qr_payload: activation_qr_payload(&state.server.issuer, "registration_token", &token),
        token,
        expires_at,
    })
}

/// The admin's phones: active or locked (not removed).
pub async fn phones(state: &AppState, admin: &Admin) -> Result<Vec<Device>, StoreError> {
    let Some(user_id) = &admin.device_user_id else {
        return Ok(Vec::new());
    };
    let devices = state.store.devices_of(user_id).await?;
    Ok(devices
        .into_iter()
        .filter(|d| d.status != DeviceStatus::Removed)
        .collect())
}

/// Whether `admin` has a phone bound: one not removed, active or locked.
/// Once they have, the password alone opens nothing.
pub async fn has_phone(state: &AppState, admin: &Admin) -> Result<bool, StoreError> {
    let Some(user_id) = &admin.device_user_id else {
        return Ok(false);
    };
    let devices = state.store.devices_of(user_id).await?;
    Ok(devices.iter().any(|d| d.status != DeviceStatus::Removed))
}

/// Sends `admin`'s sign-in to their phones; the transaction's id, or `None`
/// when they have no phone (password alone then). A phone locked (by failed
/// attempts: wrong numbers, "not me") or a locked user is a refusal, never
/// a fall back to the password alone: else whoever holds the password
/// could lock the phone and walk in.
pub async fn send(state: &AppState, admin: &Admin, from_address: &str) -> Result<Option<String>, Refusal> {
    if !has_phone(state, admin).await? {
        return Ok(None);
    }
    let user_id = admin.device_user_id.as_deref().unwrap_or_default();
    let (user, counts) = state
        .store
        .user_by_hint_counting_devices(user_id)
        .await?
        .ok_or(Refusal::Start(start::Refusal::NoActiveDevice))?;
    if counts.active == 0 {
        return Err(Refusal::Start(start::Refusal::NoActiveDevice));
    }
    let client = console_client(state).await?;
    let message = BindingMessage {
        context: ActionContext::Authentication,
        app_id: None,
        display_text: format!("Sign in to the trustid console from {from_address}"),
        user_status: None,
    };
    let scope = Scope::parse("openid").map_err(|e| Refusal::Internal(format!("{e:?}")))?;
    let started = start::start(
        state,
        StartRequest {
            client: &client,
            subject: Subject::Known(user, Some(counts)),
            message,
            scope,
            acr: None,
            expires_in: SIGN_IN_EXPIRY,
            user_code: None,
            notification_token: None,
            routing: client.metadata.device_routing,
        },
    )
    .await?;
    Ok(Some(started.transaction.id.into_string()))
}

/// Where a waiting sign-in stands.
pub enum Outcome {
    /// The phone has not answered; the admin types `match_number` on it.
    Waiting {
        match_number: Option<String>,
    },
    /// Approved by this device.
    Approved {
        device_id: String,
    },
    Denied,
    Expired,
}

pub async fn outcome(state: &AppState, waiting: &AdminSession) -> Result<Outcome, StoreError> {
    let Some(id) = &waiting.awaiting_transaction else {
        return Ok(Outcome::Expired);
    };
    let Some(txn) = state.store.transaction(id).await? else {
        return Ok(Outcome::Expired);
    };
    Ok(match txn.phase(state.clock.now()) {
        Phase::Pending => Outcome::Waiting {
            match_number: txn.match_number,
        },
        Phase::Approved => Outcome::Approved {
            device_id: txn.device_id.map(|d| d.into_string()).unwrap_or_default(),
        },
        Phase::Denied => Outcome::Denied,
        // Consumed: another request finished this sign-in; this one cannot.
        Phase::Expired | Phase::Consumed => Outcome::Expired,
    })
}

/// The console's client (`console`), made on first use. Number matching on
/// (see the module's comment).
pub async fn console_client(state: &AppState) -> Result<Arc<Client>, Refusal> {
    let id = ClientId::new(CONSOLE_CLIENT.to_owned());
    if let Some(client) = state.store.client(id.as_str()).await? {
        return Ok(client);
    }
    let client = Client {
        id,
        secret_digest: None,
        metadata: ClientMetadata {
            number_matching: true,
            ..ClientMetadata::poll("trustid console")
        },
        created_at: state.clock.now(),
        updated_at: None,
        disabled_at: None,
    };
    match state.store.insert_client(&client).await {
        Ok(()) | Err(StoreError::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(Arc::new(client))
}
