//! SQLite's index of transactions by user, kept in memory instead of in the
//! file.
//!
//! Every backchannel request lands in a different user's part of a
//! `(user_id, …)` index, so each row of a group commit dirtied a page of its
//! own, plus the interior pages above it: most of what each commit wrote to
//! the WAL and synced. The reads that
//! need it all ask for one user's *recent* requests: the inbox, activation
//! and unregistration want the unexpired ones, the per-user rate window the
//! ones created in the last minute. That set is small, so it lives here.
//!
//! It follows the file, not the writer: before each use the store reads the
//! rows added since its last look, by rowid (SQLite has one writer at a time
//! and gives each new row the next rowid, so "after the last one seen" is
//! exact, whichever process committed it). Each row is read once, so this
//! costs about one row read per request created, usually on the caller's
//! thread ([`DIRECT_ROWS`]). The first use after a start, or one far behind,
//! loads the recent rows instead, through an index on `expires_at` alone,
//! which new rows reach near its end. The whole index sits behind one lock,
//! held while it is brought up to date and read, so nobody sees a load half
//! done and only one caller at a time reads the file for it.
//!
//! This relies on rowids only growing: no transaction row is ever deleted
//! and the table is not rebuilt while a server runs. A change that purges
//! old requests (an emptied table starts again at rowid 1) must make the
//! servers load anew.
//!
//! The entries name candidates; the statements still check user, status and
//! expiry against the rows. PostgreSQL keeps its `(user_id, expires_at)`
//! index.

use std::collections::HashMap;

/// How long after its creation a request still counts (the rate windows'
/// reach, in seconds), even when it has expired sooner.
pub const RATE_REACH: i64 = 60;
/// Up to this many new rows are read on the caller's thread, without sqlx's
/// hand-overs (a look usually finds a few); more go through sqlx.
pub const DIRECT_ROWS: i64 = if cfg!(test) { 4 } else { 256 };
/// More new rows than this since the last look: load the recent ones anew
/// instead of reading every row in between.
pub const RELOAD_AFTER: i64 = if cfg!(test) { 8 } else { 65_536 };
/// The fewest additions between two sweeps of stale entries.
const SWEEP_EVERY: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    id: Box<str>,
    created_at: i64,
    expires_at: i64,
    /// Read no longer pending (decided, cancelled): a request never becomes
    /// pending again, so it is no reader's candidate any more; it still
    /// counts in the rate windows' reach.
    settled: bool,
}

impl Entry {
    /// Neither unexpired nor within the rate windows' reach.
    fn stale(&self, now: i64) -> bool {
        self.expires_at <= now && self.created_at < now - RATE_REACH
    }
}

/// A row as the loads read it: rowid, id, user, created, expires.
pub type Row = (i64, String, String, i64, i64);

/// The index held (`SqliteStore::lock_user_requests`).
pub type UserIndexGuard<'a> = tokio::sync::MutexGuard<'a, Index>;

/// The requests of each user that are unexpired or less than
/// [`RATE_REACH`] seconds old, behind the one lock (module comment).
#[derive(Default)]
pub struct UserRequests(tokio::sync::Mutex<Index>);

impl UserRequests {
    pub async fn lock(&self) -> UserIndexGuard<'_> {
        self.0.lock().await
    }
}

#[derive(Default)]
pub struct Index {
    /// The highest rowid read so far; `None` until the first load.
    seen: Option<i64>,
    users: HashMap<String, Vec<Entry>>,
    /// Additions since the last sweep, and the entries that sweep kept: the
    /// next sweep waits for as many additions, so sweeping costs O(1) per row.
    added: usize,
    kept: usize,
}

impl Index {
    /// The highest rowid read so far; `None` until the first load.
    pub fn seen(&self) -> Option<i64> {
        self.seen
    }

    /// The rows added after [`Self::seen`], read by rowid.
    pub fn caught_up(&mut self, rows: Vec<Row>, now: i64) {
        if let Some((rowid, ..)) = rows.last() {
            self.seen = Some(*rowid);
        }
        self.add_rows(rows, now);
    }

    /// The recent rows, read anew; `max` is the highest rowid read before them.
    pub fn loaded(&mut self, rows: Vec<Row>, max: i64, now: i64) {
        self.clear();
        self.add_rows(rows, now);
        self.seen = Some(max);
    }

    /// Rows read from the file at `now`; those that no longer matter are
    /// left out. A user's entries stay sorted by id: a load and the next
    /// catch-up may both bring a row, and it is kept once. Ids start with
    /// their creation time, so a new one goes at the end, found by one
    /// binary search.
    fn add_rows(&mut self, rows: Vec<Row>, now: i64) {
        for (_, id, user_id, created_at, expires_at) in rows {
            let entry = Entry {
                id: id.into(),
                created_at,
                expires_at,
                settled: false,
            };
            if entry.stale(now) {
                continue;
            }
            match self.users.get_mut(&user_id) {
                Some(entries) => {
                    if let Err(at) = entries.binary_search_by(|e| e.id.cmp(&entry.id)) {
                        entries.insert(at, entry);
                    }
                }
                None => {
                    self.users.insert(user_id, vec![entry]);
                }
            }
            self.added += 1;
        }
        if self.added >= SWEEP_EVERY.max(self.kept) {
            self.sweep(now);
        }
    }

    /// Drops the stale entries, and the users who are never asked about again.
    fn sweep(&mut self, now: i64) {
        self.added = 0;
        self.users.retain(|_, entries| {
            entries.retain(|e| !e.stale(now));
            !entries.is_empty()
        });
        self.kept = self.users.values().map(Vec::len).sum();
        if self.users.capacity() > 4 * self.users.len() + 64 {
            self.users.shrink_to_fit();
        }
    }

    fn clear(&mut self) {
        *self = Self::default();
    }

    /// The ids of the user's requests that expire after `now`, by id.
    pub fn unexpired(&mut self, user_id: &str, now: i64) -> Vec<&str> {
        let Some(entries) = self.users.get_mut(user_id) else {
            return Vec::new();
        };
        entries.retain(|e| !e.stale(now));
        if entries.is_empty() {
            self.users.remove(user_id);
            return Vec::new();
        }
        self.users[user_id]
            .iter()
            .filter(|e| e.expires_at > now && !e.settled)
            .map(|e| &*e.id)
            .collect()
    }

    /// [`Self::unexpired`], owned, and as the statements bind it: the
    /// candidates a read is about to check.
    pub fn candidates(&mut self, user_id: &str, now: i64) -> (Vec<Box<str>>, String) {
        let ids = self.unexpired(user_id, now);
        let json = as_json(&ids);
        (ids.into_iter().map(Box::from).collect(), json)
    }

    /// After a read of the user's pending requests among `candidates` found
    /// only `pending`: the other candidates are settled, and later reads
    /// skip them. Only candidates are touched: a request indexed since the
    /// read began was not looked at.
    pub fn settle(&mut self, user_id: &str, candidates: &[Box<str>], pending: &[&str]) {
        let Some(entries) = self.users.get_mut(user_id) else {
            return;
        };
        for id in candidates.iter().filter(|id| !pending.contains(&&***id)) {
            if let Ok(at) = entries.binary_search_by(|e| e.id.cmp(id)) {
                entries[at].settled = true;
            }
        }
    }

    /// [`Self::unexpired`] as the statements bind it (`json_each`).
    pub fn unexpired_json(&mut self, user_id: &str, now: i64) -> String {
        as_json(&self.unexpired(user_id, now))
    }

    /// How many of the user's requests were created in each second from
    /// `since` on (at most [`RATE_REACH`] seconds back), oldest first.
    pub fn created_per_second(&self, user_id: &str, since: i64) -> Vec<(i64, i64)> {
        let mut seconds: Vec<i64> = self
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
        self.users.len()
    }
}

/// The columns every read of the index takes, in [`Row`]'s order.
macro_rules! row_select {
    ($rest:literal) => {
        concat!(
            "SELECT rowid, id, user_id, created_at, expires_at FROM transactions ",
            $rest
        )
    };
}

/// The rows to load at the first use, or when far behind: every request that
/// may still be unexpired or within the rate windows' reach at `now` (a
/// request expires after it is created, so `expires_at > now - RATE_REACH`
/// covers both).
pub const LOAD: &str = row_select!("WHERE expires_at > $1");
/// The rows added since the last look, at most `$2` of them.
pub const CATCH_UP: &str = row_select!("WHERE rowid > $1 ORDER BY rowid LIMIT $2");
pub const MAX_ROWID: &str = "SELECT MAX(rowid) FROM transactions";

/// The candidates as `json_each` reads them.
pub fn as_json(ids: &[&str]) -> String {
    serde_json::to_string(ids).unwrap_or_else(|_| "[]".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::transactions::by_user;

    fn row(rowid: i64, id: &str, user: &str, created_at: i64, expires_at: i64) -> Row {
        (rowid, id.into(), user.into(), created_at, expires_at)
    }

    #[test]
    fn a_users_unexpired_requests_are_listed_once_each_and_other_users_apart() {
        let mut index = Index::default();
        index.add_rows(
            vec![
                row(1, "a1", "alice", 100, 400),
                row(2, "b1", "bob", 100, 400),
                row(3, "a2", "alice", 101, 130),
            ],
            105,
        );
        // A load and a catch-up may both bring a row; out of order too.
        index.add_rows(
            vec![row(1, "a1", "alice", 100, 400), row(0, "a0", "alice", 90, 400)],
            105,
        );
        assert_eq!(index.unexpired("alice", 110), ["a0", "a1", "a2"]);
        assert_eq!(index.unexpired("alice", 130), ["a0", "a1"], "a2 expired at 130");
        assert_eq!(index.unexpired("bob", 110), ["b1"]);
        assert!(index.unexpired("carol", 110).is_empty());
        index.clear();
        assert!(index.unexpired("alice", 110).is_empty());
    }

    #[test]
    fn an_expired_request_still_counts_for_a_minute_after_its_creation() {
        let mut index = Index::default();
        index.add_rows(
            vec![
                row(1, "a1", "alice", 100, 110),
                row(2, "a2", "alice", 105, 115),
                row(3, "a3", "alice", 105, 500),
                row(4, "old", "alice", 10, 20), // already out of reach: left out
            ],
            120,
        );
        assert_eq!(index.created_per_second("alice", 0), [(100, 1), (105, 2)]);
        assert_eq!(index.created_per_second("alice", 101), [(105, 2)]);
        // At 162, a1 (created at 100) is out of reach and expired: dropped.
        assert_eq!(index.unexpired("alice", 162), ["a3"]);
        assert_eq!(index.created_per_second("alice", 0), [(105, 2)]);
        // Once nothing is left, the user is dropped too.
        assert_eq!(index.unexpired("alice", 600), Vec::<&str>::new());
        assert_eq!(index.users(), 0);
    }

    #[test]
    fn a_sweep_drops_users_never_asked_about_again_and_keeps_what_still_matters() {
        let mut index = Index::default();
        index.add_rows(
            vec![row(1, "gone", "gone", 100, 110), row(2, "kept", "kept", 100, 20_000)],
            100,
        );
        // Enough rows, long after, to sweep.
        let rows = (0..SWEEP_EVERY * 2)
            .map(|i| {
                row(
                    3 + i as i64,
                    &format!("t{i}"),
                    &format!("u{}", i % 1024),
                    10_000,
                    10_100,
                )
            })
            .collect();
        index.add_rows(rows, 10_000);
        assert_eq!(index.users(), 1025, "the recent users and `kept`");
        assert!(index.created_per_second("gone", 0).is_empty());
        assert_eq!(index.unexpired("kept", 10_000), ["kept"]);
    }

    #[test]
    fn settled_candidates_are_skipped_but_still_counted_and_new_ones_are_not_touched() {
        let mut index = Index::default();
        index.add_rows(
            vec![row(1, "a1", "alice", 100, 400), row(2, "a2", "alice", 101, 400)],
            105,
        );
        let (candidates, json) = index.candidates("alice", 105);
        assert_eq!(json, r#"["a1","a2"]"#);
        // Committed while the read ran: not among the candidates.
        index.add_rows(vec![row(3, "a3", "alice", 102, 400)], 105);
        index.settle("alice", &candidates, &["a2"]);
        assert_eq!(index.unexpired("alice", 106), ["a2", "a3"], "a1 was read decided");
        assert_eq!(index.created_per_second("alice", 0), [(100, 1), (101, 1), (102, 1)]);
        index.settle("bob", &candidates, &[]);
        assert_eq!(index.unexpired("alice", 106), ["a2", "a3"], "another user's read");
    }

    #[test]
    fn the_candidates_are_bound_as_a_json_array() {
        assert_eq!(as_json(&["a", "b\"c"]), r#"["a","b\"c"]"#);
        assert_eq!(by_user("t.", false), "t.user_id = $1");
        assert_eq!(
            by_user("", true),
            "user_id = $1 AND id IN (SELECT value FROM json_each($3))"
        );
    }
}
