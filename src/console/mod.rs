//! The admin console's face (issue 19), at `/admin`: server-rendered pages
//! (askama templates under `templates/admin/`), one file per endpoint.
//! `guard.rs` holds who is asking (the session cookie) and the checks every
//! form passes (same origin, the session's CSRF token); `page.rs` the
//! headers every page carries; `cli.rs` the `trustid admin` commands.

pub mod assets;
pub mod audit;
pub mod audit_export;
pub mod cli;
pub mod client;
pub mod client_form;
pub mod client_rule_remove;
pub mod client_rules;
pub mod client_secret;
pub mod client_status;
pub mod clients;
pub mod dashboard;
pub mod guard;
pub mod keys;
pub mod keys_change;
pub mod page;
pub mod pending;
pub mod pending_events;
pub mod phone;
pub mod saml_sp;
pub mod saml_sp_form;
pub mod saml_sp_import;
pub mod saml_sp_remove;
pub mod saml_sps;
pub mod sessions;
pub mod sign_in;
pub mod sign_in_phone;
pub mod sign_out;
pub mod timeline;
pub mod transaction;
pub mod transaction_cancel;
pub mod transactions;
pub mod user;
pub mod user_activation;
pub mod user_device;
pub mod user_status;
pub mod users;
