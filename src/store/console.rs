//! What the console reads across aggregates: the dashboard's counts and
//! the transactions list, filtered and paged by key (a page costs the same
//! at the millionth row as at the first: ids sort by creation time).

use async_trait::async_trait;

use super::StoreResult;
use crate::domain::client::Client;
use crate::domain::transaction::Transaction;

/// How many transactions stand where (the dashboard's figures).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct TransactionCounts {
    pub pending: i64,
    pub approved: i64,
    pub denied: i64,
    pub expired: i64,
}

/// Which transactions the list shows; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TransactionFilter {
    /// `pending`, `expired`, `approved`, `denied` or `consumed`.
    pub phase: Option<String>,
    pub client_id: Option<String>,
    pub user_id: Option<String>,
    pub device_id: Option<String>,
    /// `authentication`, `provisioning` or `saml`.
    pub context: Option<String>,
    /// Created at or after / before these instants.
    pub since: Option<i64>,
    pub until: Option<i64>,
}

/// An audit-trail entry as the console lists it.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow, serde::Serialize)]
pub struct AuditRecord {
    pub id: String,
    pub at: i64,
    pub actor: String,
    pub action: String,
    pub subject: String,
    pub detail: Option<String>,
}

/// Which audit entries to list; `None` fields do not filter.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AuditFilter {
    pub actor: Option<String>,
    pub action: Option<String>,
    pub subject: Option<String>,
}

#[async_trait]
pub trait ConsoleStore: Send + Sync {
    /// Every client, newest first (the SAML SPs' own clients included).
    async fn clients(&self) -> StoreResult<Vec<Client>>;

    /// Up to `limit` audit entries matching `filter`, newest first, older
    /// than `(at, id)` `before` when given.
    async fn audit_page(
        &self,
        filter: &AuditFilter,
        before: Option<(i64, &str)>,
        limit: i64,
    ) -> StoreResult<Vec<AuditRecord>>;

    /// Transactions created since `since`, by where they stand at `now`.
    async fn transaction_counts(&self, since: i64, now: i64) -> StoreResult<TransactionCounts>;

    /// Up to `limit` transactions matching `filter`, newest first, older
    /// than the one with id `before` when given.
    async fn transactions_page(
        &self,
        filter: &TransactionFilter,
        before: Option<&str>,
        now: i64,
        limit: i64,
    ) -> StoreResult<Vec<Transaction>>;
}

/// Implements [`ConsoleStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! console_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::query_as;
            use $crate::domain::transaction::Transaction;
            use $crate::store::StoreResult;
            use $crate::store::console::{AuditFilter, AuditRecord, ConsoleStore, TransactionCounts, TransactionFilter};
            use $crate::domain::client::Client;
            use $crate::store::clients::ClientRow;
            use $crate::store::transactions::{TXN_COLUMNS, TransactionRow};

            #[async_trait::async_trait]
            impl ConsoleStore for $store {
                async fn clients(&self) -> StoreResult<Vec<Client>> {
                    let rows: Vec<ClientRow> = query_as("SELECT * FROM clients ORDER BY created_at DESC, id")
                        .fetch_all(&self.pool)
                        .await?;
                    rows.into_iter().map(Client::try_from).collect()
                }

                async fn audit_page(
                    &self,
                    f: &AuditFilter,
                    before: Option<(i64, &str)>,
                    limit: i64,
                ) -> StoreResult<Vec<AuditRecord>> {
                    let (at, id) = before.map_or((None, None), |(at, id)| (Some(at), Some(id)));
                    let rows: Vec<AuditRecord> = query_as(
                        "SELECT id, at, actor, action, subject, detail FROM audit WHERE \
                         ($1 IS NULL OR actor = $1) AND ($2 IS NULL OR action = $2) AND ($3 IS NULL OR subject = $3) \
                         AND ($4 IS NULL OR at < $4 OR (at = $4 AND id < $5)) \
                         ORDER BY at DESC, id DESC LIMIT $6",
                    )
                    .bind(&f.actor)
                    .bind(&f.action)
                    .bind(&f.subject)
                    .bind(at)
                    .bind(id)
                    .bind(limit)
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(rows)
                }

                async fn transaction_counts(&self, since: i64, now: i64) -> StoreResult<TransactionCounts> {
                    let counts: TransactionCounts = query_as(
                        "SELECT \
                         COALESCE(SUM(CASE WHEN status = 'pending' AND expires_at > $2 THEN 1 ELSE 0 END), 0) AS pending, \
                         COALESCE(SUM(CASE WHEN status IN ('approved', 'consumed') THEN 1 ELSE 0 END), 0) AS approved, \
                         COALESCE(SUM(CASE WHEN status = 'denied' THEN 1 ELSE 0 END), 0) AS denied, \
                         COALESCE(SUM(CASE WHEN status = 'pending' AND expires_at <= $2 THEN 1 ELSE 0 END), 0) AS expired \
                         FROM transactions WHERE created_at >= $1",
                    )
                    .bind(since)
                    .bind(now)
                    .fetch_one(&self.pool)
                    .await?;
                    Ok(counts)
                }

                async fn transactions_page(
                    &self,
                    f: &TransactionFilter,
                    before: Option<&str>,
                    now: i64,
                    limit: i64,
                ) -> StoreResult<Vec<Transaction>> {
                    // One statement for every filter: a NULL parameter filters nothing.
                    let sql = format!(
                        "SELECT {TXN_COLUMNS} FROM transactions t WHERE \
                         ($1 IS NULL OR (CASE WHEN t.status = 'pending' AND t.expires_at <= $2 THEN 'expired' \
                                              ELSE t.status END) = $1) \
                         AND ($3 IS NULL OR t.client_id = $3) AND ($4 IS NULL OR t.user_id = $4) \
                         AND ($5 IS NULL OR t.device_id = $5 OR t.failed_device_id = $5) \
                         AND ($6 IS NULL OR t.context = $6) \
                         AND ($7 IS NULL OR t.created_at >= $7) AND ($8 IS NULL OR t.created_at < $8) \
                         AND ($9 IS NULL OR t.id < $9) \
                         ORDER BY t.id DESC LIMIT $10"
                    );
                    let rows: Vec<TransactionRow> = query_as(&sql)
                        .bind(&f.phase)
                        .bind(now)
                        .bind(&f.client_id)
                        .bind(&f.user_id)
                        .bind(&f.device_id)
                        .bind(&f.context)
                        .bind(f.since)
                        .bind(f.until)
                        .bind(before)
                        .bind(limit)
                        .fetch_all(&self.pool)
                        .await?;
                    rows.into_iter().map(Transaction::try_from).collect()
                }
            }
        };
    };
}
pub(crate) use console_sql;
