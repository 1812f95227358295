//! The `trustid` command line: `serve`, `check-config`, `migrate`, `backup`, `restore`, `clients`,
//! `apps`, `users`, `devices`, `transactions`, `audit`, `keys`, `saml`, `admin`, and `device`, the
//! reference device (a client of the server, no settings).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use trustid::clock::{Clock, SystemClock};
use trustid::config::{LogFormat, Settings};
use trustid::engine::admin::{self, NewUser};
use trustid::ops::operator_cli::records::{AuditCommand, TransactionsCommand};
use trustid::ops::operator_cli::users::{DevicesLook, UsersLook};
use trustid::ops::operator_cli::{Output, client_add, client_add::ClientAdd, clients::ClientsLook, print};
use trustid::store;

#[derive(Parser)]
#[command(
    name = "trustid",
    version,
    about = "OpenID Connect CIBA server that reaches the user's phone"
)]
struct Cli {
    /// TOML settings file (default: ./trustid.toml when it exists).
    #[arg(long, global = true, env = "TRUSTID_CONFIG")]
    config: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (creates the database and keys on first start).
    Serve,
    /// Read and validate the settings (and the files they name) without
    /// starting anything; print what was found.
    CheckConfig {
        #[command(flatten)]
        output: Output,
    },
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Copy the SQLite database to FILE while the server runs (a consistent
    /// snapshot, checked); for PostgreSQL use pg_dump.
    Backup {
        /// Where the copy goes (a new file).
        file: PathBuf,
        #[command(flatten)]
        output: Output,
    },
    /// Replace the SQLite database with the backup FILE (the server must be
    /// stopped; the replaced file is kept beside it).
    Restore {
        /// The backup to put in place.
        file: PathBuf,
        #[command(flatten)]
        output: Output,
    },
    /// Copy every table of this database (`database_url`) into the new
    /// database TO (migrated here first, and empty), e.g. from SQLite to
    /// PostgreSQL; stop the servers first.
    MigrateData {
        /// The target database URL (`postgres://…` or `sqlite://…`).
        #[arg(long)]
        to: String,
        #[command(flatten)]
        output: Output,
    },
    /// Relying-party clients.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// Apps (the `appId` of binding messages): where their devices' pushes go.
    #[command(subcommand)]
    Apps(AppsCommand),
    /// End users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Registered devices.
    #[command(subcommand)]
    Devices(DevicesCommand),
    /// Transactions: the newest, and one's evidence.
    #[command(subcommand)]
    Transactions(TransactionsCommand),
    /// The audit trail.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// A client's adaptive rules (ALLOW, CHALLENGE_REQUIRED, BLOCK).
    #[command(subcommand)]
    Rules(trustid::ops::operator_cli::rules::RulesCommand),
    /// Signing keys: list, rotate, retire (the keys directory is shared by instances).
    #[command(subcommand)]
    Keys(trustid::ops::keys_cli::KeysCommand),
    /// SAML 2.0: the service providers trustid answers as an IdP.
    #[command(subcommand)]
    Saml(trustid::saml::cli::SamlCommand),
    /// Console administrators.
    #[command(subcommand)]
    Admin(trustid::console::cli::AdminCommand),
    /// The reference device: a client of a trustid server over the device API.
    Device(trustid::device_cli::DeviceCommand),
}

#[derive(Subcommand)]
enum ClientsCommand {
    #[command(flatten)]
    Look(ClientsLook),
    /// Register a confidential client; a secret is printed once.
    Add(ClientAdd),
}

#[derive(Subcommand)]
enum AppsCommand {
    /// Set the push relay of one client's app: webhook pushes for that
    /// client's requests naming this app go there instead of the client's relay.
    #[command(group = clap::ArgGroup::new("relay").required(true))]
    Relay {
        /// The client whose requests name the app.
        #[arg(long = "client", allow_hyphen_values = true)]
        client_id: String,
        /// The app's id (`appId` in binding messages).
        #[arg(long = "app", allow_hyphen_values = true)]
        app_id: String,
        /// The relay's URL (https; http on loopback in dev mode).
        #[arg(long, group = "relay")]
        uri: Option<String>,
        /// Remove the app's relay (its requests use the client's again).
        #[arg(long, group = "relay")]
        clear: bool,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    #[command(flatten)]
    Look(UsersLook),
    /// Create a user, optionally associated with apps (`appId`).
    Add {
        /// The relying party's identifier for the user.
        #[arg(long, allow_hyphen_values = true)]
        id: String,
        /// The user's e-mail address (a login_hint may name it).
        #[arg(long)]
        email: Option<String>,
        /// The user's phone number (a login_hint may name it).
        #[arg(long)]
        phone: Option<String>,
        /// Associate with this appId (repeatable).
        #[arg(long = "app")]
        apps: Vec<String>,
        /// Create the user locked.
        #[arg(long)]
        locked: bool,
        /// The CIBA user_code this user types (stored as an argon2 hash).
        #[arg(long)]
        user_code: Option<String>,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Subcommand)]
enum DevicesCommand {
    #[command(flatten)]
    Look(DevicesLook),
    /// Bind a registered device to a user and activate it.
    Bind {
        /// Device ids are base64url and may start with `-`.
        #[arg(long, allow_hyphen_values = true)]
        device: String,
        /// The user the device is bound to.
        #[arg(long, allow_hyphen_values = true)]
        user: String,
        #[command(flatten)]
        output: Output,
    },
}

/// The engine over the settings' database, for the operator's commands:
/// they change things through the same calls as the console.
async fn operator_state(settings: &Settings) -> anyhow::Result<trustid::AppState> {
    let store = store::open(&settings.database_url, settings.sqlite_synchronous).await?;
    let (keys, _) = trustid::crypto::keys::SigningKeys::load_quick(&settings.keys_dir, SystemClock.now())?;
    Ok(trustid::server::build_state(
        settings,
        store,
        keys,
        std::sync::Arc::new(SystemClock),
    ))
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    // The device is a client of some server: it loads no server settings.
    let command = match cli.command {
        Command::Device(device) => {
            let filter = std::env::var("TRUSTID_LOG").unwrap_or_else(|_| "info".into());
            trustid::logging::init(&filter, LogFormat::Human);
            return trustid::device_cli::run(device).await;
        }
        command => command,
    };
    let settings = Settings::load(cli.config.as_deref())?;
    trustid::logging::init(&settings.log, settings.log_format);
    let now = SystemClock.now();
    match command {
        Command::Serve => trustid::server::serve(settings).await,
        Command::Migrate => {
            store::open(&settings.database_url, settings.sqlite_synchronous).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::CheckConfig { output } => {
            if settings.keys_dir.exists() && !settings.keys_dir.is_dir() {
                anyhow::bail!(
                    "invalid setting `keys_dir`: {} is not a directory",
                    settings.keys_dir.display()
                );
            }
            // What was read, without its secrets: the registration token and
            // a database password are only said to be set.
            let mut seen = serde_json::to_value(&settings)?;
            if settings.registration_access_token.is_some() {
                seen["registration_access_token"] = "(set)".into();
            }
            if let Ok(mut url) = url::Url::parse(&settings.database_url)
                && url.password().is_some()
            {
                let _ = url.set_password(Some("(set)"));
                seen["database_url"] = url.to_string().into();
            }
            print(&output, &seen, |s| {
                format!(
                    "settings are valid: issuer {}, listening on {}, database {}{}",
                    s["issuer"].as_str().unwrap_or_default(),
                    s["listen"].as_str().unwrap_or_default(),
                    s["database_url"].as_str().unwrap_or_default(),
                    if settings.dev { " (dev mode)" } else { "" }
                )
            })
        }
        Command::Backup { file, output } => {
            let copy = store::sqlite::backup::backup(&settings.database_url, &file).await?;
            print(&output, &copy, |c| {
                format!(
                    "backed up {} transactions (schema {}, {} bytes) to {}; integrity ok",
                    c.transactions,
                    c.schema_version,
                    c.bytes,
                    c.file.display()
                )
            })
        }
        Command::MigrateData { to, output } => {
            let copied = store::migrate_data::copy(&settings.database_url, &to).await?;
            let tables: serde_json::Map<String, serde_json::Value> =
                copied.iter().map(|(t, n)| (t.clone(), (*n).into())).collect();
            print(&output, &tables, |t| {
                let rows: u64 = copied.iter().map(|(_, n)| n).sum();
                format!("copied {rows} rows of {} tables; every count checked", t.len())
            })
        }
        Command::Restore { file, output } => {
            let restored = store::sqlite::backup::restore(&settings.database_url, &file, now).await?;
            print(&output, &restored, |c| {
                format!(
                    "restored {} transactions (schema {}) into {}; integrity ok",
                    c.transactions,
                    c.schema_version,
                    c.file.display()
                )
            })
        }
        Command::Clients(ClientsCommand::Add(add)) => {
            let store = store::open(&settings.database_url, settings.sqlite_synchronous).await?;
            client_add::run(
                store.as_ref(),
                &settings.outbound_rule(),
                settings.mtls_support(),
                now,
                add,
            )
            .await
        }
        Command::Apps(AppsCommand::Relay {
            client_id,
            app_id,
            uri,
            clear: _,
            output,
        }) => {
            let store = store::open(&settings.database_url, settings.sqlite_synchronous).await?;
            let set = admin::set_app_push_relay(
                store.as_ref(),
                &client_id.into(),
                &app_id,
                uri.as_deref(),
                &settings.outbound_rule(),
                now,
            )
            .await?;
            print(&output, &set, |r| match &r.push_relay_uri {
                Some(uri) => format!("app {} of client {}: pushes go to {uri}", r.app_id, r.client_id),
                None => format!(
                    "app {} of client {}: no relay of its own (the client's is used)",
                    r.app_id, r.client_id
                ),
            })
        }
        Command::Users(UsersCommand::Add {
            id,
            email,
            phone,
            apps,
            locked,
            user_code,
            output,
        }) => {
            let store = store::open(&settings.database_url, settings.sqlite_synchronous).await?;
            let new = NewUser {
                id: id.into(),
                email,
                phone,
                locked,
                apps,
                user_code,
            };
            let created = admin::create_user(store.as_ref(), new, now).await?;
            print(&output, &created, |u| {
                format!("user {} created ({})", u.user_id, u.status)
            })
        }
        Command::Clients(ClientsCommand::Look(command)) => {
            trustid::ops::operator_cli::clients::run(&operator_state(&settings).await?, command).await
        }
        Command::Users(UsersCommand::Look(command)) => {
            trustid::ops::operator_cli::users::run_users(&operator_state(&settings).await?, command).await
        }
        Command::Devices(DevicesCommand::Look(command)) => {
            trustid::ops::operator_cli::users::run_devices(&operator_state(&settings).await?, command).await
        }
        Command::Transactions(command) => {
            trustid::ops::operator_cli::records::run_transactions(&operator_state(&settings).await?, command).await
        }
        Command::Audit(command) => {
            trustid::ops::operator_cli::records::run_audit(&operator_state(&settings).await?, command).await
        }
        Command::Rules(command) => {
            trustid::ops::operator_cli::rules::run(&operator_state(&settings).await?, command).await
        }
        Command::Keys(command) => trustid::ops::keys_cli::run(&settings.keys_dir, command, now),
        Command::Devices(DevicesCommand::Bind { device, user, output }) => {
            let store = store::open(&settings.database_url, settings.sqlite_synchronous).await?;
            let bound = admin::bind_device(store.as_ref(), &device.into(), &user.into()).await?;
            print(&output, &bound, |b| {
                format!("device {} bound to user {} (active)", b.device_id, b.user_id)
            })
        }
        Command::Saml(command) => {
            let store = store::open(&settings.database_url, settings.sqlite_synchronous).await?;
            trustid::saml::cli::run(store.as_ref(), settings.dev, now, command).await
        }
        Command::Admin(command) => {
            let store = store::open(&settings.database_url, settings.sqlite_synchronous).await?;
            trustid::console::cli::run(store.as_ref(), now, command).await
        }
        Command::Device(_) => unreachable!("handled before the settings load"),
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
#[path = "main_tests.rs"]
mod tests;
