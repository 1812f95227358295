//! A transaction's timeline as the detail page lists it: what happened to
//! it, when, in order, from its row and the rows about it (pushes,
//! challenges, failed attempts, the notification, tokens, the SAML
//! Response, the audit trail). Built here, read nowhere else.

use crate::domain::delivery::PushRecord;
use crate::domain::push::PushState;
use crate::domain::transaction::{Phase, Status, Transaction};
use crate::store::timeline::TimelineRecords;

/// One line of the timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Unix milliseconds; the order of the lines.
    pub at_ms: i64,
    pub what: String,
    /// A CSS class: `ok`, `bad` or empty.
    pub tone: &'static str,
}

/// What the timeline is built from.
pub struct Sources<'a> {
    pub txn: &'a Transaction,
    pub pushes: &'a [PushRecord],
    pub records: &'a TimelineRecords,
    /// The access token lifetime in force: a token's row keeps only its
    /// expiry, so it was issued this long before.
    pub access_ttl: i64,
    pub now: i64,
}

fn entry(at_ms: i64, tone: &'static str, what: String) -> Entry {
    Entry { at_ms, what, tone }
}

fn attempts(n: i64) -> String {
    if n == 1 {
        "1 attempt".into()
    } else {
        format!("{n} attempts")
    }
}

/// The lines, oldest first. Transaction rows keep seconds and the push
/// and notification rows milliseconds, so lines are ordered by the second
/// and, within one, in the order of a transaction's life (made in that
/// order here; the sort is stable).
pub fn entries(s: &Sources) -> Vec<Entry> {
    let t = s.txn;
    let records = s.records;
    let events = |kind: &'static str| records.events.iter().filter(move |e| e.kind == kind);
    let mut out = Vec::new();
    if let Some(saml) = &records.saml {
        out.push(entry(
            saml.created_at * 1000,
            "",
            format!("SAML login for service provider {} began", saml.sp_id),
        ));
    }
    out.push(entry(
        t.created_at * 1000,
        "",
        format!(
            "Requested by client {} for user {} ({}), the device to show “{}”",
            t.client_id,
            t.user_id,
            t.context.as_str(),
            t.display_text
        ),
    ));
    for p in s.pushes {
        out.push(entry(p.created_at, "", format!("Push to device {} owed", p.device_id)));
        let failed = events("device_push_failed").filter(|e| e.device_id.as_deref() == Some(p.device_id.as_str()));
        out.extend(failed.map(|e| {
            entry(
                e.at,
                "bad",
                format!("Push attempt to device {} failed: {}", p.device_id, e.detail),
            )
        }));
        if let Some(line) = push_end(p) {
            out.push(line);
        }
    }
    for f in &records.fetches {
        if let Some(at) = f.created_at {
            out.push(entry(
                at * 1000,
                "",
                format!("Fetched by device {}, with a challenge to sign", f.device_id),
            ));
        }
    }
    for e in events("device_refused") {
        let device = e.device_id.as_deref().unwrap_or("?");
        out.push(entry(e.at, "bad", format!("Device {device} refused: {}", e.detail)));
    }
    if let Some(at) = t.decided_at {
        let tone = if t.status == Status::Denied { "bad" } else { "ok" };
        out.push(entry(at * 1000, tone, decision(t)));
    }
    if let Some(n) = &records.notification {
        out.push(entry(
            n.created_at,
            "",
            format!("A {} notification owed to {}", n.kind, n.target),
        ));
        let failed = events("notification_failed");
        out.extend(failed.map(|e| entry(e.at, "bad", format!("Notification attempt failed: {}", e.detail))));
        if let Some(at) = n.finished_at {
            let (tone, what) = match n.state.as_str() {
                "done" => (
                    "ok",
                    format!("The {} notification delivered ({})", n.kind, attempts(n.attempts)),
                ),
                _ => (
                    "bad",
                    format!("The {} notification given up after {}", n.kind, attempts(n.attempts)),
                ),
            };
            out.push(entry(at, tone, what));
        }
    }
    for token in &records.tokens {
        let revoked = if token.revoked != 0 { ", since revoked" } else { "" };
        let at = (token.expires_at - s.access_ttl) * 1000;
        out.push(entry(at, "ok", format!("Tokens issued to the client{revoked}")));
    }
    if let Some(at) = records.saml.as_ref().and_then(|saml| saml.answered_at) {
        let acs = records
            .saml
            .as_ref()
            .map(|saml| saml.acs_url.as_str())
            .unwrap_or_default();
        out.push(entry(at * 1000, "ok", format!("SAML Response posted to {acs}")));
    }
    for a in &records.audit {
        out.push(entry(a.at * 1000, "", format!("Audit: {} by {}", a.action, a.actor)));
    }
    if t.phase(s.now) == Phase::Expired {
        let what = match t.status {
            Status::Approved => "Expired before the client redeemed the approval",
            _ => "Expired with no decision",
        };
        out.push(entry(t.expires_at * 1000, "bad", what.into()));
    }
    out.sort_by_key(|e| e.at_ms.div_euclid(1000));
    out
}

/// How a push to one device ended, once it has.
fn push_end(p: &PushRecord) -> Option<Entry> {
    let at = p.finished_at?;
    let channel = p.channel.map(|c| c.as_str()).unwrap_or("no channel");
    let why = p.last_error.as_deref().unwrap_or("");
    let (tone, what) = match p.state {
        PushState::Sent => (
            "ok",
            format!(
                "Pushed to device {} by {channel} ({})",
                p.device_id,
                attempts(p.attempts)
            ),
        ),
        PushState::Failed => (
            "bad",
            format!(
                "Push to device {} by {channel} given up after {}: {why}",
                p.device_id,
                attempts(p.attempts)
            ),
        ),
        PushState::Withdrawn => ("", format!("Push to device {} withdrawn: {why}", p.device_id)),
        PushState::Pending => return None,
    };
    Some(entry(at, tone, what))
}

fn decision(t: &Transaction) -> String {
    match (&t.device_id, t.status) {
        (Some(device), Status::Denied) => {
            format!("Denied on device {device}: its P-256 signature over the text's SHA-256 verified")
        }
        (Some(device), _) => {
            format!("Approved on device {device}: its P-256 signature over the text's SHA-256 verified")
        }
        (None, _) => "Ended by trustid, not by a device (see the audit entries)".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::push::PushChannel;
    use crate::domain::transaction::sample;
    use crate::store::timeline::{EventRecord, FetchRecord};

    fn lines(txn: &Transaction, pushes: &[PushRecord], records: &TimelineRecords, now: i64) -> Vec<String> {
        let sources = Sources {
            txn,
            pushes,
            records,
            access_ttl: 300,
            now,
        };
        entries(&sources).into_iter().map(|e| e.what).collect()
    }

    #[test]
    fn a_request_nobody_answered_expires_after_its_failed_pushes() {
        let txn = sample(Status::Pending);
        let push = PushRecord {
            device_id: "d1".into(),
            state: PushState::Failed,
            channel: Some(PushChannel::Fcm),
            attempts: 2,
            last_error: Some("answered 500".into()),
            created_at: 100_000,
            finished_at: Some(100_900),
        };
        let failed = |at| EventRecord {
            at,
            kind: "device_push_failed".into(),
            device_id: Some("d1".into()),
            detail: "answered 500".into(),
        };
        let records = TimelineRecords {
            events: vec![failed(100_200), failed(100_800)],
            ..TimelineRecords::default()
        };
        let got = lines(&txn, &[push], &records, 500);
        assert!(got[0].starts_with("Requested by client c for user u"), "{got:?}");
        assert_eq!(got[1], "Push to device d1 owed");
        assert_eq!(got[2], "Push attempt to device d1 failed: answered 500");
        assert_eq!(
            got[4],
            "Push to device d1 by fcm given up after 2 attempts: answered 500"
        );
        assert_eq!(got.last().unwrap(), "Expired with no decision");
        assert_eq!(got.len(), 6);
    }

    #[test]
    fn within_a_second_lines_keep_the_order_of_a_life_and_across_seconds_time_wins() {
        let mut txn = sample(Status::Denied);
        txn.decided_at = Some(101);
        txn.device_id = Some("d1".into());
        let records = TimelineRecords {
            // Refused at 101.5 s, after the decision's whole second 101.
            events: vec![EventRecord {
                at: 101_500,
                kind: "device_refused".into(),
                device_id: Some("d1".into()),
                detail: "invalid_signature".into(),
            }],
            fetches: vec![FetchRecord {
                device_id: "d1".into(),
                created_at: Some(102),
                used_at: None,
            }],
            ..TimelineRecords::default()
        };
        let got = lines(&txn, &[], &records, 200);
        assert_eq!(got[1], "Device d1 refused: invalid_signature");
        assert!(got[2].starts_with("Denied on device d1"), "{got:?}");
        assert_eq!(got[3], "Fetched by device d1, with a challenge to sign");
        assert_eq!(got.len(), 4, "{got:?}");
    }
}
