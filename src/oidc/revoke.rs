//! `POST /revoke` (RFC 7009). Revoking a refresh token revokes every token of
//! its grant; revoking an access token revokes that token. Unknown tokens and
//! other clients' tokens are answered 200 all the same (§2.2).

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::client_auth;
use super::form::Form;
use crate::crypto::secret;
use crate::engine::AppState;
use crate::http::client_address::ClientAddress;
use crate::http::client_certificate::PresentedCertificate;
use crate::oidc::error::OAuthError;

pub async fn revoke(
    State(state): State<AppState>,
    from: ClientAddress,
    headers: HeaderMap,
    certificate: PresentedCertificate,
    Form(params): Form,
) -> Result<Response, OAuthError> {
    let client = client_auth::authenticate(&state, &from, &headers, &certificate, &params).await?;
    let digest = secret::digest(params.require("token")?);
    let store = &state.store;
    if let Some(r) = store.refresh_token(&digest).await?.filter(|r| r.client_id == client.id) {
        store.revoke_refresh_family(&r.family).await?;
        store.revoke_for_transaction(&r.transaction_id).await?;
    } else if store
        .access_token(&digest)
        .await?
        .is_some_and(|t| t.client_id == client.id)
    {
        store.revoke_access_token(&digest).await?;
    }
    Ok(StatusCode::OK.into_response())
}
