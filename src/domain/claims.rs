//! The evidence claims of seed 003: one table maps each piece of evidence to
//! its OIDC claim name and its SAML attribute name, so the ID token, userinfo
//! and the SAML export can never disagree. Values are computed from the
//! transaction, the user and the devices; nothing is stored twice.

use serde_json::{Value, json};

use super::transaction::{Status, Transaction};
use super::user::User;

/// How trustid authenticated the user: a decision signed on the bound device.
pub const AUTHENTICATION_METHOD: &str = "device_signature";

/// One row of the seed's claim table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    AuthenticationMethod,
    AuthenticationStatus,
    BindingMessage,
    DeviceId,
    DeviceForFailedAttempt,
    DeviceFailedAttempt,
    TransactionEndTime,
    TransactionId,
    TransactionStartTime,
    TransactionType,
    UserId,
    UserIdForFailedAttempt,
    UserFailedAttempts,
}

/// `(evidence, OIDC claim, SAML attribute)`, in the seed's order. The seed
/// prints `trust.authentication_status` on the method row too; the method
/// claim is `trust.authentication_method`, matching its SAML name.
pub const TABLE: [(Evidence, &str, &str); 13] = [
    (
        Evidence::AuthenticationMethod,
        "trust.authentication_method",
        "TRUST.AUTHENTICATION_METHOD",
    ),
    (
        Evidence::AuthenticationStatus,
        "trust.authentication_status",
        "TRUST.AUTHENTICATION_STATUS",
    ),
    (
        Evidence::BindingMessage,
        "trustid.binding_message",
        "TRUST.BINDING_MESSAGE",
    ),
    (Evidence::DeviceId, "trustid.deviceid", "TRUSTID.DEVICEID"),
    (
        Evidence::DeviceForFailedAttempt,
        "trustid.device_for_failed_attempt",
        "TRUSTID.DEVICEID_FOR_FAILED_ATTEMPT",
    ),
    (
        Evidence::DeviceFailedAttempt,
        "trustid.device_failed_attempt",
        "TRUSTID.DEVICEID_FAILED_ATTEMPT",
    ),
    (
        Evidence::TransactionEndTime,
        "trustid.transaction_end_time",
        "TRUSTID.TRANSACTION_END_TIME",
    ),
    (
        Evidence::TransactionId,
        "trustid.transaction_id",
        "TRUSTID.TRANSACTION_ID",
    ),
    (
        Evidence::TransactionStartTime,
        "trustid.transaction_start_time",
        "TRUSTID.TRANSACTION_START_TIME",
    ),
    (
        Evidence::TransactionType,
        "trustid.transaction_type",
        "TRUSTID.TRANSACTION_TYPE",
    ),
    (Evidence::UserId, "trustid.userid", "TRUSTID.USERID"),
    (
        Evidence::UserIdForFailedAttempt,
        "trustid.userid_for_failed_attempt",
        "TRUSTID.USERID_FOR_FAILED_ATTEMPT",
    ),
    (
        Evidence::UserFailedAttempts,
        "trustid.user_failed_attempts",
        "TRUSTID.USER_FAILED_ATTEMPTS",
    ),
];

impl Evidence {
    pub fn oidc_name(self) -> &'static str {
        Self::row(self).1
    }

    pub fn saml_name(self) -> &'static str {
        Self::row(self).2
    }

    fn row(self) -> &'static (Evidence, &'static str, &'static str) {
        // The table lists every variant once; `evidence_table_covers_every_variant` holds it.
        TABLE.iter().find(|r| r.0 == self).unwrap_or(&TABLE[0])
    }
}

/// Every OIDC claim name of the table, for discovery's `claims_supported`.
pub fn oidc_claim_names() -> impl Iterator<Item = &'static str> {
    TABLE.iter().map(|r| r.1)
}

/// What the evidence is computed from.
pub struct Sources<'a> {
    pub transaction: &'a Transaction,
    /// The scope the claims are released for (a refresh may have narrowed it).
    pub scope: &'a str,
    pub user: &'a User,
}

/// The evidence of one transaction. Absent facts (no failed attempt, no
/// decision yet) are left out rather than sent as empty strings.
pub fn evidence(src: &Sources<'_>) -> Vec<(Evidence, Value)> {
    let t = src.transaction;
    let status = match t.status {
        Status::Approved | Status::Consumed => "approved",
        Status::Denied => "denied",
        Status::Pending => "pending",
    };
    let mut out = vec![
        (Evidence::AuthenticationMethod, json!(AUTHENTICATION_METHOD)),
        (Evidence::AuthenticationStatus, json!(status)),
        (Evidence::BindingMessage, json!(t.display_text)),
    ];
    if let Some(device) = &t.device_id {
        out.push((Evidence::DeviceId, json!(device)));
    }
    if let Some(failed) = &t.failed_device_id {
        out.push((Evidence::DeviceForFailedAttempt, json!(failed)));
    }
    // Failed device attempts on this transaction: a per-transaction fact,
    // unaffected by the device counter a later success resets.
    out.push((Evidence::DeviceFailedAttempt, json!(t.failed_attempts)));
    if let Some(end) = t.decided_at {
        out.push((Evidence::TransactionEndTime, json!(end)));
    }
    out.push((Evidence::TransactionId, json!(t.id)));
    out.push((Evidence::TransactionStartTime, json!(t.created_at)));
    out.push((Evidence::TransactionType, json!(t.context.as_str())));
    out.push((Evidence::UserId, json!(src.user.id)));
    if t.failed_attempts > 0 {
        out.push((Evidence::UserIdForFailedAttempt, json!(src.user.id)));
    }
    out.push((Evidence::UserFailedAttempts, json!(src.user.failed_attempts)));
    out
}

/// The evidence an SP receives, by SAML attribute name from the claim table
/// (`None` in [`super::saml_sp::SamlSpSettings::attributes`] means all of them).
pub fn parse_attributes(names: &[String]) -> Result<Vec<Evidence>, String> {
    let mut out = Vec::new();
    for name in names.iter().map(|n| n.trim()) {
        let Some(row) = TABLE.iter().find(|r| r.2 == name) else {
            let known: Vec<&str> = TABLE.iter().map(|r| r.2).collect();
            return Err(format!("unknown attribute `{name}` (known: {})", known.join(", ")));
        };
        if !out.contains(&row.0) {
            out.push(row.0);
        }
    }
    if out.is_empty() {
        return Err("the attribute list must name at least one attribute".into());
    }
    Ok(out)
}

/// Evidence lists stored by SAML attribute name, so a stored row reads as
/// the operator wrote it and survives a reordering of the enum.
pub mod saml_names {
    use serde::{Deserialize, Deserializer, Serializer};

    use super::{Evidence, parse_attributes};

    pub fn serialize<S: Serializer>(value: &Option<Vec<Evidence>>, s: S) -> Result<S::Ok, S::Error> {
        match value {
            Some(list) => s.collect_seq(list.iter().map(|e| e.saml_name())),
            None => s.serialize_none(),
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Vec<Evidence>>, D::Error> {
        let names: Option<Vec<String>> = Option::deserialize(d)?;
        names
            .map(|n| parse_attributes(&n))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn evidence_table_covers_every_variant() {
        let all = [
            Evidence::AuthenticationMethod,
            Evidence::AuthenticationStatus,
            Evidence::BindingMessage,
            Evidence::DeviceId,
            Evidence::DeviceForFailedAttempt,
            Evidence::DeviceFailedAttempt,
            Evidence::TransactionEndTime,
            Evidence::TransactionId,
            Evidence::TransactionStartTime,
            Evidence::TransactionType,
            Evidence::UserId,
            Evidence::UserIdForFailedAttempt,
            Evidence::UserFailedAttempts,
        ];
        for e in all {
            assert_eq!(TABLE.iter().filter(|r| r.0 == e).count(), 1, "{e:?}");
        }
        assert_eq!(
            Evidence::DeviceFailedAttempt.saml_name(),
            "TRUSTID.DEVICEID_FAILED_ATTEMPT"
        );
        assert_eq!(
            Evidence::AuthenticationMethod.oidc_name(),
            "trust.authentication_method"
        );
    }
}
