//! Per-user and per-client counts of requests per second over the last
//! minute, so the rate caps cost no scan (SQLite only: one instance sees
//! every request).

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use crate::store::pending_cache::PRUNE_EVERY;
use crate::store::{Limited, RateKey};

/// Seconds of history kept beyond the latest window asked for.
const TRIM_MARGIN: i64 = 60;

/// Requests per second for each user and client, for the last minute or so.
/// A key is seeded from the database on its first count in this process;
/// commits recorded meanwhile are added on top, so a race can only make the
/// count higher (stricter), never lower.
#[derive(Default)]
pub struct RateWindows {
    inner: Mutex<WindowMaps>,
}

#[derive(Default)]
struct WindowMaps {
    users: HashMap<String, Window>,
    clients: HashMap<String, Window>,
    recorded: usize,
    latest_since: i64,
}

#[derive(Default)]
struct Window {
    seeded: bool,
    /// (second, requests), oldest first.
    buckets: VecDeque<(i64, i64)>,
}

impl Window {
    /// Counts without dropping anything: a concurrent caller may ask with a
    /// `since` a second earlier (or the clock may step back).
    fn count(&self, since: i64) -> i64 {
        self.buckets.iter().filter(|(at, _)| *at >= since).map(|(_, n)| n).sum()
    }

    /// Drops the buckets no cap will ask for again.
    fn trim(&mut self, before: i64) {
        while self.buckets.front().is_some_and(|(at, _)| *at < before) {
            self.buckets.pop_front();
        }
    }

    fn add(&mut self, at: i64, n: i64) {
        let pos = self.buckets.iter().rposition(|(s, _)| *s <= at);
        match pos {
            Some(i) if self.buckets[i].0 == at => self.buckets[i].1 += n,
            Some(i) => self.buckets.insert(i + 1, (at, n)),
            None => self.buckets.push_front((at, n)),
        }
    }
}

impl WindowMaps {
    fn window(&mut self, key: RateKey<'_>) -> &mut Window {
        let (map, id) = match key {
            RateKey::User(id) => (&mut self.users, id),
            RateKey::Client(id) => (&mut self.clients, id),
        };
        if !map.contains_key(id) {
            map.insert(id.to_owned(), Window::default());
        }
        // Inserted just above when absent.
        map.get_mut(id).unwrap_or_else(|| unreachable!())
    }
}

impl RateWindows {
    /// The requests of `key` since `since`; `None` until the key is seeded.
    pub fn count(&self, key: RateKey<'_>, since: i64) -> Option<i64> {
        let mut maps = self.inner.lock().ok()?;
        maps.latest_since = maps.latest_since.max(since);
        let window = match key {
            RateKey::User(id) => maps.users.get_mut(id),
            RateKey::Client(id) => maps.clients.get_mut(id),
        }?;
        window.seeded.then(|| window.count(since))
    }

    /// Adds the database's per-second counts for `key` and returns the total.
    pub fn seed(&self, key: RateKey<'_>, since: i64, per_second: &[(i64, i64)]) -> Option<i64> {
        let mut maps = self.inner.lock().ok()?;
        let window = maps.window(key);
        if !window.seeded {
            for (at, n) in per_second {
                window.add(*at, *n);
            }
            window.seeded = true;
        }
        Some(window.count(since))
    }

    /// Checks both caps and, when neither is reached, counts one request of
    /// this user and client at `at`, all under one lock, so that concurrent
    /// requests cannot all pass a count taken before any of them was added.
    /// `None` while either key is unseeded (or the lock is poisoned).
    pub fn reserve(
        &self,
        user_id: &str,
        client_id: &str,
        since: i64,
        caps: (i64, i64),
        at: i64,
    ) -> Option<Result<(), Limited>> {
        let mut maps = self.inner.lock().ok()?;
        maps.latest_since = maps.latest_since.max(since);
        let user = maps.users.get(user_id).filter(|w| w.seeded)?.count(since);
        let client = maps.clients.get(client_id).filter(|w| w.seeded)?.count(since);
        if user >= caps.0 {
            return Some(Err(Limited::User));
        }
        if client >= caps.1 {
            return Some(Err(Limited::Client));
        }
        maps.add(user_id, client_id, at);
        Some(Ok(()))
    }

    /// Counts one request of this user and client at `at` (the tests' way in).
    #[cfg(test)]
    pub fn record(&self, user_id: &str, client_id: &str, at: i64) {
        let Ok(mut maps) = self.inner.lock() else {
            return;
        };
        maps.add(user_id, client_id, at);
    }
}

impl WindowMaps {
    fn add(&mut self, user_id: &str, client_id: &str, at: i64) {
        let maps = self;
        // Older than any `since` still asked for, with a margin for callers
        // that computed theirs a little earlier.
        let before = maps.latest_since - TRIM_MARGIN;
        for key in [RateKey::User(user_id), RateKey::Client(client_id)] {
            let window = maps.window(key);
            window.add(at, 1);
            window.trim(before);
        }
        maps.recorded += 1;
        if maps.recorded >= PRUNE_EVERY {
            maps.recorded = 0;
            // A key with nothing left in the window is dropped; it is seeded
            // again from the database if it comes back.
            let since = maps.latest_since;
            maps.users
                .retain(|_, w| w.buckets.back().is_some_and(|(at, _)| *at >= since));
            maps.clients
                .retain(|_, w| w.buckets.back().is_some_and(|(at, _)| *at >= since));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_windows_count_the_last_minute_after_seeding() {
        let w = RateWindows::default();
        assert_eq!(w.count(RateKey::User("u"), 40), None, "unseeded");
        w.record("u", "c", 50);
        assert_eq!(w.seed(RateKey::User("u"), 40, &[(10, 5), (45, 2)]), Some(3));
        w.record("u", "c", 60);
        assert_eq!(w.count(RateKey::User("u"), 40), Some(4));
        assert_eq!(w.count(RateKey::User("u"), 55), Some(1));
        assert_eq!(w.count(RateKey::Client("c"), 0), None, "the client was never seeded");
    }

    #[test]
    fn a_reservation_checks_both_caps_and_counts_only_what_it_admits() {
        let w = RateWindows::default();
        assert_eq!(
            w.reserve("u", "c", 40, (2, 10), 50),
            None,
            "unseeded keys are read from the database first"
        );
        w.seed(RateKey::User("u"), 40, &[(45, 1)]);
        w.seed(RateKey::Client("c"), 40, &[(45, 1)]);
        assert_eq!(w.reserve("u", "c", 40, (2, 10), 50), Some(Ok(())));
        assert_eq!(w.reserve("u", "c", 40, (2, 10), 50), Some(Err(Limited::User)));
        assert_eq!(
            w.count(RateKey::Client("c"), 40),
            Some(2),
            "a refused request is not counted"
        );
        w.seed(RateKey::User("v"), 40, &[]);
        assert_eq!(w.reserve("v", "c", 40, (2, 2), 51), Some(Err(Limited::Client)));
        assert_eq!(w.count(RateKey::User("v"), 40), Some(0));
    }

    #[test]
    fn a_count_drops_nothing_that_a_caller_with_an_earlier_since_still_needs() {
        let w = RateWindows::default();
        w.seed(RateKey::User("u"), 40, &[(41, 1), (45, 2)]);
        assert_eq!(w.count(RateKey::User("u"), 44), Some(2));
        assert_eq!(
            w.count(RateKey::User("u"), 40),
            Some(3),
            "the clock stepped back a little"
        );
        // Recording trims only what is older than the latest window, with a margin.
        w.record("u", "c", 200);
        assert_eq!(w.count(RateKey::User("u"), 0), Some(4), "nothing trimmed yet");
        w.count(RateKey::User("u"), 150);
        w.record("u", "c", 201);
        assert_eq!(
            w.count(RateKey::User("u"), 0),
            Some(2),
            "41 and 45 are gone, 200 and 201 stay"
        );
    }
}
