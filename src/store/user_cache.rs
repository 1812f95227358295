//! Users with the counts of their devices, by the hint that found them, in
//! memory (SQLite only, part of [`super::hot::Hot`]): every backchannel
//! request reads one.
//!
//! Why: a SQLite connection drops its page cache whenever another connection
//! has committed, and the group-commit writer commits thousands of times a
//! second, so each read of a user walked its B-tree pages again through
//! system calls: 18 % of the request threads' samples in the backchannel
//! bench (`bench/README.md`).
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
//!
//! Users and devices change seldom next to how often they are read, so one
//! generation for all (a change re-reads everyone once) costs little.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::{Duration, Instant};

use super::{DeviceCounts, StoreResult};
use crate::domain::user::User;

/// How long a change another process committed may go unseen.
pub const EPOCH_CHECK_EVERY: Duration = Duration::from_millis(100);
/// Beyond this many hints the map starts again empty (~300 bytes each).
const MAX_ENTRIES: usize = 50_000;

/// What a hint found.
pub type Found = (User, DeviceCounts);

pub struct UserCache {
    generation: AtomicU64,
    entries: RwLock<HashMap<String, Entry>>,
    epoch: Mutex<EpochCheck>,
}

struct Entry {
    found: Found,
    generation: u64,
}

/// The last `user_epoch.n` read, and when.
struct EpochCheck {
    seen: Option<i64>,
    at: Option<Instant>,
    every: Duration,
}

impl Default for UserCache {
    fn default() -> Self {
        Self {
            generation: AtomicU64::new(0),
            entries: RwLock::default(),
            epoch: Mutex::new(EpochCheck {
                seen: None,
                at: None,
                every: EPOCH_CHECK_EVERY,
            }),
        }
    }
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
        if self.epoch_check_due() {
            self.saw_epoch(epoch()?);
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
    /// a user or a device. A caller whose future is dropped mid-COMMIT (a
    /// client hanging up) still moves it; if the COMMIT then lands later, the
    /// epoch check catches what was read in between.
    pub fn change_on_drop(&self) -> ChangeOnDrop<'_> {
        ChangeOnDrop(self)
    }

    fn changed(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    fn epoch_check_due(&self) -> bool {
        let Ok(check) = self.epoch.lock() else { return true };
        check.at.is_none_or(|at| at.elapsed() >= check.every)
    }

    /// A reading of `user_epoch.n`: another process changed something if it
    /// moved (the first reading after a start moves nothing: memory is empty).
    fn saw_epoch(&self, n: i64) {
        let Ok(mut check) = self.epoch.lock() else {
            self.changed();
            return;
        };
        if check.seen.is_some_and(|seen| seen != n) {
            self.changed();
        }
        check.seen = Some(n);
        check.at = Some(Instant::now());
    }

    fn get(&self, hint: &str, ticket: u64) -> Option<Found> {
        let entries = self.entries.read().ok()?;
        let entry = entries.get(hint).filter(|e| e.generation == ticket)?;
        Some(entry.found.clone())
    }

    fn fill(&self, hint: &str, found: &Found, ticket: u64) {
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

    /// Tests: check the epoch at another period (zero: before every read).
    #[cfg(test)]
    pub fn check_epoch_every(&self, every: Duration) {
        if let Ok(mut check) = self.epoch.lock() {
            check.every = every;
        }
    }
}

/// See [`UserCache::change_on_drop`].
pub struct ChangeOnDrop<'a>(&'a UserCache);

impl Drop for ChangeOnDrop<'_> {
    fn drop(&mut self) {
        self.0.changed();
    }
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;
    use crate::domain::user::UserStatus;
    use crate::store::StoreError;

    fn found(id: &str, active: i64) -> Found {
        let user = User {
            id: id.into(),
            email: None,
            phone: None,
            status: UserStatus::Active,
            failed_attempts: 0,
            user_code_hash: None,
            static_password_hash: None,
            created_at: 0,
        };
        (user, DeviceCounts { active, pushable: 0 })
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
    fn the_epoch_is_read_at_most_once_a_period() {
        let cache = UserCache::default();
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
