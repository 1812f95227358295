//! The CIBA transaction and its state machine:
//! `Pending → Approved | Denied`, `Approved → Consumed` once tokens are issued.
//! `Expired` is not stored: a pending transaction past `expires_at` is expired,
//! so no writer has to race the clock.

use super::binding_message::ActionContext;
use super::ids::{ClientId, DeviceId, TransactionId, UserId};
use super::str_enum::str_enum;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Approved,
    Denied,
    Consumed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Approved => "approved",
            Status::Denied => "denied",
            Status::Consumed => "consumed",
        }
    }
}

str_enum!(
    Status,
    "transaction status",
    [Status::Pending, Status::Approved, Status::Denied, Status::Consumed]
);

/// What a device decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Approve,
    Deny,
}

impl Decision {
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Approve => "approve",
            Decision::Deny => "deny",
        }
    }

    /// The status a pending transaction moves to.
    pub fn outcome(self) -> Status {
        match self {
            Decision::Approve => Status::Approved,
            Decision::Deny => Status::Denied,
        }
    }
}

str_enum!(Decision, "decision", [Decision::Approve, Decision::Deny]);

/// Where a transaction stands at a given instant, time included.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    Pending,
    Expired,
    Approved,
    Denied,
    Consumed,
}

#[derive(Debug, Clone)]
pub struct Transaction {
    /// Public id shown to the device and reported as `trustid.transaction_id`.
    pub id: TransactionId,
    /// SHA-256 of the `auth_req_id` handed to the client.
    pub auth_req_digest: String,
    pub client_id: ClientId,
    pub user_id: UserId,
    pub context: ActionContext,
    pub app_id: Option<String>,
    /// The text the device shows (and signs the hash of).
    pub display_text: String,
    pub scope: String,
    /// The `acr` granted, when the client asked for one trustid supports.
    pub acr: Option<String>,
    pub status: Status,
    pub created_at: i64,
    pub expires_at: i64,
    pub decided_at: Option<i64>,
    /// Seconds the client must wait between polls.
    pub interval: i64,
    /// The device whose signature decided it.
    pub device_id: Option<DeviceId>,
    pub failed_attempts: i64,
    pub failed_device_id: Option<DeviceId>,
    /// What a ping or push must carry back to the client (CIBA §10.2, §10.3):
    /// kept only for clients that are notified.
    pub notify: Option<Notify>,
    /// Provisioning: the status the user takes when the request is approved
    /// (applied then, so a request alone cannot lock anyone).
    pub user_status: Option<crate::domain::user::UserStatus>,
    /// Number matching (push-fatigue defence): the number the relying party
    /// shows the user, who must type it on the device.
    pub match_number: Option<String>,
}

/// The values a notification carries back to the client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notify {
    pub auth_req_id: String,
    pub client_notification_token: String,
    /// Ping (tell the client to come and get its tokens) or push (send them).
    pub push: bool,
}

impl Transaction {
    pub fn phase(&self, now: i64) -> Phase {
        match self.status {
            Status::Pending if now >= self.expires_at => Phase::Expired,
            Status::Pending => Phase::Pending,
            // An approval not redeemed in time is as dead as a pending one.
            Status::Approved if now >= self.expires_at => Phase::Expired,
            Status::Approved => Phase::Approved,
            Status::Denied => Phase::Denied,
            Status::Consumed => Phase::Consumed,
        }
    }

    /// Whether `decision` may be applied now.
    pub fn can_decide(&self, now: i64) -> Result<(), Phase> {
        match self.phase(now) {
            Phase::Pending => Ok(()),
            other => Err(other),
        }
    }
}

/// A transaction with fixed values, for unit tests here and in the store.
#[cfg(test)]
pub fn sample(status: Status) -> Transaction {
    Transaction {
        id: "t".into(),
        auth_req_digest: "d".into(),
        client_id: "c".into(),
        user_id: "u".into(),
        context: ActionContext::Authentication,
        app_id: None,
        display_text: "hi".into(),
        scope: "openid".into(),
        acr: None,
        status,
        created_at: 100,
        expires_at: 400,
        decided_at: None,
        interval: 5,
        device_id: None,
        failed_attempts: 0,
        failed_device_id: None,
        notify: None,
        user_status: None,
        match_number: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn txn(status: Status) -> Transaction {
        sample(status)
    }

    #[test]
    fn pending_expires_at_expires_at_exactly() {
        assert_eq!(txn(Status::Pending).phase(399), Phase::Pending);
        assert_eq!(txn(Status::Pending).phase(400), Phase::Expired);
    }

    #[test]
    fn only_pending_unexpired_transactions_can_be_decided() {
        assert!(txn(Status::Pending).can_decide(200).is_ok());
        assert_eq!(txn(Status::Pending).can_decide(400), Err(Phase::Expired));
        assert_eq!(txn(Status::Approved).can_decide(200), Err(Phase::Approved));
        assert_eq!(txn(Status::Denied).can_decide(200), Err(Phase::Denied));
        assert_eq!(txn(Status::Consumed).can_decide(200), Err(Phase::Consumed));
    }

    #[test]
    fn decisions_map_to_outcomes() {
        assert_eq!(Decision::Approve.outcome(), Status::Approved);
        assert_eq!(Decision::Deny.outcome(), Status::Denied);
        assert_eq!("deny".parse::<Decision>(), Ok(Decision::Deny));
        assert!("maybe".parse::<Decision>().is_err());
    }
}
