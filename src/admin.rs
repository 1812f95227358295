//! Administrative actions shared by the CLI and the tests: register clients,
//! create users, bind devices. Each returns what a caller should print.

use serde::Serialize;

use crate::crypto::secret;
use crate::domain::client::{AuthMethod, Client, DeliveryMode, SigningAlg};
use crate::domain::user::{User, UserStatus};
use crate::store::{BindOutcome, Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What `clients add` asks for.
#[derive(Debug, Clone)]
pub struct NewClient {
    pub name: String,
    pub delivery_mode: DeliveryMode,
    pub auth_method: AuthMethod,
    pub id_token_alg: SigningAlg,
}

/// A created client, with its secret: shown once, never stored.
#[derive(Debug, Clone, Serialize)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: String,
    pub name: String,
    pub token_endpoint_auth_method: &'static str,
    pub backchannel_token_delivery_mode: &'static str,
    pub id_token_signed_response_alg: &'static str,
}

pub async fn create_client(
    store: &dyn Store,
    new: NewClient,
    now: i64,
) -> Result<ClientCredentials, AdminError> {
    if new.name.trim().is_empty()
        || new.name.chars().count() > 100
        || new.name.chars().any(char::is_control)
    {
        return Err(AdminError::Invalid(
            "name must be 1 to 100 printable characters".into(),
        ));
    }
    if !DeliveryMode::SUPPORTED.contains(&new.delivery_mode) {
        return Err(AdminError::Invalid(format!(
            "delivery mode `{}` is not supported yet (supported: poll)",
            new.delivery_mode
        )));
    }
    let secret = secret::random_token();
    let client = Client {
        id: secret::random_id(),
        name: new.name.trim().to_owned(),
        secret_digest: secret::digest(&secret),
        auth_method: new.auth_method,
        delivery_mode: new.delivery_mode,
        id_token_alg: new.id_token_alg,
        created_at: now,
    };
    store.insert_client(&client).await?;
    Ok(ClientCredentials {
        client_id: client.id,
        client_secret: secret,
        name: client.name,
        token_endpoint_auth_method: client.auth_method.as_str(),
        backchannel_token_delivery_mode: client.delivery_mode.as_str(),
        id_token_signed_response_alg: client.id_token_alg.as_str(),
    })
}

/// What `users add` asks for.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub locked: bool,
    pub apps: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CreatedUser {
    pub user_id: String,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub status: &'static str,
    pub apps: Vec<String>,
}

fn printable(value: &str, max: usize) -> bool {
    !value.trim().is_empty() && value.chars().count() <= max && !value.chars().any(char::is_control)
}

pub async fn create_user(
    store: &dyn Store,
    new: NewUser,
    now: i64,
) -> Result<CreatedUser, AdminError> {
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
        return Err(AdminError::Invalid(
            "email must look like an e-mail address".into(),
        ));
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
    pub device_id: String,
    pub user_id: String,
    pub status: &'static str,
}

/// Binds a registered device to a user and activates it.
pub async fn bind_device(
    store: &dyn Store,
    device_id: &str,
    user_id: &str,
) -> Result<Binding, AdminError> {
    match store.bind_device(device_id, user_id).await? {
        BindOutcome::Bound => Ok(Binding {
            device_id: device_id.to_owned(),
            user_id: user_id.to_owned(),
            status: "active",
        }),
        BindOutcome::UnknownDevice => Err(AdminError::Invalid(format!(
            "no device `{device_id}` is registered"
        ))),
        BindOutcome::UnknownUser => Err(AdminError::Invalid(format!("no user `{user_id}` exists"))),
        BindOutcome::NotBindable => Err(AdminError::Invalid(format!(
            "device `{device_id}` is bound to another user, locked or removed"
        ))),
    }
}
