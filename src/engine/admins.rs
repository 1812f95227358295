//! Console administrators as operators manage them from the CLI: create,
//! change a password, disable, list. Passwords are hashed with argon2 off
//! the async threads and never leave this module; each change is audited.

use serde::Serialize;

use super::admin::AdminError;
use crate::crypto::secret;
use crate::domain::admin::{Admin, AdminEmail, check_password};
use crate::domain::ids::random_id;
use crate::domain::lifecycle::AuditEntry;
use crate::store::{Store, StoreError};

/// An admin as the CLI prints it: never the hash.
#[derive(Debug, Clone, Serialize)]
pub struct AdminListing {
    pub id: String,
    pub email: AdminEmail,
    pub created_at: i64,
    pub disabled: bool,
}

impl From<Admin> for AdminListing {
    fn from(a: Admin) -> Self {
        Self {
            id: a.id,
            email: a.email,
            created_at: a.created_at,
            disabled: a.disabled_at.is_some(),
        }
    }
}

async fn hash(password: String) -> Result<String, AdminError> {
    check_password(&password).map_err(AdminError::Invalid)?;
    tokio::task::spawn_blocking(move || secret::hash_password(&password))
        .await
        .map_err(|e| AdminError::Invalid(e.to_string()))?
        .map_err(AdminError::Invalid)
}

async fn audit(store: &dyn Store, action: &'static str, email: &AdminEmail, now: i64) -> Result<(), AdminError> {
    let entry = AuditEntry {
        at: now,
        actor: "cli".into(),
        action,
        subject: format!("admin:{email}"),
        detail: None,
    };
    Ok(store.audit(&entry).await?)
}

fn email(raw: &str) -> Result<AdminEmail, AdminError> {
    AdminEmail::parse(raw).map_err(AdminError::Invalid)
}

pub async fn create_admin(
    store: &dyn Store,
    raw_email: &str,
    password: String,
    now: i64,
) -> Result<AdminListing, AdminError> {
    let email = email(raw_email)?;
    let admin = Admin {
        id: random_id(),
        email: email.clone(),
        password_hash: hash(password).await?,
        created_at: now,
        password_at: now,
        disabled_at: None,
        device_user_id: None,
    };
    match store.insert_admin(&admin).await {
        Ok(()) => {}
        Err(StoreError::Conflict(_)) => {
            return Err(AdminError::Invalid(format!("an admin `{email}` exists already")));
        }
        Err(e) => return Err(e.into()),
    }
    audit(store, "admin.created", &email, now).await?;
    Ok(admin.into())
}

pub async fn set_password(store: &dyn Store, raw_email: &str, password: String, now: i64) -> Result<(), AdminError> {
    let email = email(raw_email)?;
    let hash = hash(password).await?;
    if !store.set_admin_password(email.as_str(), &hash, now).await? {
        return Err(AdminError::Invalid(format!("no admin `{email}`")));
    }
    // Every session signed in with the old password ends now.
    store.revoke_sessions_of(email.as_str(), now).await?;
    audit(store, "admin.password_changed", &email, now).await
}

pub async fn disable(store: &dyn Store, raw_email: &str, now: i64) -> Result<(), AdminError> {
    let email = email(raw_email)?;
    if !store.disable_admin(email.as_str(), now).await? {
        return Err(AdminError::Invalid(format!("no enabled admin `{email}`")));
    }
    store.revoke_sessions_of(email.as_str(), now).await?;
    audit(store, "admin.disabled", &email, now).await
}

/// Removes every phone bound to the admin (one lost or replaced) and ends
/// their sessions; how many phones. Where phones are required the admin
/// then signs in by password to a session that can only bind a new one.
pub async fn forget_phones(store: &dyn Store, raw_email: &str, now: i64) -> Result<usize, AdminError> {
    let email = email(raw_email)?;
    let admin = store
        .admin_by_email(email.as_str())
        .await?
        .ok_or_else(|| AdminError::Invalid(format!("no admin `{email}`")))?;
    let mut removed = 0;
    if let Some(user_id) = &admin.device_user_id {
        for device in store.devices_of(user_id).await? {
            if store.remove_device(user_id, device.id.as_str()).await? {
                removed += 1;
            }
        }
    }
    store.revoke_sessions_of(email.as_str(), now).await?;
    audit(store, "admin.phones_forgotten", &email, now).await?;
    Ok(removed)
}

pub async fn list(store: &dyn Store) -> Result<Vec<AdminListing>, AdminError> {
    Ok(store.admins().await?.into_iter().map(AdminListing::from).collect())
}
