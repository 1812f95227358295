//! Users with the counts of their devices, by the hint that found them, in
//! memory (SQLite only, part of [`super::hot::Hot`]): every backchannel
//! request reads one.
//!
//! Why: a SQLite connection drops its page cache whenever another connection
//! has committed, and the group-commit writer commits thousands of times a
//! second, so each read of a user walked its B-tree pages again through
//! system calls.
//!
//! When an entry may be served: all entries share one generation, and an
//! entry is served only while the generation is still the one read before
//! the database read that filled it. The generation moves
//! - when this process changes a user or a device: every store method that
//!   does holds [`UserCache::change_on_drop`] across its COMMIT;
//! - when another process did (the CLI, a second instance on the file, a
//!   tool): the triggers of migration `20261201000001_user_epoch.sql` move
//!   `user_epoch.n` on every such change, from any connection, and the cache
//!   reads that counter at most every [`EPOCH_CHECK_EVERY`] before it
//!   serves anything. Another process's change is seen within that period.
//! - A caller dropped during its COMMIT (a client hanging up) moves the
//!   generation too early: sqlx's thread still commits after. So after any
//!   change of its own the cache reads the counter before every read for
//!   [`CHECK_ALWAYS_AFTER_A_CHANGE`], which covers a COMMIT waiting out
//!   SQLite's busy timeout.
//!
//! Users and devices change seldom next to how often they are read, so one
//! generation for all (a change re-reads everyone once) costs little.

use std::collections::HashMap;
use std::sync::RwLock;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use super::direct::BUSY_TIMEOUT;
use crate::domain::user::User;
use crate::store::{DeviceCounts, StoreResult};

/// How long a change another process committed may go unseen.
pub const EPOCH_CHECK_EVERY: Duration = Duration::from_millis(100);
/// After a change of this process's own, the counter is read before every
/// read for this long (module comment): SQLite's busy timeout and a margin.
pub const CHECK_ALWAYS_AFTER_A_CHANGE: Duration = BUSY_TIMEOUT.saturating_add(Duration::from_secs(1));
/// Beyond this many hints the map starts again empty. An entry is ~0.5–0.7
/// KiB (the key, the user with two argon2 hashes, the map's own), so at most
/// ~35 MiB, for a deployment that sees this many users within minutes.
const MAX_ENTRIES: usize = 50_000;
/// `user_epoch.n` not read yet.
const UNSEEN: i64 = i64::MIN;

/// What a hint found.
pub type Found = (User, DeviceCounts);

pub struct UserCache {
    generation: AtomicU64,
    entries: RwLock<HashMap<String, Entry>>,
    /// Milliseconds are counted from here.
    started: Instant,
    /// When the counter is next read (ms); a reader claims a check by moving
    /// this forward, so the threads do not all read it at once.
    next_check_ms: AtomicU64,
    /// Until when every read checks the counter (ms).
    check_always_until_ms: AtomicU64,
    /// The last `user_epoch.n` read, or `UNSEEN`.
    seen: AtomicI64,
    /// [`EPOCH_CHECK_EVERY`] in ms; tests set another.
    check_every_ms: AtomicU64,
}

struct Entry {
    found: Found,
    generation: u64,
}

impl Default for UserCache {
    fn default() -> Self {
        Self {
            generation: AtomicU64::new(0),
            entries: RwLock::default(),
            started: Instant::now(),
            next_check_ms: AtomicU64::new(0),
            check_always_until_ms: AtomicU64::new(0),
            seen: AtomicI64::new(UNSEEN),
            check_every_ms: AtomicU64::new(millis(EPOCH_CHECK_EVERY)),
        }
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

impl UserCache {
    /// `hint`'s user from memory, else from `read` (and kept). `epoch` reads
    /// `user_epoch.n`; it runs when the last check is older than the period.
    /// An error of either is returned as is, and nothing is kept.
    pub fn get_or_read(
        &self,
        hint: &str,
        epoch: impl FnOnce() -> StoreResult<i64>,
        read: impl FnOnce() -> StoreResult<Option<Found>>,
    ) -> StoreResult<Option<Found>> {
        if self.claim_epoch_check() {
            match epoch() {
                Ok(n) => self.saw_epoch(n),
                Err(e) => {
                    // Unchecked: the next read checks instead.
                    self.next_check_ms.store(0, Ordering::SeqCst);
                    return Err(e);
                }
            }
        }
        // Taken before the read: a change committed during it moves the
        // generation past this, and the entry is never served.
        let ticket = self.generation.load(Ordering::SeqCst);
        if let Some(found) = self.get(hint, ticket) {
            return Ok(Some(found));
        }
        let found = read()?;
        if let Some(found) = &found {
            self.fill(hint, found, ticket);
        }
        Ok(found)
    }

    /// Moves the generation when dropped: taken before a COMMIT that changes
    /// a user or a device. If the caller is dropped mid-COMMIT and the COMMIT
    /// lands later, the counter its triggers moved tells (module comment).
    pub fn change_on_drop(&self) -> ChangeOnDrop<'_> {
        ChangeOnDrop(self)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn now_ms(&self) -> u64 {
        millis(self.started.elapsed())
    }

    /// Whether this read checks the counter: always for a while after a
    /// change of this process's own, else one reader a period.
    fn claim_epoch_check(&self) -> bool {
        let now = self.now_ms();
        if now < self.check_always_until_ms.load(Ordering::SeqCst) {
            return true;
        }
        let due = self.next_check_ms.load(Ordering::SeqCst);
        let next = now.saturating_add(self.check_every_ms.load(Ordering::SeqCst));
        now >= due
            && self
                .next_check_ms
                .compare_exchange(due, next, Ordering::SeqCst, Ordering::SeqCst)
                .is_ok()
    }

    /// A reading of `user_epoch.n`: something changed if it moved (the first
    /// reading after a start moves nothing: memory is empty). Two readings
    /// applied out of order only cost an extra move.
    fn saw_epoch(&self, n: i64) {
        let before = self.seen.swap(n, Ordering::SeqCst);
        if before != UNSEEN && before != n {
            self.changed();
        }
    }

    fn get(&self, hint: &str, ticket: u64) -> Option<Found> {
        let entries = self.entries.read().ok()?;
        let entry = entries.get(hint).filter(|e| e.generation == ticket)?;
        Some(entry.found.clone())
    }

    fn fill(&self, hint: &str, found: &Found, ticket: u64) {
        // Read before a change: it would never be served, and it must not
        // push out a fresher entry.
        if ticket != self.generation.load(Ordering::SeqCst) {
            return;
        }
        let Ok(mut entries) = self.entries.write() else { return };
        if entries.len() >= MAX_ENTRIES && !entries.contains_key(hint) {
            entries.clear();
        }
        let entry = Entry {
            found: found.clone(),
            generation: ticket,
        };
        entries.insert(hint.to_owned(), entry);
    }

    /// Tests: check the epoch at another period (zero: before every read),
    /// also right after a change.
    #[cfg(test)]
    pub fn check_epoch_every(&self, every: Duration) {
        self.check_every_ms.store(millis(every), Ordering::SeqCst);
        self.next_check_ms.store(0, Ordering::SeqCst);
        self.check_always_until_ms.store(0, Ordering::SeqCst);
    }

    /// Tests: how many times the generation moved.
    #[cfg(test)]
    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }
}

/// See [`UserCache::change_on_drop`].
pub struct ChangeOnDrop<'a>(&'a UserCache);

impl Drop for ChangeOnDrop<'_> {
    fn drop(&mut self) {
        let cache = self.0;
        cache.changed();
        let until = cache.now_ms().saturating_add(millis(CHECK_ALWAYS_AFTER_A_CHANGE));
        cache.check_always_until_ms.fetch_max(until, Ordering::SeqCst);
    }
}

/// A database transaction that changes a user or a device: the only kind
/// the SQLite store opens for such a change. Its [`UserChange::commit`]
/// holds [`UserCache::change_on_drop`] across the COMMIT, so the change
/// cannot forget to move the generation; dropped uncommitted, it rolls back
/// and moves nothing.
pub struct UserChange<'a> {
    tx: sqlx::Transaction<'static, sqlx::Sqlite>,
    cache: Option<&'a UserCache>,
}

impl<'a> UserChange<'a> {
    pub fn new(tx: sqlx::Transaction<'static, sqlx::Sqlite>, cache: Option<&'a UserCache>) -> Self {
        Self { tx, cache }
    }

    pub async fn commit(self) -> Result<(), sqlx::Error> {
        let _moved = self.cache.map(UserCache::change_on_drop);
        self.tx.commit().await
    }
}

impl std::ops::Deref for UserChange<'_> {
    type Target = sqlx::SqliteConnection;
    fn deref(&self) -> &Self::Target {
        &self.tx
    }
}

impl std::ops::DerefMut for UserChange<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.tx
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::store::StoreError;

    fn found(id: &str, active: i64) -> Found {
        (User::sample(id), DeviceCounts { active, pushable: 0 })
    }

    /// Reads through `cache` with a database that answers `db` and an epoch
    /// of `epoch`; returns what came back and whether the database was read.
    fn read(cache: &UserCache, hint: &str, epoch: i64, db: i64) -> (i64, bool) {
        let asked = Cell::new(false);
        let got = cache
            .get_or_read(
                hint,
                || Ok(epoch),
                || {
                    asked.set(true);
                    Ok(Some(found(hint, db)))
                },
            )
            .unwrap()
            .unwrap();
        (got.1.active, asked.get())
    }

    #[test]
    fn a_hint_is_read_once_until_something_changes() {
        let cache = UserCache::default();
        assert_eq!(read(&cache, "alice", 0, 1), (1, true));
        assert_eq!(read(&cache, "alice", 0, 2), (1, false), "served from memory");
        drop(cache.change_on_drop());
        assert_eq!(read(&cache, "alice", 0, 2), (2, true), "a change drops it");
        assert_eq!(read(&cache, "bob", 0, 5), (5, true), "another hint is its own entry");
    }

    #[test]
    fn a_change_during_the_read_keeps_the_read_from_being_served() {
        let cache = UserCache::default();
        let stale = cache.get_or_read(
            "alice",
            || Ok(0),
            || {
                // Committed while the (older) row was being read.
                drop(cache.change_on_drop());
                Ok(Some(found("alice", 1)))
            },
        );
        assert_eq!(stale.unwrap().unwrap().1.active, 1, "the caller gets what it read");
        assert_eq!(read(&cache, "alice", 0, 0), (0, true), "but it is not served again");
    }

    #[test]
    fn another_processs_change_is_seen_through_the_epoch() {
        let cache = UserCache::default();
        cache.check_epoch_every(Duration::ZERO);
        assert_eq!(read(&cache, "alice", 7, 1), (1, true));
        assert_eq!(read(&cache, "alice", 7, 2), (1, false), "epoch unchanged");
        assert_eq!(read(&cache, "alice", 8, 2), (2, true), "epoch moved");
    }

    #[test]
    fn a_change_committed_after_its_caller_was_dropped_is_seen_through_the_epoch() {
        let cache = UserCache::default();
        cache.check_epoch_every(Duration::from_secs(3600));
        assert_eq!(read(&cache, "alice", 0, 1), (1, true));
        // The caller is dropped mid-COMMIT: the generation moves before the row does.
        drop(cache.change_on_drop());
        assert_eq!(read(&cache, "alice", 0, 1), (1, true), "the old row, read again");
        assert_eq!(read(&cache, "alice", 0, 1), (1, false));
        // The COMMIT lands, and its triggers move the epoch: seen at the next read.
        assert_eq!(read(&cache, "alice", 1, 2), (2, true));
    }

    #[test]
    fn a_read_from_before_a_change_is_not_kept() {
        let cache = UserCache::default();
        assert_eq!(read(&cache, "alice", 0, 2), (2, true));
        let ticket = cache.generation();
        drop(cache.change_on_drop());
        cache.fill("alice", &found("alice", 1), ticket);
        cache.fill("bob", &found("bob", 1), ticket);
        assert!(cache.entries.read().unwrap().get("bob").is_none());
        assert_eq!(read(&cache, "alice", 0, 3), (3, true));
    }

    #[test]
    fn the_epoch_is_read_at_most_once_a_period() {
        let cache = UserCache::default();
        cache.check_epoch_every(Duration::from_secs(3600));
        let reads = Cell::new(0);
        for _ in 0..3 {
            let _ = cache.get_or_read(
                "alice",
                || {
                    reads.set(reads.get() + 1);
                    Ok(0)
                },
                || Ok(None),
            );
        }
        assert_eq!(reads.get(), 1);
    }

    #[test]
    fn errors_and_unknown_hints_keep_nothing() {
        let cache = UserCache::default();
        let busy = || StoreError::Conflict("busy");
        assert!(
            cache
                .get_or_read("alice", || Err(busy()), || Ok(Some(found("alice", 1))))
                .is_err()
        );
        assert!(cache.get_or_read("alice", || Ok(0), || Err(busy())).is_err());
        assert!(cache.get_or_read("nobody", || Ok(0), || Ok(None)).unwrap().is_none());
        assert_eq!(cache.entries.read().unwrap().len(), 0);
        assert_eq!(read(&cache, "alice", 0, 3), (3, true));
    }

    #[test]
    fn the_map_starts_again_when_full() {
        let cache = UserCache::default();
        for i in 0..MAX_ENTRIES {
            cache.fill(&format!("u{i}"), &found("u", 1), 0);
        }
        cache.fill("one more", &found("u", 1), 0);
        assert_eq!(cache.entries.read().unwrap().len(), 1);
    }
}
