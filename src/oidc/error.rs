//! The OAuth/OIDC face's error: RFC 6749 §5.2 / CIBA §13 JSON with the
//! status each code calls for. `description` goes on the wire; internal
//! failures become `server_error` with a fixed text and are only logged.

use std::borrow::Cow;

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::store::StoreError;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    InvalidRequest,
    InvalidClient,
    InvalidGrant,
    InvalidScope,
    UnauthorizedClient,
    UnsupportedGrantType,
    UnknownUserId,
    ExpiredLoginHintToken,
    MissingUserCode,
    InvalidUserCode,
    InvalidClientMetadata,
    InvalidBindingMessage,
    AccessDenied,
    AuthorizationPending,
    SlowDown,
    ExpiredToken,
    InvalidToken,
    ServerError,
    TemporarilyUnavailable,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorCode::InvalidRequest => "invalid_request",
            ErrorCode::InvalidClient => "invalid_client",
            ErrorCode::InvalidGrant => "invalid_grant",
            ErrorCode::InvalidScope => "invalid_scope",
            ErrorCode::UnauthorizedClient => "unauthorized_client",
            ErrorCode::UnsupportedGrantType => "unsupported_grant_type",
            ErrorCode::UnknownUserId => "unknown_user_id",
            ErrorCode::ExpiredLoginHintToken => "expired_login_hint_token",
            ErrorCode::MissingUserCode => "missing_user_code",
            ErrorCode::InvalidUserCode => "invalid_user_code",
            ErrorCode::InvalidClientMetadata => "invalid_client_metadata",
            ErrorCode::InvalidBindingMessage => "invalid_binding_message",
            ErrorCode::AccessDenied => "access_denied",
            ErrorCode::AuthorizationPending => "authorization_pending",
            ErrorCode::SlowDown => "slow_down",
            ErrorCode::ExpiredToken => "expired_token",
            ErrorCode::InvalidToken => "invalid_token",
            ErrorCode::ServerError => "server_error",
            ErrorCode::TemporarilyUnavailable => "temporarily_unavailable",
        }
    }

    /// CIBA §13 and RFC 6749 §5.2: 400 unless said otherwise. `invalid_client`
    /// is always 401 (one conformance test insists on it).
    pub fn status(self) -> StatusCode {
        match self {
            ErrorCode::InvalidClient | ErrorCode::InvalidToken => StatusCode::UNAUTHORIZED,
            ErrorCode::AccessDenied => StatusCode::FORBIDDEN,
            ErrorCode::ServerError => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorCode::TemporarilyUnavailable => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}

/// How the failed request authenticated, for the `WWW-Authenticate` header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Challenge {
    None,
    /// The client used HTTP Basic (RFC 6749 §5.2).
    Basic,
    /// A bearer access token was refused (RFC 6750 §3).
    Bearer,
    /// No access token was sent at all (RFC 6750 §3.1: no error code).
    BearerRequired,
}

#[derive(Debug)]
pub struct OAuthError {
    pub code: ErrorCode,
    pub description: Cow<'static, str>,
    pub challenge: Challenge,
    pub status: StatusCode,
    /// Seconds to wait before trying again (`Retry-After`), for rate limits.
    pub retry_after: Option<u32>,
}

macro_rules! constructors {
    ($($name:ident => $code:ident),+ $(,)?) => {
        impl OAuthError {
            $(pub fn $name(description: impl Into<Cow<'static, str>>) -> Self {
                Self::new(ErrorCode::$code, description)
            })+
        }
    };
}

constructors! {
    invalid_request => InvalidRequest,
    invalid_client => InvalidClient,
    invalid_grant => InvalidGrant,
    invalid_scope => InvalidScope,
    unauthorized_client => UnauthorizedClient,
    unsupported_grant_type => UnsupportedGrantType,
    unknown_user_id => UnknownUserId,
    missing_user_code => MissingUserCode,
    invalid_user_code => InvalidUserCode,
    invalid_client_metadata => InvalidClientMetadata,
    invalid_binding_message => InvalidBindingMessage,
    access_denied => AccessDenied,
    authorization_pending => AuthorizationPending,
    slow_down => SlowDown,
    expired_token => ExpiredToken,
    invalid_token => InvalidToken,
}

impl OAuthError {
    pub fn new(code: ErrorCode, description: impl Into<Cow<'static, str>>) -> Self {
        Self {
            code,
            description: description.into(),
            challenge: Challenge::None,
            status: code.status(),
            retry_after: None,
        }
    }

    /// An internal failure: logged with its cause, answered with a fixed text.
    pub fn server_error(source: impl std::fmt::Display) -> Self {
        tracing::error!(error = %source, "internal error");
        Self::new(ErrorCode::ServerError, "the server could not complete the request")
    }

    /// The token endpoint answers every error but `invalid_client` with 400
    /// (CIBA §11, RFC 6749 §5.2), `access_denied` included.
    pub fn with_status(mut self, status: StatusCode) -> Self {
        self.status = status;
        self
    }

    pub fn with_challenge(mut self, challenge: Challenge) -> Self {
        self.challenge = challenge;
        self
    }
}

impl From<StoreError> for OAuthError {
    /// A database that cannot be reached now is `temporarily_unavailable`
    /// (503, retry after a second): nothing was changed, the client retries.
    fn from(e: StoreError) -> Self {
        if e.is_unavailable() {
            tracing::warn!(error = %e, "database unavailable");
            let mut error = Self::new(
                ErrorCode::TemporarilyUnavailable,
                "the service is briefly unavailable; try again",
            );
            error.retry_after = Some(1);
            return error;
        }
        Self::server_error(e)
    }
}

impl From<anyhow::Error> for OAuthError {
    /// A database error carried through `anyhow` (minting tokens reads the
    /// user) is still a database error: 503 while the database is down.
    fn from(e: anyhow::Error) -> Self {
        match e.downcast::<StoreError>() {
            Ok(store) => Self::from(store),
            Err(e) => Self::server_error(e),
        }
    }
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        let body = Json(json!({"error": self.code.as_str(), "error_description": self.description}));
        let mut res = (self.status, body).into_response();
        let headers = res.headers_mut();
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
        let challenge = match (self.challenge, self.code) {
            (Challenge::Basic, _) => Some(r#"Basic realm="trustid""#.to_owned()),
            (Challenge::Bearer, code) => Some(format!(r#"Bearer realm="trustid", error="{}""#, code.as_str())),
            (Challenge::BearerRequired, _) => Some(r#"Bearer realm="trustid""#.to_owned()),
            (Challenge::None, _) => None,
        };
        if let Some(secs) = self.retry_after {
            headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        if let Some(value) = challenge.and_then(|v| HeaderValue::from_str(&v).ok()) {
            headers.insert(header::WWW_AUTHENTICATE, value);
        }
        res
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_error_carried_through_anyhow_is_still_unavailable() {
        let down = anyhow::Error::from(StoreError::Backend(sqlx::Error::PoolTimedOut));
        assert_eq!(OAuthError::from(down).code, ErrorCode::TemporarilyUnavailable);
        let bug = anyhow::anyhow!("transaction names a missing user");
        assert_eq!(OAuthError::from(bug).code, ErrorCode::ServerError);
    }
}
