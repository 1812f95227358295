//! `trustid transactions list | show` and `trustid audit list`: what
//! happened, as the console's lists and timeline read it (never a secret:
//! no `auth_req_id`, token or notification token is stored readable).

use serde_json::{Value, json};

use super::{Output, print, table, when};
use crate::domain::transaction::{Phase, Transaction};
use crate::engine::AppState;
use crate::store::console::{AuditFilter, TransactionFilter};

/// Rows a filtered list reads at most (as the console's pages do).
const SCAN: i64 = 20_000;

#[derive(clap::Subcommand, Debug)]
pub enum TransactionsCommand {
    /// The newest transactions, filtered.
    List {
        /// `pending`, `expired`, `approved`, `denied` or `consumed`.
        #[arg(long)]
        status: Option<String>,
        /// Only this client's.
        #[arg(long, allow_hyphen_values = true)]
        client: Option<String>,
        /// Only this user's.
        #[arg(long, allow_hyphen_values = true)]
        user: Option<String>,
        /// Only those this device decided.
        #[arg(long, allow_hyphen_values = true)]
        device: Option<String>,
        /// Only those created in the last N seconds.
        #[arg(long)]
        since: Option<i64>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[command(flatten)]
        output: Output,
    },
    /// One transaction's evidence: who asked, what was shown, which device
    /// decided and when, the notification, the tokens, every refusal.
    Show {
        /// The transaction's id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum AuditCommand {
    /// The newest audit entries, filtered.
    List {
        /// `client:ID`, `user:ID`, `admin:EMAIL`, `cli`, …
        #[arg(long)]
        actor: Option<String>,
        /// `client.disabled`, `user.locked`, …
        #[arg(long)]
        action: Option<String>,
        /// `user:ID`, `client:ID`, `transaction:ID`, …
        #[arg(long)]
        subject: Option<String>,
        /// Only entries of the last N seconds.
        #[arg(long)]
        since: Option<i64>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[command(flatten)]
        output: Output,
    },
}

fn phase(p: Phase) -> &'static str {
    match p {
        Phase::Pending => "pending",
        Phase::Expired => "expired",
        Phase::Approved => "approved",
        Phase::Denied => "denied",
        Phase::Consumed => "consumed",
    }
}

fn transaction_json(t: &Transaction, now: i64) -> Value {
    json!({
        "transaction_id": t.id, "client_id": t.client_id, "user_id": t.user_id,
        "status": phase(t.phase(now)), "type": t.context.as_str(), "app_id": t.app_id,
        "shown": t.display_text, "scope": t.scope, "acr": t.acr,
        "created_at": t.created_at, "expires_at": t.expires_at, "decided_at": t.decided_at,
        "device_id": t.device_id, "failed_attempts": t.failed_attempts,
        "failed_device_id": t.failed_device_id,
        "delivery": t.notify.as_ref().map(|n| if n.push { "push" } else { "ping" }).unwrap_or("poll"),
        "number_matching": t.match_number.is_some(),
    })
}

pub async fn run_transactions(state: &AppState, command: TransactionsCommand) -> anyhow::Result<()> {
    let now = state.clock.now();
    match command {
        TransactionsCommand::List {
            status,
            client,
            user,
            device,
            since,
            limit,
            output,
        } => {
            let filtered = [&status, &client, &user, &device].iter().any(|f| f.is_some());
            let filter = TransactionFilter {
                phase: status,
                client_id: client,
                user_id: user,
                device_id: device,
                since: since.map(|s| now - s),
                ..Default::default()
            };
            let scan = filtered.then_some(SCAN);
            let page = state
                .store
                .transactions_page(&filter, None, now, limit.clamp(1, 1000), scan)
                .await?;
            let listed: Vec<Value> = page.rows.iter().map(|t| transaction_json(t, now)).collect();
            print(&output, &listed, |_| {
                let rows: Vec<Vec<String>> = page
                    .rows
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.to_string(),
                            when(Some(t.created_at)),
                            phase(t.phase(now)).to_owned(),
                            t.client_id.to_string(),
                            t.user_id.to_string(),
                            t.display_text.chars().take(40).collect(),
                        ]
                    })
                    .collect();
                let mut text = table(
                    &["transaction_id", "created", "status", "client", "user", "shown"],
                    &rows,
                );
                if page.resume.is_some() {
                    text.push_str(&format!(
                        "\n(looked at the {SCAN} newest; narrow with --since for older ones)"
                    ));
                }
                text
            })
        }
        TransactionsCommand::Show { id, output } => {
            let t = state
                .store
                .transaction(&id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no such transaction: {id}"))?;
            let records = state.store.timeline(&id).await?;
            let mut shown = transaction_json(&t, now);
            shown["fetched_by"] = records
                .fetches
                .iter()
                .map(|f| json!({"device_id": f.device_id, "at": f.created_at, "used_at": f.used_at}))
                .collect();
            shown["events"] = records
                .events
                .iter()
                .map(|e| json!({"at_ms": e.at, "kind": e.kind, "device_id": e.device_id, "detail": e.detail}))
                .collect();
            shown["notification"] = records.notification.as_ref().map_or(Value::Null, |n| {
                json!({"kind": n.kind, "target": n.target, "state": n.state, "attempts": n.attempts,
                       "created_at_ms": n.created_at, "finished_at_ms": n.finished_at})
            });
            shown["tokens"] = records
                .tokens
                .iter()
                .map(|k| json!({"expires_at": k.expires_at, "revoked": k.revoked != 0}))
                .collect();
            shown["saml"] = records.saml.as_ref().map_or(
                Value::Null,
                |s| json!({"sp": s.sp_id, "acs_url": s.acs_url, "answered_at": s.answered_at}),
            );
            shown["audit"] = records
                .audit
                .iter()
                .map(|a| json!({"at": a.at, "actor": a.actor, "action": a.action, "detail": a.detail}))
                .collect();
            print(&output, &shown, |v| serde_json::to_string_pretty(v).unwrap_or_default())
        }
    }
}

pub async fn run_audit(state: &AppState, command: AuditCommand) -> anyhow::Result<()> {
    let AuditCommand::List {
        actor,
        action,
        subject,
        since,
        limit,
        output,
    } = command;
    let filter = AuditFilter { actor, action, subject };
    let oldest = since.map(|s| state.clock.now() - s);
    let mut entries = state.store.audit_page(&filter, None, limit.clamp(1, 1000)).await?;
    entries.retain(|e| oldest.is_none_or(|o| e.at >= o));
    let listed: Vec<Value> = entries
        .iter()
        .map(|e| json!({"at": e.at, "actor": e.actor, "action": e.action, "subject": e.subject, "detail": e.detail}))
        .collect();
    print(&output, &listed, |_| {
        let rows: Vec<Vec<String>> = entries
            .iter()
            .map(|e| {
                vec![
                    when(Some(e.at)),
                    e.actor.clone(),
                    e.action.clone(),
                    e.subject.clone(),
                    e.detail.clone().unwrap_or_default(),
                ]
            })
            .collect();
        table(&["at", "actor", "action", "subject", "detail"], &rows)
    })
}
