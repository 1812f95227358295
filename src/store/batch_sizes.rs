//! How many rows each of SQLite's group commits carried, counted by the
//! writer thread with atomics and read at `/metrics`: one commit holds every
//! backchannel request that waited while the one before was syncing.

use std::sync::atomic::{AtomicU64, Ordering};

/// Upper bounds of the buckets; the group commit takes at most 256 rows.
pub const BOUNDS: [u64; 9] = [1, 2, 4, 8, 16, 32, 64, 128, 256];

#[derive(Debug, Default)]
pub struct BatchSizes {
    commits: [AtomicU64; BOUNDS.len()],
    rows: AtomicU64,
}

/// Commits per bucket (not cumulative) and the rows of them all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counted {
    pub commits: [u64; BOUNDS.len()],
    pub rows: u64,
}

impl BatchSizes {
    pub fn record(&self, rows: usize) {
        let rows = u64::try_from(rows).unwrap_or(u64::MAX);
        let slot = BOUNDS.iter().position(|b| rows <= *b).unwrap_or(BOUNDS.len() - 1);
        self.commits[slot].fetch_add(1, Ordering::Relaxed);
        self.rows.fetch_add(rows, Ordering::Relaxed);
    }

    pub fn counted(&self) -> Counted {
        Counted {
            commits: std::array::from_fn(|i| self.commits[i].load(Ordering::Relaxed)),
            rows: self.rows.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_commit_lands_in_the_first_bucket_that_holds_it() {
        let sizes = BatchSizes::default();
        for rows in [1, 3, 4, 200, 256] {
            sizes.record(rows);
        }
        let counted = sizes.counted();
        assert_eq!(counted.commits, [1, 0, 2, 0, 0, 0, 0, 0, 2]);
        assert_eq!(counted.rows, 464);
    }
}
