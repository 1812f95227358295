//! What the HTTP faces share: the endpoint paths, the API error schema of
//! the device and management APIs, the management token, where a request
//! comes from, the security headers of every answer and the per-route
//! request metrics.

pub mod api_error;
pub mod client_address;
pub mod client_certificate;
pub mod manager;
pub mod paths;
pub mod route_metrics;
pub mod security_headers;
