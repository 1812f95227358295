//! The operator's endpoints (health and readiness, `/metrics`, the OpenAPI
//! contract), the `trustid keys` commands and the operator's command line.

pub mod health;
pub mod keys_cli;
pub mod metrics;
pub mod openapi;
pub mod operator_cli;
