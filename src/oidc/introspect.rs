//! `POST /introspect` (RFC 7662): whether a token is active, for the client it
//! was issued to. Any other client learns only `{"active": false}`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::client_auth;
use super::form::Form;
use crate::crypto::secret;
use crate::engine::AppState;
use crate::http::client_address::ClientAddress;
use crate::http::client_certificate::PresentedCertificate;
use crate::oidc::error::OAuthError;

pub async fn introspect(
    State(state): State<AppState>,
    from: ClientAddress,
    headers: HeaderMap,
    certificate: PresentedCertificate,
    Form(params): Form,
) -> Result<Response, OAuthError> {
    let client = client_auth::authenticate(&state, &from, &headers, &certificate, &params).await?;
    let digest = secret::digest(params.require("token")?);
    let now = state.clock.now();
    let issuer = &state.server.issuer;
    let inactive = || super::no_store_json(StatusCode::OK, json!({"active": false}));
    if let Some(t) = state.store.access_token(&digest).await? {
        if t.client_id != client.id || t.revoked || t.expires_at <= now {
            return Ok(inactive());
        }
        let mut body = json!({"active": true, "token_type": "Bearer", "scope": t.scope, "client_id": t.client_id,
                   "sub": t.user_id, "aud": t.client_id, "iss": issuer, "exp": t.expires_at});
        // RFC 8705 §3.2: a resource server learns what the token is bound to.
        if let Some(thumbprint) = t.certificate_thumbprint {
            body["cnf"] = json!({"x5t#S256": thumbprint});
        }
        return Ok(super::no_store_json(StatusCode::OK, body));
    }
    if let Some(r) = state.store.refresh_token(&digest).await? {
        if r.client_id != client.id || r.revoked || r.expires_at <= now {
            return Ok(inactive());
        }
        return Ok(super::no_store_json(
            StatusCode::OK,
            json!({"active": true, "token_type": "refresh_token", "scope": r.scope, "client_id": r.client_id,
                   "sub": r.user_id, "aud": r.client_id, "iss": issuer, "exp": r.expires_at, "iat": r.created_at}),
        ));
    }
    Ok(inactive())
}
