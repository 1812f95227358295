//! The `trustid` command line: `serve`, `migrate`, `clients`, `users`, `devices`.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;
use tracing_subscriber::EnvFilter;

use trustid::admin::{self, NewClient, NewUser};
use trustid::clock::{Clock, SystemClock};
use trustid::config::Settings;
use trustid::domain::client::{AuthMethod, DeliveryMode, SigningAlg};
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
    /// Create or upgrade the database schema, then exit.
    Migrate,
    /// Relying-party clients.
    #[command(subcommand)]
    Clients(ClientsCommand),
    /// End users.
    #[command(subcommand)]
    Users(UsersCommand),
    /// Registered devices.
    #[command(subcommand)]
    Devices(DevicesCommand),
}

#[derive(Args)]
struct Output {
    /// Answer in JSON, for scripts.
    #[arg(long)]
    json: bool,
}

#[derive(Subcommand)]
enum ClientsCommand {
    /// Register a confidential client; its secret is printed once.
    Add {
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "poll")]
        delivery_mode: DeliveryMode,
        #[arg(long, default_value = "client_secret_basic")]
        auth_method: AuthMethod,
        #[arg(long, default_value = "ES256")]
        id_token_alg: SigningAlg,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Subcommand)]
enum UsersCommand {
    /// Create a user, optionally associated with apps (`appId`).
    Add {
        /// The relying party's identifier for the user.
        #[arg(long)]
        id: String,
        #[arg(long)]
        email: Option<String>,
        #[arg(long)]
        phone: Option<String>,
        /// Associate with this appId (repeatable).
        #[arg(long = "app")]
        apps: Vec<String>,
        /// Create the user locked.
        #[arg(long)]
        locked: bool,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(Subcommand)]
enum DevicesCommand {
    /// Bind a registered device to a user and activate it.
    Bind {
        #[arg(long)]
        device: String,
        #[arg(long)]
        user: String,
        #[command(flatten)]
        output: Output,
    },
}

fn print<T: Serialize>(
    output: &Output,
    value: &T,
    text: impl FnOnce(&T) -> String,
) -> anyhow::Result<()> {
    if output.json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", text(value));
    }
    Ok(())
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::load(cli.config.as_deref())?;
    let now = SystemClock.now();
    match cli.command {
        Command::Serve => trustid::server::serve(settings).await,
        Command::Migrate => {
            store::open(&settings.database_url).await?;
            println!("database is up to date");
            Ok(())
        }
        Command::Clients(ClientsCommand::Add {
            name,
            delivery_mode,
            auth_method,
            id_token_alg,
            output,
        }) => {
            let store = store::open(&settings.database_url).await?;
            let new = NewClient {
                name,
                delivery_mode,
                auth_method,
                id_token_alg,
            };
            let created = admin::create_client(store.as_ref(), new, now).await?;
            print(&output, &created, |c| {
                format!(
                    "client_id:     {}\nclient_secret: {}\n(the secret is shown only now; trustid keeps only its hash)",
                    c.client_id, c.client_secret
                )
            })
        }
        Command::Users(UsersCommand::Add {
            id,
            email,
            phone,
            apps,
            locked,
            output,
        }) => {
            let store = store::open(&settings.database_url).await?;
            let new = NewUser {
                id,
                email,
                phone,
                locked,
                apps,
            };
            let created = admin::create_user(store.as_ref(), new, now).await?;
            print(&output, &created, |u| {
                format!("user {} created ({})", u.user_id, u.status)
            })
        }
        Command::Devices(DevicesCommand::Bind {
            device,
            user,
            output,
        }) => {
            let store = store::open(&settings.database_url).await?;
            let bound = admin::bind_device(store.as_ref(), &device, &user).await?;
            print(&output, &bound, |b| {
                format!(
                    "device {} bound to user {} (active)",
                    b.device_id, b.user_id
                )
            })
        }
    }
}

fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            EnvFilter::try_from_env("TRUSTID_LOG").unwrap_or_else(|_| EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .init();
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
