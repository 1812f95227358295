//! The console dashboard's transaction counts, and what `/metrics` reads
//! from the database, kept a few seconds. Each reads every request of the
//! last hour or day, and every open dashboard (or scraper, or anyone
//! hammering the unauthenticated `/metrics`) asks again and again: one
//! reading serves them all, so watching costs the backchannel next to nothing.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::engine::AppState;
use crate::store::StoreError;
use crate::store::console::{Health, TransactionCounts, TransactionMix};

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

/// The last hour's transactions by context, delivery and phase, and what
/// needs an eye, and when they were read.
#[derive(Default)]
pub struct ScrapeCache(Mutex<Option<(Instant, Scraped)>>);

#[derive(Debug, Clone, Default)]
pub struct Scraped {
    pub hour: Vec<TransactionMix>,
    pub health: Health,
}

/// What `/metrics` shows from the database, at most [`COUNTS_TTL`] old.
pub async fn scraped(state: &AppState) -> Result<Scraped, StoreError> {
    let kept = state.scraped.0.lock().ok().and_then(|c| c.clone());
    if let Some((at, scraped)) = kept
        && at.elapsed() < COUNTS_TTL
    {
        return Ok(scraped);
    }
    let now = state.clock.now();
    let scraped = Scraped {
        hour: state.store.transaction_mix(now - 3600, now).await?,
        health: state.store.health(now - 86_400).await?,
    };
    if let Ok(mut kept) = state.scraped.0.lock() {
        *kept = Some((Instant::now(), scraped.clone()));
    }
    Ok(scraped)
}
