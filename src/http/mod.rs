//! What the HTTP faces share: the endpoint paths, the API error schema of
//! and the device and management APIs.

pub mod api_error;
pub mod paths;
