//! `trustid clients list | show | rotate-secret | disable | enable`: the
//! engine's client changes (`engine::clients`), as the console makes them.

use serde_json::{Value, json};

use super::{Output, print, table, when};
use crate::domain::client::Client;
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
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Give the client a new secret, printed once; the old one stops working.
    RotateSecret {
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Refuse every authentication of the client until it is enabled.
    Disable {
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Let a disabled client authenticate again.
    Enable {
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        output: Output,
    },
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
