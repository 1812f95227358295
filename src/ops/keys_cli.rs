//! `trustid keys list|rotate|retire`: the signing keys in the keys
//! directory every instance shares (each reloads it every minute).

use std::path::Path;

use clap::Subcommand;

use crate::crypto::keys::SigningKeys;

#[derive(Subcommand)]
pub enum KeysCommand {
    /// The key files, and which ones sign now.
    List {
        /// Answer in JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Add a new key per algorithm, published at once and used after a delay
    /// (so relying parties can fetch it first).
    Rotate {
        /// Seconds before the new keys sign.
        #[arg(long, default_value_t = 3600)]
        use_after: i64,
        /// Answer in JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Remove a key that no longer signs (its tokens stop verifying).
    Retire {
        /// The key id (`kid`) to retire, as `trustid keys list` shows it.
        #[arg(long, allow_hyphen_values = true)]
        kid: String,
    },
}

pub fn run(dir: &Path, command: KeysCommand, now: i64) -> anyhow::Result<()> {
    match command {
        KeysCommand::List { json } => {
            let keys = SigningKeys::load_at(dir, now)?;
            if json {
                println!("{}", serde_json::to_string_pretty(keys.files())?);
            } else {
                for key in keys.files() {
                    println!("{key}");
                }
            }
        }
        KeysCommand::Rotate { use_after, json } => {
            anyhow::ensure!(use_after >= 0, "--use-after must not be negative");
            SigningKeys::rotate(dir, now, now + use_after)?;
            let keys = SigningKeys::load_at(dir, now)?;
            if json {
                println!("{}", serde_json::to_string_pretty(keys.files())?);
            } else {
                println!(
                    "new keys published; they sign from {} on (instances reload every minute)",
                    now + use_after
                );
            }
        }
        KeysCommand::Retire { kid } => {
            SigningKeys::retire(dir, &kid, now)?;
            println!("key {kid} retired");
        }
    }
    Ok(())
}
