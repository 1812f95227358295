//! The relying party's door: one file per endpoint, all answering RFC 6749 JSON.

pub mod authorize;
pub mod backchannel;
pub mod client_auth;
mod client_certificate_auth;
pub mod discovery;
pub mod error;
pub mod form;
pub mod hints;
pub mod introspect;
pub mod jwks;
pub mod register;
pub mod request_object;
pub mod revoke;
pub mod token;
pub mod userinfo;

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// A JSON body that must not be cached (tokens, acknowledgements).
pub fn no_store_json(status: axum::http::StatusCode, body: serde_json::Value) -> Response {
    let mut res = (status, axum::Json(body)).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    res
}

/// Pre-serialised public JSON (discovery, JWKS).
pub fn cached_json(body: axum::body::Bytes) -> Response {
    (
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CACHE_CONTROL, "public, max-age=300"),
        ],
        body,
    )
        .into_response()
}
