//! The admin console's face (issue 19), at `/admin`: server-rendered pages
//! (askama templates under `templates/admin/`). So far: administrators from
//! the CLI (`cli.rs`), signing in with sessions of their own (`guard.rs`,
//! `sign_in.rs`, `sign_out.rs`, `sessions.rs`), the dashboard, the live
//! pending requests, and the
//! transactions with their evidence, users and their devices, the signing
//! keys, the audit log and its export.

pub mod assets;
pub mod audit;
pub mod audit_export;
pub mod cli;
pub mod clients;
pub mod dashboard;
pub mod guard;
pub mod keys;
pub mod keys_change;
pub mod page;
pub mod pending;
pub mod pending_events;
pub mod saml_sps;
pub mod sessions;
pub mod sign_in;
pub mod sign_out;
pub mod transaction;
pub mod transactions;
pub mod user;
pub mod user_device;
pub mod user_status;
pub mod users;
