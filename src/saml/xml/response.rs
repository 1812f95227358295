//! The Response to a successful login (SAML-core §3.3.3, SAML-profiles
//! §4.1.4.2): Status Success and one Assertion, signed as the SP chose and
//! encrypted when the SP registered an encryption certificate.

use super::assertion::{AssertionFacts, assertion};
use super::status::{StatusFacts, response_element};
use super::writer::Writer;
use super::{ASSERTION_NS, Built, SamlXmlError};
use crate::crypto::xmldsig::{XmlSigner, sign};
use crate::crypto::xmlenc::{RecipientCert, encrypt_element};

/// Which elements carry a signature.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Signed {
    /// The Response (pysaml2's and most SPs' default expectation).
    #[default]
    Response,
    Assertion,
    /// The Assertion first, then the Response around it.
    Both,
}

/// The success Response posted to `facts.recipient`.
pub fn success(
    facts: &AssertionFacts<'_>,
    signed: Signed,
    signer: &XmlSigner,
    encrypt_for: Option<&RecipientCert>,
) -> Result<Built, SamlXmlError> {
    let mut inner = assertion(facts)?;
    if matches!(signed, Signed::Assertion | Signed::Both) {
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
        destination: facts.recipient,
        in_response_to: facts.in_response_to,
        issue_instant: facts.issue_instant,
    };
    let mut built = response_element("samlp:Response", &status, None, Some(&body))?;
    if matches!(signed, Signed::Response | Signed::Both) {
        built.xml = sign(&built.xml, &built.id, signer)?;
    }
    built.assertion_id = Some(inner.id);
    Ok(built)
}
