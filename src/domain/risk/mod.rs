//! Adaptive rules (seed 002): a client's ordered rules judge an action a
//! relying party tracks, or a backchannel request, from facts about the
//! user, their devices, the caller and the recent past. The first rule
//! whose every condition holds decides; none holding means ALLOW. Rules are
//! data (JSON, stored per client); this module only parses and evaluates.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::str_enum::str_enum;
use super::user::UserStatus;

mod facts;

pub use facts::{Facts, Velocity};

/// What a rule answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Outcome {
    Allow,
    ChallengeRequired,
    Block,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Allow => "ALLOW",
            Outcome::ChallengeRequired => "CHALLENGE_REQUIRED",
            Outcome::Block => "BLOCK",
        }
    }
}

str_enum!(
    Outcome,
    "outcome",
    [Outcome::Allow, Outcome::ChallengeRequired, Outcome::Block]
);

/// Where a rule is consulted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Point {
    /// `POST /manage/v1/actions`.
    Action,
    /// `POST /bc-authorize`: a BLOCK refuses the request (`access_denied`).
    Backchannel,
    /// Seed 001's `users/register` and `unregister` (actions `register`,
    /// `unregister`): anything but ALLOW refuses (there is no device to
    /// challenge yet).
    Registration,
}

impl Point {
    pub fn as_str(self) -> &'static str {
        match self {
            Point::Action => "action",
            Point::Backchannel => "backchannel",
            Point::Registration => "registration",
        }
    }
}

str_enum!(
    Point,
    "rule point",
    [Point::Action, Point::Backchannel, Point::Registration]
);

/// A numeric comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Cmp {
    Eq,
    Ne,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Cmp {
    fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Cmp::Eq => left == right,
            Cmp::Ne => left != right,
            Cmp::Gt => left > right,
            Cmp::Ge => left >= right,
            Cmp::Lt => left < right,
            Cmp::Le => left <= right,
        }
    }
}

/// Whom a velocity condition counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Per {
    User,
    Address,
    /// The CDDC browser fingerprint, whoever's (one browser registering
    /// many users).
    Fingerprint,
}

/// One condition; a rule holds when all of its conditions hold.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum Condition {
    /// The action's name is one of these (a backchannel request is `ciba`).
    Action { any_of: Vec<String> },
    /// A field of the action's custom data (dots for nested objects):
    /// numbers compare numerically; `eq`/`ne` also compare strings and booleans.
    CustomData { field: String, op: Cmp, value: Value },
    /// The user's status is one of these.
    UserStatus { any_of: Vec<UserStatus> },
    /// How many active devices the user has.
    DeviceCount { op: Cmp, value: f64 },
    /// Seconds since the user's newest active device was bound.
    DeviceAge { op: Cmp, value: f64 },
    /// The user's failed-attempt counter.
    FailedAttempts { op: Cmp, value: f64 },
    /// Evaluations for this user, from this address or with this
    /// fingerprint, in the last `window` seconds (this one not counted;
    /// none without an address or fingerprint to count by).
    Velocity { per: Per, window: i64, op: Cmp, value: f64 },
    /// A CDDC fingerprint this user's evaluations never carried before.
    NewFingerprint,
    /// A client address this user's evaluations never came from before.
    NewAddress,
    /// The time of day (UTC, `HH:MM`) is in `[from, to)`; wraps past midnight.
    TimeOfDay { from: String, to: String },
}

/// A rule as stored: its conditions, its outcome, where it applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    pub name: String,
    #[serde(default)]
    pub conditions: Vec<Condition>,
    pub outcome: Outcome,
    /// Default: actions only.
    #[serde(default = "actions_only")]
    pub applies_to: Vec<Point>,
    /// A challenge at the executive level: the user must present their
    /// identity document (only with CHALLENGE_REQUIRED).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub executive: bool,
}

fn actions_only() -> Vec<Point> {
    vec![Point::Action]
}

/// What decided an evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    pub outcome: Outcome,
    /// The rule that matched; `None`: no rule did (ALLOW).
    pub rule: Option<String>,
    /// The challenge is at the executive level.
    pub executive: bool,
}

impl Rule {
    /// Checks what serde cannot: a name, sensible numbers and times.
    pub fn validate(&self) -> Result<(), String> {
        let name = self.name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err("name must be 1 to 100 printable characters".into());
        }
        if self.applies_to.is_empty() {
            return Err("applies_to must name at least one of action, backchannel, registration".into());
        }
        if self.executive && self.outcome != Outcome::ChallengeRequired {
            return Err("executive goes with the outcome CHALLENGE_REQUIRED".into());
        }
        if self.conditions.len() > 20 {
            return Err("a rule holds at most 20 conditions".into());
        }
        for condition in &self.conditions {
            match condition {
                Condition::Action { any_of } if any_of.is_empty() => {
                    return Err("an action condition needs at least one name in any_of".into());
                }
                Condition::UserStatus { any_of } if any_of.is_empty() => {
                    return Err("a user_status condition needs at least one status in any_of".into());
                }
                Condition::CustomData { field, .. } if field.is_empty() || field.split('.').any(str::is_empty) => {
                    return Err(format!("custom_data field `{field}` must be names joined by dots"));
                }
                Condition::Velocity { window, .. } if !(1..=31 * 86_400).contains(window) => {
                    return Err("a velocity window is 1 second to 31 days".into());
                }
                Condition::TimeOfDay { from, to } => {
                    minute_of_day(from).ok_or(format!("time_of_day from `{from}` must be HH:MM"))?;
                    minute_of_day(to).ok_or(format!("time_of_day to `{to}` must be HH:MM"))?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Whether every condition holds for `facts`.
    pub fn holds(&self, facts: &Facts) -> bool {
        self.conditions.iter().all(|c| condition_holds(c, facts))
    }
}

/// The first of `rules` (in order) that applies at `point` and holds.
pub fn evaluate<'a>(rules: impl IntoIterator<Item = &'a Rule>, point: Point, facts: &Facts) -> Verdict {
    rules
        .into_iter()
        .find(|rule| rule.applies_to.contains(&point) && rule.holds(facts))
        .map(|rule| Verdict {
            outcome: rule.outcome,
            rule: Some(rule.name.clone()),
            executive: rule.executive,
        })
        .unwrap_or(Verdict {
            outcome: Outcome::Allow,
            rule: None,
            executive: false,
        })
}

/// The velocity counts `rules` need, so only those are read.
pub fn velocities<'a>(rules: impl IntoIterator<Item = &'a Rule>) -> Vec<(Per, i64)> {
    let mut wanted: Vec<(Per, i64)> = Vec::new();
    for rule in rules {
        for condition in &rule.conditions {
            if let Condition::Velocity { per, window, .. } = condition
                && !wanted.contains(&(*per, *window))
            {
                wanted.push((*per, *window));
            }
        }
    }
    wanted
}

fn condition_holds(condition: &Condition, facts: &Facts) -> bool {
    match condition {
        Condition::Action { any_of } => any_of.contains(&facts.action),
        Condition::CustomData { field, op, value } => custom_data_holds(facts, field, *op, value),
        Condition::UserStatus { any_of } => any_of.contains(&facts.user_status),
        Condition::DeviceCount { op, value } => op.holds(facts.device_count as f64, *value),
        // No device: no age to compare, so the condition does not hold.
        Condition::DeviceAge { op, value } => facts.newest_device_age.is_some_and(|age| op.holds(age as f64, *value)),
        Condition::FailedAttempts { op, value } => op.holds(facts.failed_attempts as f64, *value),
        Condition::Velocity { per, window, op, value } => facts
            .velocity(*per, *window)
            .is_some_and(|count| op.holds(count as f64, *value)),
        Condition::NewFingerprint => facts.new_fingerprint,
        Condition::NewAddress => facts.new_address,
        Condition::TimeOfDay { from, to } => match (minute_of_day(from), minute_of_day(to)) {
            (Some(from), Some(to)) => {
                let now = facts.minute_of_day;
                match from <= to {
                    true => from <= now && now < to,
                    false => now >= from || now < to,
                }
            }
            _ => false,
        },
    }
}

fn custom_data_holds(facts: &Facts, field: &str, op: Cmp, value: &Value) -> bool {
    let Some(found) = field.split('.').try_fold(&facts.custom_data, |v, key| v.get(key)) else {
        return false;
    };
    match (found.as_f64(), value.as_f64()) {
        (Some(left), Some(right)) => op.holds(left, right),
        _ => match op {
            Cmp::Eq => found == value,
            Cmp::Ne => found != value,
            _ => false,
        },
    }
}

/// `HH:MM` as minutes since midnight.
fn minute_of_day(text: &str) -> Option<u32> {
    let (h, m) = text.split_once(':')?;
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60 && text.len() == 5).then_some(h * 60 + m)
}

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
