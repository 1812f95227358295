//! Console administrators.

use async_trait::async_trait;
use sqlx::FromRow;

use super::{StoreError, StoreResult};
use crate::domain::admin::{Admin, AdminEmail};

#[async_trait]
pub trait AdminStore: Send + Sync {
    /// Stores a new admin; [`StoreError::Conflict`] when the e-mail is taken.
    async fn insert_admin(&self, admin: &Admin) -> StoreResult<()>;

    async fn admin_by_email(&self, email: &str) -> StoreResult<Option<Admin>>;

    /// Every admin, by e-mail.
    async fn admins(&self) -> StoreResult<Vec<Admin>>;

    /// Sets the password hash (and `password_at`); false when there is no such admin.
    async fn set_admin_password(&self, email: &str, hash: &str, now: i64) -> StoreResult<bool>;

    /// Disables the admin; false when there is none, or it was disabled already.
    async fn disable_admin(&self, email: &str, now: i64) -> StoreResult<bool>;
}

#[derive(FromRow)]
pub(crate) struct AdminRow {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) password_hash: String,
    pub(crate) created_at: i64,
    pub(crate) password_at: i64,
    pub(crate) disabled_at: Option<i64>,
}

impl TryFrom<AdminRow> for Admin {
    type Error = StoreError;
    fn try_from(r: AdminRow) -> Result<Self, StoreError> {
        Ok(Admin {
            email: AdminEmail::parse(&r.email).map_err(StoreError::Corrupt)?,
            id: r.id,
            password_hash: r.password_hash,
            created_at: r.created_at,
            password_at: r.password_at,
            disabled_at: r.disabled_at,
        })
    }
}

/// Implements [`AdminStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! admin_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::{query, query_as};
            use $crate::domain::admin::Admin;
            use $crate::store::admins::{AdminRow, AdminStore};
            use $crate::store::{StoreResult, conflict};

            #[async_trait::async_trait]
            impl AdminStore for $store {
                async fn insert_admin(&self, a: &Admin) -> StoreResult<()> {
                    query(
                        "INSERT INTO admins (id, email, password_hash, created_at, password_at, disabled_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&a.id)
                    .bind(a.email.as_str())
                    .bind(&a.password_hash)
                    .bind(a.created_at)
                    .bind(a.password_at)
                    .bind(a.disabled_at)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict("admin e-mail"))?;
                    Ok(())
                }

                async fn admin_by_email(&self, email: &str) -> StoreResult<Option<Admin>> {
                    let row: Option<AdminRow> = query_as("SELECT * FROM admins WHERE email = $1")
                        .bind(email)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(Admin::try_from).transpose()
                }

                async fn admins(&self) -> StoreResult<Vec<Admin>> {
                    let rows: Vec<AdminRow> = query_as("SELECT * FROM admins ORDER BY email")
                        .fetch_all(&self.pool)
                        .await?;
                    rows.into_iter().map(Admin::try_from).collect()
                }

                async fn set_admin_password(&self, email: &str, hash: &str, now: i64) -> StoreResult<bool> {
                    let done = query("UPDATE admins SET password_hash = $2, password_at = $3 WHERE email = $1")
                        .bind(email)
                        .bind(hash)
                        .bind(now)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn disable_admin(&self, email: &str, now: i64) -> StoreResult<bool> {
                    let done = query("UPDATE admins SET disabled_at = $2 WHERE email = $1 AND disabled_at IS NULL")
                        .bind(email)
                        .bind(now)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }
            }
        };
    };
}
pub(crate) use admin_sql;
