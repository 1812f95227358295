//! Status responses (SAML-core §3.2.2): the parts every Response and
//! LogoutResponse share, and the failure Response, which carries a status
//! and never an Assertion.

use super::writer::Writer;
use super::{ASSERTION_NS, Built, PROTOCOL_NS, SamlXmlError, instant, new_id};
use crate::crypto::xmldsig::{XmlSigner, sign};

const STATUS_PREFIX: &str = "urn:oasis:names:tc:SAML:2.0:status:";

/// Who is at fault (SAML-core §3.2.2.2, top level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopStatus {
    /// The request could not be performed due to the requester.
    Requester,
    /// The request could not be performed due to the responder (trustid).
    Responder,
    /// The request's SAML version is not 2.0.
    VersionMismatch,
}

/// What went wrong (SAML-core §3.2.2.2, second level).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubStatus {
    /// Denied on the device, expired, or the user or device is locked.
    AuthnFailed,
    RequestDenied,
    /// `IsPassive`: every trustid login needs the user's approval.
    NoPassive,
    UnknownPrincipal,
    InvalidNameIdPolicy,
    RequestUnsupported,
    NoAuthnContext,
    UnsupportedBinding,
    RequestVersionTooHigh,
    RequestVersionTooLow,
}

impl TopStatus {
    pub fn uri(self) -> String {
        let name = match self {
            Self::Requester => "Requester",
            Self::Responder => "Responder",
            Self::VersionMismatch => "VersionMismatch",
        };
        format!("{STATUS_PREFIX}{name}")
    }
}

impl SubStatus {
    pub fn uri(self) -> String {
        let name = match self {
            Self::AuthnFailed => "AuthnFailed",
            Self::RequestDenied => "RequestDenied",
            Self::NoPassive => "NoPassive",
            Self::UnknownPrincipal => "UnknownPrincipal",
            Self::InvalidNameIdPolicy => "InvalidNameIDPolicy",
            Self::RequestUnsupported => "RequestUnsupported",
            Self::NoAuthnContext => "NoAuthnContext",
            Self::UnsupportedBinding => "UnsupportedBinding",
            Self::RequestVersionTooHigh => "RequestVersionTooHigh",
            Self::RequestVersionTooLow => "RequestVersionTooLow",
        };
        format!("{STATUS_PREFIX}{name}")
    }
}

/// A failure status, with an optional message for the SP's operator.
#[derive(Debug, Clone, Copy)]
pub struct Failure<'a> {
    pub top: TopStatus,
    pub second: SubStatus,
    pub message: Option<&'a str>,
}

/// The header every status response carries.
#[derive(Debug, Clone, Copy)]
pub struct StatusFacts<'a> {
    pub idp_entity_id: &'a str,
    /// Where the response is sent (the ACS or SLO URL).
    pub destination: &'a str,
    /// The request's ID; `None` only for an unsolicited Response.
    pub in_response_to: Option<&'a str>,
    pub issue_instant: i64,
}

/// A signed failure Response: no Assertion.
pub fn failure(f: &StatusFacts<'_>, failure: &Failure<'_>, signer: &XmlSigner) -> Result<Built, SamlXmlError> {
    let mut built = response_element("samlp:Response", f, Some(failure), None)?;
    built.xml = sign(&built.xml, &built.id, signer)?;
    Ok(built)
}

/// `name` (a StatusResponseType) with Issuer, Status (Success when
/// `failure` is `None`) and `body`, an element this crate built.
pub(super) fn response_element(
    name: &'static str,
    f: &StatusFacts<'_>,
    failure: Option<&Failure<'_>>,
    body: Option<&str>,
) -> Result<Built, SamlXmlError> {
    let id = new_id();
    let issued = instant(f.issue_instant)?;
    let mut attrs = vec![
        ("xmlns:samlp", PROTOCOL_NS),
        ("xmlns:saml", ASSERTION_NS),
        ("ID", id.as_str()),
        ("Version", "2.0"),
        ("IssueInstant", issued.as_str()),
        ("Destination", f.destination),
    ];
    if let Some(request) = f.in_response_to {
        attrs.push(("InResponseTo", request));
    }
    let mut w = Writer::new();
    w.element(name, &attrs, |w| {
        w.text_element("saml:Issuer", &[], f.idp_entity_id);
        w.element("samlp:Status", &[], |w| match failure {
            None => w.empty("samlp:StatusCode", &[("Value", &format!("{STATUS_PREFIX}Success"))]),
            Some(failure) => {
                w.element("samlp:StatusCode", &[("Value", &failure.top.uri())], |w| {
                    w.empty("samlp:StatusCode", &[("Value", &failure.second.uri())]);
                });
                if let Some(message) = failure.message {
                    w.text_element("samlp:StatusMessage", &[], message);
                }
            }
        });
        if let Some(body) = body {
            w.built(body);
        }
    });
    Ok(Built {
        xml: w.finish(),
        id,
        assertion_id: None,
    })
}
