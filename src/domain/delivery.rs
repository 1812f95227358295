//! What is owed to whom: notifications to relying parties (the outbox, CIBA
//! Core §10.2 and §10.3) and pushes to devices, and how each attempt ended.
//! Times in ms.

use super::ids::{DeviceId, TransactionId};
use super::push::{PushChannel, PushState};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryKind {
    Ping,
    Push,
}

impl DeliveryKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryKind::Ping => "ping",
            DeliveryKind::Push => "push",
        }
    }
}

impl std::str::FromStr for DeliveryKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "ping" => Ok(DeliveryKind::Ping),
            "push" => Ok(DeliveryKind::Push),
            other => Err(format!("unknown delivery kind `{other}`")),
        }
    }
}

/// A notification owed to a relying party (outbox row). Times in ms.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: String,
    pub transaction_id: TransactionId,
    pub kind: DeliveryKind,
    pub target: String,
    /// The client's `client_notification_token`, sent back as Bearer.
    pub bearer: String,
    /// The JSON body to POST.
    pub payload: String,
    pub attempts: i64,
    pub give_up_at: i64,
}

/// How a delivery attempt ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryOutcome {
    Done,
    /// Never to be retried (4xx, redirect, or out of time).
    Failed(String),
    /// Try again at this time (ms).
    Retry {
        at: i64,
        error: String,
    },
}

/// A device push the worker leased: send it, then record the outcome.
#[derive(Debug, Clone)]
pub struct DevicePush {
    pub transaction_id: TransactionId,
    pub device_id: DeviceId,
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
    pub device_id: DeviceId,
    pub state: PushState,
    pub channel: Option<PushChannel>,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub created_at: i64,
    pub finished_at: Option<i64>,
}
