//! Administrative actions shared by the CLI and the tests: register clients,
//! create users, bind devices. Each returns what a caller should print.

use serde::Serialize;

use crate::crypto::secret;
use crate::domain::client::{Client, ClientMetadata, MtlsSupport};
use crate::domain::ids::{ClientId, DeviceId, UserId};
use crate::domain::url::OutboundRule;
use crate::domain::user::{User, UserStatus};
use crate::store::{BindOutcome, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A created client, with its secret (for the `client_secret_*` methods):
/// shown once, never stored.
#[derive(Debug, Clone, Serialize)]
pub struct ClientCredentials {
    pub client_id: ClientId,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    #[serde(flatten)]
    pub metadata: ClientMetadata,
}

impl ClientCredentials {
    /// The secret, for callers that registered a secret-based client.
    pub fn secret(&self) -> &str {
        self.client_secret.as_deref().unwrap_or_default()
    }
}

/// Validates `metadata` (CIBA §4, FAPI-CIBA) and stores the client.
pub async fn register_client(
    store: &dyn Store,
    metadata: ClientMetadata,
    outbound: &OutboundRule,
    mtls: MtlsSupport,
    now: i64,
) -> Result<ClientCredentials, AdminError> {
    metadata
        .validate(outbound, mtls)
        .map_err(|e| AdminError::Invalid(e.message))?;
    let secret = metadata
        .token_endpoint_auth_method
        .uses_secret()
        .then(secret::random_token);
    let client = Client {
        id: crate::domain::ids::random_id().into(),
        secret_digest: secret.as_deref().map(secret::digest),
        metadata,
        created_at: now,
        updated_at: None,
        disabled_at: None,
    };
    store.insert_client(&client).await?;
    Ok(ClientCredentials {
        client_id: client.id,
        client_secret: secret,
        metadata: client.metadata,
    })
}

/// What `users add` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub id: UserId,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub locked: bool,
    pub apps: Vec<String>,
    /// The CIBA `user_code` the user will type (CIBA §7.1.2), if any.
    pub user_code: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CreatedUser {
    pub user_id: UserId,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: &'static str,
    pub apps: Vec<String>,
}

fn printable(value: &str, max: usize) -> bool {
    !value.trim().is_empty() && value.chars().count() <= max && !value.chars().any(char::is_control)
}

pub async fn create_user(store: &dyn Store, new: NewUser, now: i64) -> Result<CreatedUser, AdminError> {
    if !printable(&new.id, 255) {
        return Err(AdminError::Invalid(
            "user id must be 1 to 255 printable characters".into(),
        ));
    }
    if new
        .email
        .as_deref()
        .is_some_and(|e| !printable(e, 255) || !e.contains('@'))
    {
        return Err(AdminError::Invalid("email must look like an e-mail address".into()));
    }
    if new.phone.as_deref().is_some_and(|p| !printable(p, 32)) {
        return Err(AdminError::Invalid(
            "phone must be at most 32 printable characters".into(),
        ));
    }
    if new.apps.iter().any(|a| !printable(a, 128)) {
        return Err(AdminError::Invalid(
            "app ids must be 1 to 128 printable characters".into(),
        ));
    }
    if new
        .user_code
        .as_deref()
        .is_some_and(|c| !printable(c, 64) || c.chars().count() < 4)
    {
        return Err(AdminError::Invalid(
            "user code must be 4 to 64 printable characters".into(),
        ));
    }
    let user_code_hash = new
        .user_code
        .as_deref()
        .map(secret::hash_password)
        .transpose()
        .map_err(AdminError::Invalid)?;
    let status = if new.locked {
        UserStatus::Locked
    } else {
        UserStatus::Active
    };
    let user = User {
        id: new.id,
        email: new.email,
        phone: new.phone,
        status,
        failed_attempts: 0,
        user_code_hash,
        static_password_hash: None,
        created_at: now,
    };
    store.insert_user(&user, &new.apps).await?;
    Ok(CreatedUser {
        user_id: user.id,
        email: user.email,
        phone: user.phone,
        status: status.as_str(),
        apps: new.apps,
    })
}

#[derive(Debug, Clone, Serialize)]
pub struct Binding {
    pub device_id: DeviceId,
    pub user_id: UserId,
    pub status: &'static str,
}

/// Binds a registered device to a user and activates it.
pub async fn bind_device(store: &dyn Store, device_id: &DeviceId, user_id: &UserId) -> Result<Binding, AdminError> {
    match store.bind_device(device_id, user_id).await? {
        BindOutcome::Bound => Ok(Binding {
            device_id: device_id.clone(),
            user_id: user_id.clone(),
            status: "active",
        }),
        BindOutcome::UnknownDevice => Err(AdminError::Invalid(format!("no device `{device_id}` is registered"))),
        BindOutcome::UnknownUser => Err(AdminError::Invalid(format!("no user `{user_id}` exists"))),
        BindOutcome::NotBindable => Err(AdminError::Invalid(format!(
            "device `{device_id}` is bound to another user, locked or removed"
        ))),
    }
}

/// An app's push relay as set (or removed: `push_relay_uri` absent).
#[derive(Debug, Clone, Serialize)]
pub struct AppRelay {
    pub client_id: ClientId,
    pub app_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push_relay_uri: Option<String>,
}

/// Sets the push relay of one client's app (`appId`), through which that
/// client's requests naming the app reach devices on the webhook channel;
/// `None` removes it, and those requests fall back to the client's relay.
/// Keyed by client: another client naming the same appId never uses it.
pub async fn set_app_push_relay(
    store: &dyn Store,
    client_id: &ClientId,
    app_id: &str,
    uri: Option<&str>,
    outbound: &OutboundRule,
    now: i64,
) -> Result<AppRelay, AdminError> {
    // The same rule as appId in a binding_message, so every settable app can be named.
    if !printable(app_id, 128) {
        return Err(AdminError::Invalid(
            "the app id must be 1 to 128 printable characters".into(),
        ));
    }
    if let Some(uri) = uri {
        outbound
            .check(uri)
            .map_err(|e| AdminError::Invalid(format!("the push relay URI {e}")))?;
    }
    if store.client(client_id).await?.is_none() {
        return Err(AdminError::Invalid(format!("no client `{client_id}` is registered")));
    }
    let changed = store.set_app_push_relay(client_id, app_id, uri, now).await?;
    if uri.is_none() && !changed {
        return Err(AdminError::Invalid(format!(
            "app `{app_id}` of client `{client_id}` has no push relay"
        )));
    }
    Ok(AppRelay {
        client_id: client_id.clone(),
        app_id: app_id.to_owned(),
        push_relay_uri: uri.map(str::to_owned),
    })
}
