//! Identity documents of the executive level: each user's hashing salt and
//! their registered documents (hash and verification status only).

use async_trait::async_trait;
use sqlx::FromRow;

use super::{StoreError, StoreResult};
use crate::domain::identity_document::{DocumentKind, IdentityDocument};

#[async_trait]
pub trait IdentityDocumentStore: Send + Sync {
    /// The user's salt: the stored one, or `new` stored now.
    async fn document_salt(&self, user_id: &str, new: &str) -> StoreResult<String>;

    /// Stores `doc`, replacing the user's document of the same kind.
    async fn put_identity_document(&self, doc: &IdentityDocument) -> StoreResult<()>;

    async fn identity_documents(&self, user_id: &str) -> StoreResult<Vec<IdentityDocument>>;

    async fn identity_document(&self, user_id: &str, kind: DocumentKind) -> StoreResult<Option<IdentityDocument>>;

    /// Removes the user's documents (the relying party resets them); how many.
    async fn remove_identity_documents(&self, user_id: &str) -> StoreResult<u64>;
}

#[derive(FromRow)]
pub(crate) struct DocumentRow {
    user_id: String,
    kind: String,
    hash: String,
    status: String,
    device_id: String,
    client_id: Option<String>,
    registered_at: i64,
    verified_at: Option<i64>,
}

impl TryFrom<DocumentRow> for IdentityDocument {
    type Error = StoreError;
    fn try_from(r: DocumentRow) -> Result<Self, StoreError> {
        Ok(IdentityDocument {
            kind: r.kind.parse().map_err(StoreError::Corrupt)?,
            status: r.status.parse().map_err(StoreError::Corrupt)?,
            user_id: r.user_id,
            hash: r.hash,
            device_id: r.device_id,
            client_id: r.client_id,
            registered_at: r.registered_at,
            verified_at: r.verified_at,
        })
    }
}

/// Implements [`IdentityDocumentStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! identity_document_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::{query, query_as, query_scalar};
            use $crate::domain::identity_document::{DocumentKind, IdentityDocument};
            use $crate::store::StoreResult;
            use $crate::store::identity_documents::{DocumentRow, IdentityDocumentStore};

            #[async_trait::async_trait]
            impl IdentityDocumentStore for $store {
                async fn document_salt(&self, user_id: &str, new: &str) -> StoreResult<String> {
                    query("INSERT INTO document_salts (user_id, salt) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING")
                        .bind(user_id)
                        .bind(new)
                        .execute(&self.pool)
                        .await?;
                    Ok(query_scalar("SELECT salt FROM document_salts WHERE user_id = $1")
                        .bind(user_id)
                        .fetch_one(&self.pool)
                        .await?)
                }

                async fn put_identity_document(&self, d: &IdentityDocument) -> StoreResult<()> {
                    query(
                        "INSERT INTO identity_documents (user_id, kind, hash, status, device_id, client_id, \
                         registered_at, verified_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) \
                         ON CONFLICT (user_id, kind) DO UPDATE SET hash = excluded.hash, status = excluded.status, \
                         device_id = excluded.device_id, client_id = excluded.client_id, \
                         registered_at = excluded.registered_at, verified_at = excluded.verified_at",
                    )
                    .bind(&d.user_id)
                    .bind(d.kind.as_str())
                    .bind(&d.hash)
                    .bind(d.status.as_str())
                    .bind(&d.device_id)
                    .bind(&d.client_id)
                    .bind(d.registered_at)
                    .bind(d.verified_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn identity_documents(&self, user_id: &str) -> StoreResult<Vec<IdentityDocument>> {
                    let rows: Vec<DocumentRow> =
                        query_as("SELECT * FROM identity_documents WHERE user_id = $1 ORDER BY kind")
                            .bind(user_id)
                            .fetch_all(&self.pool)
                            .await?;
                    rows.into_iter().map(IdentityDocument::try_from).collect()
                }

                async fn remove_identity_documents(&self, user_id: &str) -> StoreResult<u64> {
                    let done = query("DELETE FROM identity_documents WHERE user_id = $1")
                        .bind(user_id)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected())
                }

                async fn identity_document(
                    &self,
                    user_id: &str,
                    kind: DocumentKind,
                ) -> StoreResult<Option<IdentityDocument>> {
                    let row: Option<DocumentRow> =
                        query_as("SELECT * FROM identity_documents WHERE user_id = $1 AND kind = $2")
                            .bind(user_id)
                            .bind(kind.as_str())
                            .fetch_optional(&self.pool)
                            .await?;
                    row.map(IdentityDocument::try_from).transpose()
                }
            }
        };
    };
}
pub(crate) use identity_document_sql;
