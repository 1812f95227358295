//! Console administrators, their sessions and failed sign-ins.

use async_trait::async_trait;
use sqlx::FromRow;

use super::{StoreError, StoreResult};
use crate::domain::admin::{Admin, AdminEmail, AdminSession};

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

    async fn insert_admin_session(&self, session: &AdminSession) -> StoreResult<()>;

    /// Names the user holding the admin's phones, unless one is named; false then.
    async fn set_admin_device_user(&self, admin_id: &str, user_id: &str) -> StoreResult<bool>;

    /// Ends the waiting session `awaiting_id` (its phone approved), marks its
    /// transaction used and opens `signed_in`, at once; false when another
    /// request finished it first.
    async fn finish_second_factor(&self, awaiting_id: &str, signed_in: &AdminSession, now: i64) -> StoreResult<bool>;

    /// The session whose secret has this digest, with its admin.
    async fn admin_session(&self, secret_digest: &str) -> StoreResult<Option<(AdminSession, Admin)>>;

    /// Records a request of the session at `now` (the idle timeout counts from it).
    async fn touch_admin_session(&self, id: &str, now: i64) -> StoreResult<()>;

    /// Revokes session `id` of `admin_id`; false when it is not theirs or was revoked.
    async fn revoke_admin_session(&self, id: &str, admin_id: &str, now: i64) -> StoreResult<bool>;

    /// Revokes every session of the admin with this e-mail; how many.
    async fn revoke_sessions_of(&self, email: &str, now: i64) -> StoreResult<u64>;

    /// The admin's sessions not revoked and not past `expires_at`, newest first.
    async fn admin_sessions(&self, admin_id: &str, now: i64) -> StoreResult<Vec<AdminSession>>;

    async fn record_sign_in_failure(&self, email: &str, address: &str, now: i64) -> StoreResult<()>;

    /// Forgets sessions that ended (expired or revoked) and failures
    /// recorded before `before`; how many rows.
    async fn prune_admin_sessions(&self, before: i64) -> StoreResult<u64>;

    /// Failed sign-ins since `since`: for `email`, and from `address`.
    async fn sign_in_failures(&self, email: &str, address: &str, since: i64) -> StoreResult<(i64, i64)>;
}

#[derive(FromRow)]
pub(crate) struct SessionRow {
    pub(crate) id: String,
    pub(crate) secret_digest: String,
    pub(crate) admin_id: String,
    pub(crate) csrf: String,
    pub(crate) created_at: i64,
    pub(crate) last_seen_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) revoked_at: Option<i64>,
    pub(crate) address: String,
    pub(crate) user_agent: String,
    pub(crate) awaiting_transaction: Option<String>,
    /// 0 or 1 (an integer in both dialects).
    pub(crate) second_factor: i64,
}

impl From<SessionRow> for AdminSession {
    fn from(r: SessionRow) -> Self {
        AdminSession {
            id: r.id,
            secret_digest: r.secret_digest,
            admin_id: r.admin_id,
            csrf: r.csrf,
            created_at: r.created_at,
            last_seen_at: r.last_seen_at,
            expires_at: r.expires_at,
            revoked_at: r.revoked_at,
            address: r.address,
            user_agent: r.user_agent,
            awaiting_transaction: r.awaiting_transaction,
            second_factor: r.second_factor != 0,
        }
    }
}

#[derive(FromRow)]
pub(crate) struct AdminRow {
    pub(crate) id: String,
    pub(crate) email: String,
    pub(crate) password_hash: String,
    pub(crate) created_at: i64,
    pub(crate) password_at: i64,
    pub(crate) disabled_at: Option<i64>,
    pub(crate) device_user_id: Option<String>,
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
            device_user_id: r.device_user_id,
        })
    }
}

/// Implements [`AdminStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! admin_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::{query, query_as};
            use $crate::domain::admin::{Admin, AdminSession};
            use $crate::store::admins::{AdminRow, AdminStore, SessionRow};
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

                async fn insert_admin_session(&self, s: &AdminSession) -> StoreResult<()> {
                    let mut conn = self.pool.acquire().await?;
                    Self::insert_admin_session_tx(&mut conn, s).await
                }

                async fn set_admin_device_user(&self, admin_id: &str, user_id: &str) -> StoreResult<bool> {
                    let done = query("UPDATE admins SET device_user_id = $2 WHERE id = $1 AND device_user_id IS NULL")
                        .bind(admin_id)
                        .bind(user_id)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn finish_second_factor(&self, awaiting_id: &str, signed_in: &AdminSession, now: i64) -> StoreResult<bool> {
                    let mut tx = self.pool.begin().await?;
                    let ended: Option<(String,)> = query_as(
                        "UPDATE admin_sessions SET revoked_at = $2 \
                         WHERE id = $1 AND revoked_at IS NULL AND awaiting_transaction IS NOT NULL \
                         RETURNING awaiting_transaction",
                    )
                    .bind(awaiting_id)
                    .bind(now)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let Some((transaction_id,)) = ended else {
                        return Ok(false);
                    };
                    // Used once: the approval opens this session and nothing else;
                    // no longer approved (or expired) means no session.
                    let consumed = query(
                        "UPDATE transactions SET status = 'consumed' WHERE id = $1 AND status = 'approved' AND expires_at > $2",
                    )
                    .bind(&transaction_id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if consumed.rows_affected() != 1 {
                        return Ok(false);
                    }
                    Self::insert_admin_session_tx(&mut tx, signed_in).await?;
                    let _invalidate = self.transactions_change(Some(&transaction_id));
                    tx.commit().await?;
                    Ok(true)
                }

                async fn admin_session(&self, secret_digest: &str) -> StoreResult<Option<(AdminSession, Admin)>> {
                    let Some(session): Option<SessionRow> =
                        query_as("SELECT * FROM admin_sessions WHERE secret_digest = $1")
                            .bind(secret_digest)
                            .fetch_optional(&self.pool)
                            .await?
                    else {
                        return Ok(None);
                    };
                    let admin: Option<AdminRow> = query_as("SELECT * FROM admins WHERE id = $1")
                        .bind(&session.admin_id)
                        .fetch_optional(&self.pool)
                        .await?;
                    match admin {
                        Some(admin) => Ok(Some((session.into(), Admin::try_from(admin)?))),
                        None => Ok(None),
                    }
                }

                async fn touch_admin_session(&self, id: &str, now: i64) -> StoreResult<()> {
                    query("UPDATE admin_sessions SET last_seen_at = $2 WHERE id = $1")
                        .bind(id)
                        .bind(now)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn revoke_admin_session(&self, id: &str, admin_id: &str, now: i64) -> StoreResult<bool> {
                    let done = query(
                        "UPDATE admin_sessions SET revoked_at = $3 \
                         WHERE id = $1 AND admin_id = $2 AND revoked_at IS NULL",
                    )
                    .bind(id)
                    .bind(admin_id)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn revoke_sessions_of(&self, email: &str, now: i64) -> StoreResult<u64> {
                    let done = query(
                        "UPDATE admin_sessions SET revoked_at = $2 WHERE revoked_at IS NULL \
                         AND admin_id IN (SELECT id FROM admins WHERE email = $1)",
                    )
                    .bind(email)
                    .bind(now)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected())
                }

                async fn admin_sessions(&self, admin_id: &str, now: i64) -> StoreResult<Vec<AdminSession>> {
                    let rows: Vec<SessionRow> = query_as(
                        "SELECT * FROM admin_sessions WHERE admin_id = $1 AND revoked_at IS NULL \
                         AND expires_at > $2 ORDER BY created_at DESC, id",
                    )
                    .bind(admin_id)
                    .bind(now)
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(rows.into_iter().map(AdminSession::from).collect())
                }

                async fn record_sign_in_failure(&self, email: &str, address: &str, now: i64) -> StoreResult<()> {
                    query("INSERT INTO admin_sign_in_failures (at, email, address) VALUES ($1, $2, $3)")
                        .bind(now)
                        .bind(email)
                        .bind(address)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn prune_admin_sessions(&self, before: i64) -> StoreResult<u64> {
                    let sessions = query(
                        "DELETE FROM admin_sessions WHERE expires_at < $1 OR (revoked_at IS NOT NULL AND revoked_at < $1)",
                    )
                    .bind(before)
                    .execute(&self.pool)
                    .await?
                    .rows_affected();
                    let failures = query("DELETE FROM admin_sign_in_failures WHERE at < $1")
                        .bind(before)
                        .execute(&self.pool)
                        .await?
                        .rows_affected();
                    Ok(sessions + failures)
                }

                async fn sign_in_failures(&self, email: &str, address: &str, since: i64) -> StoreResult<(i64, i64)> {
                    let by_email: i64 =
                        sqlx::query_scalar("SELECT COUNT(*) FROM admin_sign_in_failures WHERE email = $1 AND at >= $2")
                            .bind(email)
                            .bind(since)
                            .fetch_one(&self.pool)
                            .await?;
                    let by_address: i64 = sqlx::query_scalar(
                        "SELECT COUNT(*) FROM admin_sign_in_failures WHERE address = $1 AND at >= $2",
                    )
                    .bind(address)
                    .bind(since)
                    .fetch_one(&self.pool)
                    .await?;
                    Ok((by_email, by_address))
                }
            }
            impl $store {
                async fn insert_admin_session_tx(
                    conn: &mut <$db as sqlx::Database>::Connection,
                    s: &AdminSession,
                ) -> StoreResult<()> {
                    query(
                        "INSERT INTO admin_sessions (id, secret_digest, admin_id, csrf, created_at, last_seen_at, \
                         expires_at, revoked_at, address, user_agent, awaiting_transaction, second_factor) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)",
                    )
                    .bind(&s.id)
                    .bind(&s.secret_digest)
                    .bind(&s.admin_id)
                    .bind(&s.csrf)
                    .bind(s.created_at)
                    .bind(s.last_seen_at)
                    .bind(s.expires_at)
                    .bind(s.revoked_at)
                    .bind(&s.address)
                    .bind(&s.user_agent)
                    .bind(&s.awaiting_transaction)
                    .bind(i64::from(s.second_factor))
                    .execute(&mut *conn)
                    .await?;
                    Ok(())
                }
            }
        };
    };
}
pub(crate) use admin_sql;
