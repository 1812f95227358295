//! Enforces the poll `interval` (CIBA §7.3, §11 `slow_down`) without touching
//! the database: the last poll time only speeds things up and may be lost on
//! restart (the client then simply gets one poll for free). Sharded by
//! transaction id, so concurrent polls of different requests rarely wait on
//! one another.

use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::Mutex;

/// Seconds added to the interval after each `slow_down` (RFC 8628 §3.5).
pub const SLOW_DOWN_STEP: i64 = 5;
const PRUNE_EVERY: usize = 4096;
const SHARDS: usize = 16;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    Pending,
    SlowDown,
}

#[derive(Debug, Clone, Copy)]
struct Slot {
    last_ms: i64,
    interval_s: i64,
    expires_at: i64,
}

#[derive(Debug)]
pub struct PollGate {
    shards: Vec<Mutex<Slots>>,
}

impl Default for PollGate {
    fn default() -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
        }
    }
}

#[derive(Debug, Default)]
struct Slots {
    map: HashMap<String, Slot>,
    /// New entries since the last prune: pruning walks the whole map, so it
    /// runs once per `PRUNE_EVERY` inserts, not on every new request.
    inserted: usize,
}

impl PollGate {
    fn shard(&self, txn_id: &str) -> &Mutex<Slots> {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        txn_id.hash(&mut h);
        &self.shards[h.finish() as usize % SHARDS]
    }

    /// Records a poll of a pending transaction and says whether it came too early.
    pub fn check(&self, txn_id: &str, interval_s: i64, expires_at: i64, now_ms: i64) -> Verdict {
        let Ok(mut guard) = self.shard(txn_id).lock() else {
            return Verdict::Pending;
        };
        let state = &mut *guard;
        if state.inserted >= PRUNE_EVERY {
            let now_s = now_ms.div_euclid(1000);
            state.map.retain(|_, s| s.expires_at > now_s);
            state.inserted = 0;
        }
        match state.map.get_mut(txn_id) {
            None => {
                let slot = Slot {
                    last_ms: now_ms,
                    interval_s,
                    expires_at,
                };
                state.map.insert(txn_id.to_owned(), slot);
                state.inserted += 1;
                Verdict::Pending
            }
            Some(slot) if now_ms < slot.last_ms + slot.interval_s * 1000 => {
                slot.interval_s += SLOW_DOWN_STEP;
                slot.last_ms = now_ms;
                Verdict::SlowDown
            }
            Some(slot) => {
                slot.last_ms = now_ms;
                Verdict::Pending
            }
        }
    }

    /// Drops what is kept for a transaction that no longer takes polls.
    pub fn forget(&self, txn_id: &str) {
        if let Ok(mut slots) = self.shard(txn_id).lock() {
            slots.map.remove(txn_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn early_polls_slow_down_and_the_interval_grows() {
        let gate = PollGate::default();
        assert_eq!(gate.check("t", 5, 999, 0), Verdict::Pending);
        assert_eq!(gate.check("t", 5, 999, 4_999), Verdict::SlowDown);
        // Now 10 s are required from the last poll.
        assert_eq!(gate.check("t", 5, 999, 4_999 + 9_000), Verdict::SlowDown);
        assert_eq!(gate.check("t", 5, 999, 13_999 + 15_000), Verdict::Pending);
        assert_eq!(gate.check("other", 5, 999, 13_999), Verdict::Pending);
    }
}
