//! The console dashboard's transaction counts, kept a few seconds. Each
//! count reads every request of the last hour or day, and every open
//! dashboard asks every few seconds: one reading serves them all, so an
//! operator watching costs the backchannel next to nothing.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::engine::AppState;
use crate::store::StoreError;
use crate::store::console::TransactionCounts;

/// How long one reading of the counts is shown.
pub const COUNTS_TTL: Duration = Duration::from_secs(10);

/// The last hour's and the last day's counts, and when they were read.
#[derive(Default)]
pub struct CountsCache(Mutex<Option<(Instant, Counts)>>);

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub hour: TransactionCounts,
    pub day: TransactionCounts,
}

/// The counts at most [`COUNTS_TTL`] old.
pub async fn counts(state: &AppState) -> Result<Counts, StoreError> {
    let kept = state.dashboard.0.lock().ok().and_then(|c| *c);
    if let Some((at, counts)) = kept
        && at.elapsed() < COUNTS_TTL
    {
        return Ok(counts);
    }
    let now = state.clock.now();
    let counts = Counts {
        hour: state.store.transaction_counts(now - 3600, now).await?,
        day: state.store.transaction_counts(now - 86_400, now).await?,
    };
    if let Ok(mut kept) = state.dashboard.0.lock() {
        *kept = Some((Instant::now(), counts));
    }
    Ok(counts)
}
