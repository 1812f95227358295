//! `POST /token`: the CIBA grant (CIBA §10.1, §11) and refresh tokens (RFC
//! 6749 §6). A pending poll costs no write and, on SQLite, no read either
//! (the store keeps pending requests in memory; tokens are only ever issued
//! from a fresh read): the interval is enforced in memory too. Every error is
//! 400 but `invalid_client`.

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;

use super::client_auth;
use super::discovery::{CIBA_GRANT, CLIENT_CREDENTIALS_GRANT, REFRESH_GRANT};
use super::form::Form;
use crate::crypto::secret;
use crate::domain::client::{Client, DeliveryMode};
use crate::domain::scope;
use crate::domain::transaction::Phase;
use crate::engine::AppState;
use crate::engine::issue::{self, Mint};
use crate::engine::metrics::Metrics;
use crate::engine::metrics::Replay;
use crate::engine::poll_gate::Verdict;
use crate::http::client_address::ClientAddress;
use crate::http::client_certificate::PresentedCertificate;
use crate::oidc::error::OAuthError;

/// A token request, tagged on `grant_type`.
enum TokenRequest {
    Ciba {
        auth_req_id: String,
    },
    ClientCredentials {
        scope: String,
    },
    Refresh {
        refresh_token: String,
        scope: Option<String>,
    },
}

pub async fn exchange(
    State(state): State<AppState>,
    from: ClientAddress,
    headers: HeaderMap,
    certificate: PresentedCertificate,
    Form(params): Form,
) -> Result<Response, OAuthError> {
    let client = client_auth::authenticate(&state, &from, &headers, &certificate, &params).await?;
    let request = match params.require("grant_type")? {
        CIBA_GRANT => TokenRequest::Ciba {
            auth_req_id: params.require("auth_req_id")?.to_owned(),
        },
        CLIENT_CREDENTIALS_GRANT => TokenRequest::ClientCredentials {
            scope: params.require("scope")?.to_owned(),
        },
        REFRESH_GRANT => TokenRequest::Refresh {
            refresh_token: params.require("refresh_token")?.to_owned(),
            scope: params.get("scope").map(str::to_owned),
        },
        other => {
            return Err(OAuthError::unsupported_grant_type(format!(
                "grant_type `{other}` is not supported"
            )));
        }
    };
    let bound_to = binding(&state, &client, &certificate)?;
    let bound_to = bound_to.as_deref();
    match request {
        TokenRequest::Ciba { auth_req_id } => redeem_ciba(&state, &client, &auth_req_id, bound_to).await,
        TokenRequest::ClientCredentials { scope } => management_token(&state, &client, &scope, bound_to).await,
        TokenRequest::Refresh { refresh_token, scope } => {
            refresh(&state, &client, &refresh_token, scope.as_deref(), bound_to).await
        }
    }
}

/// RFC 8705 §3: the certificate thumbprint a client that registered bound
/// access tokens gets them bound to; it must present its certificate.
fn binding(
    state: &AppState,
    client: &Client,
    certificate: &PresentedCertificate,
) -> Result<Option<String>, OAuthError> {
    if !client.metadata.tls_client_certificate_bound_access_tokens {
        return Ok(None);
    }
    match (certificate.chain(), state.server.mtls.support.certificates) {
        (Some(chain), _) => Ok(Some(chain.thumbprint())),
        (None, true) => Err(OAuthError::invalid_request(
            "this client's access tokens are bound to its TLS client certificate; present it",
        )),
        (None, false) => Err(OAuthError::invalid_request(
            "this client's access tokens are bound to a TLS client certificate, which this server no \
             longer takes (mtls is off)",
        )),
    }
}

async fn redeem_ciba(
    state: &AppState,
    client: &Client,
    auth_req_id: &str,
    bound_to: Option<&str>,
) -> Result<Response, OAuthError> {
    if client.delivery_mode() == DeliveryMode::Push {
        return Err(OAuthError::unauthorized_client(
            "push clients receive their tokens at the notification endpoint",
        ));
    }
    let unknown = || OAuthError::invalid_grant("auth_req_id is unknown or was not issued to this client");
    let txn = state
        .store
        .poll_transaction(&secret::auth_req_digest(auth_req_id), state.clock.now())
        .await?
        .ok_or_else(unknown)?;
    // Another client's id: refuse before anything touches the owner's request.
    if txn.client_id != client.id {
        return Err(unknown());
    }
    let now_ms = state.clock.now_ms();
    match txn.phase(now_ms.div_euclid(1000)) {
        Phase::Pending => match state.polls.check(&txn.id, txn.interval, txn.expires_at, now_ms) {
            Verdict::Pending => Err(OAuthError::authorization_pending("the user has not decided yet")),
            Verdict::SlowDown => Err(OAuthError::slow_down(
                "polled before the interval elapsed; wait 5 seconds longer between polls",
            )),
        },
        Phase::Expired => {
            state.polls.forget(&txn.id);
            Err(OAuthError::expired_token("the authentication request has expired"))
        }
        Phase::Denied => {
            state.polls.forget(&txn.id);
            Err(OAuthError::access_denied("the user denied the request").with_status(StatusCode::BAD_REQUEST))
        }
        Phase::Consumed => {
            // CIBA §10.1.1: an auth_req_id is single-use. A second redemption
            // means it leaked; revoke what the first one issued.
            let revoked = state.store.revoke_for_transaction(&txn.id).await?;
            state.metrics.replay(Replay::AuthReqId, txn.id.as_str());
            tracing::warn!(client_id = %client.id, transaction_id = %txn.id, revoked, "auth_req_id redeemed twice");
            Err(OAuthError::invalid_grant("auth_req_id has already been redeemed"))
        }
        Phase::Approved => {
            let minted = issue::mint(
                state,
                client,
                &Mint {
                    transaction: &txn,
                    auth_req_id: Some(auth_req_id),
                    scope: &txn.scope,
                    refresh_family: None,
                    certificate_thumbprint: bound_to,
                },
            )
            .await?;
            if !state.store.redeem(&txn.id, &minted.issued, state.clock.now()).await? {
                // Lost a race with another redemption, or expired in between.
                return Err(OAuthError::invalid_grant("auth_req_id has already been redeemed"));
            }
            state.polls.forget(&txn.id);
            Metrics::inc(&state.metrics.tokens_issued);
            tracing::info!(client_id = %client.id, transaction_id = %txn.id, "tokens issued");
            Ok(super::no_store_json(StatusCode::OK, minted.response))
        }
    }
}

/// RFC 6749 §6 with rotation: the presented token is spent, a successor is
/// issued; presenting a spent one again revokes its whole family.
async fn refresh(
    state: &AppState,
    client: &Client,
    token: &str,
    narrower: Option<&str>,
    bound_to: Option<&str>,
) -> Result<Response, OAuthError> {
    let invalid = || OAuthError::invalid_grant("refresh_token is invalid, expired or was not issued to this client");
    let now = state.clock.now();
    let record = state
        .store
        .refresh_token(&secret::digest(token))
        .await?
        .filter(|r| r.client_id == client.id)
        .ok_or_else(invalid)?;
    if record.revoked {
        let revoked = state.store.revoke_refresh_family(&record.family).await?
            + state.store.revoke_for_transaction(&record.transaction_id).await?;
        tracing::warn!(client_id = %client.id, revoked, "spent refresh token presented again; family revoked");
        return Err(invalid());
    }
    if record.expires_at <= now {
        return Err(invalid());
    }
    let scope = match narrower {
        None => record.scope.clone(),
        Some(requested) => {
            let within = requested
                .split(' ')
                .filter(|v| !v.is_empty())
                .all(|v| scope::grants(&record.scope, v));
            if !within || !scope::grants(requested, "openid") {
                return Err(OAuthError::invalid_scope(
                    "scope may only narrow the original grant and must keep openid",
                ));
            }
            requested.to_owned()
        }
    };
    let txn = state
        .store
        .transaction(&record.transaction_id)
        .await?
        .ok_or_else(invalid)?;
    let minted = issue::mint(
        state,
        client,
        &Mint {
            transaction: &txn,
            auth_req_id: None,
            scope: &scope,
            refresh_family: Some(&record.family),
            certificate_thumbprint: bound_to,
        },
    )
    .await?;
    if !state.store.rotate_refresh(&record.digest, &minted.issued).await? {
        return Err(invalid());
    }
    Metrics::inc(&state.metrics.tokens_issued);
    Ok(super::no_store_json(StatusCode::OK, minted.response))
}

/// RFC 6749 §4.4, for the management API: only clients granted management,
/// only the `trustid:manage` scope.
async fn management_token(
    state: &AppState,
    client: &Client,
    scope: &str,
    bound_to: Option<&str>,
) -> Result<Response, OAuthError> {
    if !client.metadata.management {
        return Err(OAuthError::unauthorized_client(
            "this client may not use the client_credentials grant",
        ));
    }
    let values: Vec<&str> = scope.split(' ').filter(|v| !v.is_empty()).collect();
    if values != [scope::MANAGE] {
        return Err(OAuthError::invalid_scope(
            "the client_credentials grant offers only the scope trustid:manage",
        ));
    }
    let now = state.clock.now();
    let token = secret::random_token();
    let ttl = state.tokens.management_ttl;
    let record = crate::domain::token::ManagementToken {
        digest: secret::digest(&token),
        client_id: client.id.clone(),
        scope: scope::MANAGE.to_owned(),
        expires_at: now + ttl,
        revoked: false,
        certificate_thumbprint: bound_to.map(str::to_owned),
    };
    state.store.insert_management_token(&record).await?;
    Ok(super::no_store_json(
        StatusCode::OK,
        serde_json::json!({"access_token": token, "token_type": "Bearer", "expires_in": ttl, "scope": scope::MANAGE}),
    ))
}
