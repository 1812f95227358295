//! `/authorize`: present because OIDC Discovery requires an authorization
//! endpoint, refusing everything because trustid is CIBA-only. No redirect is
//! made: without registered redirect URIs none could be trusted.

use crate::oidc::error::{ErrorCode, OAuthError};

pub async fn refuse() -> OAuthError {
    OAuthError::new(
        ErrorCode::InvalidRequest,
        "trustid serves no front-channel flows: use the backchannel authentication endpoint (CIBA)",
    )
}
