//! Devices: two P-256 public keys and the user they are bound to.

use super::ids::{DeviceId, UserId};
use super::push::{PushAddress, PushChannel};
use super::str_enum::str_enum;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeviceStatus {
    /// Registered its keys, not yet bound to a user.
    Inactive,
    Active,
    Locked,
    Removed,
}

impl DeviceStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceStatus::Inactive => "inactive",
            DeviceStatus::Active => "active",
            DeviceStatus::Locked => "locked",
            DeviceStatus::Removed => "removed",
        }
    }
}

str_enum!(
    DeviceStatus,
    "device status",
    [
        DeviceStatus::Inactive,
        DeviceStatus::Active,
        DeviceStatus::Locked,
        DeviceStatus::Removed
    ]
);

#[derive(Debug, Clone)]
pub struct Device {
    /// RFC 7638 thumbprint of the device key.
    pub id: DeviceId,
    /// Public JWK (JSON text) that proves the device's requests.
    pub device_key: String,
    /// Public JWK (JSON text) that signs decisions.
    pub auth_key: String,
    pub user_id: Option<UserId>,
    pub status: DeviceStatus,
    pub failed_attempts: i64,
    /// The device to reach first when the user has several.
    pub preferred: bool,
    /// How the device is woken besides its inbox, if it said.
    pub push: Option<(PushChannel, PushAddress)>,
    pub created_at: i64,
    /// Seed 002: its keys need the OS's own prompt on every use, so rules
    /// may not ALLOW its user's actions without a challenge.
    pub user_authentication_required: bool,
}
