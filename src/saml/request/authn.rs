//! `samlp:AuthnRequest` (SAML Core §3.4.1) as trustid reads it.

use roxmltree::Node;
use time::OffsetDateTime;

use super::RequestId;
use super::error::{Refused, RequestError, Requester};
use super::xml::{self, ASSERTION_NS, PROTOCOL_NS};
use crate::domain::saml_sp::{AcsBinding, EntityId, NameIdFormat};

/// Where the SP asks the Response to go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AcsChoice {
    /// Neither URL nor index: the SP's default ACS.
    Default,
    /// `AssertionConsumerServiceURL`: must be one the SP registered.
    Url(String),
    /// `AssertionConsumerServiceIndex`.
    Index(u16),
}

/// `samlp:NameIDPolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameIdPolicy {
    /// `None`: no Format, or the `unspecified` one: any format will do.
    pub format: Option<NameIdFormat>,
    pub allow_create: bool,
}

/// A `saml:NameID`, as a request's Subject or a LogoutRequest names it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NameId {
    pub value: String,
    pub format: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthnRequest {
    pub id: RequestId,
    pub issue_instant: OffsetDateTime,
    pub issuer: EntityId,
    pub destination: Option<String>,
    pub acs: AcsChoice,
    /// Only HTTP-POST is taken; absent means the ACS endpoint's own binding.
    pub protocol_binding: Option<AcsBinding>,
    pub is_passive: bool,
    pub force_authn: bool,
    pub name_id_policy: Option<NameIdPolicy>,
    /// `Subject/NameID`: who the SP says should log in, if it says.
    pub subject: Option<NameId>,
    /// Whether the root carries an enveloped `ds:Signature`. It proves
    /// nothing by itself: the caller verifies it with the SP's registered
    /// certificate and checks that the element it covers has [`Self::id`].
    pub signed: bool,
}

impl AuthnRequest {
    /// The check that closes signature wrapping: the element the verified
    /// signature covers is the root this parse read.
    pub fn is_signed_root(&self, signed_element_id: &str) -> bool {
        self.signed && self.id.as_str() == signed_element_id
    }
}

/// Parses an AuthnRequest document. Errors after the ID and Issuer were
/// read carry them, so a status can be answered to that SP.
pub fn parse_authn_request(xml_text: &str) -> Result<AuthnRequest, Refused> {
    let doc = xml::parse_document(xml_text)?;
    let root = doc.root_element();
    expect_root(root, "AuthnRequest")?;
    let requester = requester(root, "AuthnRequest")?;
    read(root, requester.clone()).map_err(|error| Refused {
        error,
        requester: Some(requester),
    })
}

/// The root must be `samlp:<name>`.
pub(super) fn expect_root(root: Node<'_, '_>, name: &str) -> Result<(), RequestError> {
    let tag = root.tag_name();
    if tag.name() != name || tag.namespace() != Some(PROTOCOL_NS) {
        let seen = match tag.namespace() {
            Some(PROTOCOL_NS) => tag.name().to_owned(),
            _ => format!("{} outside the SAML protocol namespace", tag.name()),
        };
        return Err(RequestError::UnexpectedRequest(seen.chars().take(128).collect()));
    }
    Ok(())
}

/// ID and Issuer, read first: every later refusal can name them.
pub(super) fn requester(root: Node<'_, '_>, element: &'static str) -> Result<Requester, RequestError> {
    let id = RequestId::parse(xml::required_attr(root, element, "ID")?)?;
    let issuer = xml::issuer(root)?;
    Ok(Requester { id, issuer })
}

/// Version 2.0 (SAML Core §3.2.1) and the IssueInstant.
pub(super) fn version_and_instant(root: Node<'_, '_>, element: &'static str) -> Result<OffsetDateTime, RequestError> {
    let version = xml::required_attr(root, element, "Version")?;
    if version != "2.0" {
        return Err(RequestError::Version(version.chars().take(16).collect()));
    }
    xml::instant(xml::required_attr(root, element, "IssueInstant")?, "IssueInstant")
}

fn read(root: Node<'_, '_>, requester: Requester) -> Result<AuthnRequest, RequestError> {
    let issue_instant = version_and_instant(root, "AuthnRequest")?;
    let flag = |name: &'static str| xml::attr(root, name).map_or(Ok(false), |v| xml::boolean(v, name));
    let acs = match (
        xml::attr(root, "AssertionConsumerServiceURL"),
        xml::attr(root, "AssertionConsumerServiceIndex"),
    ) {
        (Some(_), Some(_)) => return Err(RequestError::AcsUrlAndIndex),
        (Some(url), None) => AcsChoice::Url(url.to_owned()),
        (None, Some(index)) => AcsChoice::Index(index.trim().parse().map_err(|_| RequestError::BadAcsIndex)?),
        (None, None) => AcsChoice::Default,
    };
    let protocol_binding = xml::attr(root, "ProtocolBinding")
        .map(|b| AcsBinding::from_urn(b).map_err(RequestError::UnsupportedBinding))
        .transpose()?;
    let name_id_policy = xml::only_child(root, PROTOCOL_NS, "NameIDPolicy")?
        .map(name_id_policy)
        .transpose()?;
    let subject = match xml::only_child(root, ASSERTION_NS, "Subject")? {
        Some(subject) => subject_name_id(subject)?,
        None => None,
    };
    Ok(AuthnRequest {
        id: requester.id,
        issue_instant,
        issuer: requester.issuer,
        destination: xml::attr(root, "Destination").map(str::to_owned),
        acs,
        protocol_binding,
        is_passive: flag("IsPassive")?,
        force_authn: flag("ForceAuthn")?,
        name_id_policy,
        subject,
        signed: xml::has_signature(root)?,
    })
}

const UNSPECIFIED: &str = "urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified";

fn name_id_policy(node: Node<'_, '_>) -> Result<NameIdPolicy, RequestError> {
    let format = match xml::attr(node, "Format") {
        None | Some(UNSPECIFIED) => None,
        Some(urn) => Some(
            NameIdFormat::from_urn(urn)
                .ok_or_else(|| RequestError::UnsupportedNameIdFormat(urn.chars().take(128).collect()))?,
        ),
    };
    let allow_create = xml::attr(node, "AllowCreate").map_or(Ok(false), |v| xml::boolean(v, "AllowCreate"))?;
    Ok(NameIdPolicy { format, allow_create })
}

/// `Subject/NameID`; an encrypted or base ID is refused, a Subject with
/// only confirmations names nobody.
fn subject_name_id(subject: Node<'_, '_>) -> Result<Option<NameId>, RequestError> {
    if xml::only_child(subject, ASSERTION_NS, "EncryptedID")?.is_some() {
        return Err(RequestError::UnsupportedSubject("EncryptedID"));
    }
    if xml::only_child(subject, ASSERTION_NS, "BaseID")?.is_some() {
        return Err(RequestError::UnsupportedSubject("BaseID"));
    }
    xml::only_child(subject, ASSERTION_NS, "NameID")?
        .map(name_id)
        .transpose()
}

pub(super) fn name_id(node: Node<'_, '_>) -> Result<NameId, RequestError> {
    Ok(NameId {
        value: xml::text(node, "NameID")?,
        format: xml::attr(node, "Format").map(str::to_owned),
    })
}
