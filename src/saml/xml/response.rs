//! The Response to a successful login (SAML-core §3.3.3, SAML-profiles
//! §4.1.4.2): Status Success and one Assertion, signed as the SP chose and
//! encrypted when the SP registered an encryption certificate.

use super::assertion::{AssertionFacts, assertion};
use super::status::{StatusFacts, response_element};
use super::writer::Writer;
use super::{ASSERTION_NS, Built, SamlXmlError};
use crate::crypto::xmldsig::{XmlSigner, sign};
use crate::crypto::xmlenc::{RecipientCert, encrypt_element};
use crate::domain::saml_sp::SignedParts;

/// The success Response posted to `facts.recipient`.
pub fn success(
    facts: &AssertionFacts<'_>,
    signed: SignedParts,
    signer: &XmlSigner,
    encrypt_for: Option<&RecipientCert>,
) -> Result<Built, SamlXmlError> {
    let destination = facts.recipient.ok_or(SamlXmlError::NoRecipient)?;
    let mut inner = assertion(facts)?;
    if signed.signs_assertion() {
        inner.xml = sign(&inner.xml, &inner.id, signer)?;
    }
    let body = match encrypt_for {
        None => inner.xml,
        Some(cert) => {
            let data = encrypt_element(&inner.xml, cert)?;
            let mut w = Writer::new();
            w.element("saml:EncryptedAssertion", &[("xmlns:saml", ASSERTION_NS)], |w| {
                w.built(&data)
            });
            w.finish()
        }
    };
    let status = StatusFacts {
        idp_entity_id: facts.idp_entity_id,
        destination,
        in_response_to: facts.in_response_to,
        issue_instant: facts.issue_instant,
    };
    let mut built = response_element("samlp:Response", &status, None, Some(&body))?;
    if signed.signs_response() {
        built.xml = sign(&built.xml, &built.id, signer)?;
    }
    built.assertion_id = Some(inner.id);
    Ok(built)
}
