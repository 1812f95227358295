//! The SAML 2.0 IdP face: the requests SPs send (`request/`), SP metadata
//! read for the registry (`sp_metadata.rs`) and the operator's commands for
//! that registry (`cli.rs`).

pub mod cli;
pub mod request;
pub mod sp_metadata;
