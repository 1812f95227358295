//! What is owed: notifications to relying parties (the outbox) and pushes to
//! devices, leased by the workers that send them.

use async_trait::async_trait;

use super::{InboxItem, StoreResult};
use crate::domain::delivery::{Delivery, DeliveryOutcome, DevicePush, PushOutcome, PushRecord};
use crate::domain::token::Issued;
use crate::domain::transaction::Transaction;

/// Owes the pushes of a new request (`$1` its id, `$2` its user, `$3` only
/// the preferred device, `$4` now in ms, `$5` when to give up in ms). Bind
/// by name: `$4` comes before `$2` in the text.
pub(crate) const OWE_DEVICE_PUSHES: &str = "INSERT INTO device_pushes (transaction_id, device_id, state, \
     attempts, next_attempt_at, claimed_until, give_up_at, created_at) \
     SELECT $1, d.id, 'pending', 0, $4, 0, $5, $4 FROM devices d \
     WHERE d.user_id = $2 AND d.status = 'active' AND d.push_channel IS NOT NULL \
     AND (NOT $3 OR d.preferred = 1 OR NOT EXISTS (SELECT 1 FROM devices p \
     WHERE p.user_id = $2 AND p.status = 'active' AND p.preferred = 1)) \
     ON CONFLICT DO NOTHING";

#[async_trait]
pub trait DeliveryStore: Send + Sync {
    /// Stores a notification unless the transaction has one; false if it had.
    async fn enqueue_delivery(&self, delivery: &Delivery, now_ms: i64) -> StoreResult<bool>;

    /// Stores the outcome of a request approved outside a device decision
    /// (provisioning by activation): tokens for push, and the notification.
    async fn settle_notification(
        &self,
        transaction_id: &str,
        issued: Option<&Issued>,
        delivery: &Delivery,
        now_ms: i64,
    ) -> StoreResult<bool>;

    /// Leases up to `limit` due deliveries until `lease_until` (ms), none
    /// to an endpoint in `busy` (the worker's at their cap).
    async fn claim_deliveries(
        &self,
        now_ms: i64,
        lease_until: i64,
        limit: i64,
        busy: &[String],
    ) -> StoreResult<Vec<Delivery>>;

    /// Records an attempt's outcome at `now_ms`; a failed attempt's answer
    /// also goes to the transaction's timeline.
    async fn finish_delivery(&self, delivery: &Delivery, outcome: &DeliveryOutcome, now_ms: i64) -> StoreResult<()>;

    /// Push transactions that expired undecided and were not notified yet.
    async fn expired_unnotified(&self, now: i64, limit: i64) -> StoreResult<Vec<Transaction>>;

    /// Withdraws the pushes still owed for transactions that were decided or
    /// expired (`now` in seconds): nobody needs waking about them any more.
    async fn withdraw_device_pushes(&self, now: i64, now_ms: i64) -> StoreResult<u64>;

    /// Leases up to `limit` due device pushes until `lease_until` (ms).
    async fn claim_device_pushes(&self, now_ms: i64, lease_until: i64, limit: i64) -> StoreResult<Vec<DevicePush>>;

    /// Stores the digest of the exchange token about to be sent; the previous
    /// attempt's stays valid too (a slow attempt may have been delivered), the
    /// one before stops working. Only while the request is pending and
    /// unexpired (`now` in seconds) and the push still carries this worker's
    /// lease: false when not, and nothing may be sent.
    async fn set_push_token(&self, push: &DevicePush, digest: &str, now: i64) -> StoreResult<bool>;

    /// Records how an attempt ended, if the push still carries this worker's
    /// lease; false when another worker took it over.
    async fn finish_device_push(&self, push: &DevicePush, outcome: &PushOutcome, now_ms: i64) -> StoreResult<bool>;

    /// The pushes owed for a transaction, by device.
    async fn device_pushes_of(&self, transaction_id: &str) -> StoreResult<Vec<PushRecord>>;

    /// The pending request an exchange token was sent about, if the token was
    /// sent to `device_id` and the request is still open (`now` in seconds).
    async fn exchange_push_token(&self, digest: &str, device_id: &str, now: i64) -> StoreResult<Option<InboxItem>>;
}

mod rows;
pub(crate) use rows::{DeliveryRow, DevicePushRow, PushRecordRow};

/// Implements [`DeliveryStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! delivery_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::{query, query_as};
            use $crate::domain::delivery::{Delivery, DeliveryOutcome};
            use $crate::domain::token::Issued;
            use $crate::domain::transaction::Transaction;
            use $crate::store::deliveries::{DeliveryRow, DevicePushRow, DeliveryStore, PushRecordRow};
            use $crate::store::transactions::{InboxRow, TXN_COLUMNS, TransactionRow};
            use $crate::store::{InboxItem, StoreResult};

            #[async_trait::async_trait]
            impl DeliveryStore for $store {
                async fn enqueue_delivery(&self, delivery: &Delivery, now_ms: i64) -> StoreResult<bool> {
                    let mut tx = self.pool.begin().await?;
                    let inserted = Self::insert_delivery(&mut *tx, delivery, now_ms).await?;
                    tx.commit().await?;
                    Ok(inserted)
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
                        Self::insert_issued(&mut *tx, issued).await?;
                    }
                    let owed = Self::insert_delivery(&mut *tx, delivery, now_ms).await?;
                    tx.commit().await?;
                    Ok(owed)
                }

                async fn claim_deliveries(
                    &self,
                    now_ms: i64,
                    lease_until: i64,
                    limit: i64,
                    busy: &[String],
                ) -> StoreResult<Vec<Delivery>> {
                    // One statement picks and leases, so two workers never take the same
                    // row. A lease lost in a power cut only makes the row claimable again
                    // (delivery is at least once): no fsync of its own (`unsynced_pool`).
                    let rows: Vec<DeliveryRow> = query_as(Self::CLAIM_DELIVERIES)
                    .bind(now_ms)
                    .bind(lease_until)
                    .bind(limit)
                    .bind(serde_json::to_string(busy).unwrap_or_else(|_| "[]".into()))
                    .fetch_all(self.unsynced_pool())
                    .await?;
                    rows.into_iter().map(Delivery::try_from).collect()
                }

                async fn finish_delivery(&self, d: &Delivery, outcome: &DeliveryOutcome, now_ms: i64) -> StoreResult<()> {
                    let (state, error, next) = match outcome {
                        DeliveryOutcome::Done => ("done", None, None),
                        DeliveryOutcome::Failed(error) => ("failed", Some(error.as_str()), None),
                        DeliveryOutcome::Retry { at, error } => ("pending", Some(error.as_str()), Some(*at)),
                    };
                    // The payload may hold tokens: dropped once no longer owed.
                    let update = query(
                        "UPDATE outbox SET state = $2, claimed_until = 0, last_error = COALESCE($3, last_error), \
                         next_attempt_at = COALESCE($4, next_attempt_at), \
                         payload = CASE WHEN $2 = 'pending' THEN payload ELSE '' END, \
                         bearer = CASE WHEN $2 = 'pending' THEN bearer ELSE '' END, \
                         finished_at = CASE WHEN $2 = 'pending' THEN NULL ELSE $5 END WHERE id = $1",
                    )
                    .bind(d.id.as_str())
                    .bind(state)
                    .bind(error)
                    .bind(next)
                    .bind(now_ms);
                    let Some(error) = error else {
                        update.execute(&self.pool).await?;
                        return Ok(());
                    };
                    let mut tx = self.pool.begin().await?;
                    update.execute(&mut *tx).await?;
                    Self::insert_event(&mut tx, d.transaction_id.as_str(), now_ms, "notification_failed", None, error).await?;
                    tx.commit().await?;
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
                    .bind(push.transaction_id.as_str())
                    .bind(push.device_id.as_str())
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
                    let update = query(
                        "UPDATE device_pushes SET state = $3, channel = COALESCE($4, channel), last_error = $5, \
                         next_attempt_at = COALESCE($6, next_attempt_at), claimed_until = 0, \
                         finished_at = CASE WHEN $3 = 'pending' THEN NULL ELSE $7 END \
                         WHERE transaction_id = $1 AND device_id = $2 AND claimed_until = $8",
                    )
                    .bind(push.transaction_id.as_str())
                    .bind(push.device_id.as_str())
                    .bind(state)
                    .bind(channel)
                    .bind(error)
                    .bind(next)
                    .bind(now_ms)
                    .bind(push.lease_until);
                    let failed = match outcome {
                        PushOutcome::Failed(..) | PushOutcome::Retry { .. } => error,
                        PushOutcome::Sent(_) | PushOutcome::Withdrawn(_) => None,
                    };
                    let Some(error) = failed else {
                        return Ok(update.execute(&self.pool).await?.rows_affected() == 1);
                    };
                    let mut tx = self.pool.begin().await?;
                    let done = update.execute(&mut *tx).await?.rows_affected() == 1;
                    if done {
                        let device = Some(push.device_id.as_str());
                        let (txn, kind) = (push.transaction_id.as_str(), "device_push_failed");
                        Self::insert_event(&mut tx, txn, now_ms, kind, device, error).await?;
                    }
                    tx.commit().await?;
                    Ok(done)
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
                /// Inserts an owed notification; false when the transaction already has one.
                async fn insert_delivery(tx: &mut <$db as sqlx::Database>::Connection, d: &Delivery, now_ms: i64) -> StoreResult<bool> {
                    let done = query($crate::store::flow_sql::INSERT_DELIVERY)
                    .bind(d.id.as_str())
                    .bind(d.transaction_id.as_str())
                    .bind(d.kind.as_str())
                    .bind(&d.target)
                    .bind(&d.bearer)
                    .bind(&d.payload)
                    .bind(now_ms)
                    .bind(d.give_up_at)
                    .execute(&mut *tx)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }
            }
        };
    };
}
pub(crate) use delivery_sql;
