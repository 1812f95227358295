//! `trustid rules list | add | update | remove --client ID`: a client's
//! adaptive rules (issue 22), through the same engine calls as the
//! management API (same checks, audited under the actor `cli`).

use std::path::{Path, PathBuf};

use serde_json::Value;

use super::{Output, print, table, when};
use crate::domain::client::Client;
use crate::domain::risk::Rule;
use crate::engine::AppState;
use crate::engine::risk_rules;
use crate::engine::users::Actor;
use crate::store::risk::StoredRule;

#[derive(clap::Subcommand, Debug)]
pub enum RulesCommand {
    /// A client's rules, in the order they are evaluated.
    List {
        /// The client's id.
        #[arg(long, allow_hyphen_values = true)]
        client: String,
        #[command(flatten)]
        output: Output,
    },
    /// Add a rule from a JSON file ({name, conditions, outcome, applies_to}).
    Add {
        /// The client's id.
        #[arg(long, allow_hyphen_values = true)]
        client: String,
        /// The rule, JSON.
        #[arg(long)]
        file: PathBuf,
        /// Where it goes (lower first; default after the last rule).
        #[arg(long)]
        position: Option<i64>,
        #[command(flatten)]
        output: Output,
    },
    /// Replace a rule (and its position, when given) from a JSON file.
    Update {
        /// The client's id.
        #[arg(long, allow_hyphen_values = true)]
        client: String,
        /// The rule's id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// The rule, JSON.
        #[arg(long)]
        file: PathBuf,
        /// Its new position.
        #[arg(long)]
        position: Option<i64>,
        #[command(flatten)]
        output: Output,
    },
    /// Remove a rule.
    Remove {
        /// The client's id.
        #[arg(long, allow_hyphen_values = true)]
        client: String,
        /// The rule's id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        output: Output,
    },
}

fn read_rule(path: &Path) -> anyhow::Result<Rule> {
    let text = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    serde_json::from_str(&text).map_err(|e| anyhow::anyhow!("{}: invalid rule: {e}", path.display()))
}

async fn client(state: &AppState, id: &str) -> anyhow::Result<std::sync::Arc<Client>> {
    state
        .store
        .client(id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("no such client: {id}"))
}

pub async fn run(state: &AppState, command: RulesCommand) -> anyhow::Result<()> {
    let actor = Actor::Operator;
    let refused = |e: risk_rules::Refusal| anyhow::anyhow!("{e}");
    match command {
        RulesCommand::List { client: id, output } => {
            let rules = state.store.risk_rules(client(state, &id).await?.id.as_str()).await?;
            let listed: Vec<Value> = rules.iter().map(StoredRule::shown).collect();
            print(&output, &listed, |_| {
                let rows: Vec<Vec<String>> = rules
                    .iter()
                    .map(|r| {
                        vec![
                            r.position.to_string(),
                            r.id.clone(),
                            r.rule.name.clone(),
                            r.rule.outcome.as_str().to_owned(),
                            r.rule
                                .applies_to
                                .iter()
                                .map(|p| p.as_str())
                                .collect::<Vec<_>>()
                                .join(","),
                            when(Some(r.created_at)),
                        ]
                    })
                    .collect();
                table(&["position", "id", "name", "outcome", "applies_to", "created"], &rows)
            })
        }
        RulesCommand::Add {
            client: id,
            file,
            position,
            output,
        } => {
            let client = client(state, &id).await?;
            let stored = risk_rules::add(state, &actor, &client, read_rule(&file)?, position)
                .await
                .map_err(refused)?;
            print(&output, &stored.shown(), |_| {
                format!("rule {} added at {}", stored.id, stored.position)
            })
        }
        RulesCommand::Update {
            client: id,
            id: rule_id,
            file,
            position,
            output,
        } => {
            let client = client(state, &id).await?;
            let stored = risk_rules::update(state, &actor, &client, &rule_id, read_rule(&file)?, position)
                .await
                .map_err(refused)?;
            print(&output, &stored.shown(), |_| format!("rule {} updated", stored.id))
        }
        RulesCommand::Remove {
            client: id,
            id: rule_id,
            output,
        } => {
            let client = client(state, &id).await?;
            risk_rules::remove(state, &actor, &client, &rule_id)
                .await
                .map_err(refused)?;
            let answer = serde_json::json!({"removed": rule_id});
            print(&output, &answer, |_| format!("rule {rule_id} removed"))
        }
    }
}
