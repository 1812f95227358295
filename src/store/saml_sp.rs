//! SAML service providers, and the AuthnRequest IDs each has sent.

use async_trait::async_trait;
use sqlx::FromRow;

use super::{StoreError, StoreResult};
use crate::domain::saml_sp::SamlSp;

#[async_trait]
pub trait SamlSpStore: Send + Sync {
    /// Stores a new SP; [`StoreError::Conflict`] when its entity ID (or id)
    /// is taken.
    async fn insert_saml_sp(&self, sp: &SamlSp) -> StoreResult<()>;

    /// The SP registered under `entity_id` (compared byte for byte).
    async fn saml_sp(&self, entity_id: &str) -> StoreResult<Option<SamlSp>>;

    /// The SP with registry id `id`.
    async fn saml_sp_by_id(&self, id: &str) -> StoreResult<Option<SamlSp>>;

    /// Every SP, by entity ID.
    async fn saml_sps(&self) -> StoreResult<Vec<SamlSp>>;

    /// Replaces the settings of the SP with `sp.id` (its entity ID too);
    /// false if there is none, [`StoreError::Conflict`] when another SP has
    /// that entity ID.
    async fn update_saml_sp(&self, sp: &SamlSp) -> StoreResult<bool>;

    /// Removes the SP (and the request IDs it sent); false if there was none.
    async fn remove_saml_sp(&self, entity_id: &str) -> StoreResult<bool>;

    /// Remembers the AuthnRequest `request_id` of SP `sp_id` (its
    /// [`SamlSp::id`]) until `expires_at`; false when that SP sent that ID
    /// before. Settled by the database (a conflicting INSERT), so two
    /// instances racing on one request answer it once.
    async fn remember_request_id(&self, sp_id: &str, request_id: &str, expires_at: i64) -> StoreResult<bool>;

    /// Forgets the request IDs that expired before `now`; how many.
    async fn prune_request_ids(&self, now: i64) -> StoreResult<u64>;
}

#[derive(FromRow)]
pub(crate) struct SamlSpRow {
    pub(crate) id: String,
    pub(crate) entity_id: String,
    pub(crate) settings: String,
    pub(crate) created_at: i64,
}

impl TryFrom<SamlSpRow> for SamlSp {
    type Error = StoreError;
    fn try_from(r: SamlSpRow) -> Result<Self, StoreError> {
        let settings: crate::domain::saml_sp::SamlSpSettings =
            serde_json::from_str(&r.settings).map_err(|e| StoreError::Corrupt(format!("SAML SP settings: {e}")))?;
        // The column is what the unique index holds; the JSON must agree.
        if settings.entity_id.as_str() != r.entity_id {
            return Err(StoreError::Corrupt(format!(
                "SAML SP {}: entity ID differs from its settings",
                r.id
            )));
        }
        Ok(SamlSp {
            id: r.id,
            settings,
            created_at: r.created_at,
        })
    }
}

/// Implements [`SamlSpStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! saml_sp_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::{query, query_as};
            use $crate::domain::saml_sp::SamlSp;
            use $crate::store::saml_sp::{SamlSpRow, SamlSpStore};
            use $crate::store::{StoreError, StoreResult, conflict};

            #[async_trait::async_trait]
            impl SamlSpStore for $store {
                async fn insert_saml_sp(&self, sp: &SamlSp) -> StoreResult<()> {
                    let settings =
                        serde_json::to_string(&sp.settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    query("INSERT INTO saml_sps (id, entity_id, settings, created_at) VALUES ($1, $2, $3, $4)")
                        .bind(&sp.id)
                        .bind(sp.entity_id().as_str())
                        .bind(settings)
                        .bind(sp.created_at)
                        .execute(&self.pool)
                        .await
                        .map_err(conflict("SAML SP entity ID"))?;
                    Ok(())
                }

                async fn saml_sp(&self, entity_id: &str) -> StoreResult<Option<SamlSp>> {
                    let row: Option<SamlSpRow> = query_as("SELECT * FROM saml_sps WHERE entity_id = $1")
                        .bind(entity_id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(SamlSp::try_from).transpose()
                }

                async fn saml_sp_by_id(&self, id: &str) -> StoreResult<Option<SamlSp>> {
                    let row: Option<SamlSpRow> = query_as("SELECT * FROM saml_sps WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(SamlSp::try_from).transpose()
                }

                async fn saml_sps(&self) -> StoreResult<Vec<SamlSp>> {
                    let rows: Vec<SamlSpRow> = query_as("SELECT * FROM saml_sps ORDER BY entity_id")
                        .fetch_all(&self.pool)
                        .await?;
                    rows.into_iter().map(SamlSp::try_from).collect()
                }

                async fn update_saml_sp(&self, sp: &SamlSp) -> StoreResult<bool> {
                    let settings =
                        serde_json::to_string(&sp.settings).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    let done = query("UPDATE saml_sps SET entity_id = $2, settings = $3 WHERE id = $1")
                        .bind(&sp.id)
                        .bind(sp.entity_id().as_str())
                        .bind(settings)
                        .execute(&self.pool)
                        .await
                        .map_err(conflict("SAML SP entity ID"))?;
                    Ok(done.rows_affected() == 1)
                }

                async fn remove_saml_sp(&self, entity_id: &str) -> StoreResult<bool> {
                    let done = query("DELETE FROM saml_sps WHERE entity_id = $1")
                        .bind(entity_id)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn remember_request_id(
                    &self,
                    sp_id: &str,
                    request_id: &str,
                    expires_at: i64,
                ) -> StoreResult<bool> {
                    let done = query(
                        "INSERT INTO saml_request_ids (sp_id, request_id, expires_at) VALUES ($1, $2, $3) \
                         ON CONFLICT (sp_id, request_id) DO NOTHING",
                    )
                    .bind(sp_id)
                    .bind(request_id)
                    .bind(expires_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn prune_request_ids(&self, now: i64) -> StoreResult<u64> {
                    let done = query("DELETE FROM saml_request_ids WHERE expires_at < $1")
                        .bind(now)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected())
                }
            }
        };
    };
}
pub(crate) use saml_sp_sql;
