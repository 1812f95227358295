//! Pure types and rules: no I/O, no HTTP. Every string from the network is
//! turned into one of these at the edge.

pub mod address;
pub mod admin;
pub mod binding_message;
pub mod cddc;
pub mod challenge;
pub mod claims;
pub mod client;
pub mod delivery;
pub mod device;
pub mod distinguished_name;
pub mod identity_document;
pub mod ids;
pub mod lifecycle;
pub mod push;
pub mod risk;
pub mod saml_cert;
pub mod saml_login;
pub mod saml_sp;
pub mod saml_sp_metadata;
pub mod saml_sp_rules;
pub mod scope;
pub mod str_enum;
pub mod token;
pub mod transaction;
pub mod url;
pub mod user;
