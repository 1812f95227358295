//! Evaluating a client's adaptive rules (issue 22): the facts about the
//! user, their devices and earlier evaluations, the verdict of the first
//! rule that holds, and the event that records it. Rules are read through
//! a short cache: `/bc-authorize` consults them on every request, and a
//! client without rules must cost nothing more than a map lookup.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use serde_json::Value;

use crate::domain::client::Client;
use crate::domain::device::Device;
use crate::domain::ids::random_id;
use crate::domain::risk::{self, Facts, Outcome, Point, Velocity, Verdict};
use crate::domain::user::User;
use crate::engine::AppState;
use crate::store::StoreResult;
use crate::store::risk::{RiskEvent, StoredRule};

/// How long another instance's rule change may take to be seen here.
const CACHE_SECS: i64 = 5;

/// A client's rules and when they were read.
type Cached = (i64, Arc<Vec<StoredRule>>);

/// Each client's rules, read at most every [`CACHE_SECS`].
#[derive(Default)]
pub struct RulesCache(RwLock<HashMap<String, Cached>>);

impl RulesCache {
    /// Forgets a client's rules (this instance changed them).
    pub fn forget(&self, client_id: &str) {
        if let Ok(mut cache) = self.0.write() {
            cache.remove(client_id);
        }
    }
}

/// The client's rules, in order.
pub async fn rules(state: &AppState, client_id: &str) -> StoreResult<Arc<Vec<StoredRule>>> {
    let now = state.clock.now();
    let cached = state.risk_rules.0.read().ok().and_then(|c| c.get(client_id).cloned());
    if let Some((at, rules)) = cached
        && now - at < CACHE_SECS
    {
        return Ok(rules);
    }
    let rules = Arc::new(state.store.risk_rules(client_id).await?);
    if let Ok(mut cache) = state.risk_rules.0.write() {
        cache.insert(client_id.to_owned(), (now, rules.clone()));
    }
    Ok(rules)
}

/// Whether any of the client's rules applies at `point`.
pub async fn applies(state: &AppState, client_id: &str, point: Point) -> StoreResult<bool> {
    Ok(rules(state, client_id)
        .await?
        .iter()
        .any(|r| r.rule.applies_to.contains(&point)))
}

/// What is evaluated.
pub struct Evaluation<'a> {
    pub client: &'a Client,
    pub user: &'a User,
    pub point: Point,
    pub action: &'a str,
    pub custom_data: Option<&'a Value>,
    /// The user's address, as the relying party reports it.
    pub address: Option<&'a str>,
    /// The CDDC browser fingerprint (a hash).
    pub fingerprint: Option<&'a str>,
    /// The device the action is done on, when the relying party named it.
    pub device: Option<&'a Device>,
}

/// The verdict, and the event to store once the caller knows the rest
/// (the token digest, the challenge's transaction).
pub async fn evaluate(state: &AppState, e: &Evaluation<'_>) -> StoreResult<(Verdict, RiskEvent)> {
    let rules = rules(state, e.client.id.as_str()).await?;
    let applying: Vec<&risk::Rule> = rules
        .iter()
        .map(|r| &r.rule)
        .filter(|r| r.applies_to.contains(&e.point))
        .collect();
    let now = state.clock.now();
    let windows = risk::velocities(applying.iter().copied());
    let history = state
        .store
        .risk_history(
            e.client.id.as_str(),
            e.user.id.as_str(),
            e.address,
            e.fingerprint,
            &windows,
            now,
        )
        .await?;
    let devices = state.store.device_facts(e.user.id.as_str()).await?;
    let facts = Facts {
        action: e.action.to_owned(),
        custom_data: e.custom_data.cloned().unwrap_or(Value::Null),
        user_status: e.user.status,
        device_count: devices.count,
        newest_device_age: devices.newest.map(|at| now - at),
        failed_attempts: e.user.failed_attempts,
        velocities: windows
            .iter()
            .zip(&history.counts)
            .map(|(&(per, window), &count)| Velocity { per, window, count })
            .collect(),
        new_fingerprint: e.fingerprint.is_some() && !history.fingerprint_seen,
        new_address: e.address.is_some() && !history.address_seen,
        minute_of_day: u32::try_from(now.rem_euclid(86_400) / 60).unwrap_or(0),
    };
    let mut verdict = risk::evaluate(applying, e.point, &facts);
    // Seed 002: a device created with userAuthenticationRequired shows the
    // OS's prompt anyway, so actions on it (the one named, else any of the
    // user's) are never merely allowed.
    let prompts = match e.device {
        Some(device) => device.user_authentication_required,
        None => devices.user_authentication_required == Some(1),
    };
    if e.point == Point::Action && verdict.outcome == Outcome::Allow && prompts {
        verdict.outcome = Outcome::ChallengeRequired;
    }
    let event = RiskEvent {
        id: random_id(),
        client_id: e.client.id.to_string(),
        user_id: e.user.id.to_string(),
        point: e.point,
        action: e.action.to_owned(),
        address: e.address.map(str::to_owned),
        fingerprint: e.fingerprint.map(str::to_owned),
        custom_data: e.custom_data.map(Value::to_string),
        outcome: verdict.outcome,
        rule: verdict.rule.clone(),
        token_digest: None,
        transaction_id: None,
        created_at: now,
        validated_at: None,
    };
    Ok((verdict, event))
}

/// Records a BLOCK in the audit trail with the rule that gave it (the
/// caller's error text never names it).
pub async fn audit_block(state: &AppState, event: &RiskEvent) -> StoreResult<()> {
    if event.outcome != Outcome::Block {
        return Ok(());
    }
    let detail = format!(
        "{} `{}` blocked by rule `{}`",
        event.point.as_str(),
        event.action,
        event.rule.as_deref().unwrap_or("-")
    );
    state
        .audit(
            format!("client:{}", event.client_id),
            "risk.blocked",
            format!("user:{}", event.user_id),
            Some(detail),
        )
        .await
}

/// The action name a backchannel request is evaluated as.
pub const BACKCHANNEL_ACTION: &str = "ciba";

/// `/bc-authorize`: a known user's request judged by the client's
/// backchannel rules (nothing is read when it has none). A BLOCK is
/// recorded and audited here; any other verdict's event is for [`record`]
/// once the transaction exists.
pub async fn screen(state: &AppState, client: &Client, user: &User) -> StoreResult<Option<(Verdict, RiskEvent)>> {
    if !applies(state, client.id.as_str(), Point::Backchannel).await? {
        return Ok(None);
    }
    let evaluation = Evaluation {
        client,
        user,
        point: Point::Backchannel,
        action: BACKCHANNEL_ACTION,
        custom_data: None,
        address: None,
        fingerprint: None,
        device: None,
    };
    let (verdict, event) = evaluate(state, &evaluation).await?;
    if event.outcome == Outcome::Block {
        state.store.insert_risk_event(&event).await?;
        audit_block(state, &event).await?;
    }
    Ok(Some((verdict, event)))
}

/// Stores a screened request's event with the transaction it started.
pub async fn record(state: &AppState, mut event: RiskEvent, transaction_id: &str) -> StoreResult<()> {
    event.transaction_id = Some(transaction_id.to_owned());
    state.store.insert_risk_event(&event).await
}

/// Seed 001's `users/register` and `unregister`: the client's
/// registration rules on the request's evidence (nothing read when it has
/// none). Every evaluation is recorded (later ones count it); anything but
/// ALLOW refuses, audited with its rule.
pub async fn screen_registration(
    state: &AppState,
    client: &Client,
    user: &User,
    action: &str,
    address: Option<&str>,
    fingerprint: Option<&str>,
) -> StoreResult<Outcome> {
    if !applies(state, client.id.as_str(), Point::Registration).await? {
        return Ok(Outcome::Allow);
    }
    let evaluation = Evaluation {
        client,
        user,
        point: Point::Registration,
        action,
        custom_data: None,
        address,
        fingerprint,
        device: None,
    };
    let (verdict, event) = evaluate(state, &evaluation).await?;
    state.store.insert_risk_event(&event).await?;
    if verdict.outcome != Outcome::Allow {
        let detail = format!("{action} refused by rule `{}`", event.rule.as_deref().unwrap_or("-"));
        let (actor, subject) = (format!("client:{}", event.client_id), format!("user:{}", event.user_id));
        state
            .audit(actor, "risk.registration_refused", subject, Some(detail))
            .await?;
    }
    Ok(verdict.outcome)
}
