//! SAML requests as they reach the IdP: the Redirect and POST bindings
//! decoded (sizes capped, the Redirect query signature checked over the
//! bytes received), then `AuthnRequest` and `LogoutRequest` read from XML
//! with DTDs refused and IDs unique. Pure: no HTTP, no store; every refusal
//! is a [`RequestError`] that says how to answer it.

pub mod authn;
pub mod error;
pub mod logout;
pub mod post;
pub mod redirect;
pub mod signature;
pub mod xml;

pub use authn::{AcsChoice, AuthnRequest, NameId, NameIdPolicy, parse_authn_request};
pub use error::{Refused, Reply, RequestError, Requester, SubStatus, TopStatus};
pub use logout::{LogoutRequest, parse_logout_request};
pub use post::{PostRequest, parse_post};
pub use redirect::{RedirectRequest, parse_redirect};
pub use signature::{QuerySignature, SigAlg};

/// The longest request ID taken; IDs are echoed as `InResponseTo`.
pub const MAX_ID: usize = 256;

/// A request's `ID`: an xs:ID, i.e. an NCName (XML Namespaces §3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

impl RequestId {
    pub fn parse(raw: &str) -> Result<Self, RequestError> {
        let mut chars = raw.chars();
        let first_ok = chars.next().is_some_and(|c| c == '_' || c.is_alphabetic());
        let rest_ok = chars.all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !first_ok || !rest_ok || raw.len() > MAX_ID {
            return Err(RequestError::BadId);
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests;
