//! The SQL both backends share. SQLite and PostgreSQL read the same `$N`
//! placeholders, `ON CONFLICT`, `RETURNING` and `CAST`, so one body serves
//! both; each backend supplies the few statements that differ as constants
//! (`CLIENT_NAME`, `CLAIM_DELIVERIES`) and its pool type.

use std::sync::LazyLock;

use subtle::ConstantTimeEq;

use super::StoreError;
use crate::domain::transaction::Transaction;

/// In `rows::TXN_FIELDS` order: the direct path reads them by position.
pub(super) const TXN_COLUMNS: &str = "t.id, t.auth_req_digest, t.client_id, t.user_id, t.context, t.app_id, \
     t.display_text, t.scope, t.acr, t.status, t.created_at, t.expires_at, t.decided_at, \
     t.poll_interval, t.device_id, t.failed_attempts, t.failed_device_id, t.auth_req_id, \
     t.notification_token, t.notify_kind, t.user_status, t.match_number";

/// A transaction by the digest of its `auth_req_id`
/// (`crypto::secret::auth_req_digest`, `{transaction id}.{SHA-256}`): the
/// statement and the value to bind. The id in front finds the row by its
/// primary key; the caller then keeps it only if the whole digest matches
/// ([`auth_req_matches`]). A digest of an `auth_req_id` from before that
/// format (no `.`) is looked up as such, through a partial index that holds
/// only those rows (migration `20261130000001`).
pub(super) fn auth_req_lookup(digest: &str) -> (&'static str, &str) {
    static BY_ID: LazyLock<String> =
        LazyLock::new(|| format!("SELECT {TXN_COLUMNS} FROM transactions t WHERE t.id = $1"));
    static BY_LEGACY_DIGEST: LazyLock<String> = LazyLock::new(|| {
        format!(
            "SELECT {TXN_COLUMNS} FROM transactions t WHERE t.auth_req_digest = $1 AND t.auth_req_digest NOT LIKE '%.%'"
        )
    });
    match digest.split_once('.') {
        Some((id, _)) => (BY_ID.as_str(), id),
        None => (BY_LEGACY_DIGEST.as_str(), digest),
    }
}

/// Whether a row found by [`auth_req_lookup`] is the one `digest` names: an
/// id put in front of another request's secret finds a row whose digest
/// differs. Compared in constant time, as every secret-derived value is.
pub(super) fn auth_req_matches(txn: &Transaction, digest: &str) -> bool {
    txn.auth_req_digest.as_bytes().ct_eq(digest.as_bytes()).into()
}

/// The users' columns the direct path reads by position, in
/// `rows::USER_FIELDS` order (a test holds them together).
macro_rules! user_columns {
    () => {
        "u.id, u.email, u.phone, u.status, u.failed_attempts, u.user_code_hash, u.static_password_hash, u.created_at"
    };
}

/// A user by their id with their device counts: one probe of the primary key
/// and one pass over the user's devices (the aliases match [`USER_BY_HINT`]).
pub(super) const USER_BY_ID: &str = concat!(
    "SELECT ",
    user_columns!(),
    ", COUNT(d.user_id) AS active_devices, \
     COUNT(d.push_channel) AS pushable_devices \
     FROM users u LEFT JOIN devices d ON d.user_id = u.id AND d.status = 'active' \
     WHERE u.id = $1 GROUP BY u.id"
);

/// A user by `login_hint` with their device counts. The RP's own identifier
/// wins over e-mail, e-mail over phone.
pub(super) const USER_BY_HINT: &str = concat!(
    "SELECT ",
    user_columns!(),
    ", \
     (SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id AND d.status = 'active') AS active_devices, \
     (SELECT COUNT(*) FROM devices d WHERE d.user_id = u.id AND d.status = 'active' \
      AND d.push_channel IS NOT NULL) AS pushable_devices \
     FROM users u WHERE u.id = $1 OR u.email = $1 OR u.phone = $1 \
     ORDER BY CASE WHEN u.id = $1 THEN 0 WHEN u.email = $1 THEN 1 ELSE 2 END LIMIT 1"
);

/// Owes the pushes of a new request (`$1` its id, `$2` its user, `$3` only
/// the preferred device, `$4` now in ms, `$5` when to give up in ms). Bind
/// by name: `$4` comes before `$2` in the text.
pub(super) const OWE_DEVICE_PUSHES: &str = "INSERT INTO device_pushes (transaction_id, device_id, state, \
     attempts, next_attempt_at, claimed_until, give_up_at, created_at) \
     SELECT $1, d.id, 'pending', 0, $4, 0, $5, $4 FROM devices d \
     WHERE d.user_id = $2 AND d.status = 'active' AND d.push_channel IS NOT NULL \
     AND (NOT $3 OR d.preferred = 1 OR NOT EXISTS (SELECT 1 FROM devices p \
     WHERE p.user_id = $2 AND p.status = 'active' AND p.preferred = 1)) \
     ON CONFLICT DO NOTHING";

pub(super) fn conflict(what: &'static str) -> impl Fn(sqlx::Error) -> StoreError {
    move |e| match &e {
        sqlx::Error::Database(d) if d.is_unique_violation() => StoreError::Conflict(what),
        _ => StoreError::Backend(e),
    }
}

/// Implements [`super::Store`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! sql_store {
    ($store:ty, $db:ty) => {
        #[async_trait::async_trait]
        impl $crate::store::Store for $store {
            async fn insert_client(&self, c: &Client) -> StoreResult<()> {
                let metadata = serde_json::to_string(&c.metadata).map_err(|e| StoreError::Corrupt(e.to_string()))?;
                query("INSERT INTO clients (id, secret_digest, metadata, created_at) VALUES ($1, $2, $3, $4)")
                    .bind(&c.id)
                    .bind(&c.secret_digest)
                    .bind(metadata)
                    .bind(c.created_at)
                    .execute(&self.pool)
                    .await
                    .map_err(conflict("client id"))?;
                Ok(())
            }

            async fn client(&self, id: &str) -> StoreResult<Option<std::sync::Arc<Client>>> {
                if let Some(client) = self.hot.client(id) {
                    return Ok(Some(client));
                }
                let row: Option<ClientRow> = query_as("SELECT * FROM clients WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                let client = row.map(Client::try_from).transpose()?.map(std::sync::Arc::new);
                if let Some(c) = &client {
                    self.hot.keep_client(c);
                }
                Ok(client)
            }

            async fn insert_user(&self, u: &User, apps: &[String]) -> StoreResult<()> {
                let _users = self.hot.users_change_on_drop();
                let mut tx = self.pool.begin().await?;
                Self::insert_user_tx(&mut tx, u, false).await?;
                for app in apps {
                    query("INSERT INTO user_apps (user_id, app_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(&u.id)
                        .bind(app)
                        .execute(&mut *tx)
                        .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn set_user_code(&self, user_id: &str, hash: &str) -> StoreResult<bool> {
                let _users = self.hot.users_change_on_drop();
                let done = query("UPDATE users SET user_code_hash = $2 WHERE id = $1")
                    .bind(user_id)
                    .bind(hash)
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn user(&self, id: &str) -> StoreResult<Option<User>> {
                let row: Option<UserRow> = query_as("SELECT * FROM users WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(User::try_from).transpose()
            }

            async fn user_by_hint_counting_devices(&self, hint: &str) -> StoreResult<Option<(User, DeviceCounts)>> {
                if let Some(direct) = self.direct() {
                    let read = || direct.user_by_hint(hint);
                    let found = match self.hot.users() {
                        Some(cache) => cache.get_or_read(hint, || direct.user_epoch(), read),
                        None => read(),
                    };
                    match found {
                        Err(e) if e.is_busy() => {} // waited for below, off the async thread
                        done => return done,
                    }
                }
                let row: Option<UserDevicesRow> = query_as($crate::store::sql::USER_BY_HINT)
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
                let _users = self.hot.users_change_on_drop();
                let inserted = query(
                    "INSERT INTO devices (id, device_key, auth_key, user_id, status, failed_attempts, created_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING",
                )
                .bind(&d.id)
                .bind(&d.device_key)
                .bind(&d.auth_key)
                .bind(&d.user_id)
                .bind(d.status.as_str())
                .bind(d.failed_attempts)
                .bind(d.created_at)
                .execute(&self.pool)
                .await?;
                let device = self
                    .device(&d.id)
                    .await?
                    .ok_or_else(|| StoreError::Corrupt("device vanished after insert".into()))?;
                Ok((device, inserted.rows_affected() == 1))
            }

            async fn device(&self, id: &str) -> StoreResult<Option<Device>> {
                let row: Option<DeviceRow> = query_as("SELECT * FROM devices WHERE id = $1")
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                row.map(Device::try_from).transpose()
            }

            async fn bind_device(&self, device_id: &str, user_id: &str) -> StoreResult<BindOutcome> {
                let _users = self.hot.users_change_on_drop();
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
                let done = query(
                    "UPDATE devices SET user_id = $2, status = 'active' \
                     WHERE id = $1 AND (status = 'inactive' OR (status = 'active' AND user_id = $2))",
                )
                .bind(device_id)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
                Ok(if done.rows_affected() == 1 {
                    BindOutcome::Bound
                } else {
                    BindOutcome::NotBindable
                })
            }

            async fn insert_transaction(&self, t: &Transaction, pushes: Option<$crate::store::OwedPushes>) -> StoreResult<u64> {
                // On SQLite the request was already counted when `admit_rate`
                // admitted it (a reservation: a caller that hangs up while its
                // batch commits still counts; a failed write only makes the
                // caps stricter).
                self.write_transaction(t, pushes).await
            }

            async fn transaction(&self, id: &str) -> StoreResult<Option<Transaction>> {
                let row: Option<TransactionRow> =
                    query_as(&format!("SELECT {TXN_COLUMNS} FROM transactions t WHERE t.id = $1"))
                        .bind(id)
                        .fetch_optional(&self.pool)
                        .await?;
                row.map(Transaction::try_from).transpose()
            }

            async fn transaction_by_auth_req(&self, digest: &str) -> StoreResult<Option<Transaction>> {
                if let Some(direct) = self.direct() {
                    match direct.transaction_by_auth_req(digest) {
                        Err(e) if e.is_busy() => {} // waited for below, off the async thread
                        done => return done,
                    }
                }
                let (sql, key) = $crate::store::sql::auth_req_lookup(digest);
                let row: Option<TransactionRow> = query_as(sql).bind(key).fetch_optional(&self.pool).await?;
                let txn = row.map(Transaction::try_from).transpose()?;
                Ok(txn.filter(|t| $crate::store::sql::auth_req_matches(t, digest)))
            }

            async fn poll_transaction(&self, digest: &str, now: i64) -> StoreResult<Option<std::sync::Arc<Transaction>>> {
                let cache = self.hot.pending();
                if let Some(txn) = cache.and_then(|c| c.get(digest, now)) {
                    return Ok(Some(txn));
                }
                // Taken before the read: a change committed after it voids what is read.
                let ticket = cache.map(|c| c.ticket());
                let Some(txn) = <Self as $crate::store::Store>::transaction_by_auth_req(self, digest).await? else {
                    return Ok(None);
                };
                let txn = std::sync::Arc::new(txn);
                if let (Some(cache), Some(ticket)) = (cache, ticket) {
                    cache.fill(digest, &txn, ticket, now);
                }
                Ok(Some(txn))
            }

            async fn pending_for_user(&self, user_id: &str, now: i64) -> StoreResult<Vec<InboxItem>> {
                let client_name = Self::CLIENT_NAME;
                let ids = self.lock_user_requests(now).await?.map(|mut i| i.unexpired_json(user_id, now));
                let by_user = $crate::store::user_requests::by_user("t.", ids.is_some());
                let sql = format!(
                    "SELECT {TXN_COLUMNS}, {client_name} AS client_name FROM transactions t \
                     JOIN clients c ON c.id = t.client_id \
                     WHERE {by_user} AND t.status = 'pending' AND t.expires_at > $2 \
                     ORDER BY t.created_at, t.id"
                );
                let select = query_as(&sql).bind(user_id).bind(now);
                let rows: Vec<InboxRow> = match ids {
                    Some(ids) => select.bind(ids),
                    None => select,
                }
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter()
                    .map(|r| {
                        Ok(InboxItem {
                            transaction: Transaction::try_from(r.transaction)?,
                            client_name: r.client_name,
                        })
                    })
                    .collect()
            }

            async fn insert_challenges(&self, challenges: &[Challenge]) -> StoreResult<()> {
                let mut tx = self.pool.begin().await?;
                for c in challenges {
                    query(
                        "INSERT INTO challenges (nonce, transaction_id, device_id, expires_at, used_at) \
                         VALUES ($1, $2, $3, $4, NULL)",
                    )
                    .bind(&c.nonce)
                    .bind(&c.transaction_id)
                    .bind(&c.device_id)
                    .bind(c.expires_at)
                    .execute(&mut *tx)
                    .await?;
                }
                tx.commit().await?;
                Ok(())
            }

            async fn challenge(&self, nonce: &str) -> StoreResult<Option<Challenge>> {
                let row: Option<ChallengeRow> = query_as("SELECT * FROM challenges WHERE nonce = $1")
                    .bind(nonce)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(Challenge::from))
            }

            async fn decide(&self, w: &DecisionWrite<'_>) -> StoreResult<DecideOutcome> {
                let mut tx = self.pool.begin().await?;
                let nonce = query(
                    "UPDATE challenges SET used_at = $4 WHERE nonce = $1 AND transaction_id = $2 AND device_id = $3 \
                     AND used_at IS NULL AND expires_at > $4",
                )
                .bind(w.nonce)
                .bind(w.transaction_id)
                .bind(w.device_id)
                .bind(w.now)
                .execute(&mut *tx)
                .await?;
                if nonce.rows_affected() != 1 {
                    return Ok(DecideOutcome::NonceRejected);
                }
                let decided = query(
                    "UPDATE transactions SET status = $2, decided_at = $3, device_id = $4 \
                     WHERE id = $1 AND status = 'pending' AND expires_at > $3",
                )
                .bind(w.transaction_id)
                .bind(w.outcome.as_str())
                .bind(w.now)
                .bind(w.device_id)
                .execute(&mut *tx)
                .await?;
                if decided.rows_affected() != 1 {
                    return Ok(DecideOutcome::NotPending);
                }
                if w.outcome != $crate::domain::transaction::Status::Denied {
                    // A success resets the device's failed attempts (lockout policy).
                    query("UPDATE devices SET failed_attempts = 0 WHERE id = $1")
                        .bind(w.device_id)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some((user_id, status)) = w.user_status {
                    query("UPDATE users SET status = $2 WHERE id = $1 AND status != 'removed'")
                        .bind(user_id)
                        .bind(status)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some((user_id, app_id)) = w.associate {
                    query("INSERT INTO user_apps (user_id, app_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                        .bind(user_id)
                        .bind(app_id)
                        .execute(&mut *tx)
                        .await?;
                }
                if let Some(issued) = &w.issued {
                    Self::insert_issued(&mut tx, issued).await?;
                }
                if let Some(d) = &w.delivery {
                    Self::insert_delivery(&mut tx, d, w.now * 1000).await?;
                }
                let _invalidate = self.hot.invalidate_on_drop(Some(w.transaction_id));
                // A provisioning approval sets the user's status (`user_cache.rs`).
                let _users = w.user_status.and_then(|_| self.hot.users_change_on_drop());
                tx.commit().await?;
                Ok(DecideOutcome::Decided)
            }

            async fn record_failed_attempt(
                &self,
                device_id: Option<&str>,
                user_id: Option<&str>,
                transaction_id: Option<&str>,
                lockout: $crate::domain::lifecycle::Lockout,
            ) -> StoreResult<(bool, bool)> {
                let _users = self.hot.users_change_on_drop();
                let mut tx = self.pool.begin().await?;
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
                if let Some(txn) = transaction_id {
                    query("UPDATE transactions SET failed_attempts = failed_attempts + 1, failed_device_id = $2 WHERE id = $1")
                        .bind(txn)
                        .bind(device_id)
                        .execute(&mut *tx)
                        .await?;
                }
                // Only a named transaction changed (its failure counters).
                let _invalidate = transaction_id.map(|txn| self.hot.invalidate_on_drop(Some(txn)));
                tx.commit().await?;
                Ok(locked)
            }

            async fn admit_rate(
                &self,
                user_id: &str,
                client_id: &str,
                since: i64,
                caps: (i64, i64),
                at: i64,
            ) -> StoreResult<Result<(), $crate::store::Limited>> {
                use $crate::store::{Limited, RateKey};
                if let Some(windows) = self.hot.windows() {
                    // One step under one lock once both keys are known here...
                    if let Some(verdict) = windows.reserve(user_id, client_id, since, caps, at) {
                        return Ok(verdict);
                    }
                    // ...and on a key's first use, seeded from the database first.
                    self.count_recent(RateKey::User(user_id), since, caps.0).await?;
                    self.count_recent(RateKey::Client(client_id), since, caps.1).await?;
                    return Ok(windows.reserve(user_id, client_id, since, caps, at).unwrap_or(Ok(())));
                }
                // PostgreSQL: the rows count, the request by its own once inserted.
                if self.count_recent(RateKey::User(user_id), since, caps.0).await? >= caps.0 {
                    return Ok(Err(Limited::User));
                }
                if self.count_recent(RateKey::Client(client_id), since, caps.1).await? >= caps.1 {
                    return Ok(Err(Limited::Client));
                }
                Ok(Ok(()))
            }

            async fn redeem(&self, transaction_id: &str, issued: &Issued, now: i64) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let consumed = query(
                    "UPDATE transactions SET status = 'consumed' WHERE id = $1 AND status = 'approved' AND expires_at > $2",
                )
                .bind(transaction_id)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                if consumed.rows_affected() != 1 {
                    return Ok(false);
                }
                Self::insert_issued(&mut tx, issued).await?;
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
                Self::insert_issued(&mut tx, issued).await?;
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

            async fn claim_deliveries(&self, now_ms: i64, lease_until: i64, limit: i64) -> StoreResult<Vec<Delivery>> {
                // One statement picks and leases, so two workers never take the same
                // row. A lease lost in a power cut only makes the row claimable again
                // (delivery is at least once): no fsync of its own (`unsynced_pool`).
                let rows: Vec<DeliveryRow> = query_as(Self::CLAIM_DELIVERIES)
                .bind(now_ms)
                .bind(lease_until)
                .bind(limit)
                .fetch_all(self.unsynced_pool())
                .await?;
                rows.into_iter().map(Delivery::try_from).collect()
            }

            async fn finish_delivery(&self, id: &str, outcome: &DeliveryOutcome) -> StoreResult<()> {
                let q = match outcome {
                    // The payload may hold tokens: drop it once it is no longer owed.
                    DeliveryOutcome::Done => {
                        query("UPDATE outbox SET state = 'done', payload = '', bearer = '', claimed_until = 0 WHERE id = $1")
                            .bind(id)
                    }
                    DeliveryOutcome::Failed(error) => query(
                        "UPDATE outbox SET state = 'failed', payload = '', bearer = '', claimed_until = 0, \
                         last_error = $2 WHERE id = $1",
                    )
                    .bind(id)
                    .bind(error),
                    DeliveryOutcome::Retry { at, error } => {
                        query("UPDATE outbox SET next_attempt_at = $2, claimed_until = 0, last_error = $3 WHERE id = $1")
                            .bind(id)
                            .bind(at)
                            .bind(error)
                    }
                };
                q.execute(&self.pool).await?;
                Ok(())
            }

            async fn expired_unnotified(&self, now: i64, limit: i64) -> StoreResult<Vec<Transaction>> {
                let rows: Vec<TransactionRow> = query_as(&format!(
                    "SELECT {TXN_COLUMNS} FROM transactions t WHERE t.status = 'pending' AND t.expires_at <= $1 \
                     AND t.notify_kind = 'push' AND NOT EXISTS (SELECT 1 FROM outbox o WHERE o.transaction_id = t.id) \
                     ORDER BY t.expires_at LIMIT $2"
                ))
                .bind(now)
                .bind(limit)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map(Transaction::try_from).collect()
            }

            async fn enqueue_delivery(&self, delivery: &Delivery, now_ms: i64) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                let inserted = Self::insert_delivery(&mut tx, delivery, now_ms).await?;
                tx.commit().await?;
                Ok(inserted)
            }

            async fn create_binding(&self, b: &$crate::domain::lifecycle::Binding, new_user: Option<&User>) -> StoreResult<()> {
                let _users = self.hot.users_change_on_drop();
                let mut tx = self.pool.begin().await?;
                if let Some(u) = new_user {
                    Self::insert_user_tx(&mut tx, u, false).await?;
                }
                query(
                    "INSERT INTO bindings (id, user_id, device_id, client_id, code_digest, created_at, expires_at) \
                     VALUES ($1, $2, $3, $4, $5, $6, $7)",
                )
                .bind(&b.id)
                .bind(&b.user_id)
                .bind(&b.device_id)
                .bind(&b.client_id)
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
                let _users = self.hot.users_change_on_drop();
                let mut tx = self.pool.begin().await?;
                let revived = query(
                    "UPDATE users SET status = 'active', failed_attempts = 0, static_password_hash = $2 \
                     WHERE id = $1 AND status = 'removed'",
                )
                .bind(&u.id)
                .bind(&u.static_password_hash)
                .execute(&mut *tx)
                .await?;
                if revived.rows_affected() == 0 {
                    Self::insert_user_tx(&mut tx, u, false).await?;
                }
                query(
                    "INSERT INTO registrations (id, user_id, client_id, password_digest, relationship_ref, client_ip, \
                     session_id, cddc, created_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
                )
                .bind(&r.id)
                .bind(&r.user_id)
                .bind(&r.client_id)
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
                .bind(&t.user_id)
                .bind(&t.client_id)
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
                let _users = self.hot.users_change_on_drop();
                // SQLite: the user index is brought up to date and held before the
                // write lock is taken (a first load reads many rows; lock order:
                // the index, then the file), and read again under it.
                let mut held = self.lock_user_requests(now).await?;
                let mut tx = self.pool.begin().await?;
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
                let by_user = $crate::store::user_requests::by_user("t.", ids.is_some());
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
                        .bind(&txn.id)
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
                    txn.device_id = Some(device_id.to_owned());
                    provisioned.push(txn);
                }
                let _invalidate = self.hot.invalidate_on_drop(None);
                tx.commit().await?;
                Ok(ActivateOutcome::Activated { provisioned })
            }

            async fn create_user_if_absent(&self, u: &User) -> StoreResult<bool> {
                let _users = self.hot.users_change_on_drop();
                // One statement: a read-then-write transaction can fail at once
                // on SQLite (WAL) when another writer committed in between.
                let mut tx = self.pool.begin().await?;
                let created = Self::insert_user_tx(&mut tx, u, true).await?;
                tx.commit().await?;
                Ok(created)
            }

            async fn set_user_status(&self, user_id: &str, status: $crate::domain::user::UserStatus) -> StoreResult<bool> {
                let _users = self.hot.users_change_on_drop();
                let reset = status == $crate::domain::user::UserStatus::Active;
                let done = query(
                    "UPDATE users SET status = $2, failed_attempts = CASE WHEN $3 THEN 0 ELSE failed_attempts END \
                     WHERE id = $1 AND status != 'removed'",
                )
                .bind(user_id)
                .bind(status.as_str())
                .bind(reset)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
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
                let _users = self.hot.users_change_on_drop();
                let mut tx = self.pool.begin().await?;
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
                let _users = self.hot.users_change_on_drop();
                let done = query(
                    "UPDATE devices SET status = 'removed', preferred = 0 WHERE id = $1 AND user_id = $2 AND status != 'removed'",
                )
                .bind(device_id)
                .bind(user_id)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn unregister_user(&self, user_id: &str, now: i64) -> StoreResult<$crate::store::lifecycle::Unregistered> {
                let _users = self.hot.users_change_on_drop();
                // SQLite: the user index is brought up to date and held before the
                // write lock is taken (a first load reads many rows; lock order:
                // the index, then the file), and read again under it.
                let mut held = self.lock_user_requests(now).await?;
                let mut tx = self.pool.begin().await?;
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
                let by_user = $crate::store::user_requests::by_user("t.", ids.is_some());
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
                let by_user = $crate::store::user_requests::by_user("", ids.is_some());
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
                let _invalidate = self.hot.invalidate_on_drop(None);
                tx.commit().await?;
                Ok($crate::store::lifecycle::Unregistered { devices, bindings, registrations, transactions })
            }

            async fn settle_notification(
                &self,
                transaction_id: &str,
                issued: Option<&Issued>,
                delivery: &Delivery,
                now_ms: i64,
            ) -> StoreResult<bool> {
                let mut tx = self.pool.begin().await?;
                if let Some(issued) = issued {
                    let consumed = query("UPDATE transactions SET status = 'consumed' WHERE id = $1 AND status = 'approved'")
                        .bind(transaction_id)
                        .execute(&mut *tx)
                        .await?;
                    if consumed.rows_affected() != 1 {
                        return Ok(false);
                    }
                    Self::insert_issued(&mut tx, issued).await?;
                }
                let owed = Self::insert_delivery(&mut tx, delivery, now_ms).await?;
                tx.commit().await?;
                Ok(owed)
            }

            async fn insert_management_token(&self, t: &$crate::domain::token::ManagementToken) -> StoreResult<()> {
                query("INSERT INTO management_tokens (digest, client_id, scope, expires_at, revoked) VALUES ($1, $2, $3, $4, 0)")
                    .bind(&t.digest)
                    .bind(&t.client_id)
                    .bind(&t.scope)
                    .bind(t.expires_at)
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

            async fn audit(&self, e: &$crate::domain::lifecycle::AuditEntry) -> StoreResult<()> {
                query("INSERT INTO audit (id, at, actor, action, subject, detail) VALUES ($1, $2, $3, $4, $5, $6)")
                    .bind($crate::domain::ids::random_id())
                    .bind(e.at)
                    .bind(&e.actor)
                    .bind(e.action)
                    .bind(&e.subject)
                    .bind(&e.detail)
                    .execute(&self.pool)
                    .await?;
                Ok(())
            }

            async fn audit_of(&self, subject: &str) -> StoreResult<Vec<(i64, String, String)>> {
                Ok(query_as("SELECT at, actor, action FROM audit WHERE subject = $1 ORDER BY at, id")
                    .bind(subject)
                    .fetch_all(&self.pool)
                    .await?)
            }

            async fn publish(&self, topic: &str) -> StoreResult<()> {
                if let Some(sql) = Self::NOTIFY {
                    query(sql).bind(topic).execute(&self.pool).await?;
                }
                Ok(())
            }

            fn listen(&self, sink: std::sync::Arc<dyn $crate::store::TopicSink>) {
                self.spawn_listener(sink);
            }


            async fn access_token(&self, digest: &str) -> StoreResult<Option<AccessToken>> {
                let row: Option<AccessTokenRow> = query_as("SELECT * FROM access_tokens WHERE digest = $1")
                    .bind(digest)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(row.map(AccessToken::from))
            }

            async fn remember_once(&self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool> {
                Self::remember(&self.pool, key, expires_at, now).await
            }

            async fn remember_proof(&self, key: &str, expires_at: i64, now: i64) -> StoreResult<bool> {
                Self::remember(self.unsynced_pool(), key, expires_at, now).await
            }

            async fn set_push_channel(
                &self,
                device_id: &str,
                push: Option<($crate::domain::push::PushChannel, &$crate::domain::push::PushAddress)>,
            ) -> StoreResult<bool> {
                let _users = self.hot.users_change_on_drop();
                let done = query("UPDATE devices SET push_channel = $2, push_address = $3 WHERE id = $1")
                    .bind(device_id)
                    .bind(push.map(|(c, _)| c.as_str()))
                    .bind(push.map(|(_, a)| a.as_str()))
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn forget_dead_push_address(
                &self,
                device_id: &str,
                address: &$crate::domain::push::PushAddress,
            ) -> StoreResult<bool> {
                let _users = self.hot.users_change_on_drop();
                let done = query("UPDATE devices SET push_channel = NULL, push_address = NULL WHERE id = $1 AND push_address = $2")
                    .bind(device_id)
                    .bind(address.as_str())
                    .execute(&self.pool)
                    .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn withdraw_device_pushes(&self, now: i64, now_ms: i64) -> StoreResult<u64> {
                let done = query(
                    "UPDATE device_pushes SET state = 'withdrawn', finished_at = $2, claimed_until = 0, \
                     last_error = COALESCE(last_error, 'the request was decided or expired') \
                     WHERE state = 'pending' AND claimed_until <= $2 AND EXISTS (SELECT 1 FROM transactions t \
                     WHERE t.id = device_pushes.transaction_id AND (t.status != 'pending' OR t.expires_at <= $1))",
                )
                .bind(now)
                .bind(now_ms)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected())
            }

            async fn claim_device_pushes(
                &self,
                now_ms: i64,
                lease_until: i64,
                limit: i64,
            ) -> StoreResult<Vec<$crate::domain::delivery::DevicePush>> {
                let rows: Vec<DevicePushRow> = query_as(Self::CLAIM_DEVICE_PUSHES)
                    .bind(now_ms)
                    .bind(lease_until)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                Ok(rows.into_iter().map(Into::into).collect())
            }

            async fn set_push_token(&self, push: &$crate::domain::delivery::DevicePush, digest: &str, now: i64) -> StoreResult<bool> {
                // Both sides of SET read the row as it was: the old token becomes the previous one.
                let done = query(
                    "UPDATE device_pushes SET prev_token_digest = token_digest, token_digest = $3 \
                     WHERE transaction_id = $1 AND device_id = $2 AND state = 'pending' AND claimed_until = $4 \
                     AND EXISTS (SELECT 1 FROM transactions t WHERE t.id = $1 AND t.status = 'pending' AND t.expires_at > $5)",
                )
                .bind(&push.transaction_id)
                .bind(&push.device_id)
                .bind(digest)
                .bind(push.lease_until)
                .bind(now)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn finish_device_push(
                &self,
                push: &$crate::domain::delivery::DevicePush,
                outcome: &$crate::domain::delivery::PushOutcome,
                now_ms: i64,
            ) -> StoreResult<bool> {
                use $crate::domain::delivery::PushOutcome;
                let (state, channel, error, next) = match outcome {
                    PushOutcome::Sent(c) => ("sent", Some(c.as_str()), None, None),
                    PushOutcome::Failed(c, e) => ("failed", Some(c.as_str()), Some(e.as_str()), None),
                    PushOutcome::Retry { channel, at, error } => ("pending", Some(channel.as_str()), Some(error.as_str()), Some(*at)),
                    PushOutcome::Withdrawn(e) => ("withdrawn", None, Some(e.as_str()), None),
                };
                // A withdrawn push keeps the channel of its last attempt, if any.
                let done = query(
                    "UPDATE device_pushes SET state = $3, channel = COALESCE($4, channel), last_error = $5, \
                     next_attempt_at = COALESCE($6, next_attempt_at), claimed_until = 0, \
                     finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE $7 END \
                     WHERE transaction_id = $1 AND device_id = $2 AND claimed_until = $8",
                )
                .bind(&push.transaction_id)
                .bind(&push.device_id)
                .bind(state)
                .bind(channel)
                .bind(error)
                .bind(next)
                .bind(now_ms)
                .bind(push.lease_until)
                .execute(&self.pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            async fn set_app_push_relay(
                &self,
                client_id: &str,
                app_id: &str,
                uri: Option<&str>,
                now: i64,
            ) -> StoreResult<bool> {
                let done = match uri {
                    Some(uri) => query(
                        "INSERT INTO app_push_relays (client_id, app_id, push_relay_uri, updated_at) VALUES ($1, $2, $3, $4) \
                         ON CONFLICT (client_id, app_id) DO UPDATE SET push_relay_uri = excluded.push_relay_uri, \
                         updated_at = excluded.updated_at",
                    )
                    .bind(client_id)
                    .bind(app_id)
                    .bind(uri)
                    .bind(now)
                    .execute(&self.pool)
                    .await?,
                    None => query("DELETE FROM app_push_relays WHERE client_id = $1 AND app_id = $2")
                        .bind(client_id)
                        .bind(app_id)
                        .execute(&self.pool)
                        .await?,
                };
                Ok(done.rows_affected() == 1)
            }

            async fn app_push_relay(&self, client_id: &str, app_id: &str) -> StoreResult<Option<String>> {
                let found: Option<(String,)> =
                    query_as("SELECT push_relay_uri FROM app_push_relays WHERE client_id = $1 AND app_id = $2")
                        .bind(client_id)
                        .bind(app_id)
                    .fetch_optional(&self.pool)
                    .await?;
                Ok(found.map(|(uri,)| uri))
            }

            async fn device_pushes_of(&self, transaction_id: &str) -> StoreResult<Vec<$crate::domain::delivery::PushRecord>> {
                let rows: Vec<PushRecordRow> = query_as(
                    "SELECT device_id, state, channel, attempts, last_error, created_at, finished_at \
                     FROM device_pushes WHERE transaction_id = $1 ORDER BY created_at, device_id",
                )
                .bind(transaction_id)
                .fetch_all(&self.pool)
                .await?;
                rows.into_iter().map($crate::domain::delivery::PushRecord::try_from).collect()
            }

            async fn exchange_push_token(&self, digest: &str, device_id: &str, now: i64) -> StoreResult<Option<InboxItem>> {
                let client_name = Self::CLIENT_NAME;
                let row: Option<InboxRow> = query_as(&format!(
                    "SELECT {TXN_COLUMNS}, {client_name} AS client_name FROM device_pushes p \
                     JOIN transactions t ON t.id = p.transaction_id JOIN clients c ON c.id = t.client_id \
                     JOIN devices d ON d.id = p.device_id AND d.user_id = t.user_id \
                     WHERE (p.token_digest = $1 OR p.prev_token_digest = $1) AND p.device_id = $2 \
                     AND t.status = 'pending' AND t.expires_at > $3"
                ))
                .bind(digest)
                .bind(device_id)
                .bind(now)
                .fetch_optional(&self.pool)
                .await?;
                row.map(|r| {
                    Ok(InboxItem {
                        transaction: Transaction::try_from(r.transaction)?,
                        client_name: r.client_name,
                    })
                })
                .transpose()
            }
        }

        impl $store {
            /// Requests of this user or client since `since`; may stop at `cap`.
            async fn count_recent(&self, key: $crate::store::RateKey<'_>, since: i64, cap: i64) -> StoreResult<i64> {
                // Each form uses its index: (client_id, created_at), or on
                // PostgreSQL (user_id, expires_at), bounded by what any request
                // created since `since` satisfies (it expires after it was
                // created). SQLite counts a user's from memory (`user_requests.rs`).
                let (filter, id) = match key {
                    $crate::store::RateKey::User(id) => ("user_id = $1 AND expires_at >= $2 AND", id),
                    $crate::store::RateKey::Client(id) => ("client_id = $1 AND", id),
                };
                let Some(windows) = self.hot.windows() else {
                    // Shared by several instances: count in the database, but
                    // stop at the cap instead of walking the whole minute.
                    let (n,): (i64,) = query_as(&format!(
                        "SELECT COUNT(*) FROM (SELECT 1 FROM transactions WHERE {filter} created_at >= $2 LIMIT $3) AS recent"
                    ))
                    .bind(id)
                    .bind(since)
                    .bind(cap)
                    .fetch_one(&self.pool)
                    .await?;
                    return Ok(n);
                };
                if let Some(n) = windows.count(key, since) {
                    return Ok(n);
                }
                // First count of this key in this process: seed it from the
                // database, a user's from the requests in memory.
                let remembered = match key {
                    $crate::store::RateKey::User(id) => {
                        let held = self.lock_user_requests(since + $crate::store::user_requests::RATE_REACH).await?;
                        held.map(|i| i.created_per_second(id, since))
                    }
                    $crate::store::RateKey::Client(_) => None,
                };
                let per_second: Vec<(i64, i64)> = if let Some(per_second) = remembered {
                    per_second
                } else {
                    query_as(&format!(
                        "SELECT created_at, COUNT(*) FROM transactions WHERE {filter} created_at >= $2 GROUP BY created_at"
                    ))
                    .bind(id)
                    .bind(since)
                    .fetch_all(&self.pool)
                    .await?
                };
                let total = per_second.iter().map(|(_, n)| n).sum();
                Ok(windows.seed(key, since, &per_second).unwrap_or(total))
            }

            /// Inserts a user; with `if_absent`, an existing id is left alone
            /// (false). E-mail and phone stay unique either way.
            async fn insert_user_tx(tx: &mut sqlx::Transaction<'static, $db>, u: &User, if_absent: bool) -> StoreResult<bool> {
                let sql = if if_absent {
                    "INSERT INTO users (id, email, phone, status, failed_attempts, user_code_hash, static_password_hash, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id) DO NOTHING"
                } else {
                    "INSERT INTO users (id, email, phone, status, failed_attempts, user_code_hash, static_password_hash, \
                     created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                };
                let done = query(sql)
                    .bind(&u.id)
                    .bind(&u.email)
                    .bind(&u.phone)
                    .bind(u.status.as_str())
                    .bind(u.failed_attempts)
                    .bind(&u.user_code_hash)
                    .bind(&u.static_password_hash)
                    .bind(u.created_at)
                    .execute(&mut **tx)
                    .await
                    .map_err(conflict("user id, email or phone"))?;
                Ok(done.rows_affected() == 1)
            }

            async fn insert_issued(tx: &mut sqlx::Transaction<'static, $db>, issued: &Issued) -> StoreResult<()> {
                let t = &issued.access;
                query(
                    "INSERT INTO access_tokens (digest, client_id, user_id, transaction_id, scope, expires_at, revoked) \
                     VALUES ($1, $2, $3, $4, $5, $6, 0)",
                )
                .bind(&t.digest)
                .bind(&t.client_id)
                .bind(&t.user_id)
                .bind(&t.transaction_id)
                .bind(&t.scope)
                .bind(t.expires_at)
                .execute(&mut **tx)
                .await?;
                if let Some(r) = &issued.refresh {
                    query(
                        "INSERT INTO refresh_tokens (digest, family, client_id, user_id, transaction_id, scope, created_at, \
                         expires_at, revoked) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 0)",
                    )
                    .bind(&r.digest)
                    .bind(&r.family)
                    .bind(&r.client_id)
                    .bind(&r.user_id)
                    .bind(&r.transaction_id)
                    .bind(&r.scope)
                    .bind(r.created_at)
                    .bind(r.expires_at)
                    .execute(&mut **tx)
                    .await?;
                }
                Ok(())
            }

            /// Remembers `key` until `expires_at` through `pool`; false when it
            /// was seen already. An expired entry may be reused; a live one
            /// means a replay.
            async fn remember(pool: &sqlx::Pool<$db>, key: &str, expires_at: i64, now: i64) -> StoreResult<bool> {
                let done = query(
                    "INSERT INTO replay (key, expires_at) VALUES ($1, $2) \
                     ON CONFLICT (key) DO UPDATE SET expires_at = excluded.expires_at WHERE replay.expires_at <= $3",
                )
                .bind(key)
                .bind(expires_at)
                .bind(now)
                .execute(pool)
                .await?;
                Ok(done.rows_affected() == 1)
            }

            /// Inserts an owed notification; false when the transaction already has one.
            async fn insert_delivery(tx: &mut sqlx::Transaction<'static, $db>, d: &Delivery, now_ms: i64) -> StoreResult<bool> {
                let done = query(
                    "INSERT INTO outbox (id, transaction_id, kind, target, bearer, payload, state, attempts, next_attempt_at, \
                     claimed_until, give_up_at, created_at) VALUES ($1, $2, $3, $4, $5, $6, 'pending', 0, $7, 0, $8, $7) \
                     ON CONFLICT (transaction_id) DO NOTHING",
                )
                .bind(&d.id)
                .bind(&d.transaction_id)
                .bind(d.kind.as_str())
                .bind(&d.target)
                .bind(&d.bearer)
                .bind(&d.payload)
                .bind(now_ms)
                .bind(d.give_up_at)
                .execute(&mut **tx)
                .await?;
                Ok(done.rows_affected() == 1)
            }
        }
    };
}
pub(super) use sql_store;
