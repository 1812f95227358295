//! What the console's transaction timeline reads beside the transaction
//! row: which devices fetched it, what failed and why, the notification to
//! its client, the tokens issued, the SAML Response and the audit trail.
//! Each is read by an index on the transaction id.

use async_trait::async_trait;

use super::StoreResult;
use super::console::AuditRecord;

/// A device fetched the transaction (a challenge handed to it).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct FetchRecord {
    pub device_id: String,
    /// Unknown for challenges stored before trustid kept it.
    pub created_at: Option<i64>,
    /// When the device's decision used it.
    pub used_at: Option<i64>,
}

/// One line of `transaction_events`: a refused device attempt, or a failed
/// push or notification attempt, with its answer.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct EventRecord {
    /// Unix milliseconds.
    pub at: i64,
    /// `device_refused`, `device_push_failed` or `notification_failed`.
    pub kind: String,
    pub device_id: Option<String>,
    pub detail: String,
}

/// The ping or push owed to the client (the outbox row; its body and
/// bearer are never read here). Times in unix milliseconds.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct NotificationRecord {
    pub kind: String,
    pub target: String,
    /// `pending`, `done` or `failed`.
    pub state: String,
    pub attempts: i64,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}

/// An access token issued for the transaction.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TokenRecord {
    pub expires_at: i64,
    pub revoked: i64,
}

/// The SAML login the transaction answers.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct SamlRecord {
    pub sp_id: String,
    pub acs_url: String,
    pub created_at: i64,
    /// When the one Response was posted to the ACS.
    pub answered_at: Option<i64>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TimelineRecords {
    pub fetches: Vec<FetchRecord>,
    pub events: Vec<EventRecord>,
    pub notification: Option<NotificationRecord>,
    pub tokens: Vec<TokenRecord>,
    pub saml: Option<SamlRecord>,
    /// Entries whose subject is `transaction:{id}` (a cancel).
    pub audit: Vec<AuditRecord>,
}

/// A device push of one of several transactions (the pending list).
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct PushedRecord {
    pub transaction_id: String,
    pub device_id: String,
    /// `pending`, `sent`, `failed` or `withdrawn`.
    pub state: String,
}

#[async_trait]
pub trait TimelineStore: Send + Sync {
    async fn timeline(&self, transaction_id: &str) -> StoreResult<TimelineRecords>;

    /// The device pushes of these transactions, by transaction then device.
    async fn pushes_of(&self, transaction_ids: &[&str]) -> StoreResult<Vec<PushedRecord>>;
}

/// Implements [`TimelineStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! timeline_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::query_as;
            use $crate::store::StoreResult;
            use $crate::store::timeline::{TimelineRecords, TimelineStore};

            #[async_trait::async_trait]
            impl TimelineStore for $store {
                async fn timeline(&self, id: &str) -> StoreResult<TimelineRecords> {
                    let pool = &self.pool;
                    let fetches = query_as(
                        "SELECT device_id, created_at, used_at FROM challenges WHERE transaction_id = $1 \
                         ORDER BY created_at, nonce",
                    )
                    .bind(id)
                    .fetch_all(pool);
                    let events = query_as(
                        "SELECT at, kind, device_id, detail FROM transaction_events WHERE transaction_id = $1 ORDER BY at",
                    )
                    .bind(id)
                    .fetch_all(pool);
                    let notification = query_as(
                        "SELECT kind, target, state, attempts, created_at, finished_at FROM outbox WHERE transaction_id = $1",
                    )
                    .bind(id)
                    .fetch_optional(pool);
                    let tokens = query_as(
                        "SELECT expires_at, revoked FROM access_tokens WHERE transaction_id = $1 ORDER BY expires_at",
                    )
                    .bind(id)
                    .fetch_all(pool);
                    let saml = query_as(
                        "SELECT sp_id, acs_url, created_at, answered_at FROM saml_logins WHERE transaction_id = $1",
                    )
                    .bind(id)
                    .fetch_optional(pool);
                    let subject = format!("transaction:{id}");
                    let audit = query_as(
                        "SELECT id, at, actor, action, subject, detail FROM audit WHERE subject = $1 ORDER BY at, id",
                    )
                    .bind(&subject)
                    .fetch_all(pool);
                    let (fetches, events, notification, tokens, saml, audit) =
                        tokio::try_join!(fetches, events, notification, tokens, saml, audit)?;
                    Ok(TimelineRecords { fetches, events, notification, tokens, saml, audit })
                }

                async fn pushes_of(&self, ids: &[&str]) -> StoreResult<Vec<$crate::store::timeline::PushedRecord>> {
                    if ids.is_empty() {
                        return Ok(Vec::new());
                    }
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "SELECT transaction_id, device_id, state FROM device_pushes WHERE transaction_id IN (",
                    );
                    let mut list = q.separated(", ");
                    for id in ids {
                        list.push_bind(id.to_string());
                    }
                    q.push(") ORDER BY transaction_id, device_id");
                    Ok(q.build_query_as().fetch_all(&self.pool).await?)
                }
            }

            impl $store {
                /// One line of a transaction's timeline (`transaction_events`).
                async fn insert_event(
                    tx: &mut <$db as sqlx::Database>::Connection,
                    transaction_id: &str,
                    at_ms: i64,
                    kind: &str,
                    device_id: Option<&str>,
                    detail: &str,
                ) -> StoreResult<()> {
                    sqlx::query("INSERT INTO transaction_events (transaction_id, at, kind, device_id, detail) VALUES ($1, $2, $3, $4, $5)")
                        .bind(transaction_id)
                        .bind(at_ms)
                        .bind(kind)
                        .bind(device_id)
                        .bind(detail)
                        .execute(&mut *tx)
                        .await?;
                    Ok(())
                }
            }
        };
    };
}
pub(crate) use timeline_sql;
