//! The SQL of [`super::LifecycleStore`], shared by both backends.

/// Implements [`LifecycleStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! lifecycle_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::{query, query_as};
            use $crate::domain::transaction::Transaction;
            use $crate::domain::user::User;
            use $crate::store::lifecycle::{BindingRow, LifecycleStore, RegistrationRow, RegistrationTokenRow};
            use $crate::store::transactions::{TXN_COLUMNS, TransactionRow};
            use $crate::store::StoreResult;

            #[async_trait::async_trait]
            impl LifecycleStore for $store {
                async fn create_binding(&self, b: &$crate::domain::lifecycle::Binding, new_user: Option<&User>) -> StoreResult<()> {
                    let mut tx = self.begin_user_change().await?;
                    if let Some(u) = new_user {
                        Self::insert_user_tx(&mut *tx, u, false).await?;
                    }
                    query(
                        "INSERT INTO bindings (id, user_id, device_id, client_id, code_digest, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7)",
                    )
                    .bind(b.id.as_str())
                    .bind(b.user_id.as_str())
                    .bind(b.device_id.as_str())
                    .bind(b.client_id.as_str())
                    .bind(&b.code_digest)
                    .bind(b.created_at)
                    .bind(b.expires_at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn binding_by_code(&self, code_digest: &str) -> StoreResult<Option<$crate::domain::lifecycle::Binding>> {
                    let row: Option<BindingRow> = query_as("SELECT * FROM bindings WHERE code_digest = $1")
                        .bind(code_digest)
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(row.map(Into::into))
                }

                async fn create_registration(&self, r: &$crate::domain::lifecycle::Registration, u: &User) -> StoreResult<()> {
                    let mut tx = self.begin_user_change().await?;
                    let revived = query(
                        "UPDATE users SET status = 'active', failed_attempts = 0, static_password_hash = $2 \
                         WHERE id = $1 AND status = 'removed'",
                    )
                    .bind(u.id.as_str())
                    .bind(&u.static_password_hash)
                    .execute(&mut *tx)
                    .await?;
                    if revived.rows_affected() == 0 {
                        Self::insert_user_tx(&mut *tx, u, false).await?;
                    }
                    query(
                        "INSERT INTO registrations (id, user_id, client_id, password_digest, relationship_ref, client_ip, \
                         session_id, cddc, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                    )
                    .bind(r.id.as_str())
                    .bind(r.user_id.as_str())
                    .bind(r.client_id.as_str())
                    .bind(&r.password_digest)
                    .bind(&r.relationship_ref)
                    .bind(&r.client_ip)
                    .bind(&r.session_id)
                    .bind(&r.cddc)
                    .bind(r.created_at)
                    .bind(r.expires_at)
                    .execute(&mut *tx)
                    .await?;
                    tx.commit().await?;
                    Ok(())
                }

                async fn registration_by_password(&self, digest: &str) -> StoreResult<Option<$crate::domain::lifecycle::Registration>> {
                    let row: Option<RegistrationRow> = query_as("SELECT * FROM registrations WHERE password_digest = $1")
                        .bind(digest)
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(row.map(Into::into))
                }

                async fn latest_registration(&self, user_id: &str) -> StoreResult<Option<$crate::domain::lifecycle::Registration>> {
                    let row: Option<RegistrationRow> = query_as(
                        "SELECT * FROM registrations WHERE user_id = $1 AND removed_at IS NULL \
                         ORDER BY created_at DESC, id DESC LIMIT 1",
                    )
                    .bind(user_id)
                    .fetch_optional(&self.pool)
                    .await?;
                    Ok(row.map(Into::into))
                }

                async fn mark_reported(&self, registration_id: &str, now: i64) -> StoreResult<()> {
                    query("UPDATE registrations SET reported_at = $2 WHERE id = $1 AND reported_at IS NULL")
                        .bind(registration_id)
                        .bind(now)
                        .execute(&self.pool)
                        .await?;
                    Ok(())
                }

                async fn insert_registration_token(&self, t: &$crate::domain::lifecycle::RegistrationToken) -> StoreResult<()> {
                    query(
                        "INSERT INTO registration_tokens (digest, user_id, client_id, created_at, expires_at) \
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(&t.digest)
                    .bind(t.user_id.as_str())
                    .bind(t.client_id.as_str())
                    .bind(t.created_at)
                    .bind(t.expires_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn registration_token(&self, digest: &str) -> StoreResult<Option<$crate::domain::lifecycle::RegistrationToken>> {
                    let row: Option<RegistrationTokenRow> = query_as("SELECT * FROM registration_tokens WHERE digest = $1")
                        .bind(digest)
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(row.map(Into::into))
                }

                async fn activate(
                    &self,
                    credential: $crate::store::lifecycle::Credential<'_>,
                    device_id: &str,
                    user_id: &str,
                    now: i64,
                ) -> StoreResult<$crate::store::lifecycle::ActivateOutcome> {
                    use $crate::store::lifecycle::{ActivateOutcome, Credential};
                    // SQLite: the user index is brought up to date and held before the
                    // write lock is taken (a first load reads many rows; lock order:
                    // the index, then the file), and read again under it.
                    let mut held = self.lock_user_requests(now).await?;
                    let mut tx = self.begin_user_change().await?;
                    let spent = match credential {
                        Credential::Binding(id) => query(
                            "UPDATE bindings SET used_at = $2 WHERE id = $1 AND used_at IS NULL AND removed_at IS NULL \
                             AND expires_at > $2",
                        )
                        .bind(id)
                        .bind(now),
                        Credential::Registration(id) => query(
                            "UPDATE registrations SET activated_at = $2, device_id = $3 WHERE id = $1 \
                             AND activated_at IS NULL AND removed_at IS NULL AND expires_at > $2",
                        )
                        .bind(id)
                        .bind(now)
                        .bind(device_id),
                        Credential::Token(digest) => query(
                            "UPDATE registration_tokens SET used_at = $2 WHERE digest = $1 AND used_at IS NULL AND expires_at > $2",
                        )
                        .bind(digest)
                        .bind(now),
                    }
                    .execute(&mut *tx)
                    .await?;
                    if spent.rows_affected() != 1 {
                        return Ok(ActivateOutcome::CredentialSpent);
                    }
                    let bound = query(
                        "UPDATE devices SET user_id = $2, status = 'active' \
                         WHERE id = $1 AND (status = 'inactive' OR (status = 'active' AND user_id = $2))",
                    )
                    .bind(device_id)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
                    if bound.rows_affected() != 1 {
                        return Ok(ActivateOutcome::DeviceUnavailable);
                    }
                    // Seed 003: an open provisioning request completes when a device
                    // of its user activates.
                    self.catch_up_in_transaction(&mut held, now)?;
                    let ids = held.as_mut().map(|i| i.unexpired_json(user_id, now));
                    let by_user = $crate::store::transactions::by_user("t.", ids.is_some());
                    let sql = format!(
                        "SELECT {TXN_COLUMNS} FROM transactions t WHERE {by_user} AND t.status = 'pending' \
                         AND t.context = 'provisioning' AND t.expires_at > $2"
                    );
                    let select = query_as(&sql).bind(user_id).bind(now);
                    let rows: Vec<TransactionRow> = match ids {
                        Some(ids) => select.bind(ids),
                        None => select,
                    }
                    .fetch_all(&mut *tx)
                    .await?;
                    let mut provisioned = Vec::new();
                    for row in rows {
                        let mut txn = Transaction::try_from(row)?;
                        query("UPDATE transactions SET status = 'approved', decided_at = $2, device_id = $3 WHERE id = $1 AND status = 'pending'")
                            .bind(txn.id.as_str())
                            .bind(now)
                            .bind(device_id)
                            .execute(&mut *tx)
                            .await?;
                        if let Some(status) = txn.user_status {
                            query("UPDATE users SET status = $2 WHERE id = $1 AND status != 'removed'")
                                .bind(user_id)
                                .bind(status.as_str())
                                .execute(&mut *tx)
                                .await?;
                        }
                        if let Some(app) = &txn.app_id {
                            query("INSERT INTO user_apps (user_id, app_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                                .bind(user_id)
                                .bind(app)
                                .execute(&mut *tx)
                                .await?;
                        }
                        txn.status = $crate::domain::transaction::Status::Approved;
                        txn.decided_at = Some(now);
                        txn.device_id = Some(device_id.into());
                        provisioned.push(txn);
                    }
                    let _invalidate = self.transactions_change(None);
                    tx.commit().await?;
                    Ok(ActivateOutcome::Activated { provisioned })
                }

                async fn unregister_user(&self, user_id: &str, now: i64) -> StoreResult<$crate::store::lifecycle::Unregistered> {
                    // SQLite: the user index is brought up to date and held before the
                    // write lock is taken (a first load reads many rows; lock order:
                    // the index, then the file), and read again under it.
                    let mut held = self.lock_user_requests(now).await?;
                    let mut tx = self.begin_user_change().await?;
                    // Write first, so the transaction holds the write lock before it
                    // reads (a read-then-write transaction can fail on SQLite WAL).
                    query("UPDATE users SET status = 'removed' WHERE id = $1")
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    // Read once the write lock is held: every request committed
                    // before it is in the file, so none is missed.
                    self.catch_up_in_transaction(&mut held, now)?;
                    let ids = held.as_mut().map(|i| i.unexpired_json(user_id, now));
                    let by_user = $crate::store::transactions::by_user("t.", ids.is_some());
                    let sql = format!(
                        "SELECT {TXN_COLUMNS} FROM transactions t WHERE {by_user} AND t.status = 'pending' AND t.expires_at > $2"
                    );
                    let select = query_as(&sql).bind(user_id).bind(now);
                    let rows: Vec<TransactionRow> = match &ids {
                        Some(ids) => select.bind(ids.as_str()),
                        None => select,
                    }
                    .fetch_all(&mut *tx)
                    .await?;
                    let transactions = rows.into_iter().map(Transaction::try_from).collect::<Result<Vec<_>, _>>()?;
                    let by_user = $crate::store::transactions::by_user("", ids.is_some());
                    let sql = format!(
                        "UPDATE transactions SET status = 'denied', decided_at = $2 WHERE {by_user} AND status = 'pending' AND expires_at > $2"
                    );
                    let deny = query(&sql).bind(user_id).bind(now);
                    match ids {
                        Some(ids) => deny.bind(ids),
                        None => deny,
                    }
                    .execute(&mut *tx)
                    .await?;
                    let devices = query("UPDATE devices SET status = 'removed', preferred = 0 WHERE user_id = $1 AND status != 'removed'")
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    let bindings = query("UPDATE bindings SET removed_at = $2 WHERE user_id = $1 AND removed_at IS NULL AND used_at IS NULL")
                        .bind(user_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    let registrations = query("UPDATE registrations SET removed_at = $2 WHERE user_id = $1 AND removed_at IS NULL")
                        .bind(user_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?
                        .rows_affected();
                    query("UPDATE access_tokens SET revoked = 1 WHERE user_id = $1")
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    query("UPDATE refresh_tokens SET revoked = 1 WHERE user_id = $1")
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    query("UPDATE registration_tokens SET used_at = $2 WHERE user_id = $1 AND used_at IS NULL")
                        .bind(user_id)
                        .bind(now)
                        .execute(&mut *tx)
                        .await?;
                    // A user registered again under this id is another person.
                    for forget in ["DELETE FROM identity_documents WHERE user_id = $1", "DELETE FROM document_salts WHERE user_id = $1"] {
                        query(forget).bind(user_id).execute(&mut *tx).await?;
                    }
                    let _invalidate = self.transactions_change(None);
                    tx.commit().await?;
                    Ok($crate::store::lifecycle::Unregistered { devices, bindings, registrations, transactions })
                }

                async fn cancel_transaction(
                    &self,
                    id: &str,
                    now: i64,
                    delivery: Option<&$crate::domain::delivery::Delivery>,
                ) -> StoreResult<bool> {
                    let mut tx = self.pool.begin().await?;
                    let cancelled = query(
                        "UPDATE transactions SET status = 'denied', decided_at = $2 \
                         WHERE id = $1 AND status = 'pending' AND expires_at > $2",
                    )
                    .bind(id)
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
                    if cancelled.rows_affected() != 1 {
                        return Ok(false);
                    }
                    if let Some(d) = delivery {
                        Self::insert_delivery(&mut tx, d, now * 1000).await?;
                    }
                    let _invalidate = self.transactions_change(Some(id));
                    tx.commit().await?;
                    Ok(true)
                }
            }
        };
    };
}
pub(crate) use lifecycle_sql;
