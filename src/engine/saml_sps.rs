//! Operator actions on the registry of SAML service providers: register
//! (after the registration rules), list, change, remove. The CLI's forms
//! take the store and answer [`AdminError`]; the console's take who acts,
//! answer [`Refusal`] and are audited under subject `saml_sp:{entity ID}`.

use serde::Serialize;

use super::AppState;
use super::admin::AdminError;
use super::changed::changed_members;
use super::saml_login::{sp_client_id, sp_client_name};
use super::users::Actor;
use crate::domain::client::ClientMetadata;
use crate::domain::ids::random_id;
use crate::domain::saml_sp::{SamlSp, SamlSpSettings, SettingsError};
use crate::store::clients::ClientChange;
use crate::store::{Store, StoreError};

/// Why a console change was not made, or (`Unaudited`) made but not audited.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no such SAML service provider")]
    UnknownSp,
    #[error(transparent)]
    Invalid(#[from] SettingsError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The change is stored; its audit entry could not be written.
    #[error("the change was made but could not be audited: {0}")]
    Unaudited(StoreError),
}

/// A registered SP as the CLI prints it: its id, then its settings.
#[derive(Debug, Clone, Serialize)]
pub struct SpListing {
    pub id: String,
    pub created_at: i64,
    #[serde(flatten)]
    pub settings: SamlSpSettings,
}

impl From<SamlSp> for SpListing {
    fn from(sp: SamlSp) -> Self {
        Self {
            id: sp.id,
            created_at: sp.created_at,
            settings: sp.settings,
        }
    }
}

/// Checks `settings` (`dev` allows http ACS URLs on loopback) and stores the
/// SP under a new random id; a taken entity ID is refused.
pub async fn add_saml_sp(
    store: &dyn Store,
    settings: SamlSpSettings,
    dev: bool,
    now: i64,
) -> Result<SamlSp, AdminError> {
    insert(store, settings, dev, now).await.map_err(|e| match e {
        Refusal::Store(e) | Refusal::Unaudited(e) => AdminError::Store(e),
        other => AdminError::Invalid(other.to_string()),
    })
}

async fn insert(store: &dyn Store, settings: SamlSpSettings, dev: bool, now: i64) -> Result<SamlSp, Refusal> {
    settings.validate(dev)?;
    let sp = SamlSp {
        id: random_id(),
        settings,
        created_at: now,
    };
    match store.insert_saml_sp(&sp).await {
        Ok(()) => Ok(sp),
        Err(StoreError::Conflict(_)) => Err(taken(&sp)),
        Err(e) => Err(e.into()),
    }
}

fn taken(sp: &SamlSp) -> Refusal {
    Refusal::Invalid(SettingsError {
        member: "entity_id",
        message: format!("an SP with entity ID `{}` is already registered", sp.entity_id()),
    })
}

/// [`add_saml_sp`] for an operator of the console: audited (`saml_sp.created`).
pub async fn register(state: &AppState, actor: &Actor, settings: SamlSpSettings) -> Result<SamlSp, Refusal> {
    let sp = insert(state.store.as_ref(), settings, state.server.dev, state.clock.now()).await?;
    audit(state, actor, "saml_sp.created", &sp, None).await?;
    Ok(sp)
}

/// The SP with registry id `id`.
pub async fn find(state: &AppState, id: &str) -> Result<SamlSp, Refusal> {
    state.store.saml_sp_by_id(id).await?.ok_or(Refusal::UnknownSp)
}

/// Replaces the settings of SP `id` once they pass registration's rules.
/// Its entity ID stays: another entity ID is another SP, which must not
/// inherit this one's persistent NameIDs (kept by registry id) nor its
/// audit trail (kept by entity ID); remove it and add the other.
pub async fn update(state: &AppState, actor: &Actor, id: &str, settings: SamlSpSettings) -> Result<(), Refusal> {
    let before = find(state, id).await?;
    if settings.entity_id != before.settings.entity_id {
        return Err(Refusal::Invalid(SettingsError {
            member: "entity_id",
            message: "an SP's entity ID cannot change: remove the SP and add it again".into(),
        }));
    }
    settings.validate(state.server.dev)?;
    let changed = changed_members(&before.settings, &settings);
    let renamed = settings.display_name != before.settings.display_name;
    let sp = SamlSp { settings, ..before };
    match state.store.update_saml_sp(&sp).await {
        Ok(true) => {
            if renamed {
                rename_client(state, &sp).await?;
            }
            audit(state, actor, "saml_sp.updated", &sp, Some(changed)).await
        }
        Ok(false) => Err(Refusal::UnknownSp),
        Err(StoreError::Conflict(_)) => Err(taken(&sp)),
        Err(e) => Err(e.into()),
    }
}

/// The SP's client, when it has logged in once, takes the SP's new name
/// (the clients list and the audit trail show it).
async fn rename_client(state: &AppState, sp: &SamlSp) -> Result<(), StoreError> {
    let id = sp_client_id(sp);
    if let Some(client) = state.store.client(id.as_str()).await? {
        let metadata = ClientMetadata {
            client_name: sp_client_name(sp),
            ..client.metadata.clone()
        };
        let change = ClientChange::Metadata(&metadata);
        state
            .store
            .change_client(id.as_str(), change, state.clock.now())
            .await?;
    }
    Ok(())
}

/// Removes SP `id` (its pending logins and request IDs go with it).
pub async fn remove(state: &AppState, actor: &Actor, id: &str) -> Result<(), Refusal> {
    let sp = find(state, id).await?;
    if !forget(state.store.as_ref(), &sp, state.clock.now()).await? {
        return Err(Refusal::UnknownSp);
    }
    audit(state, actor, "saml_sp.removed", &sp, None).await
}

/// Removes `sp` and disables its client, whose row stays: the SP's
/// transactions keep their evidence. False when it was removed already.
async fn forget(store: &dyn Store, sp: &SamlSp, now: i64) -> Result<bool, StoreError> {
    if !store.remove_saml_sp(sp.entity_id().as_str()).await? {
        return Ok(false);
    }
    store
        .change_client(sp_client_id(sp).as_str(), ClientChange::Disabled(Some(now)), now)
        .await?;
    Ok(true)
}

async fn audit(
    state: &AppState,
    actor: &Actor,
    action: &'static str,
    sp: &SamlSp,
    detail: Option<String>,
) -> Result<(), Refusal> {
    let subject = format!("saml_sp:{}", sp.entity_id());
    state
        .audit(actor.audit_name(), action, subject, detail)
        .await
        .map_err(Refusal::Unaudited)
}

/// Every registered SP, by entity ID.
pub async fn list_saml_sps(store: &dyn Store) -> Result<Vec<SpListing>, AdminError> {
    Ok(store.saml_sps().await?.into_iter().map(SpListing::from).collect())
}

/// Removes the SP registered under `entity_id`; refused when there is none.
pub async fn remove_saml_sp(store: &dyn Store, entity_id: &str, now: i64) -> Result<(), AdminError> {
    let unknown = || AdminError::Invalid(format!("no SP with entity ID `{entity_id}` is registered"));
    let sp = store.saml_sp(entity_id).await?.ok_or_else(unknown)?;
    if forget(store, &sp, now).await? {
        Ok(())
    } else {
        Err(unknown())
    }
}
