//! The operator's endpoints (health and readiness, `/metrics`, the OpenAPI
//! contract) and the `trustid keys` commands.

pub mod health;
pub mod keys_cli;
pub mod metrics;
pub mod openapi;
