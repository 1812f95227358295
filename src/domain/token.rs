//! Issued tokens, known by their digests: access and refresh tokens of the
//! CIBA grant, and the management API's tokens.

use super::ids::{ClientId, TransactionId, UserId};

/// An issued access token, known by its digest.
#[derive(Debug, Clone)]
pub struct AccessToken {
    pub digest: String,
    pub client_id: ClientId,
    pub user_id: UserId,
    pub transaction_id: TransactionId,
    pub scope: String,
    pub expires_at: i64,
    pub revoked: bool,
    /// RFC 8705 §3 `x5t#S256`: only a request presenting this certificate may use it.
    pub certificate_thumbprint: Option<String>,
}

/// An issued refresh token, known by its digest; rotation keeps the family.
#[derive(Debug, Clone)]
pub struct RefreshToken {
    pub digest: String,
    pub family: String,
    pub client_id: ClientId,
    pub user_id: UserId,
    pub transaction_id: TransactionId,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
}

/// What redeeming an approval stores: the access token and, when
/// `offline_access` was granted, a refresh token.
#[derive(Debug, Clone)]
pub struct Issued {
    pub access: AccessToken,
    pub refresh: Option<RefreshToken>,
}

/// An access token of the `client_credentials` grant for the management API.
#[derive(Debug, Clone)]
pub struct ManagementToken {
    pub digest: String,
    pub client_id: ClientId,
    pub scope: String,
    pub expires_at: i64,
    pub revoked: bool,
    /// As for [`AccessToken::certificate_thumbprint`].
    pub certificate_thumbprint: Option<String>,
}
