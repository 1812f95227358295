//! The Assertion of a successful login (SAML-core §2.3.3): who, for which SP,
//! until when, how (an out-of-band approval on a bound device), and the
//! evidence as attributes named by the one claim table.

use serde_json::Value;

use super::name_id::NameId;
use super::writer::Writer;
use super::{ASSERTION_NS, Built, SamlXmlError, XS_NS, XSI_NS, instant, new_id};
use crate::crypto::xmldsig::{XmlSigner, sign};
use crate::domain::claims::Evidence;

/// The AuthnContext class of every trustid login: the user approved on a
/// bound device, out of band, with a signature made by a key that never left
/// it. No SAML-defined class says that (MobileTwoFactorContract implies a
/// contract and a second factor on the same channel), so trustid names its
/// own. A URN rather than a URL under the deployment's issuer: an SP that
/// requires this class sees the same value from every trustid.
pub const AUTHN_CONTEXT_CLASS: &str = "urn:trustid:ac:classes:oob-device-signature";
/// Attribute names are the claim table's plain names (SAML-core §8.2.1).
pub const ATTRNAME_BASIC: &str = "urn:oasis:names:tc:SAML:2.0:attrname-format:basic";
const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
const SENDER_VOUCHES: &str = "urn:oasis:names:tc:SAML:2.0:cm:sender-vouches";

/// One single-valued attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlAttribute {
    pub name: &'static str,
    pub value: String,
}

/// The evidence as SAML attributes: names from the claim table, times as
/// ISO 8601 UTC instants of the same seconds the ID token carries, numbers in
/// decimal. Absent facts stay absent.
pub fn attributes(evidence: &[(Evidence, Value)]) -> Result<Vec<SamlAttribute>, SamlXmlError> {
    let mut out = Vec::with_capacity(evidence.len());
    for (e, value) in evidence {
        let is_time = matches!(e, Evidence::TransactionStartTime | Evidence::TransactionEndTime);
        let value = match value {
            Value::Null => continue,
            Value::Number(n) if is_time => instant(n.as_i64().ok_or(SamlXmlError::Instant)?)?,
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        out.push(SamlAttribute {
            name: e.saml_name(),
            value,
        });
    }
    Ok(out)
}

/// What an Assertion says.
#[derive(Debug, Clone, Copy)]
pub struct AssertionFacts<'a> {
    /// trustid's entity ID.
    pub idp_entity_id: &'a str,
    /// The SP's entity ID: the audience.
    pub sp_entity_id: &'a str,
    /// The ACS URL the Response is posted to: a bearer confirmation for it
    /// (Web SSO). `None` for an exported Assertion: sender-vouches, with no
    /// ACS a Web SSO profile would accept it at.
    pub recipient: Option<&'a str>,
    /// The AuthnRequest's ID; `None` for an IdP-initiated login.
    pub in_response_to: Option<&'a str>,
    pub name_id: NameId<'a>,
    pub issue_instant: i64,
    /// Seconds from `issue_instant` during which the SP may accept it.
    pub lifetime: i64,
    /// When the user approved on the device.
    pub authn_instant: i64,
    pub session_index: &'a str,
    pub attributes: &'a [SamlAttribute],
}

/// The Assertion, unsigned, namespaces declared on it so it stands alone
/// (signed by itself, encrypted, or exported).
pub fn assertion(f: &AssertionFacts<'_>) -> Result<Built, SamlXmlError> {
    let id = new_id();
    let issued = instant(f.issue_instant)?;
    let until = instant(f.issue_instant.saturating_add(f.lifetime))?;
    let authn = instant(f.authn_instant)?;
    let mut w = Writer::new();
    let attrs = [
        ("xmlns:saml", ASSERTION_NS),
        ("ID", &id),
        ("Version", "2.0"),
        ("IssueInstant", &issued),
    ];
    w.element("saml:Assertion", &attrs, |w| {
        w.text_element("saml:Issuer", &[], f.idp_entity_id);
        subject(w, f, &until);
        w.element(
            "saml:Conditions",
            &[("NotBefore", &issued), ("NotOnOrAfter", &until)],
            |w| {
                w.element("saml:AudienceRestriction", &[], |w| {
                    w.text_element("saml:Audience", &[], f.sp_entity_id);
                });
            },
        );
        let statement = [("AuthnInstant", authn.as_str()), ("SessionIndex", f.session_index)];
        w.element("saml:AuthnStatement", &statement, |w| {
            w.element("saml:AuthnContext", &[], |w| {
                w.text_element("saml:AuthnContextClassRef", &[], AUTHN_CONTEXT_CLASS);
            });
        });
        if !f.attributes.is_empty() {
            w.element("saml:AttributeStatement", &[], |w| {
                for a in f.attributes {
                    w.element(
                        "saml:Attribute",
                        &[("Name", a.name), ("NameFormat", ATTRNAME_BASIC)],
                        |w| {
                            // xs/xsi declared here: exclusive C14N drops a prefix
                            // used only inside an attribute value from an ancestor.
                            let typed = [("xmlns:xs", XS_NS), ("xmlns:xsi", XSI_NS), ("xsi:type", "xs:string")];
                            w.text_element("saml:AttributeValue", &typed, &a.value);
                        },
                    );
                }
            });
        }
    });
    Ok(Built {
        xml: w.finish(),
        id: id.clone(),
        assertion_id: Some(id),
    })
}

fn subject(w: &mut Writer, f: &AssertionFacts<'_>, until: &str) {
    w.element("saml:Subject", &[], |w| {
        let format = f.name_id.format;
        let mut attrs = vec![("Format", format.urn())];
        if format.is_pairwise() {
            attrs.push(("NameQualifier", f.idp_entity_id));
            attrs.push(("SPNameQualifier", f.sp_entity_id));
        }
        w.text_element("saml:NameID", &attrs, f.name_id.value);
        let Some(recipient) = f.recipient else {
            w.empty("saml:SubjectConfirmation", &[("Method", SENDER_VOUCHES)]);
            return;
        };
        w.element("saml:SubjectConfirmation", &[("Method", BEARER)], |w| {
            let mut data = vec![("NotOnOrAfter", until), ("Recipient", recipient)];
            if let Some(request) = f.in_response_to {
                data.push(("InResponseTo", request));
            }
            w.empty("saml:SubjectConfirmationData", &data);
        });
    });
}

/// The Assertion signed by itself: for SPs that take evidence out of band,
/// and the first step of a Response whose Assertion is signed.
pub fn signed_assertion(f: &AssertionFacts<'_>, signer: &XmlSigner) -> Result<Built, SamlXmlError> {
    let built = assertion(f)?;
    Ok(Built {
        xml: sign(&built.xml, &built.id, signer)?,
        ..built
    })
}
