//! What rules are evaluated against: read by the engine once per
//! evaluation (velocity counts only for the windows the rules name).

use serde_json::Value;

use super::Per;
use crate::domain::user::UserStatus;

/// The facts of one evaluation.
#[derive(Debug, Clone)]
pub struct Facts {
    /// The action's name (`ciba` for a backchannel request).
    pub action: String,
    /// The relying party's custom data (an object, or null).
    pub custom_data: Value,
    pub user_status: UserStatus,
    /// The user's active devices.
    pub device_count: i64,
    /// Seconds since the newest active device was bound; `None` without one.
    pub newest_device_age: Option<i64>,
    pub failed_attempts: i64,
    /// Earlier evaluations per (whom, window seconds).
    pub velocities: Vec<Velocity>,
    /// The request carried a fingerprint this user's evaluations never did.
    pub new_fingerprint: bool,
    /// The request came from an address this user's evaluations never did.
    pub new_address: bool,
    /// Minutes since midnight, UTC.
    pub minute_of_day: u32,
}

/// Evaluations counted for one velocity condition.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Velocity {
    pub per: Per,
    pub window: i64,
    pub count: i64,
}

impl Facts {
    /// The count for `(per, window)`, when it was read.
    pub fn velocity(&self, per: Per, window: i64) -> Option<i64> {
        self.velocities
            .iter()
            .find(|v| v.per == per && v.window == window)
            .map(|v| v.count)
    }
}
