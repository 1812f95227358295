//! Device challenges: a nonce a device signs to decide one transaction.

use super::ids::{DeviceId, TransactionId};

/// A single-use challenge handed to one device for one transaction.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub nonce: String,
    pub transaction_id: TransactionId,
    pub device_id: DeviceId,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// When the device fetched it (unknown for challenges stored before
    /// trustid kept it).
    pub created_at: Option<i64>,
}
