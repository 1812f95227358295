//! The SQL of [`super::UserStore`], shared by both backends.

/// Implements [`UserStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! user_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::{query, query_as};
            use $crate::domain::device::{Device, DeviceStatus};
            use $crate::domain::user::User;
            use $crate::store::users::{DeviceRow, UserDevicesRow, UserRow, UserStore};
            use $crate::store::{BindOutcome, DeviceCounts, StoreError, StoreResult, conflict};

            #[async_trait::async_trait]
            impl UserStore for $store {
                async fn insert_user(&self, u: &User, apps: &[String]) -> StoreResult<()> {
                    let mut tx = self.begin_user_change().await?;
                    Self::insert_user_tx(&mut *tx, u, false).await?;
                    for app in apps {
                        query("INSERT INTO user_apps (user_id, app_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                            .bind(u.id.as_str())
                            .bind(app)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn create_user_if_absent(&self, u: &User) -> StoreResult<bool> {
                    // One statement: a read-then-write transaction can fail at once
                    // on SQLite (WAL) when another writer committed in between.
                    let mut tx = self.begin_user_change().await?;
                    let created = Self::insert_user_tx(&mut *tx, u, true).await?;
                    tx.commit().await?;
                    Ok(created)
                }

                async fn set_user_code(&self, user_id: &str, hash: &str) -> StoreResult<bool> {
                    let change = query("UPDATE users SET user_code_hash = $2 WHERE id = $1")
                        .bind(user_id)
                        .bind(hash);
                    let done = self.execute_user_change(change).await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn set_user_status(&self, user_id: &str, status: $crate::domain::user::UserStatus) -> StoreResult<bool> {
                    let reset = status == $crate::domain::user::UserStatus::Active;
                    let change = query(
                        "UPDATE users SET status = $2, failed_attempts = CASE WHEN $3 THEN 0 ELSE failed_attempts END \
                         WHERE id = $1 AND status != 'removed'",
                    )
                    .bind(user_id)
                    .bind(status.as_str())
                    .bind(reset);
                    let done = self.execute_user_change(change).await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn user(&self, id: &str) -> StoreResult<Option<User>> {
                    if let Some(done) = self.user_direct(id) {
                        return done;
                    }
                    let row: Option<UserRow> = query_as($crate::store::users::USER_ROW_BY_ID)
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(User::try_from).transpose()
                }

                async fn users_list(&self, status: Option<&str>, search: Option<&str>, limit: i64) -> StoreResult<Vec<User>> {
                    let rows: Vec<UserRow> = query_as($crate::store::users::USERS_LIST)
                        .bind(status)
                        .bind(search.map($crate::store::users::containing))
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?;
                    rows.into_iter().map(User::try_from).collect()
                }

                async fn user_by_hint_counting_devices(&self, hint: &str) -> StoreResult<Option<(User, DeviceCounts)>> {
                    // None: a lock met, waited for below, off the async thread.
                    if let Some(done) = self.user_by_hint_direct(hint) {
                        return done;
                    }
                    let row: Option<UserDevicesRow> = query_as($crate::store::users::USER_BY_HINT)
                    .bind(hint)
                    .fetch_optional(&self.pool)
                    .await?;
                    row.map(|r| {
                        let counts = DeviceCounts {
                            active: r.active_devices,
                            pushable: r.pushable_devices,
                        };
                        Ok((User::try_from(r.user)?, counts))
                    })
                    .transpose()
                }

                async fn user_has_app(&self, user_id: &str, app_id: &str) -> StoreResult<bool> {
                    let found: Option<(i64,)> = query_as("SELECT CAST(1 AS BIGINT) FROM user_apps WHERE user_id = $1 AND app_id = $2")
                        .bind(user_id)
                        .bind(app_id)
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(found.is_some())
                }

                async fn active_device_count(&self, user_id: &str) -> StoreResult<i64> {
                    let (n,): (i64,) = query_as("SELECT COUNT(*) FROM devices WHERE user_id = $1 AND status = 'active'")
                        .bind(user_id)
                        .fetch_one(&self.pool)
                        .await?;
                    Ok(n)
                }

                async fn register_device(&self, d: &Device) -> StoreResult<(Device, bool)> {
                    let change = query(
                        "INSERT INTO devices (id, device_key, auth_key, user_id, status, failed_attempts, created_at, \
                         user_authentication_required) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING",
                    )
                    .bind(d.id.as_str())
                    .bind(&d.device_key)
                    .bind(&d.auth_key)
                    .bind(d.user_id.as_deref())
                    .bind(d.status.as_str())
                    .bind(d.failed_attempts)
                    .bind(d.created_at)
                    .bind(i64::from(d.user_authentication_required));
                    let inserted = self.execute_user_change(change).await?;
                    let device = self
                        .device(&d.id)
                        .await?
                        .ok_or_else(|| StoreError::Corrupt("device vanished after insert".into()))?;
                    Ok((device, inserted.rows_affected() == 1))
                }

                async fn device(&self, id: &str) -> StoreResult<Option<Device>> {
                    if let Some(done) = self.device_direct(id) {
                        return done;
                    }
                    let row: Option<DeviceRow> = query_as("SELECT * FROM devices WHERE id = $1")
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(Device::try_from).transpose()
                }

                async fn bind_device(&self, device_id: &str, user_id: &str) -> StoreResult<BindOutcome> {
                    let Some(device) = self.device(device_id).await? else {
                        return Ok(BindOutcome::UnknownDevice);
                    };
                    if self.user(user_id).await?.is_none() {
                        return Ok(BindOutcome::UnknownUser);
                    }
                    let rebind_same_user = device.user_id.as_deref() == Some(user_id);
                    if device.status != DeviceStatus::Inactive && !(rebind_same_user && device.status == DeviceStatus::Active) {
                        return Ok(BindOutcome::NotBindable);
                    }
                    let change = query(
                        "UPDATE devices SET user_id = $2, status = 'active' \
                         WHERE id = $1 AND (status = 'inactive' OR (status = 'active' AND user_id = $2))",
                    )
                    .bind(device_id)
                    .bind(user_id);
                    let done = self.execute_user_change(change).await?;
                    Ok(if done.rows_affected() == 1 {
                        BindOutcome::Bound
                    } else {
                        BindOutcome::NotBindable
                    })
                }

                async fn devices_of(&self, user_id: &str) -> StoreResult<Vec<Device>> {
                    let rows: Vec<DeviceRow> = query_as(
                        "SELECT * FROM devices WHERE user_id = $1 AND status != 'removed' ORDER BY preferred DESC, created_at, id",
                    )
                    .bind(user_id)
                    .fetch_all(&self.pool)
                    .await?;
                    rows.into_iter().map(Device::try_from).collect()
                }

                async fn set_preferred_device(&self, user_id: &str, device_id: &str) -> StoreResult<bool> {
                    let mut tx = self.begin_user_change().await?;
                    let chosen = query("UPDATE devices SET preferred = 1 WHERE id = $1 AND user_id = $2 AND status = 'active'")
                        .bind(device_id)
                        .bind(user_id)
                        .execute(&mut *tx)
                        .await?;
                    if chosen.rows_affected() != 1 {
                        return Ok(false);
                    }
                    query("UPDATE devices SET preferred = 0 WHERE user_id = $1 AND id != $2")
                        .bind(user_id)
                        .bind(device_id)
                        .execute(&mut *tx)
                        .await?;
                    tx.commit().await?;
                    Ok(true)
                }

                async fn remove_device(&self, user_id: &str, device_id: &str) -> StoreResult<bool> {
                    let change = query(
                        "UPDATE devices SET status = 'removed', preferred = 0 WHERE id = $1 AND user_id = $2 AND status != 'removed'",
                    )
                    .bind(device_id)
                    .bind(user_id);
                    let done = self.execute_user_change(change).await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn set_device_locked(&self, user_id: &str, device_id: &str, locked: bool) -> StoreResult<bool> {
                    let sql = if locked {
                        "UPDATE devices SET status = 'locked' WHERE id = $1 AND user_id = $2 AND status = 'active'"
                    } else {
                        "UPDATE devices SET status = 'active', failed_attempts = 0 WHERE id = $1 AND user_id = $2 AND status = 'locked'"
                    };
                    let done = self.execute_user_change(query(sql).bind(device_id).bind(user_id)).await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn set_push_channel(
                    &self,
                    device_id: &str,
                    push: Option<($crate::domain::push::PushChannel, &$crate::domain::push::PushAddress)>,
                ) -> StoreResult<bool> {
                    let change = query("UPDATE devices SET push_channel = $2, push_address = $3 WHERE id = $1")
                        .bind(device_id)
                        .bind(push.map(|(c, _)| c.as_str()))
                        .bind(push.map(|(_, a)| a.as_str()));
                    let done = self.execute_user_change(change).await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn forget_dead_push_address(
                    &self,
                    device_id: &str,
                    address: &$crate::domain::push::PushAddress,
                ) -> StoreResult<bool> {
                    let change = query("UPDATE devices SET push_channel = NULL, push_address = NULL WHERE id = $1 AND push_address = $2")
                        .bind(device_id)
                        .bind(address.as_str());
                    let done = self.execute_user_change(change).await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn record_failed_attempt(
                    &self,
                    device_id: Option<&str>,
                    user_id: Option<&str>,
                    on: Option<$crate::store::users::FailedOn<'_>>,
                    lockout: $crate::domain::lifecycle::Lockout,
                ) -> StoreResult<(bool, bool)> {
                    let mut tx = self.begin_user_change().await?;
                    let mut locked = (false, false);
                    if let Some(device_id) = device_id {
                        query("UPDATE devices SET failed_attempts = failed_attempts + 1 WHERE id = $1")
                            .bind(device_id)
                            .execute(&mut *tx)
                            .await?;
                        let lock = query("UPDATE devices SET status = 'locked' WHERE id = $1 AND status = 'active' AND failed_attempts >= $2")
                            .bind(device_id)
                            .bind(lockout.device_threshold)
                            .execute(&mut *tx)
                            .await?;
                        locked.0 = lock.rows_affected() == 1;
                    }
                    if let Some(user_id) = user_id {
                        query("UPDATE users SET failed_attempts = failed_attempts + 1 WHERE id = $1")
                            .bind(user_id)
                            .execute(&mut *tx)
                            .await?;
                        let lock = query("UPDATE users SET status = 'locked' WHERE id = $1 AND status = 'active' AND failed_attempts >= $2")
                            .bind(user_id)
                            .bind(lockout.user_threshold)
                            .execute(&mut *tx)
                            .await?;
                        locked.1 = lock.rows_affected() == 1;
                    }
                    if let Some(on) = on {
                        query("UPDATE transactions SET failed_attempts = failed_attempts + 1, failed_device_id = $2 WHERE id = $1")
                            .bind(on.transaction_id)
                            .bind(device_id)
                            .execute(&mut *tx)
                            .await?;
                        Self::insert_event(&mut tx, on.transaction_id, on.at_ms, "device_refused", device_id, on.reason).await?;
                    }
                    // Only a named transaction changed (its failure counters).
                    let _invalidate = on.map(|on| self.transactions_change(Some(on.transaction_id)));
                    tx.commit().await?;
                    Ok(locked)
                }
            }

            impl $store {
                /// Inserts a user; with `if_absent`, an existing id is left alone
                /// (false). E-mail and phone stay unique either way.
                async fn insert_user_tx(tx: &mut <$db as sqlx::Database>::Connection, u: &User, if_absent: bool) -> StoreResult<bool> {
                    let sql = if if_absent {
                        "INSERT INTO users (id, email, phone, status, failed_attempts, user_code_hash, static_password_hash, \
                         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING"
                    } else {
                        "INSERT INTO users (id, email, phone, status, failed_attempts, user_code_hash, static_password_hash, \
                         created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    };
                    let done = query(sql)
                        .bind(u.id.as_str())
                        .bind(&u.email)
                        .bind(&u.phone)
                        .bind(u.status.as_str())
                        .bind(u.failed_attempts)
                        .bind(&u.user_code_hash)
                        .bind(&u.static_password_hash)
                        .bind(u.created_at)
                        .execute(&mut *tx)
                        .await
                        .map_err(conflict("user id, email or phone"))?;
                    Ok(done.rows_affected() == 1)
                }
            }
        };
    };
}
pub(crate) use user_sql;
