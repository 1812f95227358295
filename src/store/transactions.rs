//! Backchannel requests (transactions), their challenges and decisions,
//! the rate caps that admit them and the poll that reads them.

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use sqlx::FromRow;
use subtle::ConstantTimeEq;

use super::{DecideOutcome, DecisionWrite, InboxItem, OwedPushes, StoreError, StoreResult, parse};
use crate::domain::binding_message::ActionContext;
use crate::domain::challenge::Challenge;
use crate::domain::transaction::{Notify, Transaction};

/// In `sqlite::direct::TXN_FIELDS` order: the direct path reads them by position.
pub(crate) const TXN_COLUMNS: &str = "t.id, t.auth_req_digest, t.client_id, t.user_id, t.context, t.app_id, \
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
pub(crate) fn auth_req_lookup(digest: &str) -> (&'static str, &str) {
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
pub(crate) fn auth_req_matches(txn: &Transaction, digest: &str) -> bool {
    txn.auth_req_digest.as_bytes().ct_eq(digest.as_bytes()).into()
}

/// `$1` names the user; on SQLite (`ids`) the candidates from its index of
/// requests by user, bound as `$3`, narrow it to rows found by primary key.
/// `alias` is `t.` or empty.
pub(crate) fn by_user(alias: &str, ids: bool) -> String {
    if ids {
        format!("{alias}user_id = $1 AND {alias}id IN (SELECT value FROM json_each($3))")
    } else {
        format!("{alias}user_id = $1")
    }
}

/// Which cap a request reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limited {
    User,
    Client,
}

/// Whose requests a cap counts.
#[derive(Debug, Clone, Copy)]
pub enum RateKey<'a> {
    User(&'a str),
    Client(&'a str),
}

#[async_trait]
pub trait TransactionStore: Send + Sync {
    /// Admits one backchannel request against the per-user and per-client
    /// caps (`caps`: requests since `since`), counting it at `at` when
    /// admitted. On SQLite check and count are one step, so concurrent
    /// requests cannot all slip under a cap; on PostgreSQL the counts are read
    /// and the request is counted by its row.
    async fn admit_rate(
        &self,
        user_id: &str,
        client_id: &str,
        since: i64,
        caps: (i64, i64),
        at: i64,
    ) -> StoreResult<Result<(), Limited>>;

    /// Stores a new request and, in the same commit, the device pushes it
    /// owes (`pushes`); returns how many pushes are owed.
    async fn insert_transaction(&self, txn: &Transaction, pushes: Option<OwedPushes>) -> StoreResult<u64>;

    async fn transaction(&self, id: &str) -> StoreResult<Option<Transaction>>;

    async fn transaction_by_auth_req(&self, digest: &str) -> StoreResult<Option<Transaction>>;

    /// What a token poll needs: `transaction_by_auth_req`, answered from
    /// memory when the store can tell the request is still pending (never an
    /// approved one). `now` (clock seconds) bounds how long an entry is trusted.
    async fn poll_transaction(&self, digest: &str, now: i64) -> StoreResult<Option<Arc<Transaction>>>;

    async fn pending_for_user(&self, user_id: &str, now: i64) -> StoreResult<Vec<InboxItem>>;

    async fn insert_challenges(&self, challenges: &[Challenge]) -> StoreResult<()>;

    async fn challenge(&self, nonce: &str) -> StoreResult<Option<Challenge>>;

    async fn decide(&self, write: &DecisionWrite<'_>) -> StoreResult<DecideOutcome>;
}

#[derive(FromRow)]
pub(crate) struct TransactionRow {
    pub(crate) id: String,
    pub(crate) auth_req_digest: String,
    pub(crate) client_id: String,
    pub(crate) user_id: String,
    pub(crate) context: String,
    pub(crate) app_id: Option<String>,
    pub(crate) display_text: String,
    pub(crate) scope: String,
    pub(crate) acr: Option<String>,
    pub(crate) status: String,
    pub(crate) created_at: i64,
    pub(crate) expires_at: i64,
    pub(crate) decided_at: Option<i64>,
    pub(crate) poll_interval: i64,
    pub(crate) device_id: Option<String>,
    pub(crate) failed_attempts: i64,
    pub(crate) failed_device_id: Option<String>,
    pub(crate) auth_req_id: Option<String>,
    pub(crate) notification_token: Option<String>,
    pub(crate) notify_kind: Option<String>,
    pub(crate) user_status: Option<String>,
    pub(crate) match_number: Option<String>,
}

impl TryFrom<TransactionRow> for Transaction {
    type Error = StoreError;
    fn try_from(r: TransactionRow) -> Result<Self, StoreError> {
        let context = match r.context.as_str() {
            "authentication" => ActionContext::Authentication,
            "provisioning" => ActionContext::Provisioning,
            "saml" => ActionContext::Saml,
            other => return Err(StoreError::Corrupt(format!("context `{other}`"))),
        };
        Ok(Transaction {
            status: parse(&r.status)?,
            context,
            id: r.id.into(),
            auth_req_digest: r.auth_req_digest,
            client_id: r.client_id.into(),
            user_id: r.user_id.into(),
            app_id: r.app_id,
            display_text: r.display_text,
            scope: r.scope,
            acr: r.acr,
            created_at: r.created_at,
            expires_at: r.expires_at,
            decided_at: r.decided_at,
            interval: r.poll_interval,
            device_id: r.device_id.map(Into::into),
            failed_attempts: r.failed_attempts,
            failed_device_id: r.failed_device_id.map(Into::into),
            notify: match (r.auth_req_id, r.notification_token) {
                (Some(auth_req_id), Some(client_notification_token)) => Some(Notify {
                    auth_req_id,
                    client_notification_token,
                    push: r.notify_kind.as_deref() == Some("push"),
                }),
                _ => None,
            },
            user_status: r.user_status.as_deref().map(parse).transpose()?,
            match_number: r.match_number,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct InboxRow {
    #[sqlx(flatten)]
    pub(crate) transaction: TransactionRow,
    pub(crate) client_name: String,
}

/// Implements [`TransactionStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! transaction_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::{query, query_as};
            use $crate::domain::challenge::Challenge;
            use $crate::domain::transaction::Transaction;
            use $crate::store::challenges::{CHALLENGE_BY_NONCE, ChallengeRow};
            use $crate::store::transactions::{InboxRow, TXN_COLUMNS, TransactionRow, TransactionStore};
            use $crate::store::{DecideOutcome, DecisionWrite, InboxItem, StoreResult};

            #[async_trait::async_trait]
            impl TransactionStore for $store {
                async fn admit_rate(
                    &self,
                    user_id: &str,
                    client_id: &str,
                    since: i64,
                    caps: (i64, i64),
                    at: i64,
                ) -> StoreResult<Result<(), $crate::store::Limited>> {
                    self.admit(user_id, client_id, since, caps, at).await
                }

                async fn insert_transaction(
                    &self,
                    t: &Transaction,
                    pushes: Option<$crate::store::OwedPushes>,
                ) -> StoreResult<u64> {
                    // On SQLite the request was already counted when `admit_rate`
                    // admitted it (a reservation: a caller that hangs up while its
                    // batch commits still counts; a failed write only makes the
                    // caps stricter).
                    self.write_transaction(t, pushes).await
                }

                async fn transaction(&self, id: &str) -> StoreResult<Option<Transaction>> {
                    if let Some(done) = self.transaction_direct(id) {
                        return done;
                    }
                    let row: Option<TransactionRow> = query_as(&format!(
                        "SELECT {TXN_COLUMNS} FROM transactions t WHERE t.id = $1"
                    ))
                    .bind(id)
                    .fetch_optional(&self.pool)
                    .await?;
                    row.map(Transaction::try_from).transpose()
                }

                async fn transaction_by_auth_req(&self, digest: &str) -> StoreResult<Option<Transaction>> {
                    // None: a lock met, waited for below, off the async thread.
                    if let Some(done) = self.transaction_by_auth_req_direct(digest) {
                        return done;
                    }
                    let (sql, key) = $crate::store::transactions::auth_req_lookup(digest);
                    let row: Option<TransactionRow> = query_as(sql).bind(key).fetch_optional(&self.pool).await?;
                    let txn = row.map(Transaction::try_from).transpose()?;
                    Ok(txn.filter(|t| $crate::store::transactions::auth_req_matches(t, digest)))
                }

                async fn poll_transaction(
                    &self,
                    digest: &str,
                    now: i64,
                ) -> StoreResult<Option<std::sync::Arc<Transaction>>> {
                    let ticket = match self.polled(digest, now) {
                        Ok(txn) => return Ok(Some(txn)),
                        Err(ticket) => ticket,
                    };
                    let Some(txn) =
                        <Self as $crate::store::TransactionStore>::transaction_by_auth_req(self, digest).await?
                    else {
                        return Ok(None);
                    };
                    let txn = std::sync::Arc::new(txn);
                    self.keep_polled(digest, &txn, ticket, now);
                    Ok(Some(txn))
                }

                async fn pending_for_user(&self, user_id: &str, now: i64) -> StoreResult<Vec<InboxItem>> {
                    let client_name = Self::CLIENT_NAME;
                    let (candidates, ids) = self
                        .lock_user_requests(now)
                        .await?
                        .map(|mut i| i.candidates(user_id, now))
                        .unzip();
                    let by_user = $crate::store::transactions::by_user("t.", ids.is_some());
                    let sql = format!(
                        "SELECT {TXN_COLUMNS}, {client_name} AS client_name FROM transactions t \
                         JOIN clients c ON c.id = t.client_id \
                         WHERE {by_user} AND t.status = 'pending' AND t.expires_at > $2 \
                         ORDER BY t.created_at, t.id"
                    );
                    let items = match self.inbox_direct(&sql, user_id, now, ids.as_deref()) {
                        Some(done) => done?,
                        None => {
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
                                .collect::<StoreResult<Vec<_>>>()?
                        }
                    };
                    if let Some(candidates) = &candidates {
                        self.settle_candidates(user_id, candidates, &items).await;
                    }
                    Ok(items)
                }

                async fn insert_challenges(&self, challenges: &[Challenge]) -> StoreResult<()> {
                    if let Some(done) = self.batched_challenges(challenges).await {
                        return done;
                    }
                    let mut tx = self.pool.begin().await?;
                    for c in challenges {
                        query($crate::store::flow_sql::INSERT_CHALLENGE)
                            .bind(&c.nonce)
                            .bind(c.transaction_id.as_str())
                            .bind(c.device_id.as_str())
                            .bind(c.expires_at)
                            .bind(c.created_at)
                            .execute(&mut *tx)
                            .await?;
                    }
                    tx.commit().await?;
                    Ok(())
                }

                async fn challenge(&self, nonce: &str) -> StoreResult<Option<Challenge>> {
                    if let Some(done) = self.challenge_direct(nonce) {
                        return done;
                    }
                    let row: Option<ChallengeRow> = query_as(CHALLENGE_BY_NONCE)
                        .bind(nonce)
                        .fetch_optional(&self.pool)
                        .await?;
                    Ok(row.map(Challenge::from))
                }

                async fn decide(&self, w: &DecisionWrite<'_>) -> StoreResult<DecideOutcome> {
                    if let Some(done) = self.batched_decision(w).await {
                        return done;
                    }
                    // A provisioning approval sets the user's status (`user_cache.rs`).
                    let mut tx = self.begin_user_change_if(w.user_status.is_some()).await?;
                    let nonce = query($crate::store::flow_sql::USE_CHALLENGE)
                        .bind(w.nonce)
                        .bind(w.transaction_id)
                        .bind(w.device_id)
                        .bind(w.now)
                        .execute(&mut *tx)
                        .await?;
                    if nonce.rows_affected() != 1 {
                        return Ok(DecideOutcome::NonceRejected);
                    }
                    let decided = query($crate::store::flow_sql::DECIDE)
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
                        query($crate::store::flow_sql::RESET_DEVICE_FAILURES)
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
                        query($crate::store::flow_sql::ASSOCIATE_APP)
                            .bind(user_id)
                            .bind(app_id)
                            .execute(&mut *tx)
                            .await?;
                    }
                    if let Some(issued) = &w.issued {
                        Self::insert_issued(&mut *tx, issued).await?;
                    }
                    if let Some(d) = &w.delivery {
                        Self::insert_delivery(&mut *tx, d, w.now * 1000).await?;
                    }
                    let _invalidate = self.transactions_change(Some(w.transaction_id));
                    tx.commit().await?;
                    Ok(DecideOutcome::Decided)
                }
            }
        };
    };
}
pub(crate) use transaction_sql;
