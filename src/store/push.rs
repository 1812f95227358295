//! Rows of push to devices (issue 5): what is owed to which device about
//! which transaction, and how each attempt went. Times in ms.

use crate::domain::push::{PushChannel, PushState};

/// A device push the worker leased: send it, then record the outcome.
#[derive(Debug, Clone)]
pub struct DevicePush {
    pub transaction_id: String,
    pub device_id: String,
    /// Attempts so far, this one included.
    pub attempts: i64,
    pub give_up_at: i64,
    /// This worker's lease (`claimed_until`, ms): its writes apply only while
    /// the row still carries it, so a worker whose lease ran out and was
    /// taken over cannot overwrite the next one's outcome.
    pub lease_until: i64,
}

/// How one attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushOutcome {
    Sent(PushChannel),
    /// Never to be retried (refused by the channel, or out of time).
    Failed(PushChannel, String),
    Retry {
        channel: PushChannel,
        at: i64,
        error: String,
    },
    /// Not sent: the transaction is no longer pending, or the device has no
    /// channel or is no longer active.
    Withdrawn(String),
}

/// A device push as the management API shows it.
#[derive(Debug, Clone)]
pub struct PushRecord {
    pub device_id: String,
    pub state: PushState,
    pub channel: Option<PushChannel>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}
