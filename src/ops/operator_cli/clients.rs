//! `trustid clients list | show | update | rotate-secret | disable | enable
//! | remove`: the engine's client changes (`engine::clients`), as the
//! console makes them.

use std::path::PathBuf;

use serde_json::{Map, Value, json};

use super::{Output, print, table, when};
use crate::domain::client::{Client, ClientMetadata};
use crate::domain::ids::ClientId;
use crate::engine::AppState;
use crate::engine::clients::{self, Refusal};
use crate::engine::users::Actor;

#[derive(clap::Subcommand, Debug)]
pub enum ClientsLook {
    /// Every registered client, newest first (trustid's own SAML and console
    /// clients included).
    List {
        #[command(flatten)]
        output: Output,
    },
    /// One client's registration (never its secret).
    Show {
        /// The client's id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Give the client a new secret, printed once; the old one stops working.
    RotateSecret {
        /// The client's id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Refuse every authentication of the client until it is enabled.
    Disable {
        /// The client's id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Let a disabled client authenticate again.
    Enable {
        /// The client's id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Change a client's registration: the options below, and any member
    /// (RFC 7591 names) from a JSON file; checked as registration checks it.
    Update {
        /// The client's id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        /// A JSON object merged over the registration (`null` removes a member).
        #[arg(long)]
        metadata: Option<PathBuf>,
        /// The name people see (`client_name`).
        #[arg(long)]
        name: Option<String>,
        /// poll, ping or push.
        #[arg(long)]
        delivery_mode: Option<String>,
        /// Where ping and push notifications go.
        #[arg(long)]
        notification_endpoint: Option<String>,
        /// The client's public keys, fetched from this URL.
        #[arg(long)]
        jwks_uri: Option<String>,
        #[command(flatten)]
        output: Output,
    },
    /// Remove a client no transaction, binding or registration names (one
    /// added by mistake); a client with history can only be disabled.
    Remove {
        /// The client's id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        output: Output,
    },
}

/// The changes `clients update` asks for, as registration members.
struct Changes {
    file: Option<PathBuf>,
    members: Vec<(&'static str, Option<String>)>,
}

/// `metadata` with `changes` applied: the file's members first, then the options.
fn updated(metadata: &ClientMetadata, changes: Changes) -> anyhow::Result<ClientMetadata> {
    let mut merged: Map<String, Value> = match serde_json::to_value(metadata)? {
        Value::Object(members) => members,
        _ => anyhow::bail!("a registration is a JSON object"),
    };
    if let Some(file) = &changes.file {
        let text = std::fs::read_to_string(file).map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
        let Value::Object(members) = serde_json::from_str(&text)? else {
            anyhow::bail!("{}: must hold a JSON object", file.display());
        };
        for (name, value) in members {
            match value {
                Value::Null => merged.remove(&name),
                value => merged.insert(name, value),
            };
        }
    }
    for (name, value) in changes.members {
        if let Some(value) = value {
            merged.insert(name.to_owned(), value.into());
        }
    }
    serde_json::from_value(Value::Object(merged)).map_err(|e| anyhow::anyhow!("invalid metadata: {e}"))
}

fn described(client: &Client) -> Value {
    json!({
        "client_id": client.id,
        "status": if client.is_disabled() { "disabled" } else { "enabled" },
        "created_at": client.created_at,
        "updated_at": client.updated_at,
        "disabled_at": client.disabled_at,
        "metadata": client.metadata,
    })
}

fn refused(e: Refusal) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

pub async fn run(state: &AppState, command: ClientsLook) -> anyhow::Result<()> {
    let actor = Actor::Operator;
    match command {
        ClientsLook::List { output } => {
            let all = state.store.clients().await?;
            let listed: Vec<Value> = all.iter().map(described).collect();
            print(&output, &listed, |_| {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|c| {
                        vec![
                            c.id.to_string(),
                            c.metadata.client_name.clone(),
                            c.metadata.backchannel_token_delivery_mode.as_str().to_owned(),
                            c.auth_method().as_str().to_owned(),
                            if c.is_disabled() { "disabled" } else { "enabled" }.to_owned(),
                            when(Some(c.created_at)),
                        ]
                    })
                    .collect();
                table(
                    &["client_id", "name", "mode", "authentication", "status", "created"],
                    &rows,
                )
            })
        }
        ClientsLook::Show { id, output } => {
            let client = state
                .store
                .client(&id)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no such client: {id}"))?;
            let shown = described(&client);
            print(&output, &shown, |v| serde_json::to_string_pretty(v).unwrap_or_default())
        }
        ClientsLook::RotateSecret { id, output } => {
            let id = ClientId::new(id);
            let secret = clients::rotate_secret(state, &actor, &id).await.map_err(refused)?;
            let answer = json!({"client_id": id, "client_secret": secret});
            print(&output, &answer, |_| {
                format!("client_id:     {id}\nclient_secret: {secret}   (shown once; the old one no longer works)")
            })
        }
        ClientsLook::Disable { id, output } => set(state, &actor, id, true, &output).await,
        ClientsLook::Enable { id, output } => set(state, &actor, id, false, &output).await,
        ClientsLook::Update {
            id,
            metadata,
            name,
            delivery_mode,
            notification_endpoint,
            jwks_uri,
            output,
        } => {
            let id = ClientId::new(id);
            let client = clients::changeable(state, &id).await.map_err(refused)?;
            let changes = Changes {
                file: metadata,
                members: vec![
                    ("client_name", name),
                    ("backchannel_token_delivery_mode", delivery_mode),
                    ("backchannel_client_notification_endpoint", notification_endpoint),
                    ("jwks_uri", jwks_uri),
                ],
            };
            let metadata = updated(&client.metadata, changes)?;
            clients::update(state, &actor, &id, &metadata).await.map_err(refused)?;
            let answer = json!({"client_id": id, "metadata": metadata});
            print(&output, &answer, |_| format!("client {id} updated"))
        }
        ClientsLook::Remove { id, output } => {
            let id = ClientId::new(id);
            clients::remove(state, &actor, &id).await.map_err(refused)?;
            print(&output, &json!({"client_id": id, "removed": true}), |_| {
                format!("client {id} removed")
            })
        }
    }
}

async fn set(state: &AppState, actor: &Actor, id: String, disabled: bool, output: &Output) -> anyhow::Result<()> {
    let id = ClientId::new(id);
    clients::set_disabled(state, actor, &id, disabled)
        .await
        .map_err(refused)?;
    let status = if disabled { "disabled" } else { "enabled" };
    print(output, &json!({"client_id": id, "status": status}), |_| {
        format!("client {id} is {status}")
    })
}
