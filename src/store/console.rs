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

/// One group of [`ConsoleStore::transaction_mix`].
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct TransactionMix {
    pub context: String,
    pub delivery: String,
    pub phase: String,
    pub count: i64,
}

/// What needs an operator's eye (the dashboard's second table).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, sqlx::FromRow)]
pub struct Health {
    /// Ping/push notifications given up on since the instant asked about.
    pub deliveries_failed: i64,
    /// Notifications still owed after a failed attempt.
    pub deliveries_retrying: i64,
    pub pushes_failed: i64,
    pub pushes_retrying: i64,
    pub users_locked: i64,
    pub devices_locked: i64,
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

/// One page of the transactions list.
#[derive(Debug, Clone, Default)]
pub struct TransactionPage {
    pub rows: Vec<Transaction>,
    /// The `before` of the next page: the last row's id when the page is
    /// full, else the oldest id a bounded scan looked at; `None` when
    /// nothing older is left to look at.
    pub resume: Option<String>,
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

/// What bound, or may bind, a device to a user, as the user's page lists
/// it: a binding (seed 000), a registration (seed 001) or a registration
/// token (seed 002). Times in seconds.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct ActivationRecord {
    /// `binding`, `registration` or `token`.
    pub kind: String,
    pub client_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    /// When it was used (a device activated with it).
    pub used_at: Option<i64>,
    /// The device it bound, when known.
    pub device_id: Option<String>,
    pub removed_at: Option<i64>,
}

/// The smallest transaction id made at or after `at` (seconds): ids begin
/// with their creation time in ms, in 12 hex digits
/// (`domain::ids::time_ordered_id`).
pub(crate) fn first_id_at(at: i64) -> String {
    format!("{:012x}", at.max(0).saturating_mul(1000))
}

#[async_trait]
pub trait ConsoleStore: Send + Sync {
    /// The user's bindings, registrations and registration tokens, newest
    /// first, and the apps (`appId`) the user is associated with.
    async fn activations_of(&self, user_id: &str) -> StoreResult<(Vec<ActivationRecord>, Vec<String>)>;

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

    /// The transactions created since `since`, counted by context, delivery
    /// (`poll`, `ping`, `push`) and phase now (as the counts above).
    async fn transaction_mix(&self, since: i64, now: i64) -> StoreResult<Vec<TransactionMix>>;

    /// Failing notifications and device pushes (failed since `since`, or
    /// retrying now), and the locked users and devices.
    async fn health(&self, since: i64) -> StoreResult<Health>;

    /// Up to `limit` transactions matching `filter`, newest first, older
    /// than the one with id `before` when given. With `scan`, only the
    /// `scan` newest transactions in the time range (and before `before`)
    /// are looked at, so that a filter no index serves costs the same at the
    /// millionth row as at the first; the page's `resume` then continues
    /// below them.
    async fn transactions_page(
        &self,
        filter: &TransactionFilter,
        before: Option<&str>,
        now: i64,
        limit: i64,
        scan: Option<i64>,
    ) -> StoreResult<TransactionPage>;
}

/// The filter's predicates on `t` (a time bound also as `created_at`, which
/// the id range already narrows to within a second).
pub(crate) fn push_predicates<DB>(q: &mut sqlx::QueryBuilder<'_, DB>, f: &TransactionFilter, now: i64)
where
    DB: sqlx::Database,
    i64: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
    String: for<'q> sqlx::Encode<'q, DB> + sqlx::Type<DB>,
{
    match f.phase.as_deref() {
        None => {}
        // The domain's phases: an approval not redeemed in time is expired too.
        Some("pending") => {
            q.push(" AND t.status = 'pending' AND t.expires_at > ").push_bind(now);
        }
        Some("approved") => {
            q.push(" AND t.status = 'approved' AND t.expires_at > ").push_bind(now);
        }
        Some("expired") => {
            q.push(" AND t.status IN ('pending', 'approved') AND t.expires_at <= ")
                .push_bind(now);
        }
        Some(status) => {
            q.push(" AND t.status = ").push_bind(status.to_owned());
        }
    }
    for (column, value) in [
        ("t.client_id", &f.client_id),
        ("t.user_id", &f.user_id),
        ("t.context", &f.context),
    ] {
        if let Some(v) = value {
            q.push(format!(" AND {column} = ")).push_bind(v.clone());
        }
    }
    if let Some(device) = &f.device_id {
        q.push(" AND (t.device_id = ").push_bind(device.clone());
        q.push(" OR t.failed_device_id = ").push_bind(device.clone()).push(")");
    }
    if let Some(since) = f.since {
        q.push(" AND t.created_at >= ").push_bind(since);
    }
    if let Some(until) = f.until {
        q.push(" AND t.created_at < ").push_bind(until);
    }
}

/// Implements [`ConsoleStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! console_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::query_as;
            use $crate::domain::transaction::Transaction;
            use $crate::store::StoreResult;
            use $crate::store::console::{
                AuditFilter, AuditRecord, ConsoleStore, Health, TransactionCounts, TransactionFilter,
                TransactionPage,
            };
            use $crate::domain::client::Client;
            use $crate::store::clients::ClientRow;
            use $crate::store::transactions::{TXN_COLUMNS, TransactionRow};

            #[async_trait::async_trait]
            impl ConsoleStore for $store {
                async fn activations_of(
                    &self,
                    user_id: &str,
                ) -> StoreResult<(Vec<$crate::store::console::ActivationRecord>, Vec<String>)> {
                    let activations = query_as(
                        "SELECT 'binding' AS kind, client_id, created_at, expires_at, used_at, device_id, removed_at \
                         FROM bindings WHERE user_id = $1 \
                         UNION ALL SELECT 'registration', client_id, created_at, expires_at, activated_at, device_id, \
                         removed_at FROM registrations WHERE user_id = $1 \
                         UNION ALL SELECT 'token', client_id, created_at, expires_at, used_at, NULL, NULL \
                         FROM registration_tokens WHERE user_id = $1 \
                         ORDER BY created_at DESC LIMIT 100",
                    )
                    .bind(user_id)
                    .fetch_all(&self.pool);
                    let apps = sqlx::query_scalar("SELECT app_id FROM user_apps WHERE user_id = $1 ORDER BY app_id")
                        .bind(user_id)
                        .fetch_all(&self.pool);
                    Ok(tokio::try_join!(activations, apps)?)
                }

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
                    // Only the predicates given, so the key bounds the index range.
                    let mut q = sqlx::QueryBuilder::<$db>::new(
                        "SELECT id, at, actor, action, subject, detail FROM audit WHERE 1 = 1",
                    );
                    for (column, value) in [("actor", &f.actor), ("action", &f.action), ("subject", &f.subject)] {
                        if let Some(v) = value {
                            q.push(format!(" AND {column} = ")).push_bind(v.clone());
                        }
                    }
                    if let Some((at, id)) = before {
                        q.push(" AND (at < ").push_bind(at);
                        q.push(" OR (at = ").push_bind(at).push(" AND id < ").push_bind(id.to_owned()).push("))");
                    }
                    q.push(" ORDER BY at DESC, id DESC LIMIT ").push_bind(limit);
                    Ok(q.build_query_as::<AuditRecord>().fetch_all(&self.pool).await?)
                }

                async fn transaction_counts(&self, since: i64, now: i64) -> StoreResult<TransactionCounts> {
                    let counts: TransactionCounts = query_as(
                        "SELECT \
                         COALESCE(SUM(CASE WHEN status = 'pending' AND expires_at > $2 THEN 1 ELSE 0 END), 0) AS pending, \
                         COALESCE(SUM(CASE WHEN status = 'consumed' OR (status = 'approved' AND expires_at > $2) \
                                           THEN 1 ELSE 0 END), 0) AS approved, \
                         COALESCE(SUM(CASE WHEN status = 'denied' THEN 1 ELSE 0 END), 0) AS denied, \
                         COALESCE(SUM(CASE WHEN status IN ('pending', 'approved') AND expires_at <= $2 \
                                           THEN 1 ELSE 0 END), 0) AS expired \
                         FROM transactions WHERE created_at >= $1 AND id >= $3",
                    )
                    .bind(since)
                    .bind(now)
                    .bind($crate::store::console::first_id_at(since))
                    .fetch_one(&self.pool)
                    .await?;
                    Ok(counts)
                }

                async fn transaction_mix(&self, since: i64, now: i64) -> StoreResult<Vec<$crate::store::console::TransactionMix>> {
                    let mix = query_as(
                        "SELECT context, COALESCE(notify_kind, 'poll') AS delivery, \
                         CASE WHEN status = 'denied' THEN 'denied' \
                              WHEN status IN ('pending', 'approved') AND expires_at <= $2 THEN 'expired' \
                              WHEN status = 'consumed' THEN 'approved' ELSE status END AS phase, \
                         COUNT(*) AS count \
                         FROM transactions WHERE created_at >= $1 AND id >= $3 GROUP BY 1, 2, 3",
                    )
                    .bind(since)
                    .bind(now)
                    .bind($crate::store::console::first_id_at(since))
                    .fetch_all(&self.pool)
                    .await?;
                    Ok(mix)
                }

                async fn health(&self, since: i64) -> StoreResult<Health> {
                    let health: Health = query_as(
                        "SELECT \
                         (SELECT COUNT(*) FROM outbox WHERE state = 'failed' AND created_at >= $1) AS deliveries_failed, \
                         (SELECT COUNT(*) FROM outbox WHERE state = 'pending' AND attempts > 0) AS deliveries_retrying, \
                         (SELECT COUNT(*) FROM device_pushes WHERE state = 'failed' AND created_at >= $1) AS pushes_failed, \
                         (SELECT COUNT(*) FROM device_pushes WHERE state = 'pending' AND attempts > 0) AS pushes_retrying, \
                         (SELECT COUNT(*) FROM users WHERE status = 'locked') AS users_locked, \
                         (SELECT COUNT(*) FROM devices WHERE status = 'locked') AS devices_locked",
                    )
                    .bind(since)
                    .fetch_one(&self.pool)
                    .await?;
                    Ok(health)
                }

                async fn transactions_page(
                    &self,
                    f: &TransactionFilter,
                    before: Option<&str>,
                    now: i64,
                    limit: i64,
                    scan: Option<i64>,
                ) -> StoreResult<TransactionPage> {
                    // Newest first by id (ids begin with their creation time), so
                    // a time bound and a page's key are a range of the primary key.
                    let ids = |q: &mut sqlx::QueryBuilder<'_, $db>| {
                        if let Some(since) = f.since {
                            q.push(" AND t.id >= ").push_bind($crate::store::console::first_id_at(since));
                        }
                        if let Some(until) = f.until {
                            q.push(" AND t.id < ").push_bind($crate::store::console::first_id_at(until));
                        }
                        if let Some(before) = before {
                            q.push(" AND t.id < ").push_bind(before.to_owned());
                        }
                    };
                    let mut q = sqlx::QueryBuilder::<$db>::new(format!("SELECT {TXN_COLUMNS} FROM "));
                    match scan {
                        None => {
                            q.push("transactions t WHERE 1 = 1");
                            ids(&mut q);
                        }
                        // The window first, then the predicates over it.
                        Some(scan) => {
                            q.push("(SELECT * FROM transactions t WHERE 1 = 1");
                            ids(&mut q);
                            q.push(" ORDER BY t.id DESC LIMIT ").push_bind(scan).push(") t WHERE 1 = 1");
                        }
                    }
                    $crate::store::console::push_predicates(&mut q, f, now);
                    q.push(" ORDER BY t.id DESC LIMIT ").push_bind(limit);
                    let rows: Vec<TransactionRow> = q.build_query_as().fetch_all(&self.pool).await?;
                    let rows = rows.into_iter().map(Transaction::try_from).collect::<StoreResult<Vec<_>>>()?;
                    let resume = match scan {
                        _ if rows.len() as i64 == limit => rows.last().map(|t| t.id.as_str().to_owned()),
                        None => None,
                        // Not a full page: the window's last id, if older ones remain.
                        Some(scan) => {
                            let mut q = sqlx::QueryBuilder::<$db>::new("SELECT t.id FROM transactions t WHERE 1 = 1");
                            ids(&mut q);
                            q.push(" ORDER BY t.id DESC LIMIT 2 OFFSET ").push_bind(scan - 1);
                            let edge: Vec<String> = q.build_query_scalar().fetch_all(&self.pool).await?;
                            (edge.len() == 2).then(|| edge[0].clone())
                        }
                    };
                    Ok(TransactionPage { rows, resume })
                }
            }
        };
    };
}
pub(crate) use console_sql;
