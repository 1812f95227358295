//! Issued tokens: access and refresh tokens (redeem, rotation, revocation)
//! and the management API's tokens.

use async_trait::async_trait;
use sqlx::FromRow;

use super::StoreResult;
use crate::domain::token::{AccessToken, Issued, ManagementToken, RefreshToken};

#[async_trait]
pub trait TokenStore: Send + Sync {
    /// Marks an approved transaction consumed and stores its tokens, in one
    /// database transaction. False when it was not approved any more.
    async fn redeem(&self, transaction_id: &str, issued: &Issued, now: i64) -> StoreResult<bool>;

    /// Revokes every token issued for a transaction (a replayed `auth_req_id`).
    async fn revoke_for_transaction(&self, transaction_id: &str) -> StoreResult<u64>;

    async fn access_token(&self, digest: &str) -> StoreResult<Option<AccessToken>>;

    async fn refresh_token(&self, digest: &str) -> StoreResult<Option<RefreshToken>>;

    /// Revokes `old` and stores its successor and a new access token, if
    /// `old` was still live. False when it had been used already.
    async fn rotate_refresh(&self, old_digest: &str, issued: &Issued) -> StoreResult<bool>;

    async fn revoke_refresh_family(&self, family: &str) -> StoreResult<u64>;

    async fn revoke_access_token(&self, digest: &str) -> StoreResult<u64>;

    async fn insert_management_token(&self, token: &ManagementToken) -> StoreResult<()>;

    async fn management_token(&self, digest: &str) -> StoreResult<Option<ManagementToken>>;
}

#[derive(FromRow)]
pub(crate) struct AccessTokenRow {
    pub(crate) digest: String,
    pub(crate) client_id: String,
    pub(crate) user_id: String,
    pub(crate) transaction_id: String,
    pub(crate) scope: String,
    pub(crate) expires_at: i64,
    pub(crate) revoked: i64,
    pub(crate) certificate_thumbprint: Option<String>,
}

impl From<AccessTokenRow> for AccessToken {
    fn from(r: AccessTokenRow) -> Self {
        AccessToken {
            digest: r.digest,
            client_id: r.client_id.into(),
            user_id: r.user_id.into(),
            transaction_id: r.transaction_id.into(),
            scope: r.scope,
            expires_at: r.expires_at,
            revoked: r.revoked != 0,
            certificate_thumbprint: r.certificate_thumbprint,
        }
    }
}

#[derive(FromRow)]
pub(crate) struct RefreshTokenRow {
    pub(crate) digest: String,
    pub(crate) family: String,
    pub(crate) client_id: String,
    pub(crate) user_id: String,
    pub(crate) transaction_id: String,
    pub(crate) scope: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) revoked: i64,
}

impl From<RefreshTokenRow> for RefreshToken {
    fn from(r: RefreshTokenRow) -> Self {
        RefreshToken {
            digest: r.digest,
            family: r.family,
            client_id: r.client_id.into(),
            user_id: r.user_id.into(),
            transaction_id: r.transaction_id.into(),
            scope: r.scope,
            created_at: r.created_at,
            expires_at: r.expires_at,
            revoked: r.revoked != 0,
        }
    }
}

#[derive(FromRow)]
pub(crate) struct ManagementTokenRow {
    pub(crate) digest: String,
    pub(crate) client_id: String,
    pub(crate) scope: String,
    pub(crate) expires_at: i64,
    pub(crate) revoked: i64,
    pub(crate) certificate_thumbprint: Option<String>,
}

impl From<ManagementTokenRow> for ManagementToken {
    fn from(r: ManagementTokenRow) -> Self {
        ManagementToken {
            digest: r.digest,
            client_id: r.client_id.into(),
            scope: r.scope,
            expires_at: r.expires_at,
            revoked: r.revoked != 0,
            certificate_thumbprint: r.certificate_thumbprint,
        }
    }
}

/// Implements [`TokenStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! token_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::{query, query_as};
            use $crate::domain::token::{AccessToken, Issued, RefreshToken};
            use $crate::store::tokens::{AccessTokenRow, ManagementTokenRow, RefreshTokenRow, TokenStore};
            use $crate::store::StoreResult;

            #[async_trait::async_trait]
            impl TokenStore for $store {
                async fn redeem(&self, transaction_id: &str, issued: &Issued, now: i64) -> StoreResult<bool> {
                    if let Some(done) = self.batched_redemption(transaction_id, issued, now).await {
                        return done;
                    }
                    let mut tx = self.pool.begin().await?;
                    let consumed = query($crate::store::flow_sql::CONSUME)
                    .bind(transaction_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if consumed.rows_affected() != 1 {
                        return Ok(false);
                    }
                    Self::insert_issued(&mut *tx, issued).await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn revoke_for_transaction(&self, transaction_id: &str) -> StoreResult<u64> {
                    let mut tx = self.pool.begin().await?;
                    let access = query("UPDATE access_tokens SET revoked = 1 WHERE transaction_id = $1 AND revoked = 0")
                        .bind(transaction_id)
                        .execute(&mut *tx)
                        .await?;
                    let refresh = query("UPDATE refresh_tokens SET revoked = 1 WHERE transaction_id = $1 AND revoked = 0")
                        .bind(transaction_id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(access.rows_affected() + refresh.rows_affected())
                }

                async fn access_token(&self, digest: &str) -> StoreResult<Option<AccessToken>> {
                    let row: Option<AccessTokenRow> = query_as("SELECT * FROM access_tokens WHERE digest = $1")
                        .bind(digest)
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(row.map(AccessToken::from))
                }

                async fn refresh_token(&self, digest: &str) -> StoreResult<Option<RefreshToken>> {
                    let row: Option<RefreshTokenRow> = query_as("SELECT * FROM refresh_tokens WHERE digest = $1")
                        .bind(digest)
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(row.map(RefreshToken::from))
                }

                async fn rotate_refresh(&self, old_digest: &str, issued: &Issued) -> StoreResult<bool> {
                    let mut tx = self.pool.begin().await?;
                    let used = query("UPDATE refresh_tokens SET revoked = 1 WHERE digest = $1 AND revoked = 0")
                        .bind(old_digest)
                        .execute(&mut *tx)
                        .await?;
                    if used.rows_affected() != 1 {
                        return Ok(false);
                    }
                    Self::insert_issued(&mut *tx, issued).await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn revoke_refresh_family(&self, family: &str) -> StoreResult<u64> {
                    let done = query("UPDATE refresh_tokens SET revoked = 1 WHERE family = $1 AND revoked = 0")
                        .bind(family)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected())
                }

                async fn revoke_access_token(&self, digest: &str) -> StoreResult<u64> {
                    let done = query("UPDATE access_tokens SET revoked = 1 WHERE digest = $1 AND revoked = 0")
                        .bind(digest)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected())
                }

                async fn insert_management_token(&self, t: &$crate::domain::token::ManagementToken) -> StoreResult<()> {
                    query(
                        "INSERT INTO management_tokens (digest, client_id, scope, expires_at, revoked, certificate_thumbprint) \
                         VALUES ($1, $2, $3, $4, 0, $5)",
                    )
                        .bind(&t.digest)
                        .bind(t.client_id.as_str())
                        .bind(&t.scope)
                        .bind(t.expires_at)
                        .bind(t.certificate_thumbprint.as_deref())
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn management_token(&self, digest: &str) -> StoreResult<Option<$crate::domain::token::ManagementToken>> {
                    let row: Option<ManagementTokenRow> = query_as("SELECT * FROM management_tokens WHERE digest = $1")
                        .bind(digest)
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(row.map(Into::into))
                }
            }

            impl $store {
                async fn insert_issued(tx: &mut <$db as sqlx::Database>::Connection, issued: &Issued) -> StoreResult<()> {
                    let t = &issued.access;
                    query($crate::store::flow_sql::INSERT_ACCESS_TOKEN)
                    .bind(&t.digest)
                    .bind(t.client_id.as_str())
                    .bind(t.user_id.as_str())
                    .bind(t.transaction_id.as_str())
                    .bind(&t.scope)
                    .bind(t.expires_at)
                    .bind(t.certificate_thumbprint.as_deref())
                    .execute(&mut *tx)
                    .await?;
                    if let Some(r) = &issued.refresh {
                        query($crate::store::flow_sql::INSERT_REFRESH_TOKEN)
                        .bind(&r.digest)
                        .bind(&r.family)
                        .bind(r.client_id.as_str())
                        .bind(r.user_id.as_str())
                        .bind(r.transaction_id.as_str())
                        .bind(&r.scope)
                        .bind(r.created_at)
                        .bind(r.expires_at)
                        .execute(&mut *tx)
                        .await?;
                    }
                    Ok(())
                }
            }
        };
    };
}
pub(crate) use token_sql;
