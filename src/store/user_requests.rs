//! SQLite's index of transactions by user, kept in memory instead of in the
//! file.
//!
//! Every backchannel request lands in a different user's part of a
//! `(user_id, …)` index, so each row of a group commit dirtied a page of its
//! own, plus the interior pages above it: about 14 of the ~20 pages each
//! commit wrote to the WAL and synced (`bench/README.md`). The reads that
//! need it all ask for one user's *recent* requests: the inbox, activation
//! and unregistration want the unexpired ones, the per-user rate window the
//! ones created in the last minute. That set is small and this process writes
//! every row of it (SQLite serves one instance, and only the backchannel
//! endpoint creates requests), so it lives here. The file keeps an index on
//! `expires_at` alone, which inserts reach near its end, to load this at the
//! first use after a start.
//!
//! The entries name candidates; the statements still check user, status and
//! expiry against the rows, so an entry that outlived its row's change is
//! harmless. PostgreSQL keeps its `(user_id, expires_at)` index: several
//! instances write there.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

use crate::domain::transaction::Transaction;

/// How long after its creation a request still counts (the rate windows'
/// reach, in seconds), even when it has expired sooner.
pub const RATE_REACH: i64 = 60;
const SHARDS: usize = 16;
/// A shard drops its stale entries once per this many additions.
const SWEEP_EVERY: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    id: Box<str>,
    created_at: i64,
    expires_at: i64,
}

impl Entry {
    /// Neither unexpired nor within the rate windows' reach.
    fn stale(&self, now: i64) -> bool {
        self.expires_at <= now && self.created_at < now - RATE_REACH
    }
}

#[derive(Default)]
struct Shard {
    users: HashMap<String, Vec<Entry>>,
    added: usize,
}

impl Shard {
    /// Keeps a user's entries sorted by id: a load and the writer may both
    /// bring a row (and a batch retried row by row brings it twice), and it
    /// is kept once. Ids start with their creation time, so a new one goes
    /// at the end, found by one binary search.
    fn add(&mut self, user_id: &str, entry: Entry) {
        match self.users.get_mut(user_id) {
            Some(entries) => {
                if let Err(at) = entries.binary_search_by(|e| e.id.cmp(&entry.id)) {
                    entries.insert(at, entry);
                }
            }
            None => {
                self.users.insert(user_id.to_owned(), vec![entry]);
            }
        }
    }
}

/// The requests of each user that are unexpired or less than
/// [`RATE_REACH`] seconds old.
pub struct UserRequests {
    shards: Vec<Mutex<Shard>>,
    /// Set once the file's rows are in (see the module comment).
    pub(super) loaded: tokio::sync::OnceCell<()>,
}

impl Default for UserRequests {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            loaded: tokio::sync::OnceCell::new(),
        }
    }
}

impl UserRequests {
    fn shard(&self, user_id: &str) -> std::sync::MutexGuard<'_, Shard> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        user_id.hash(&mut h);
        let shard = &self.shards[h.finish() as usize % SHARDS];
        shard.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A request just committed (or read back from the file).
    pub fn add(&self, user_id: &str, id: &str, created_at: i64, expires_at: i64) {
        let entry = Entry {
            id: id.into(),
            created_at,
            expires_at,
        };
        let mut shard = self.shard(user_id);
        shard.add(user_id, entry);
        shard.added += 1;
        if shard.added >= SWEEP_EVERY {
            // Users who are never asked about again are dropped here.
            shard.added = 0;
            shard.users.retain(|_, entries| {
                entries.retain(|e| !e.stale(created_at));
                !entries.is_empty()
            });
        }
    }

    pub fn add_transaction(&self, t: &Transaction) {
        self.add(&t.user_id, &t.id, t.created_at, t.expires_at);
    }

    /// The ids of the user's requests that expire after `now`, by id.
    pub fn unexpired(&self, user_id: &str, now: i64) -> Vec<String> {
        let mut shard = self.shard(user_id);
        let Some(entries) = shard.users.get_mut(user_id) else {
            return Vec::new();
        };
        entries.retain(|e| !e.stale(now));
        let ids = entries
            .iter()
            .filter(|e| e.expires_at > now)
            .map(|e| e.id.to_string())
            .collect();
        if entries.is_empty() {
            shard.users.remove(user_id);
        }
        ids
    }

    /// How many of the user's requests were created in each second from
    /// `since` on (at most [`RATE_REACH`] seconds back), oldest first.
    pub fn created_per_second(&self, user_id: &str, since: i64) -> Vec<(i64, i64)> {
        let shard = self.shard(user_id);
        let mut seconds: Vec<i64> = shard
            .users
            .get(user_id)
            .map(|entries| {
                entries
                    .iter()
                    .filter(|e| e.created_at >= since)
                    .map(|e| e.created_at)
                    .collect()
            })
            .unwrap_or_default();
        seconds.sort_unstable();
        let mut counts: Vec<(i64, i64)> = Vec::new();
        for at in seconds {
            match counts.last_mut() {
                Some((second, n)) if *second == at => *n += 1,
                _ => counts.push((at, 1)),
            }
        }
        counts
    }

    /// Users with at least one entry (tests: what a sweep dropped).
    #[cfg(test)]
    fn users(&self) -> usize {
        self.shards.iter().map(|s| s.lock().unwrap().users.len()).sum()
    }
}

/// The rows to load at the first use: every request that may still be
/// unexpired or within the rate windows' reach at `now` (a request expires
/// after it is created, so `expires_at > now - RATE_REACH` covers both).
pub const LOAD: &str = "SELECT id, user_id, created_at, expires_at FROM transactions WHERE expires_at > $1";

/// `$1` names the user; on SQLite (`ids`) the candidates from memory, bound
/// as `$3`, narrow it to rows found by primary key. `alias` is `t.` or empty.
pub fn by_user(alias: &str, ids: bool) -> String {
    if ids {
        format!("{alias}user_id = $1 AND {alias}id IN (SELECT value FROM json_each($3))")
    } else {
        format!("{alias}user_id = $1")
    }
}

/// The candidates as `json_each` reads them.
pub fn as_json(ids: &[String]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_users_unexpired_requests_are_listed_once_each_and_other_users_apart() {
        let index = UserRequests::default();
        index.add("alice", "a1", 100, 400);
        index.add("bob", "b1", 100, 400);
        index.add("alice", "a2", 101, 130);
        index.add("alice", "a1", 100, 400); // the load and the writer both bring it
        index.add("alice", "a0", 90, 400); // loaded after the writer's rows
        assert_eq!(index.unexpired("alice", 110), ["a0", "a1", "a2"]);
        assert_eq!(index.unexpired("alice", 130), ["a0", "a1"], "a2 expired at 130");
        assert_eq!(index.unexpired("bob", 110), ["b1"]);
        assert!(index.unexpired("carol", 110).is_empty());
    }

    #[test]
    fn an_expired_request_still_counts_for_a_minute_after_its_creation() {
        let index = UserRequests::default();
        index.add("alice", "a1", 100, 110);
        index.add("alice", "a2", 105, 115);
        index.add("alice", "a3", 105, 500);
        assert_eq!(index.created_per_second("alice", 100), [(100, 1), (105, 2)]);
        assert_eq!(index.created_per_second("alice", 101), [(105, 2)]);
        // At 162, a1 (created at 100) is out of reach and expired: dropped.
        assert_eq!(index.unexpired("alice", 162), ["a3"]);
        assert_eq!(index.created_per_second("alice", 102), [(105, 2)]);
        // Once nothing is left, the user is dropped too.
        assert_eq!(index.unexpired("alice", 600), Vec::<String>::new());
        assert_eq!(index.users(), 0);
    }

    #[test]
    fn a_sweep_drops_users_never_asked_about_again() {
        let index = UserRequests::default();
        index.add("gone", "g1", 100, 110);
        // Enough additions, long after, to sweep every shard.
        for i in 0..SWEEP_EVERY * SHARDS * 2 {
            index.add(&format!("u{}", i % 1024), &format!("t{i}"), 10_000, 10_100);
        }
        assert_eq!(index.users(), 1024, "only the recent users are left");
        assert_eq!(index.created_per_second("gone", 0), Vec::<(i64, i64)>::new());
    }

    #[test]
    fn the_candidates_are_bound_as_a_json_array() {
        assert_eq!(as_json(&["a".into(), "b\"c".into()]), r#"["a","b\"c"]"#);
        assert_eq!(by_user("t.", false), "t.user_id = $1");
        assert_eq!(
            by_user("", true),
            "user_id = $1 AND id IN (SELECT value FROM json_each($3))"
        );
    }
}
