//! What the HTTP faces share: the endpoint paths, the API error schema of
//! the device and management APIs, and the management token.

pub mod api_error;
pub mod manager;
pub mod paths;
