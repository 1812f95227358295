//! The SAML 2.0 identity-provider face: service providers log users in with
//! an approval on their phone and receive the evidence as attributes.

pub mod xml;
