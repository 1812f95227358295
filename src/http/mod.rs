//! What the HTTP faces share: the endpoint paths, and the API error schema
//! of the device and management APIs.

pub mod api_error;
pub mod paths;
