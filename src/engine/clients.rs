//! An operator's changes to a registered client: its metadata (by the same
//! rules as registration), its secret, whether it may authenticate. Each
//! change is audited under who made it, subject `client:{id}`.

use std::sync::Arc;

use super::AppState;
use super::changed::changed_members;
use super::saml_login::is_sp_client;
use super::users::Actor;
use crate::crypto::secret;
use crate::domain::admin::CONSOLE_CLIENT;
use crate::domain::client::{Client, ClientMetadata, MetadataError};
use crate::domain::ids::ClientId;
use crate::store::StoreError;
use crate::store::clients::{ClientChange, ClientRemoval};

/// Why a change was not made, or (`Unaudited`) made but not audited.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no such client")]
    UnknownClient,
    /// trustid's own: a SAML service provider's (the SP's settings rule
    /// it) or the console's.
    #[error("this client is trustid's own")]
    OwnClient,
    #[error(transparent)]
    Invalid(#[from] MetadataError),
    /// A `private_key_jwt` client proves itself with its keys, not a secret.
    #[error("this client authenticates with private_key_jwt and has no secret")]
    NoSecret,
    /// Records that are evidence name the client: it can only be disabled.
    #[error(
        "{0} transactions, bindings, registrations, risk evaluations or document verdicts name this client and are kept as evidence: disable it instead"
    )]
    Named(i64),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The change is stored; its audit entry could not be written.
    #[error("the change was made but could not be audited: {0}")]
    Unaudited(StoreError),
}

/// Whether trustid made this client for itself: a SAML service provider's,
/// or the console's (its admins' sign-ins).
pub fn is_own_client(id: &ClientId) -> bool {
    is_sp_client(id) || id.as_str() == CONSOLE_CLIENT
}

/// A client an operator may change: registered, and not trustid's own.
pub async fn changeable(state: &AppState, id: &ClientId) -> Result<Arc<Client>, Refusal> {
    if is_own_client(id) {
        return Err(Refusal::OwnClient);
    }
    state.store.client(id).await?.ok_or(Refusal::UnknownClient)
}

/// Replaces the client's metadata, once it passes registration's rules.
pub async fn update(state: &AppState, actor: &Actor, id: &ClientId, metadata: &ClientMetadata) -> Result<(), Refusal> {
    let before = changeable(state, id).await?;
    metadata.validate(&state.server.outbound, state.server.mtls.support)?;
    change(state, id, ClientChange::Metadata(metadata)).await?;
    let changed = changed_members(&before.metadata, metadata);
    audit(state, actor, "client.updated", id, Some(changed)).await
}

/// Gives the client a new secret and returns it (to be shown once); the old
/// one fails at once on this instance, within the client cache's TTL on others.
pub async fn rotate_secret(state: &AppState, actor: &Actor, id: &ClientId) -> Result<String, Refusal> {
    let client = changeable(state, id).await?;
    if !client.auth_method().uses_secret() {
        return Err(Refusal::NoSecret);
    }
    let new = secret::random_token();
    change(state, id, ClientChange::SecretDigest(&secret::digest(&new))).await?;
    audit(state, actor, "client.secret_rotated", id, None).await?;
    Ok(new)
}

/// Removes a client no evidence names (one registered by mistake, say),
/// with its tokens; its audit entries stay.
pub async fn remove(state: &AppState, actor: &Actor, id: &ClientId) -> Result<(), Refusal> {
    changeable(state, id).await?;
    match state.store.remove_client(id.as_str()).await? {
        ClientRemoval::Removed => audit(state, actor, "client.removed", id, None).await,
        ClientRemoval::Unknown => Err(Refusal::UnknownClient),
        ClientRemoval::Named(n) => Err(Refusal::Named(n)),
    }
}

/// Disables the client (every client authentication fails) or enables it;
/// asking for the state it is in changes nothing and audits nothing.
pub async fn set_disabled(state: &AppState, actor: &Actor, id: &ClientId, disabled: bool) -> Result<(), Refusal> {
    let client = changeable(state, id).await?;
    if client.is_disabled() == disabled {
        return Ok(());
    }
    let since = disabled.then(|| state.clock.now());
    change(state, id, ClientChange::Disabled(since)).await?;
    let action = if disabled { "client.disabled" } else { "client.enabled" };
    audit(state, actor, action, id, None).await
}

async fn change(state: &AppState, id: &ClientId, change: ClientChange<'_>) -> Result<(), Refusal> {
    if state.store.change_client(id, change, state.clock.now()).await? {
        Ok(())
    } else {
        Err(Refusal::UnknownClient)
    }
}

async fn audit(
    state: &AppState,
    actor: &Actor,
    action: &'static str,
    id: &ClientId,
    detail: Option<String>,
) -> Result<(), Refusal> {
    state
        .audit(actor.audit_name(), action, format!("client:{id}"), detail)
        .await
        .map_err(Refusal::Unaudited)
}
