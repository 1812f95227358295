//! Operator actions on the registry of SAML service providers: register
//! (after the registration rules), list, remove. Shared by the CLI and the
//! tests; each returns what a caller should print.

use serde::Serialize;

use super::admin::AdminError;
use crate::domain::ids::random_id;
use crate::domain::saml_sp::{SamlSp, SamlSpSettings};
use crate::store::{Store, StoreError};

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
    settings.validate(dev).map_err(AdminError::Invalid)?;
    let sp = SamlSp {
        id: random_id(),
        settings,
        created_at: now,
    };
    match store.insert_saml_sp(&sp).await {
        Ok(()) => Ok(sp),
        Err(StoreError::Conflict(_)) => Err(AdminError::Invalid(format!(
            "an SP with entity ID `{}` is already registered",
            sp.entity_id()
        ))),
        Err(e) => Err(e.into()),
    }
}

/// Every registered SP, by entity ID.
pub async fn list_saml_sps(store: &dyn Store) -> Result<Vec<SpListing>, AdminError> {
    Ok(store.saml_sps().await?.into_iter().map(SpListing::from).collect())
}

/// Removes the SP registered under `entity_id`; refused when there is none.
pub async fn remove_saml_sp(store: &dyn Store, entity_id: &str) -> Result<(), AdminError> {
    if store.remove_saml_sp(entity_id).await? {
        Ok(())
    } else {
        Err(AdminError::Invalid(format!(
            "no SP with entity ID `{entity_id}` is registered"
        )))
    }
}
