//! `POST /token` with the CIBA grant (CIBA §10.1, §11). A pending poll costs
//! one indexed read and no write: the interval is enforced in memory.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use serde_json::json;

use super::client_auth;
use super::form::Form;
use super::poll_gate::Verdict;
use crate::capabilities::CIBA_GRANT;
use crate::crypto::id_token::{self, IdTokenParams};
use crate::crypto::secret;
use crate::domain::claims::Sources;
use crate::domain::client::{Client, DeliveryMode};
use crate::domain::transaction::{Phase, Transaction};
use crate::error::OAuthError;
use crate::state::AppState;
use crate::store::AccessToken;

/// A token request, tagged on `grant_type`.
enum TokenRequest {
    Ciba { auth_req_id: String },
}

pub async fn exchange(
    State(state): State<AppState>,
    headers: HeaderMap,
    Form(params): Form,
) -> Result<Response, OAuthError> {
    let client = client_auth::authenticate(&state, &headers, &params).await?;
    let request = match params.require("grant_type")? {
        CIBA_GRANT => TokenRequest::Ciba {
            auth_req_id: params.require("auth_req_id")?.to_owned(),
        },
        other => {
            return Err(OAuthError::unsupported_grant_type(format!(
                "grant_type `{other}` is not supported"
            )));
        }
    };
    match request {
        TokenRequest::Ciba { auth_req_id } => redeem_ciba(&state, &client, &auth_req_id).await,
    }
}

async fn redeem_ciba(
    state: &AppState,
    client: &Client,
    auth_req_id: &str,
) -> Result<Response, OAuthError> {
    if client.delivery_mode == DeliveryMode::Push {
        return Err(OAuthError::unauthorized_client(
            "push clients receive their tokens at the notification endpoint",
        ));
    }
    let unknown =
        || OAuthError::invalid_grant("auth_req_id is unknown or was not issued to this client");
    let txn = state
        .store
        .transaction_by_auth_req(&secret::digest(auth_req_id))
        .await?
        .ok_or_else(unknown)?;
    // Another client's id: refuse before anything touches the owner's request.
    if txn.client_id != client.id {
        return Err(unknown());
    }
    let now_ms = state.clock.now_ms();
    match txn.phase(now_ms.div_euclid(1000)) {
        Phase::Pending => match state
            .polls
            .check(&txn.id, txn.interval, txn.expires_at, now_ms)
        {
            Verdict::Pending => Err(OAuthError::authorization_pending(
                "the user has not decided yet",
            )),
            Verdict::SlowDown => Err(OAuthError::slow_down(
                "polled before the interval elapsed; wait 5 seconds longer between polls",
            )),
        },
        Phase::Expired => {
            state.polls.forget(&txn.id);
            Err(OAuthError::expired_token(
                "the authentication request has expired",
            ))
        }
        Phase::Denied => {
            state.polls.forget(&txn.id);
            Err(OAuthError::access_denied("the user denied the request")
                .with_status(StatusCode::BAD_REQUEST))
        }
        Phase::Consumed => {
            // CIBA §10.1.1: an auth_req_id is single-use. A second redemption
            // means it leaked; revoke what the first one issued.
            let revoked = state.store.revoke_for_transaction(&txn.id).await?;
            tracing::warn!(client_id = %client.id, transaction_id = %txn.id, revoked, "auth_req_id redeemed twice");
            Err(OAuthError::invalid_grant(
                "auth_req_id has already been redeemed",
            ))
        }
        Phase::Approved => issue_tokens(state, client, &txn).await,
    }
}

async fn issue_tokens(
    state: &AppState,
    client: &Client,
    txn: &Transaction,
) -> Result<Response, OAuthError> {
    let now = state.clock.now();
    let s = &state.settings;
    let access_token = secret::random_token();
    let record = AccessToken {
        digest: secret::digest(&access_token),
        client_id: client.id.clone(),
        user_id: txn.user_id.clone(),
        transaction_id: txn.id.clone(),
        scope: txn.scope.clone(),
        expires_at: now + s.access_token_ttl,
        revoked: false,
    };
    let (user, failed_device_attempts) = super::claim_inputs(state.store.as_ref(), txn)
        .await?
        .ok_or_else(|| OAuthError::server_error("transaction names a missing user"))?;
    // Sign before redeeming so a signing failure cannot burn the approval.
    let id_token = id_token::issue(
        &state.keys,
        &IdTokenParams {
            issuer: &s.issuer,
            client_id: &client.id,
            alg: client.id_token_alg,
            now,
            ttl: s.id_token_ttl,
        },
        &Sources {
            transaction: txn,
            user: &user,
            failed_device_attempts,
        },
    )?;
    if !state.store.redeem(&txn.id, &record, now).await? {
        // Lost a race with another redemption, or expired in between.
        return Err(OAuthError::invalid_grant(
            "auth_req_id has already been redeemed",
        ));
    }
    state.polls.forget(&txn.id);
    tracing::info!(client_id = %client.id, transaction_id = %txn.id, "tokens issued");
    Ok(super::no_store_json(
        StatusCode::OK,
        json!({
            "access_token": access_token,
            "token_type": "Bearer",
            "expires_in": s.access_token_ttl,
            "id_token": id_token,
            "scope": txn.scope,
        }),
    ))
}
