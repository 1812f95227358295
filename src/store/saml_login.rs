//! SAML logins in progress, and the persistent NameIDs SPs know users by.

use async_trait::async_trait;
use sqlx::FromRow;

use super::StoreResult;
use crate::domain::saml_login::SamlLogin;

#[async_trait]
pub trait SamlLoginStore: Send + Sync {
    async fn insert_saml_login(&self, login: &SamlLogin) -> StoreResult<()>;

    async fn saml_login(&self, id: &str) -> StoreResult<Option<SamlLogin>>;

    /// Ties the started transaction to the login; false when one already was
    /// (two submissions of the who-are-you form start one transaction).
    async fn attach_saml_transaction(&self, id: &str, transaction_id: &str) -> StoreResult<bool>;

    /// Marks the login answered at `now`; false when it already was. Settled
    /// by the database, so one request, on any instance, builds its Response.
    async fn answer_saml_login(&self, id: &str, now: i64) -> StoreResult<bool>;

    /// Forgets logins that expired before `now`; how many.
    async fn prune_saml_logins(&self, now: i64) -> StoreResult<u64>;

    /// The persistent NameID of `user_id` at SP `sp_id`: `candidate` is
    /// stored on the first login and the stored value returned ever after.
    async fn persistent_name_id(&self, sp_id: &str, user_id: &str, candidate: &str, now: i64) -> StoreResult<String>;
}

#[derive(FromRow)]
pub(crate) struct SamlLoginRow {
    pub(crate) id: String,
    pub(crate) browser_digest: String,
    pub(crate) sp_id: String,
    pub(crate) request_id: Option<String>,
    pub(crate) acs_url: String,
    pub(crate) relay_state: Option<String>,
    pub(crate) transaction_id: Option<String>,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) answered_at: Option<i64>,
}

impl From<SamlLoginRow> for SamlLogin {
    fn from(r: SamlLoginRow) -> Self {
        SamlLogin {
            id: r.id,
            browser_digest: r.browser_digest,
            sp_id: r.sp_id,
            request_id: r.request_id,
            acs_url: r.acs_url,
            relay_state: r.relay_state,
            transaction_id: r.transaction_id.map(Into::into),
            created_at: r.created_at,
            expires_at: r.expires_at,
            answered_at: r.answered_at,
        }
    }
}

/// Implements [`SamlLoginStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! saml_login_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::{query, query_as, query_scalar};
            use $crate::domain::saml_login::SamlLogin;
            use $crate::store::StoreResult;
            use $crate::store::saml_login::{SamlLoginRow, SamlLoginStore};

            #[async_trait::async_trait]
            impl SamlLoginStore for $store {
                async fn insert_saml_login(&self, l: &SamlLogin) -> StoreResult<()> {
                    query(
                        "INSERT INTO saml_logins (id, browser_digest, sp_id, request_id, acs_url, relay_state, \
                         transaction_id, created_at, expires_at, answered_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(&l.id)
                    .bind(&l.browser_digest)
                    .bind(&l.sp_id)
                    .bind(&l.request_id)
                    .bind(&l.acs_url)
                    .bind(&l.relay_state)
                    .bind(l.transaction_id.as_ref().map(|t| t.as_str()))
                    .bind(l.created_at)
                    .bind(l.expires_at)
                    .bind(l.answered_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn saml_login(&self, id: &str) -> StoreResult<Option<SamlLogin>> {
                    let row: Option<SamlLoginRow> = query_as("SELECT * FROM saml_logins WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(row.map(SamlLogin::from))
                }

                async fn attach_saml_transaction(&self, id: &str, transaction_id: &str) -> StoreResult<bool> {
                    let done =
                        query("UPDATE saml_logins SET transaction_id = $2 WHERE id = $1 AND transaction_id IS NULL")
                            .bind(id)
                            .bind(transaction_id)
                            .execute(&self.pool)
                            .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn answer_saml_login(&self, id: &str, now: i64) -> StoreResult<bool> {
                    let done = query("UPDATE saml_logins SET answered_at = $2 WHERE id = $1 AND answered_at IS NULL")
                        .bind(id)
                        .bind(now)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn prune_saml_logins(&self, now: i64) -> StoreResult<u64> {
                    let done = query("DELETE FROM saml_logins WHERE expires_at < $1")
                        .bind(now)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected())
                }

                async fn persistent_name_id(
                    &self,
                    sp_id: &str,
                    user_id: &str,
                    candidate: &str,
                    now: i64,
                ) -> StoreResult<String> {
                    query(
                        "INSERT INTO saml_name_ids (sp_id, user_id, value, created_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (sp_id, user_id) DO NOTHING",
                    )
                    .bind(sp_id)
                    .bind(user_id)
                    .bind(candidate)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                    let value: String =
                        query_scalar("SELECT value FROM saml_name_ids WHERE sp_id = $1 AND user_id = $2")
                            .bind(sp_id)
                            .bind(user_id)
                            .fetch_one(&self.pool)
                            .await?;
                    Ok(value)
                }
            }
        };
    };
}
pub(crate) use saml_login_sql;
