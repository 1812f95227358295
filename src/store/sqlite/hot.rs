//! What the SQLite store keeps in memory to answer hot reads without a
//! database round trip (the client cache, which PostgreSQL shares, is in
//! `store/clients.rs`). Only speed-ups live here: everything can be rebuilt
//! from the database, and a restart loses nothing but warmth (DESIGN.md,
//! Storage).
//!
//! - **pending polls** (`store/pending_cache.rs`): every status change goes
//!   through this process's store (SQLite serves one instance; the CLI never
//!   changes a request), which invalidates the entry; its TTL bounds a
//!   second process on the same file.
//! - **rate windows**: per-user and per-client counts of
//!   requests per second over the last minute, so the caps cost no scan.
//! - **users**: a user with their device counts by the hint
//!   that found them, for the backchannel endpoint (`user_cache.rs`, which
//!   says how other processes' changes reach it).
//!
//! SQLite's index of requests by user lives in memory too, beside this. It is
//! read from the file as well (loaded at its first use after a start, then
//! brought up to date by rowid before each use), but it is not a speed-up:
//! the reads by user depend on it (`user_requests.rs`).

use super::rate_windows::RateWindows;
use super::user_cache::UserCache;
use crate::store::pending_cache::{InvalidateOnDrop, PendingCache};

/// The SQLite store's memory (one instance owns the file, so all of it can
/// be kept).
pub struct Hot {
    pending: Option<PendingCache>,
    windows: RateWindows,
    users: Option<UserCache>,
}

impl Hot {
    /// One process owns the database (SQLite): everything can be cached.
    pub fn single_instance() -> Self {
        Self {
            pending: Some(PendingCache::default()),
            windows: RateWindows::default(),
            users: Some(UserCache::default()),
        }
    }

    pub fn pending(&self) -> Option<&PendingCache> {
        self.pending.as_ref()
    }

    pub fn windows(&self) -> &RateWindows {
        &self.windows
    }

    pub fn users(&self) -> Option<&UserCache> {
        self.users.as_ref()
    }

    /// Take it before a COMMIT that changes a user or a device (`None` where
    /// users are not kept).
    pub fn users_change_on_drop(&self) -> Option<super::user_cache::ChangeOnDrop<'_>> {
        self.users.as_ref().map(UserCache::change_on_drop)
    }

    /// See [`InvalidateOnDrop`]: take it before a COMMIT that changes a
    /// transaction's status.
    pub fn invalidate_on_drop<'a>(&'a self, id: Option<&'a str>) -> InvalidateOnDrop<'a> {
        InvalidateOnDrop::new(self.pending.as_ref(), id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::pending_cache::tests::pending;

    #[test]
    fn the_invalidation_guard_invalidates_when_dropped_however_its_scope_ends() {
        let hot = Hot::single_instance();
        let cache = hot.pending().unwrap();
        cache.fill("d", &pending("t1"), cache.ticket(), 100);
        cache.fill("e", &pending("t2"), cache.ticket(), 100);
        let mut cancelled = Box::pin(async {
            let _guard = hot.invalidate_on_drop(Some("t1"));
            std::future::pending::<()>().await;
        });
        let waker = std::task::Waker::noop();
        // Started, then dropped mid-way, as when a client hangs up during the COMMIT.
        assert!(std::future::Future::poll(cancelled.as_mut(), &mut std::task::Context::from_waker(waker)).is_pending());
        assert!(cache.get("d", 100).is_some(), "not before the guard is dropped");
        drop(cancelled);
        assert!(
            cache.get("d", 100).is_none(),
            "invalidated by the drop of a started future"
        );
        drop(hot.invalidate_on_drop(None));
        assert!(cache.get("e", 100).is_none(), "None invalidates every entry");
    }
}
