//! What an Assertion says about one transaction to one SP: the NameID in
//! the SP's format and the attributes its allow-list releases, the same
//! instants the ID token carries. Shared by the posted Response and the
//! attribute export.

use crate::domain::claims::{self, Sources};
use crate::domain::saml_sp::SamlSp;
use crate::domain::transaction::Transaction;
use crate::domain::user::User;
use crate::engine::AppState;
use crate::engine::saml_login;
use crate::saml::xml::assertion::{AssertionFacts, SamlAttribute, attributes};
use crate::saml::xml::name_id::NameId;

/// Seconds an SP may accept an Assertion after it was issued.
pub const ASSERTION_LIFETIME: i64 = 300;

/// Why no Assertion could be written.
#[derive(Debug, thiserror::Error)]
pub enum EvidenceError {
    #[error("the user has no value in the NameID format this service provider uses")]
    NoNameId,
    #[error("{0}")]
    Internal(String),
}

/// The subject's NameID value, the released attributes, and an opaque
/// SessionIndex (not the transaction id, which an SP's allow-list may withhold).
pub struct Released {
    pub name_id: String,
    pub attributes: Vec<SamlAttribute>,
    pub session_index: String,
}

pub async fn released(
    state: &AppState,
    sp: &SamlSp,
    transaction: &Transaction,
    user: &User,
) -> Result<Released, EvidenceError> {
    let name_id = saml_login::name_id(state, sp, user)
        .await
        .map_err(|e| EvidenceError::Internal(e.to_string()))?
        .ok_or(EvidenceError::NoNameId)?;
    let evidence = claims::evidence(&Sources {
        transaction,
        scope: &transaction.scope,
        user,
    });
    let allowed: Vec<_> = evidence.into_iter().filter(|(e, _)| sp.releases(*e)).collect();
    let attributes = attributes(&allowed).map_err(|e| EvidenceError::Internal(e.to_string()))?;
    Ok(Released {
        name_id,
        attributes,
        session_index: crate::saml::xml::new_id(),
    })
}

/// The Assertion's facts, issued now: a bearer confirmation for
/// `recipient`, or sender-vouches without one (the export).
pub fn facts<'a>(
    state: &'a AppState,
    sp: &'a SamlSp,
    released: &'a Released,
    transaction: &'a Transaction,
    recipient: Option<&'a str>,
    in_response_to: Option<&'a str>,
) -> AssertionFacts<'a> {
    let now = state.clock.now();
    AssertionFacts {
        idp_entity_id: super::idp_entity_id(state),
        sp_entity_id: sp.entity_id().as_str(),
        recipient,
        in_response_to,
        name_id: NameId {
            format: sp.settings.name_id_format,
            value: &released.name_id,
        },
        issue_instant: now,
        lifetime: ASSERTION_LIFETIME,
        authn_instant: transaction.decided_at.unwrap_or(now),
        session_index: &released.session_index,
        attributes: &released.attributes,
    }
}
