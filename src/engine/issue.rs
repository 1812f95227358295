//! Minting tokens for an approved transaction: the access token, a refresh
//! token when `offline_access` was granted, and the ID token that binds them
//! (`at_hash`, `rt_hash`, `urn:openid:params:jwt:claim:auth_req_id`, CIBA
//! §10.3.1). The token endpoint, the push delivery and the refresh grant all
//! mint here.

use serde_json::{Map, Value, json};

use crate::crypto::id_token::{self, IdTokenParams, token_hash};
use crate::crypto::secret;
use crate::domain::claims::Sources;
use crate::domain::client::Client;
use crate::domain::ids::random_id;
use crate::domain::scope;
use crate::domain::token::{AccessToken, Issued, RefreshToken};
use crate::domain::transaction::Transaction;
use crate::engine::AppState;

pub const AUTH_REQ_ID_CLAIM: &str = "urn:openid:params:jwt:claim:auth_req_id";
pub const RT_HASH_CLAIM: &str = "urn:openid:params:jwt:claim:rt_hash";

/// What to mint.
pub struct Mint<'a> {
    /// The transaction as approved (status, decided_at and device set).
    pub transaction: &'a Transaction,
    /// Present when redeeming an `auth_req_id` (token endpoint or push).
    pub auth_req_id: Option<&'a str>,
    /// The scope of the access token (a refresh may narrow it).
    pub scope: &'a str,
    /// The refresh-token family to continue; a new one when `None` and the
    /// transaction granted `offline_access`.
    pub refresh_family: Option<&'a str>,
    /// RFC 8705 §3: the access token is bound to this certificate thumbprint.
    pub certificate_thumbprint: Option<&'a str>,
}

/// Minted tokens: what to store (digests) and the token response (values).
pub struct Minted {
    pub issued: Issued,
    pub response: Value,
}

pub async fn mint(state: &AppState, client: &Client, m: &Mint<'_>) -> anyhow::Result<Minted> {
    let (t, issuer) = (&state.tokens, &state.server.issuer);
    let now = state.clock.now();
    let txn = m.transaction;
    let user = claim_user(state.store.as_ref(), txn)
        .await?
        .ok_or_else(|| anyhow::anyhow!("transaction names a missing user"))?;
    let access_token = secret::random_token();
    let access = AccessToken {
        digest: secret::digest(&access_token),
        client_id: client.id.clone(),
        user_id: txn.user_id.clone(),
        transaction_id: txn.id.clone(),
        scope: m.scope.to_owned(),
        expires_at: now + t.access_ttl,
        revoked: false,
        certificate_thumbprint: m.certificate_thumbprint.map(str::to_owned),
    };
    let wants_refresh = m.refresh_family.is_some() || scope::grants(&txn.scope, "offline_access");
    let refresh_token = wants_refresh.then(secret::random_token);
    let refresh = refresh_token.as_ref().map(|token| RefreshToken {
        digest: secret::digest(token),
        family: m.refresh_family.map(str::to_owned).unwrap_or_else(random_id),
        client_id: client.id.clone(),
        user_id: txn.user_id.clone(),
        transaction_id: txn.id.clone(),
        scope: txn.scope.clone(),
        created_at: now,
        expires_at: now + t.refresh_ttl,
        revoked: false,
    });
    let mut binding = Map::new();
    binding.insert("at_hash".into(), json!(token_hash(&access_token)));
    if let Some(rt) = &refresh_token {
        binding.insert(RT_HASH_CLAIM.into(), json!(token_hash(rt)));
    }
    if let Some(id) = m.auth_req_id {
        binding.insert(AUTH_REQ_ID_CLAIM.into(), json!(id));
    }
    let keys = state.keys.ready().await;
    let id_token = id_token::issue(
        &keys,
        &IdTokenParams {
            issuer,
            client_id: &client.id,
            alg: client.id_token_alg(),
            now,
            ttl: t.id_ttl,
            binding,
        },
        &Sources {
            transaction: txn,
            scope: m.scope,
            user: &user,
        },
    )?;
    let mut response = json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": t.access_ttl,
        "id_token": id_token,
        "scope": m.scope,
    });
    if let Some(rt) = refresh_token {
        response["refresh_token"] = json!(rt);
    }
    Ok(Minted {
        issued: Issued { access, refresh },
        response,
    })
}

/// The user a transaction's claims are computed from; `None` when gone.
pub async fn claim_user(
    store: &dyn crate::store::Store,
    txn: &crate::domain::transaction::Transaction,
) -> Result<Option<crate::domain::user::User>, crate::store::StoreError> {
    store.user(&txn.user_id).await
}
