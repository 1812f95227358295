//! The engine: what every face shares. Starting, deciding and settling a
//! transaction, issuing tokens and evidence, activation and lockout, the
//! outbox and device pushes, wake-ups and counters. Faces parse a request,
//! call in here and render the answer in their own format; nothing here
//! knows HTTP status codes or error wire formats.

pub mod actions;
pub mod activation;
pub mod admin;
pub mod admin_second_factor;
pub mod admin_sessions;
pub mod admins;
pub mod auth_failures;
pub mod cancel;
pub mod changed;
pub mod client_keys;
pub mod clients;
pub mod dashboard;
pub mod decide;
pub mod delivery;
pub mod drain;
pub mod identity_documents;
pub mod issue;
pub mod metrics;
pub mod outbound;
pub mod poll_gate;
pub mod risk;
pub mod risk_rules;
pub mod saml_login;
pub mod saml_sps;
pub mod settings;
pub mod start;
pub mod state;
pub mod users;
pub mod waits;
pub mod wakeup;

pub use state::AppState;
