//! What the HTTP faces share: the endpoint paths, the API error schema of
//! the device and management APIs, the management token, where a request
//! comes from, and the security headers of every answer.

pub mod api_error;
pub mod client_address;
pub mod manager;
pub mod paths;
pub mod security_headers;
