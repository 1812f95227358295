//! Starting a transaction: the policy checks before anyone is disturbed
//! (CIBA §13 `access_denied`), the user code, the provisioned user, the
//! stored request with the device pushes it owes, and the wake-ups. A face
//! has parsed and authenticated the request and resolved the user; it
//! renders a [`Refusal`] in its own format.

use crate::crypto::secret;
use crate::domain::admin::{CONSOLE_CLIENT, is_console_user};
use crate::domain::binding_message::{ActionContext, BindingMessage};
use crate::domain::client::{Client, DeliveryMode};
use crate::domain::ids::UserId;
use crate::domain::push::DeviceRouting;
use crate::domain::scope::Scope;
use crate::domain::transaction::{Notify, Status, Transaction};
use crate::domain::user::{User, UserStatus};
use crate::engine::AppState;
use crate::engine::metrics::Metrics;
use crate::engine::users;
use crate::engine::wakeup;
use crate::store::{DeviceCounts, Limited, OwedPushes, StoreError};

/// Whom the transaction is for.
pub enum Subject {
    /// A known user, with their device counts when the read that found them
    /// could count them.
    Known(User, Option<DeviceCounts>),
    /// Seed 003 provisioning of a user not stored yet: created only once the
    /// request is admitted.
    New(User),
}

/// A transaction to start, its parameters checked by the face.
pub struct StartRequest<'a> {
    pub client: &'a Client,
    pub subject: Subject,
    pub message: BindingMessage,
    pub scope: Scope,
    pub acr: Option<String>,
    pub expires_in: i64,
    /// The user code the client sent; required by the face when the client
    /// asks for one (CIBA §7.1.2).
    pub user_code: Option<String>,
    pub notification_token: Option<String>,
    pub routing: DeviceRouting,
}

/// A started transaction and the `auth_req_id` that names it to the client.
pub struct Started {
    pub transaction: Transaction,
    pub auth_req_id: String,
}

/// Why a transaction was not started.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the user is locked")]
    UserLocked,
    #[error("the user is not associated with appId `{0}`")]
    NotInApp(String),
    #[error("the user has no active device to authenticate with")]
    NoActiveDevice,
    /// Too many requests in the last minute, for the user or the client.
    #[error("rate limited")]
    RateLimited(Limited),
    #[error("user_code is not correct")]
    WrongUserCode,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("{0}")]
    Internal(String),
}

/// Seconds after which a rate-limited caller's window has room again.
pub const RATE_WINDOW: i64 = 60;

pub async fn start(state: &AppState, req: StartRequest<'_>) -> Result<Started, Refusal> {
    let (user, counts, new_user) = match req.subject {
        Subject::Known(user, counts) => (user, counts, false),
        Subject::New(user) => (user, None, true),
    };
    // An admin's phones answer the console's sign-ins only: to anyone else
    // that user has no device (and a provisioning request cannot make one).
    if is_console_user(user.id.as_str()) && req.client.id.as_str() != CONSOLE_CLIENT {
        return Err(Refusal::NoActiveDevice);
    }
    if let Some(code) = &req.user_code {
        check_user_code(state, &user, code).await?;
    }
    admit(state, req.client, &user, counts.map(|c| c.active), &req.message).await?;
    if req.message.context == ActionContext::Provisioning {
        // Only an admitted request creates its user.
        record_provisioning(state, req.client, &user, new_user, &req.message).await?;
    }

    // One reading: the id's time prefix, created_at and the pushes' due time agree.
    let now_ms = state.clock.now_ms();
    let now = now_ms.div_euclid(1000);
    let id = secret::transaction_id(now_ms);
    let auth_req_id = secret::auth_req_id(&id);
    let client = req.client;
    let notify = req.notification_token.map(|token| Notify {
        auth_req_id: auth_req_id.clone(),
        client_notification_token: token,
        push: client.delivery_mode() == DeliveryMode::Push,
    });
    let message = req.message;
    let txn = Transaction {
        auth_req_digest: secret::auth_req_digest(&auth_req_id),
        id: id.into(),
        client_id: client.id.clone(),
        user_id: user.id.clone(),
        context: message.context,
        app_id: message.app_id,
        display_text: message.display_text,
        scope: req.scope.as_str().to_owned(),
        acr: req.acr,
        status: Status::Pending,
        created_at: now,
        expires_at: now + req.expires_in,
        decided_at: None,
        interval: state.requests.poll_interval,
        device_id: None,
        failed_attempts: 0,
        failed_device_id: None,
        notify,
        // Always for SAML: anyone can type a user's name into the login form.
        match_number: (client.metadata.number_matching || message.context == ActionContext::Saml)
            .then(secret::match_number),
        user_status: match message.context {
            ActionContext::Provisioning => message.user_status,
            ActionContext::Authentication | ActionContext::Saml => None,
        },
    };
    // A user none of whose devices has a push channel is reached through the
    // inbox alone: no push rows to write.
    let pushes = counts.is_none_or(|c| c.pushable > 0).then(|| OwedPushes {
        only_preferred: req.routing == DeviceRouting::Preferred,
        now_ms,
    });
    if state.store.insert_transaction(&txn, pushes).await? > 0 {
        state.device_pushes.notify_one();
    }
    Metrics::inc(&state.metrics.backchannel_accepted);
    state.publish(&wakeup::inbox_topic(&user.id)).await;
    tracing::info!(client_id = %client.id, transaction_id = %txn.id, "transaction started");
    Ok(Started {
        transaction: txn,
        auth_req_id,
    })
}

/// Policy before anyone is disturbed: the user is not locked, belongs to the
/// app, has a device, and is not being flooded. `active_devices` is the
/// count read with the user, when it was.
async fn admit(
    state: &AppState,
    client: &Client,
    user: &User,
    active_devices: Option<i64>,
    message: &BindingMessage,
) -> Result<(), Refusal> {
    let store = &state.store;
    let provisioning = message.context == ActionContext::Provisioning;
    // Provisioning sets the status itself and may precede any device.
    if user.status == UserStatus::Locked && !provisioning {
        return Err(Refusal::UserLocked);
    }
    if let (true, Some(app)) = (message.context.authenticates(), &message.app_id)
        && !store.user_has_app(&user.id, app).await?
    {
        return Err(Refusal::NotInApp(app.clone()));
    }
    if !provisioning {
        let devices = match active_devices {
            Some(n) => n,
            None => store.active_device_count(&user.id).await?,
        };
        if devices == 0 {
            return Err(Refusal::NoActiveDevice);
        }
    }
    let now = state.clock.now();
    let caps = (state.requests.user_per_minute, state.requests.client_per_minute);
    match store
        .admit_rate(&user.id, &client.id, now - RATE_WINDOW, caps, now)
        .await?
    {
        Ok(()) => Ok(()),
        Err(limited) => {
            let counter = match limited {
                Limited::User => &state.metrics.rate_limited_user,
                Limited::Client => &state.metrics.rate_limited_client,
            };
            Metrics::inc(counter);
            Err(Refusal::RateLimited(limited))
        }
    }
}

/// CIBA §7.1.2. The user code is chosen by a person, so it is an argon2 hash;
/// checking it is kept off the async threads. A wrong code counts against
/// the user (lockout policy).
async fn check_user_code(state: &AppState, user: &User, code: &str) -> Result<(), Refusal> {
    let Some(hash) = user.user_code_hash.clone() else {
        return Err(Refusal::WrongUserCode);
    };
    let code = code.to_owned();
    let ok = tokio::task::spawn_blocking(move || secret::verify_password(&code, &hash))
        .await
        .map_err(|e| Refusal::Internal(e.to_string()))?;
    if ok {
        return Ok(());
    }
    let locked = state
        .store
        .record_failed_attempt(None, Some(&user.id), None, state.lockout)
        .await?;
    users::audit_lockouts(state, None, Some(&user.id), locked, "wrong user_code").await?;
    Err(Refusal::WrongUserCode)
}

/// Creates the provisioned user when new, and writes the audit line.
async fn record_provisioning(
    state: &AppState,
    client: &Client,
    user: &User,
    new_user: bool,
    message: &BindingMessage,
) -> Result<(), Refusal> {
    if new_user {
        state.store.create_user_if_absent(user).await?;
    }
    let (actor, subject) = (format!("client:{}", client.id), format!("user:{}", user.id));
    state
        .audit(actor, "user.provisioning_requested", subject, message.app_id.clone())
        .await?;
    Ok(())
}

/// A user to provision (seed 003) under the id the client named, with the
/// status the request asks for (active by default).
pub fn provisioned_user(id: UserId, message: &BindingMessage, now: i64) -> User {
    User {
        id,
        email: None,
        phone: None,
        status: message.user_status.unwrap_or(UserStatus::Active),
        failed_attempts: 0,
        user_code_hash: None,
        static_password_hash: None,
        created_at: now,
    }
}
