//! Adaptive rules and what they were evaluated on: each client's ordered
//! rules, and one event per evaluation (the velocity and "new address"
//! facts of later ones, the token an action is validated with, the
//! evidence of why a request was blocked or challenged).

use async_trait::async_trait;
use sqlx::FromRow;

use super::{StoreError, StoreResult};
use crate::domain::risk::{Outcome, Per, Point, Rule};

/// A stored rule: the client's, at `position` (lower first).
#[derive(Debug, Clone)]
pub struct StoredRule {
    pub id: String,
    pub client_id: String,
    pub position: i64,
    pub rule: Rule,
    pub created_at: i64,
    pub updated_at: Option<i64>,
}

impl StoredRule {
    /// As the API and the CLI show it: the rule's members, its id, position and times.
    pub fn shown(&self) -> serde_json::Value {
        let mut value = serde_json::to_value(&self.rule).unwrap_or(serde_json::Value::Null);
        if let Some(object) = value.as_object_mut() {
            object.insert("id".into(), self.id.clone().into());
            object.insert("position".into(), self.position.into());
            object.insert("created_at".into(), self.created_at.into());
            object.insert("updated_at".into(), self.updated_at.into());
        }
        value
    }
}

/// One evaluation.
#[derive(Debug, Clone)]
pub struct RiskEvent {
    pub id: String,
    pub client_id: String,
    pub user_id: String,
    pub point: Point,
    pub action: String,
    /// The user's address, as the relying party reported it.
    pub address: Option<String>,
    /// The CDDC browser fingerprint (a hash).
    pub fingerprint: Option<String>,
    /// The relying party's custom data, JSON.
    pub custom_data: Option<String>,
    pub outcome: Outcome,
    pub rule: Option<String>,
    /// SHA-256 of the token the relying party validates the action with.
    pub token_digest: Option<String>,
    /// The challenge sent to the user's devices (CHALLENGE_REQUIRED).
    pub transaction_id: Option<String>,
    pub created_at: i64,
    pub validated_at: Option<i64>,
}

/// What earlier evaluations say about this one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct History {
    /// Per requested `(per, window)`, in the order asked.
    pub counts: Vec<i64>,
    pub fingerprint_seen: bool,
    pub address_seen: bool,
}

/// The user's active devices: how many, the newest one's `created_at`,
/// and whether any needs the OS's prompt on every use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, FromRow)]
pub struct DeviceFacts {
    pub count: i64,
    pub newest: Option<i64>,
    pub user_authentication_required: Option<i64>,
}

#[async_trait]
pub trait RiskStore: Send + Sync {
    /// The client's rules, in order.
    async fn risk_rules(&self, client_id: &str) -> StoreResult<Vec<StoredRule>>;

    async fn insert_risk_rule(&self, rule: &StoredRule) -> StoreResult<()>;

    /// Replaces rule `id` of `client_id` (its text and position); false if none.
    async fn update_risk_rule(&self, rule: &StoredRule) -> StoreResult<bool>;

    async fn remove_risk_rule(&self, client_id: &str, id: &str) -> StoreResult<bool>;

    /// Earlier evaluations of `client_id`'s rules: counts for `windows`
    /// (from `now`), and whether the user's evaluations that were allowed,
    /// or whose challenge was approved, carried `fingerprint` or came from
    /// `address` (a refused one does not make them known).
    async fn risk_history(
        &self,
        client_id: &str,
        user_id: &str,
        address: Option<&str>,
        fingerprint: Option<&str>,
        windows: &[(Per, i64)],
        now: i64,
    ) -> StoreResult<History>;

    async fn device_facts(&self, user_id: &str) -> StoreResult<DeviceFacts>;

    async fn insert_risk_event(&self, event: &RiskEvent) -> StoreResult<()>;

    /// The client's event whose token has `digest`.
    async fn risk_event_by_token(&self, client_id: &str, digest: &str) -> StoreResult<Option<RiskEvent>>;

    /// The evaluation that challenged or screened a transaction, if any.
    async fn risk_event_of_transaction(&self, transaction_id: &str) -> StoreResult<Option<RiskEvent>>;

    /// Marks the event validated, once: false when it was already.
    async fn validate_risk_event(&self, id: &str, now: i64) -> StoreResult<bool>;
}

#[derive(FromRow)]
pub(crate) struct RuleRow {
    id: String,
    client_id: String,
    position: i64,
    rule: String,
    created_at: i64,
    updated_at: Option<i64>,
}

impl TryFrom<RuleRow> for StoredRule {
    type Error = StoreError;
    fn try_from(r: RuleRow) -> Result<Self, StoreError> {
        let rule =
            serde_json::from_str(&r.rule).map_err(|e| StoreError::Corrupt(format!("risk rule {}: {e}", r.id)))?;
        Ok(StoredRule {
            id: r.id,
            client_id: r.client_id,
            position: r.position,
            rule,
            created_at: r.created_at,
            updated_at: r.updated_at,
        })
    }
}

#[derive(FromRow)]
pub(crate) struct EventRow {
    id: String,
    client_id: String,
    user_id: String,
    point: String,
    action: String,
    address: Option<String>,
    fingerprint: Option<String>,
    custom_data: Option<String>,
    outcome: String,
    rule: Option<String>,
    token_digest: Option<String>,
    transaction_id: Option<String>,
    created_at: i64,
    validated_at: Option<i64>,
}

impl TryFrom<EventRow> for RiskEvent {
    type Error = StoreError;
    fn try_from(r: EventRow) -> Result<Self, StoreError> {
        Ok(RiskEvent {
            point: r.point.parse().map_err(StoreError::Corrupt)?,
            outcome: r.outcome.parse().map_err(StoreError::Corrupt)?,
            id: r.id,
            client_id: r.client_id,
            user_id: r.user_id,
            action: r.action,
            address: r.address,
            fingerprint: r.fingerprint,
            custom_data: r.custom_data,
            rule: r.rule,
            token_digest: r.token_digest,
            transaction_id: r.transaction_id,
            created_at: r.created_at,
            validated_at: r.validated_at,
        })
    }
}

pub(crate) fn rule_json(rule: &Rule) -> StoreResult<String> {
    serde_json::to_string(rule).map_err(|e| StoreError::Corrupt(e.to_string()))
}

/// Implements [`RiskStore`] for `$store`, whose field `pool` is a pool of `$db`.
macro_rules! risk_sql {
    ($store:ty, $db:ty) => {
        const _: () = {
            use sqlx::{query, query_as, query_scalar};
            use $crate::domain::risk::Per;
            use $crate::store::StoreResult;
            use $crate::store::risk::{
                DeviceFacts, EventRow, History, RiskEvent, RiskStore, RuleRow, StoredRule, rule_json,
            };

            #[async_trait::async_trait]
            impl RiskStore for $store {
                async fn risk_rules(&self, client_id: &str) -> StoreResult<Vec<StoredRule>> {
                    let rows: Vec<RuleRow> =
                        query_as("SELECT * FROM risk_rules WHERE client_id = $1 ORDER BY position, created_at, id")
                            .bind(client_id)
                            .fetch_all(&self.pool)
                            .await?;
                    rows.into_iter().map(StoredRule::try_from).collect()
                }

                async fn insert_risk_rule(&self, r: &StoredRule) -> StoreResult<()> {
                    query(
                        "INSERT INTO risk_rules (id, client_id, position, rule, created_at, updated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6)",
                    )
                    .bind(&r.id)
                    .bind(&r.client_id)
                    .bind(r.position)
                    .bind(rule_json(&r.rule)?)
                    .bind(r.created_at)
                    .bind(r.updated_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn update_risk_rule(&self, r: &StoredRule) -> StoreResult<bool> {
                    let done = query(
                        "UPDATE risk_rules SET position = $1, rule = $2, updated_at = $3 WHERE id = $4 AND client_id = $5",
                    )
                    .bind(r.position)
                    .bind(rule_json(&r.rule)?)
                    .bind(r.updated_at)
                    .bind(&r.id)
                    .bind(&r.client_id)
                    .execute(&self.pool)
                    .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn remove_risk_rule(&self, client_id: &str, id: &str) -> StoreResult<bool> {
                    let done = query("DELETE FROM risk_rules WHERE id = $1 AND client_id = $2")
                        .bind(id)
                        .bind(client_id)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }

                async fn risk_history(
                    &self,
                    client_id: &str,
                    user_id: &str,
                    address: Option<&str>,
                    fingerprint: Option<&str>,
                    windows: &[(Per, i64)],
                    now: i64,
                ) -> StoreResult<History> {
                    let mut history = History::default();
                    for (per, window) in windows {
                        let count: i64 = match (per, address) {
                            (Per::User, _) => {
                                query_scalar(
                                    "SELECT COUNT(*) FROM risk_events WHERE user_id = $1 AND created_at > $2 AND client_id = $3",
                                )
                                .bind(user_id)
                                .bind(now - window)
                                .bind(client_id)
                                    .fetch_one(&self.pool)
                                    .await?
                            }
                            (Per::Address, Some(address)) => {
                                query_scalar(
                                    "SELECT COUNT(*) FROM risk_events WHERE address = $1 AND created_at > $2 AND client_id = $3",
                                )
                                .bind(address)
                                .bind(now - window)
                                .bind(client_id)
                                    .fetch_one(&self.pool)
                                    .await?
                            }
                            (Per::Fingerprint, _) => match fingerprint {
                                Some(fingerprint) => {
                                    query_scalar(
                                        "SELECT COUNT(*) FROM risk_events WHERE fingerprint = $1 AND created_at > $2 \
                                         AND client_id = $3",
                                    )
                                    .bind(fingerprint)
                                    .bind(now - window)
                                    .bind(client_id)
                                    .fetch_one(&self.pool)
                                    .await?
                                }
                                None => 0,
                            },
                            // No address: nothing to count by.
                            (Per::Address, None) => 0,
                        };
                        history.counts.push(count);
                    }
                    for (column, value, seen) in [
                        ("fingerprint", fingerprint, &mut history.fingerprint_seen),
                        ("address", address, &mut history.address_seen),
                    ] {
                        if let Some(value) = value {
                            let sql = format!(
                                "SELECT COUNT(*) FROM risk_events e LEFT JOIN transactions t ON t.id = e.transaction_id \
                                 WHERE e.user_id = $1 AND e.{column} = $2 AND e.client_id = $3 \
                                 AND (e.outcome = 'ALLOW' OR t.status IN ('approved', 'consumed'))"
                            );
                            let n: i64 = query_scalar(&sql)
                                .bind(user_id)
                                .bind(value)
                                .bind(client_id)
                                .fetch_one(&self.pool)
                                .await?;
                            *seen = n > 0;
                        }
                    }
                    Ok(history)
                }

                async fn device_facts(&self, user_id: &str) -> StoreResult<DeviceFacts> {
                    Ok(query_as(
                        "SELECT COUNT(*) AS count, MAX(created_at) AS newest, \
                         MAX(user_authentication_required) AS user_authentication_required FROM devices \
                         WHERE user_id = $1 AND status = 'active'",
                    )
                    .bind(user_id)
                    .fetch_one(&self.pool)
                    .await?)
                }

                async fn insert_risk_event(&self, e: &RiskEvent) -> StoreResult<()> {
                    query(
                        "INSERT INTO risk_events (id, client_id, user_id, point, action, address, fingerprint, \
                         custom_data, outcome, rule, token_digest, transaction_id, created_at, validated_at) \
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)",
                    )
                    .bind(&e.id)
                    .bind(&e.client_id)
                    .bind(&e.user_id)
                    .bind(e.point.as_str())
                    .bind(&e.action)
                    .bind(&e.address)
                    .bind(&e.fingerprint)
                    .bind(&e.custom_data)
                    .bind(e.outcome.as_str())
                    .bind(&e.rule)
                    .bind(&e.token_digest)
                    .bind(&e.transaction_id)
                    .bind(e.created_at)
                    .bind(e.validated_at)
                    .execute(&self.pool)
                    .await?;
                    Ok(())
                }

                async fn risk_event_by_token(&self, client_id: &str, digest: &str) -> StoreResult<Option<RiskEvent>> {
                    let row: Option<EventRow> =
                        query_as("SELECT * FROM risk_events WHERE token_digest = $1 AND client_id = $2")
                            .bind(digest)
                            .bind(client_id)
                            .fetch_optional(&self.pool)
                            .await?;
                    row.map(RiskEvent::try_from).transpose()
                }

                async fn risk_event_of_transaction(&self, transaction_id: &str) -> StoreResult<Option<RiskEvent>> {
                    let row: Option<EventRow> = query_as("SELECT * FROM risk_events WHERE transaction_id = $1")
                        .bind(transaction_id)
                        .fetch_optional(&self.pool)
                        .await?;
                    row.map(RiskEvent::try_from).transpose()
                }

                async fn validate_risk_event(&self, id: &str, now: i64) -> StoreResult<bool> {
                    let done = query("UPDATE risk_events SET validated_at = $1 WHERE id = $2 AND validated_at IS NULL")
                        .bind(now)
                        .bind(id)
                        .execute(&self.pool)
                        .await?;
                    Ok(done.rows_affected() == 1)
                }
            }
        };
    };
}
pub(crate) use risk_sql;
