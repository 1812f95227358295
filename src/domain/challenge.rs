//! Device challenges: a nonce a device signs to decide one transaction.

/// A single-use challenge handed to one device for one transaction.
#[derive(Debug, Clone)]
pub struct Challenge {
    pub nonce: String,
    pub transaction_id: String,
    pub device_id: String,
    pub expires_at: i64,
    pub used_at: Option<i64>,
}
