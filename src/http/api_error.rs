//! The error of the device and management APIs: `{"error": code,
//! "message": text}` (openapi.yaml `ApiError`), with a status per code, and
//! the engine's refusals in that schema.

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::engine::activation::{self, RefusalKind};
use crate::engine::users;
use crate::store::StoreError;

#[derive(Debug)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
        }
    }

    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }

    pub fn server_error(source: impl std::fmt::Display) -> Self {
        tracing::error!(error = %source, "internal error");
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "server_error",
            "the server could not complete the request",
        )
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            // A unique value already taken (a concurrent registration, an e-mail in use).
            StoreError::Conflict(what) => {
                Self::new(StatusCode::CONFLICT, "conflict", format!("{what} is already taken"))
            }
            // Nothing was changed: the caller retries shortly.
            e if e.is_unavailable() => {
                tracing::warn!(error = %e, "database unavailable");
                Self::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "temporarily_unavailable",
                    "the service is briefly unavailable; try again",
                )
            }
            e => Self::server_error(e),
        }
    }
}

impl From<activation::Refusal> for ApiError {
    fn from(refusal: activation::Refusal) -> Self {
        let status = match refusal.kind() {
            RefusalKind::Invalid => StatusCode::BAD_REQUEST,
            RefusalKind::Spent => StatusCode::CONFLICT,
            RefusalKind::Expired => StatusCode::GONE,
            RefusalKind::Forbidden => StatusCode::FORBIDDEN,
            RefusalKind::Internal => {
                return match refusal {
                    activation::Refusal::Store(e) => Self::from(e),
                    other => Self::server_error(other),
                };
            }
        };
        Self::new(status, refusal.code(), refusal.to_string())
    }
}

impl From<users::Refusal> for ApiError {
    fn from(refusal: users::Refusal) -> Self {
        match refusal {
            users::Refusal::Store(e) => Self::from(e),
            users::Refusal::Internal(_) => Self::server_error(refusal),
            _ => Self::new(StatusCode::NOT_FOUND, "not_found", refusal.to_string()),
        }
    }
}

/// Refuses a JSON body carrying a NUL character, raw or escaped: no stored
/// value may hold one (PostgreSQL text cannot), so it can only be an error.
pub fn reject_nul(body: &[u8]) -> Result<(), ApiError> {
    let escaped = body.windows(6).any(|w| w.eq_ignore_ascii_case(b"\\u0000"));
    if body.contains(&0) || escaped {
        return Err(ApiError::bad_request(
            "invalid_request",
            "the body contains a NUL character",
        ));
    }
    Ok(())
}

/// A device API success: JSON that must not be cached (nonces, ids).
pub fn no_store<T: IntoResponse>(status: StatusCode, body: T) -> Response {
    let mut res = (status, body).into_response();
    res.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(json!({"error": self.code, "message": self.message}))).into_response();
        res.headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 9110 §15.5.2: a 401 names the scheme it wants.
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static(r#"DPoP algs="ES256", error="invalid_dpop_proof""#),
            );
        }
        res
    }
}
