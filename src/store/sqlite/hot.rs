//! What the SQLite store keeps in memory to answer hot reads without a
//! database round trip (the client cache, which PostgreSQL shares, is in
//! `store/clients.rs`). Only speed-ups live here: everything can be rebuilt
//! from the database, and a restart loses nothing but warmth (DESIGN.md,
//! Storage).
//!
//! - **pending polls**: a pending transaction by its
//!   `auth_req_id` digest, for the token endpoint. Every status change goes
//!   through this process's store (SQLite serves one instance; the CLI never
//!   changes a request), which invalidates the entry; [`PENDING_TTL`] bounds a
//!   second process on the same file. Only `pending` is ever cached, so a
//!   stale entry can only say `authorization_pending`, never issue a token.
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

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use super::rate_windows::RateWindows;
use super::user_cache::UserCache;
use crate::domain::transaction::{Status, Transaction};

/// How long (clock seconds) a cached pending transaction is trusted without
/// an invalidation; longer than any sane poll interval, or it never hits.
pub const PENDING_TTL: i64 = 30;
const SHARDS: usize = 16;
/// Invalidation granularity: deciding one request makes 1/EPOCHS of the
/// cached entries re-read once.
const EPOCHS: usize = 4096;
pub(super) const PRUNE_EVERY: usize = 1024;

fn hash_of(key: &str) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    h.finish() as usize
}

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

    /// A transaction's status (or what a poll shows of it) changed.
    pub fn transaction_changed(&self, id: &str) {
        if let Some(p) = &self.pending {
            p.invalidate(id);
        }
    }

    /// Many transactions may have changed (a user's requests at once).
    pub fn transactions_changed(&self) {
        if let Some(p) = &self.pending {
            p.invalidate_all();
        }
    }

    /// Invalidates when dropped: take it before a COMMIT that changes a
    /// transaction's status. If the caller's future is dropped while the
    /// COMMIT is under way (a client hanging up), SQLite's thread still
    /// commits, and the guard still invalidates; after a rollback an extra
    /// invalidation costs one re-read.
    pub fn invalidate_on_drop<'a>(&'a self, id: Option<&'a str>) -> InvalidateOnDrop<'a> {
        InvalidateOnDrop { hot: self, id }
    }
}

/// See [`Hot::invalidate_on_drop`]; `id: None` invalidates every entry.
pub struct InvalidateOnDrop<'a> {
    hot: &'a Hot,
    id: Option<&'a str>,
}

impl Drop for InvalidateOnDrop<'_> {
    fn drop(&mut self) {
        match self.id {
            Some(id) => self.hot.transaction_changed(id),
            None => self.hot.transactions_changed(),
        }
    }
}

/// Pending transactions by `auth_req_id` digest. An entry is valid while no
/// invalidation touched its epoch slot after the read that filled it.
pub struct PendingCache {
    shards: Vec<Mutex<PendingShard>>,
    /// Bumped by every invalidation; a fill remembers it from before its read.
    seq: AtomicU64,
    /// Per slot (hash of the transaction id): the seq of its last invalidation.
    epochs: Vec<AtomicU64>,
    /// The seq of the last invalidation of everything.
    floor: AtomicU64,
}

#[derive(Default)]
struct PendingShard {
    map: HashMap<String, PendingEntry>,
    inserted: usize,
}

struct PendingEntry {
    txn: Arc<Transaction>,
    filled_at_seq: u64,
    until: i64,
}

/// Taken before the database read whose result may be cached.
#[derive(Debug, Clone, Copy)]
pub struct FillTicket(u64);

impl Default for PendingCache {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            seq: AtomicU64::new(0),
            epochs: (0..EPOCHS).map(|_| AtomicU64::new(0)).collect(),
            floor: AtomicU64::new(0),
        }
    }
}

impl PendingCache {
    fn shard(&self, digest: &str) -> &Mutex<PendingShard> {
        &self.shards[hash_of(digest) % SHARDS]
    }

    fn epoch(&self, txn_id: &str) -> &AtomicU64 {
        &self.epochs[hash_of(txn_id) % EPOCHS]
    }

    fn still_valid(&self, entry: &PendingEntry, now: i64) -> bool {
        let changed = self
            .epoch(&entry.txn.id)
            .load(Ordering::SeqCst)
            .max(self.floor.load(Ordering::SeqCst));
        now < entry.until && changed <= entry.filled_at_seq
    }

    pub fn get(&self, digest: &str, now: i64) -> Option<Arc<Transaction>> {
        let shard = self.shard(digest).lock().ok()?;
        let entry = shard.map.get(digest)?;
        self.still_valid(entry, now).then(|| entry.txn.clone())
    }

    pub fn ticket(&self) -> FillTicket {
        FillTicket(self.seq.load(Ordering::SeqCst))
    }

    /// Keeps `txn` if it is pending; `ticket` was taken before reading it.
    pub fn fill(&self, digest: &str, txn: &Arc<Transaction>, ticket: FillTicket, now: i64) {
        if txn.status != Status::Pending {
            return;
        }
        let entry = PendingEntry {
            txn: txn.clone(),
            filled_at_seq: ticket.0,
            until: now + PENDING_TTL,
        };
        if !self.still_valid(&entry, now) {
            return;
        }
        let Ok(mut shard) = self.shard(digest).lock() else {
            return;
        };
        shard.inserted += 1;
        if shard.inserted >= PRUNE_EVERY {
            shard.inserted = 0;
            shard.map.retain(|_, e| now < e.until && now < e.txn.expires_at);
        }
        shard.map.insert(digest.to_owned(), entry);
    }

    fn invalidate(&self, txn_id: &str) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        self.epoch(txn_id).fetch_max(seq, Ordering::SeqCst);
    }

    fn invalidate_all(&self) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        self.floor.fetch_max(seq, Ordering::SeqCst);
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;

    pub(in crate::store) fn pending(id: &str) -> Arc<Transaction> {
        Arc::new(Transaction {
            id: id.into(),
            ..crate::domain::transaction::sample(Status::Pending)
        })
    }

    #[test]
    fn a_pending_entry_is_served_until_its_transaction_changes() {
        let cache = PendingCache::default();
        let ticket = cache.ticket();
        cache.fill("d", &pending("t1"), ticket, 100);
        assert!(cache.get("d", 101).is_some());
        cache.invalidate("t1");
        assert!(cache.get("d", 101).is_none());
    }

    #[test]
    fn a_read_that_raced_an_invalidation_is_not_kept() {
        let cache = PendingCache::default();
        let ticket = cache.ticket();
        cache.invalidate("t1");
        cache.fill("d", &pending("t1"), ticket, 100);
        assert!(cache.get("d", 100).is_none());
    }

    #[test]
    fn entries_expire_and_only_pending_is_kept() {
        let cache = PendingCache::default();
        cache.fill("d", &pending("t1"), cache.ticket(), 100);
        assert!(cache.get("d", 100 + PENDING_TTL).is_none());
        let mut approved = (*pending("t2")).clone();
        approved.status = Status::Approved;
        cache.fill("e", &Arc::new(approved), cache.ticket(), 100);
        assert!(cache.get("e", 100).is_none());
        cache.fill("f", &pending("t3"), cache.ticket(), 100);
        cache.invalidate_all();
        assert!(cache.get("f", 100).is_none());
    }

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
