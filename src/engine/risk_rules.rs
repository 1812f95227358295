//! Managing a client's adaptive rules: the management API (the client's
//! own) and `trustid rules` (any client) go through here, so the checks
//! and the audit trail are one.

use crate::domain::client::Client;
use crate::domain::ids::random_id;
use crate::domain::risk::Rule;
use crate::engine::AppState;
use crate::engine::users::Actor;
use crate::store::StoreError;
use crate::store::risk::StoredRule;

/// A client holds at most this many rules (each is evaluated in turn).
pub const MAX_RULES: usize = 50;

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("{0}")]
    Invalid(String),
    #[error("no such rule of this client")]
    UnknownRule,
    #[error("a client holds at most {MAX_RULES} rules")]
    TooMany,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Adds `rule` at `position` (default: after the last one).
pub async fn add(
    state: &AppState,
    actor: &Actor,
    client: &Client,
    rule: Rule,
    position: Option<i64>,
) -> Result<StoredRule, Refusal> {
    rule.validate().map_err(Refusal::Invalid)?;
    let existing = state.store.risk_rules(client.id.as_str()).await?;
    if existing.len() >= MAX_RULES {
        return Err(Refusal::TooMany);
    }
    let last = existing.iter().map(|r| r.position).max().unwrap_or(0);
    let stored = StoredRule {
        id: random_id(),
        client_id: client.id.to_string(),
        position: position.unwrap_or(last + 10),
        rule,
        created_at: state.clock.now(),
        updated_at: None,
    };
    state.store.insert_risk_rule(&stored).await?;
    changed(state, actor, "risk_rule.added", &stored).await?;
    Ok(stored)
}

/// Replaces rule `id` (and its position, when given).
pub async fn update(
    state: &AppState,
    actor: &Actor,
    client: &Client,
    id: &str,
    rule: Rule,
    position: Option<i64>,
) -> Result<StoredRule, Refusal> {
    rule.validate().map_err(Refusal::Invalid)?;
    let existing = state.store.risk_rules(client.id.as_str()).await?;
    let before = existing.iter().find(|r| r.id == id).ok_or(Refusal::UnknownRule)?;
    let stored = StoredRule {
        position: position.unwrap_or(before.position),
        rule,
        updated_at: Some(state.clock.now()),
        ..before.clone()
    };
    if !state.store.update_risk_rule(&stored).await? {
        return Err(Refusal::UnknownRule);
    }
    changed(state, actor, "risk_rule.updated", &stored).await?;
    Ok(stored)
}

pub async fn remove(state: &AppState, actor: &Actor, client: &Client, id: &str) -> Result<(), Refusal> {
    let existing = state.store.risk_rules(client.id.as_str()).await?;
    let before = existing.iter().find(|r| r.id == id).ok_or(Refusal::UnknownRule)?;
    if !state.store.remove_risk_rule(client.id.as_str(), id).await? {
        return Err(Refusal::UnknownRule);
    }
    changed(state, actor, "risk_rule.removed", before).await
}

/// Forgets the cached rules and audits the change, naming the rule.
async fn changed(state: &AppState, actor: &Actor, action: &'static str, rule: &StoredRule) -> Result<(), Refusal> {
    state.risk_rules.forget(&rule.client_id);
    let detail = format!("{} `{}` at {}", rule.id, rule.rule.name, rule.position);
    state
        .audit(
            actor.audit_name(),
            action,
            format!("client:{}", rule.client_id),
            Some(detail),
        )
        .await?;
    Ok(())
}
