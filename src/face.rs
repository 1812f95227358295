//! Which face a path belongs to, and a refusal in that face's error format:
//! OAuth JSON, the device and management APIs' schema, or an HTML page (the
//! SAML flow's or the console's). Part of the wiring: the layers in front of
//! every route (`refuse_nul`, `request_timeout`) answer through it.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use crate::http::api_error::ApiError;
use crate::oidc::error::{ErrorCode, OAuthError};
use crate::saml::web::page::Page;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Face {
    OAuth,
    Api,
    Saml,
    Console,
}

/// What a refusal is: a client's mistake, or the server briefly unable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    InvalidRequest,
    /// 503 `temporarily_unavailable`, with `Retry-After: 1`.
    Unavailable,
}

impl Face {
    pub fn of(path: &str) -> Self {
        if path.starts_with("/device/") || path.starts_with("/manage/") {
            Face::Api
        } else if path.starts_with("/saml/") {
            Face::Saml
        } else if path == "/admin" || path.starts_with("/admin/") {
            Face::Console
        } else {
            Face::OAuth
        }
    }

    pub fn refuse(self, refusal: Refusal, why: &str) -> Response {
        let (status, code) = match refusal {
            Refusal::InvalidRequest => (StatusCode::BAD_REQUEST, "invalid_request"),
            Refusal::Unavailable => (StatusCode::SERVICE_UNAVAILABLE, "temporarily_unavailable"),
        };
        let mut response = match self {
            Face::Api => ApiError::new(status, code, why).into_response(),
            Face::Saml => Page::error(status, why).into_response(),
            Face::Console => crate::console::page::error(status, why),
            Face::OAuth => {
                let code = match refusal {
                    Refusal::InvalidRequest => ErrorCode::InvalidRequest,
                    Refusal::Unavailable => ErrorCode::TemporarilyUnavailable,
                };
                OAuthError::new(code, why.to_owned()).into_response()
            }
        };
        if refusal == Refusal::Unavailable {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        response
    }
}
