//! The operator's endpoints (`/metrics`, the OpenAPI contract) and the
//! `trustid keys` commands.

pub mod keys_cli;

pub mod metrics;
pub mod openapi;
