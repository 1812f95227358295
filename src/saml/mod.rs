//! The SAML 2.0 IdP face: service providers log users in with an approval on
//! their phone and receive the evidence as attributes. The requests SPs send
//! (`request/`), the documents trustid answers with (`xml/`), the operator's
//! commands for the registry of SPs (`cli.rs`), and the endpoints (`web/`).

pub mod cli;
pub mod request;
pub mod web;
pub mod xml;
