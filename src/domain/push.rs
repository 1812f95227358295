//! Push to devices: the channel a device is reached by, the address it
//! gave for it, and which of a user's devices a request is pushed to
//! (seed 004: "all devices or a preferred device").

use serde::{Deserialize, Serialize};

use super::str_enum::str_enum;

/// How a device is woken besides its inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushChannel {
    /// The customer's own notification service (the client's push relay).
    Webhook,
    /// Firebase Cloud Messaging, HTTP v1 API.
    Fcm,
    /// Apple Push Notification service.
    Apns,
}

impl PushChannel {
    pub fn as_str(self) -> &'static str {
        match self {
            PushChannel::Webhook => "webhook",
            PushChannel::Fcm => "fcm",
            PushChannel::Apns => "apns",
        }
    }
}

str_enum!(
    PushChannel,
    "push channel",
    [PushChannel::Webhook, PushChannel::Fcm, PushChannel::Apns]
);

/// The longest address any channel takes (FCM tokens run to ~200
/// characters today; relays may use longer opaque ids).
pub const MAX_ADDRESS: usize = 4096;

/// A device's address on its channel, checked for that channel's syntax.
#[derive(Clone, PartialEq, Eq)]
pub struct PushAddress(String);

impl std::fmt::Debug for PushAddress {
    // A push address lets anyone holding it wake the device: never in a log.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PushAddress(..)")
    }
}

impl PushAddress {
    /// Webhook: any visible ASCII (the relay's own device id). FCM: the
    /// registration token alphabet. APNs: the hexadecimal device token.
    pub fn parse(channel: PushChannel, raw: &str) -> Result<Self, String> {
        if raw.is_empty() || raw.len() > MAX_ADDRESS {
            return Err(format!("token must be 1 to {MAX_ADDRESS} characters"));
        }
        let ok = match channel {
            PushChannel::Webhook => raw.bytes().all(|b| b.is_ascii_graphic()),
            PushChannel::Fcm => raw.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_:.".contains(&b)),
            PushChannel::Apns => raw.len().is_multiple_of(2) && raw.bytes().all(|b| b.is_ascii_hexdigit()),
        };
        if !ok {
            return Err(match channel {
                PushChannel::Webhook => "a webhook token must be visible ASCII without spaces".into(),
                PushChannel::Fcm => "an FCM registration token holds only letters, digits and -_:.".into(),
                PushChannel::Apns => "an APNs device token is hexadecimal (an even number of digits)".into(),
            });
        }
        Ok(Self(raw.to_owned()))
    }

    /// A stored address (checked when it was set).
    pub fn stored(raw: String) -> Self {
        Self(raw)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Which of the user's active devices a request is pushed to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeviceRouting {
    /// Every active device with a push channel.
    #[default]
    All,
    /// The user's preferred device; all of them when none is preferred.
    Preferred,
}

impl DeviceRouting {
    pub fn as_str(self) -> &'static str {
        match self {
            DeviceRouting::All => "all",
            DeviceRouting::Preferred => "preferred",
        }
    }
}

str_enum!(
    DeviceRouting,
    "device routing",
    [DeviceRouting::All, DeviceRouting::Preferred]
);

/// How one push attempt to a device ended, as recorded per transaction.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushState {
    Pending,
    Sent,
    Failed,
    /// The transaction was decided or expired, or the device can no longer
    /// be reached, before the push went out.
    Withdrawn,
}

impl PushState {
    pub fn as_str(self) -> &'static str {
        match self {
            PushState::Pending => "pending",
            PushState::Sent => "sent",
            PushState::Failed => "failed",
            PushState::Withdrawn => "withdrawn",
        }
    }
}

str_enum!(
    PushState,
    "push state",
    [
        PushState::Pending,
        PushState::Sent,
        PushState::Failed,
        PushState::Withdrawn
    ]
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_follow_their_channel_syntax() {
        let cases = [
            (PushChannel::Webhook, "relay-device-42", true, "visible ASCII"),
            (PushChannel::Webhook, "has space", false, "space"),
            (PushChannel::Webhook, "", false, "empty"),
            (PushChannel::Fcm, "dQw4w9WgXcQ:APA91bH-x_y", true, "FCM alphabet"),
            (PushChannel::Fcm, "bad/token", false, "slash"),
            (PushChannel::Apns, "a1b2c3d4e5f6", true, "hex"),
            (PushChannel::Apns, "abc", false, "odd length"),
            (PushChannel::Apns, "zz", false, "not hex"),
        ];
        for (channel, raw, ok, why) in cases {
            assert_eq!(PushAddress::parse(channel, raw).is_ok(), ok, "{why}");
        }
        assert!(PushAddress::parse(PushChannel::Webhook, &"a".repeat(MAX_ADDRESS + 1)).is_err());
    }

    #[test]
    fn a_push_address_is_redacted_in_debug_output() {
        let address = PushAddress::parse(PushChannel::Fcm, "fGcM-secret-token").unwrap();
        assert_eq!(format!("{address:?}"), "PushAddress(..)");
    }

    #[test]
    fn routing_names_round_trip() {
        for r in [DeviceRouting::All, DeviceRouting::Preferred] {
            assert_eq!(r.as_str().parse::<DeviceRouting>(), Ok(r));
        }
        assert!("some".parse::<DeviceRouting>().is_err());
    }
}
