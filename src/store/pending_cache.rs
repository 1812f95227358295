//! Pending transactions by `auth_req_id` digest, for the token endpoint:
//! a poll of a cached pending request costs no database round trip. Only
//! `pending` is ever cached, so a stale entry can only say
//! `authorization_pending`, never issue a token; [`PENDING_TTL`] bounds any
//! staleness. Every status change invalidates the entry: on SQLite through
//! this process's store (one instance owns the file); on PostgreSQL also
//! through a trigger's NOTIFY from whichever instance changed it
//! (`store/postgres.rs`), the cache serving only while it listens.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use crate::domain::transaction::{Status, Transaction};

/// How long (clock seconds) a cached pending transaction is trusted without
/// an invalidation; longer than any sane poll interval, or it never hits.
pub const PENDING_TTL: i64 = 30;
const SHARDS: usize = 16;
/// Invalidation granularity: deciding one request makes 1/EPOCHS of the
/// cached entries re-read once.
const EPOCHS: usize = 4096;
/// In-memory maps drop their dead entries every this many inserts.
pub(crate) const PRUNE_EVERY: usize = 1024;

fn hash_of(key: &str) -> usize {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    key.hash(&mut h);
    h.finish() as usize
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

    pub fn invalidate(&self, txn_id: &str) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        self.epoch(txn_id).fetch_max(seq, Ordering::SeqCst);
    }

    pub fn invalidate_all(&self) {
        let seq = self.seq.fetch_add(1, Ordering::SeqCst) + 1;
        self.floor.fetch_max(seq, Ordering::SeqCst);
    }
}

/// Invalidates when dropped: take it before a COMMIT that changes a
/// transaction's status (`id: None` invalidates every entry). If the
/// caller's future is dropped while the COMMIT is under way (a client
/// hanging up), the database still commits, and the guard still
/// invalidates; after a rollback an extra invalidation costs one re-read.
pub struct InvalidateOnDrop<'a> {
    cache: Option<&'a PendingCache>,
    id: Option<&'a str>,
}

impl<'a> InvalidateOnDrop<'a> {
    pub fn new(cache: Option<&'a PendingCache>, id: Option<&'a str>) -> Self {
        Self { cache, id }
    }
}

impl Drop for InvalidateOnDrop<'_> {
    fn drop(&mut self) {
        match (self.cache, self.id) {
            (Some(cache), Some(id)) => cache.invalidate(id),
            (Some(cache), None) => cache.invalidate_all(),
            (None, _) => {}
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
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
}
