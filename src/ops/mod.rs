//! The operator's endpoints: `/metrics` and the OpenAPI contract.

pub mod metrics;
pub mod openapi;
