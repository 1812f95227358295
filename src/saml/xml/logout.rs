//! The LogoutResponse (SAML-core §3.7.2). trustid keeps no IdP session to
//! end (every login is approved on the phone), so a logout always succeeds.

use super::redirect::{Message, redirect_query};
use super::status::{StatusFacts, response_element};
use super::{Built, SamlXmlError};
use crate::crypto::xmldsig::{XmlSigner, sign};

/// For the HTTP-POST binding: an enveloped XML signature.
pub fn logout_response_post(f: &StatusFacts<'_>, signer: &XmlSigner) -> Result<Built, SamlXmlError> {
    let mut built = response_element("samlp:LogoutResponse", f, None, None)?;
    built.xml = sign(&built.xml, &built.id, signer)?;
    Ok(built)
}

/// For the HTTP-Redirect binding: the query string to append to the SP's
/// logout URL (after `?`), signed over its bytes (no XML signature).
pub fn logout_response_redirect(
    f: &StatusFacts<'_>,
    relay_state: Option<&str>,
    signer: &XmlSigner,
) -> Result<(Built, String), SamlXmlError> {
    let built = response_element("samlp:LogoutResponse", f, None, None)?;
    let query = redirect_query(Message::Response, &built.xml, relay_state, signer)?;
    Ok((built, query))
}
