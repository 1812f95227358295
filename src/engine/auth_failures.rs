//! Failed client authentications, counted per client and per address over a
//! window of [`WINDOW`] seconds (held in memory, per instance). After
//! [`SLOW_AFTER`] failures of one key, each further failure is answered late,
//! twice as late each time up to [`MAX_DELAY`]: guessing one after another
//! crawls, while the right credential is never held up, so a stranger
//! guessing a client's secret cannot lock the client out. An address that
//! reaches the operator's limit is refused outright until its window ends.
//! A limit of 0 turns the throttle off (fuzzing, load tests): failures are
//! then only counted in `/metrics`.
//!
//! Invariant: at most [`MAX_KEYS`] keys are held; past that, windows that
//! ended go first, then keys below every limit (an attacker spraying
//! addresses can reset counts that matter little, never a refusal).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

/// Seconds a run of failures is counted over, from its first failure.
pub const WINDOW: i64 = 300;
/// Failures of one client or address answered without delay.
pub const SLOW_AFTER: u32 = 5;
/// The longest a failure's answer is held.
pub const MAX_DELAY: Duration = Duration::from_secs(4);
const FIRST_DELAY: Duration = Duration::from_millis(250);
const MAX_KEYS: usize = 50_000;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Key {
    Client(String),
    Address(String),
}

#[derive(Debug, Clone, Copy)]
struct Run {
    since: i64,
    failures: u32,
}

#[derive(Debug)]
pub struct AuthFailures {
    /// Failures after which an address is refused; 0: the throttle is off.
    per_address: u32,
    runs: Mutex<HashMap<Key, Run>>,
}

/// What one failure changed.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Counted {
    /// How long to hold the answer.
    pub delay: Duration,
    /// The client reached [`SLOW_AFTER`] with this failure.
    pub client_slowed: bool,
    /// The address reached [`SLOW_AFTER`] with this failure.
    pub address_slowed: bool,
    /// The address reached the limit with this failure: it is refused now.
    pub address_refused: bool,
}

impl AuthFailures {
    /// `per_address`: failures from one address before it is refused; 0 =
    /// no throttle at all.
    pub fn new(per_address: u32) -> Self {
        Self {
            per_address,
            runs: Mutex::default(),
        }
    }

    /// Seconds until `address` may try again, when it is refused now.
    pub fn refused(&self, address: &str, now: i64) -> Option<i64> {
        let runs = self.runs.lock().ok()?;
        let run = runs.get(&Key::Address(address.to_owned()))?;
        let left = run.since + WINDOW - now;
        (run.failures >= self.per_address && left > 0).then_some(left)
    }

    /// Counts a failure for `address` and, when it names a registered
    /// client, for `client`.
    pub fn failed(&self, client: Option<&str>, address: &str, now: i64) -> Counted {
        if self.per_address == 0 {
            return Counted::default();
        }
        let Ok(mut runs) = self.runs.lock() else {
            return Counted::default();
        };
        if runs.len() >= MAX_KEYS {
            self.make_room(&mut runs, now);
        }
        let mut count = |key: Key| {
            let run = runs.entry(key).or_insert(Run {
                since: now,
                failures: 0,
            });
            if now - run.since >= WINDOW {
                *run = Run {
                    since: now,
                    failures: 0,
                };
            }
            run.failures = run.failures.saturating_add(1);
            run.failures
        };
        let by_client = client.map(|id| count(Key::Client(id.to_owned()))).unwrap_or(0);
        let by_address = count(Key::Address(address.to_owned()));
        Counted {
            delay: delay(by_client.max(by_address)),
            client_slowed: by_client == SLOW_AFTER + 1,
            address_slowed: by_address == SLOW_AFTER + 1,
            address_refused: by_address == self.per_address,
        }
    }

    fn make_room(&self, runs: &mut HashMap<Key, Run>, now: i64) {
        runs.retain(|_, run| now - run.since < WINDOW);
        if runs.len() >= MAX_KEYS {
            runs.retain(|key, run| matches!(key, Key::Address(_)) && run.failures >= self.per_address);
        }
    }
}

/// The hold for a key's `failures`-th failure in its window.
fn delay(failures: u32) -> Duration {
    if failures <= SLOW_AFTER {
        return Duration::ZERO;
    }
    let doublings = (failures - SLOW_AFTER - 1).min(8);
    (FIRST_DELAY * 2u32.pow(doublings)).min(MAX_DELAY)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failures_are_answered_later_and_later_after_a_few() {
        let failures = AuthFailures::new(100);
        let delays: Vec<Duration> = (0..12)
            .map(|_| failures.failed(Some("c"), "10.0.0.1", 100).delay)
            .collect();
        assert!(delays[..5].iter().all(|d| d.is_zero()), "{delays:?}");
        assert_eq!(delays[5], Duration::from_millis(250));
        assert_eq!(delays[6], Duration::from_millis(500));
        assert_eq!(delays[9], Duration::from_secs(4));
        assert_eq!(delays[11], MAX_DELAY, "capped");
        assert_eq!(failures.refused("10.0.0.1", 100), None, "below the limit");
    }

    #[test]
    fn a_limit_of_zero_turns_the_throttle_off() {
        let failures = AuthFailures::new(0);
        for _ in 0..50 {
            assert_eq!(failures.failed(Some("c"), "a", 100), Counted::default());
        }
        assert_eq!(failures.refused("a", 100), None);
    }

    #[test]
    fn one_client_guessed_from_many_addresses_is_still_slowed() {
        let failures = AuthFailures::new(20);
        let counted: Vec<Counted> = (0..7)
            .map(|i| failures.failed(Some("c"), &format!("10.0.0.{i}"), 100))
            .collect();
        assert!(counted[5].client_slowed && !counted[5].address_slowed);
        assert_eq!(counted[6].delay, Duration::from_millis(500));
        assert!(
            failures.failed(None, "10.0.0.99", 100).delay.is_zero(),
            "another address"
        );
    }

    #[test]
    fn an_address_is_refused_at_its_limit_until_the_window_ends() {
        let failures = AuthFailures::new(3);
        assert!(!failures.failed(None, "a", 100).address_refused);
        assert!(!failures.failed(None, "a", 110).address_refused);
        assert_eq!(failures.refused("a", 110), None);
        assert!(failures.failed(None, "a", 120).address_refused);
        assert_eq!(failures.refused("a", 120), Some(WINDOW - 20));
        assert_eq!(failures.refused("b", 120), None, "only that address");
        assert_eq!(failures.refused("a", 100 + WINDOW), None, "the window ended");
        assert!(!failures.failed(None, "a", 100 + WINDOW).address_refused, "a new run");
    }

    #[test]
    fn a_full_table_keeps_its_refusals() {
        let failures = AuthFailures::new(2);
        failures.failed(None, "attacker", 100);
        failures.failed(None, "attacker", 100);
        for i in 0..MAX_KEYS {
            failures.failed(None, &format!("spray-{i}"), 100);
        }
        assert!(failures.refused("attacker", 101).is_some());
        assert!(failures.runs.lock().unwrap().len() <= MAX_KEYS);
    }
}
