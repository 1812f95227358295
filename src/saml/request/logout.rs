//! `samlp:LogoutRequest` (SAML Core §3.7.1) as trustid reads it.

use roxmltree::Node;
use time::OffsetDateTime;

use super::RequestId;
use super::authn::{NameId, expect_root, name_id, requester, version_and_instant};
use super::error::{Refused, RequestError};
use super::xml::{self, ASSERTION_NS, PROTOCOL_NS};
use crate::domain::saml_sp::EntityId;

/// More session indexes than this in one request is not a logout.
const MAX_SESSION_INDEXES: usize = 32;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutRequest {
    pub id: RequestId,
    pub issue_instant: OffsetDateTime,
    pub issuer: EntityId,
    pub destination: Option<String>,
    pub not_on_or_after: Option<OffsetDateTime>,
    /// Who logs out (a NameID; encrypted and base IDs are refused).
    pub name_id: NameId,
    pub session_indexes: Vec<String>,
    /// As [`super::AuthnRequest::signed`]: the caller verifies it.
    pub signed: bool,
}

impl LogoutRequest {
    /// See [`super::AuthnRequest::is_signed_root`].
    pub fn is_signed_root(&self, signed_element_id: &str) -> bool {
        self.signed && self.id.as_str() == signed_element_id
    }
}

pub fn parse_logout_request(xml_text: &str) -> Result<LogoutRequest, Refused> {
    let doc = xml::parse_document(xml_text)?;
    let root = doc.root_element();
    expect_root(root, "LogoutRequest")?;
    let requester = requester(root, "LogoutRequest")?;
    let read = |root: Node<'_, '_>| -> Result<LogoutRequest, RequestError> {
        let issue_instant = version_and_instant(root, "LogoutRequest")?;
        for unsupported in ["EncryptedID", "BaseID"] {
            if xml::only_child(root, ASSERTION_NS, unsupported)?.is_some() {
                return Err(RequestError::UnsupportedSubject(unsupported));
            }
        }
        let name_id = xml::only_child(root, ASSERTION_NS, "NameID")?
            .ok_or(RequestError::Empty("NameID"))
            .and_then(name_id)?;
        let mut session_indexes = Vec::new();
        for node in root
            .children()
            .filter(|c| c.tag_name().name() == "SessionIndex" && c.tag_name().namespace() == Some(PROTOCOL_NS))
        {
            if session_indexes.len() == MAX_SESSION_INDEXES {
                return Err(RequestError::TooMany {
                    what: "SessionIndex elements",
                    limit: MAX_SESSION_INDEXES,
                });
            }
            session_indexes.push(xml::text(node, "SessionIndex")?);
        }
        Ok(LogoutRequest {
            id: requester.id.clone(),
            issue_instant,
            issuer: requester.issuer.clone(),
            destination: xml::attr(root, "Destination").map(str::to_owned),
            not_on_or_after: xml::attr(root, "NotOnOrAfter")
                .map(|v| xml::instant(v, "NotOnOrAfter"))
                .transpose()?,
            name_id,
            session_indexes,
            signed: xml::has_signature(root)?,
        })
    };
    read(root).map_err(|error| Refused {
        error,
        requester: Some(requester.clone()),
    })
}
