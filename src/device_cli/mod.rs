//! `trustid device`: the reference device. A complete, honest device client
//! that speaks only the public device API over HTTP (`/device/v1/...`), for
//! demos, tests and SDK authors. It never reads trustid's settings or
//! database: it knows a server URL and the key file it keeps.

pub mod client;
mod documents;
pub mod keys;
mod listen;
mod sse;

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::bail;
use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use client::{ACTIVATE_PATH, DEVICES_PATH, DeviceClient, PUSH_CHANNEL_PATH, PUSH_EXCHANGE_PATH, normalize_server};
use keys::{Choice, DeviceKeys};

/// The `device` subcommand.
#[derive(Args)]
pub struct DeviceCommand {
    /// The device's key file (created by `register`, mode 0600).
    #[arg(long, global = true, default_value = "./trustid-device.json")]
    key_file: PathBuf,
    /// The trustid server (its issuer URL); after `register`, defaults to the one in the key file.
    #[arg(long, global = true)]
    server: Option<String>,
    /// Answer in JSON, for scripts.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum DocumentAction {
    /// Register a driver's licence by the salted hash of its barcode.
    Add {
        /// The file holding the raw barcode (it never leaves the device).
        #[arg(long)]
        barcode_file: PathBuf,
        /// A JSON object of the parsed fields, for the relying party's verification service.
        #[arg(long, requires = "client_id")]
        parsed_fields_file: Option<PathBuf>,
        /// The relying party whose verification service should see them.
        #[arg(long, allow_hyphen_values = true)]
        client_id: Option<String>,
    },
}

#[derive(Subcommand)]
enum Action {
    /// Generate a device key and an auth key, store them, and register them with the server.
    Register {
        /// Replace an existing key file (its keys are lost).
        #[arg(long)]
        force: bool,
        /// Say the keys need the OS's own prompt on every use (seed 002's
        /// userAuthenticationRequired): rules then never merely ALLOW.
        #[arg(long)]
        user_authentication_required: bool,
    },
    /// Activate the device for a user with a credential the operator gave.
    #[command(group = clap::ArgGroup::new("credential").required(true))]
    Activate {
        // Credentials are base64url and may start with `-`.
        /// A seed-000 activation code the relying party gave the user.
        #[arg(long, group = "credential", allow_hyphen_values = true)]
        code: Option<String>,
        /// A seed-001 activation password (from the QR code or typed).
        #[arg(long, group = "credential", allow_hyphen_values = true)]
        password: Option<String>,
        /// A seed-002 registration token of an authenticated user.
        #[arg(long, group = "credential", allow_hyphen_values = true)]
        token: Option<String>,
    },
    /// List the pending requests.
    Inbox,
    /// Wait for requests and print each new one (Ctrl-C stops).
    Listen {
        /// Approve every new request (for scripted demos only).
        #[arg(long)]
        auto_approve: bool,
    },
    /// Say how the server can wake this device (a push channel), or stop it.
    #[command(group = clap::ArgGroup::new("push").required(true))]
    Push {
        /// webhook (the customer's push relay), fcm or apns.
        #[arg(long, group = "push", requires = "token")]
        channel: Option<String>,
        /// The device's address on that channel (relay device token, FCM or APNs token).
        #[arg(long, requires = "channel", allow_hyphen_values = true)]
        token: Option<String>,
        /// Remove the push channel: requests reach the inbox only.
        #[arg(long, group = "push")]
        clear: bool,
    },
    /// Trade the push_token a push carried for the request it is about.
    Exchange {
        /// The push_token (base64url; may start with `-`).
        #[arg(allow_hyphen_values = true)]
        push_token: String,
    },
    /// Approve a pending request.
    Approve {
        /// Its transaction_id, as `inbox` shows it (may start with `-`).
        #[arg(allow_hyphen_values = true)]
        transaction_id: String,
        /// Number matching: the number the relying party shows.
        #[arg(long)]
        number: Option<String>,
        /// Executive level: the file holding the identity document's raw barcode.
        #[arg(long)]
        document: Option<PathBuf>,
    },
    /// The user's identity document (the executive level).
    #[command(subcommand)]
    IdentityDocument(DocumentAction),
    /// Deny a pending request.
    Deny {
        /// The transaction's id, as `trustid device inbox` shows it.
        #[arg(allow_hyphen_values = true)]
        transaction_id: String,
        /// The user did not start this request (counts as a failed attempt).
        #[arg(long)]
        fraud: bool,
    },
}

/// Runs one `trustid device` command.
pub async fn run(cmd: DeviceCommand) -> anyhow::Result<()> {
    let server = cmd.server.as_deref().map(normalize_server).transpose()?;
    if let Action::Register {
        force,
        user_authentication_required,
    } = cmd.action
    {
        let Some(server) = server else {
            bail!("register needs --server URL (the trustid issuer, e.g. http://127.0.0.1:8080)");
        };
        return register(&cmd.key_file, &server, force, user_authentication_required, cmd.json).await;
    }
    let mut keys = DeviceKeys::load(&cmd.key_file)?;
    if let Some(server) = server {
        keys.server = server;
    }
    let device = DeviceClient::new(keys)?;
    match cmd.action {
        Action::Register { .. } => unreachable!("handled above"),
        Action::Activate { code, password, token } => {
            let body = match (code, password, token) {
                (Some(c), _, _) => json!({ "activation_code": c }),
                (_, Some(p), _) => json!({ "activation_password": p }),
                (_, _, Some(t)) => json!({ "registration_token": t }),
                _ => bail!("pass one of --code, --password and --token"),
            };
            let done = device
                .send(Method::POST, ACTIVATE_PATH, &[], Some(&body), Duration::from_secs(30))
                .await?;
            print(cmd.json, &done, || {
                format!(
                    "device {} is active for user {}",
                    done["device_id"].as_str().unwrap_or("?"),
                    done["user_id"].as_str().unwrap_or("?")
                )
            })
        }
        Action::Inbox => {
            let items = device.inbox().await?;
            let listed = json!({ "transactions": items });
            print(cmd.json, &listed, || {
                if items.is_empty() {
                    "no pending requests".to_owned()
                } else {
                    items.iter().map(describe).collect::<Vec<_>>().join("\n")
                }
            })
        }
        Action::Push {
            channel,
            token,
            clear: _,
        } => {
            let done = match (channel, token) {
                (Some(channel), Some(token)) => {
                    let body = json!({ "channel": channel, "token": token });
                    device
                        .send(
                            Method::PUT,
                            PUSH_CHANNEL_PATH,
                            &[],
                            Some(&body),
                            Duration::from_secs(30),
                        )
                        .await?
                }
                _ => {
                    device
                        .send(Method::DELETE, PUSH_CHANNEL_PATH, &[], None, Duration::from_secs(30))
                        .await?
                }
            };
            print(cmd.json, &done, || match done["channel"].as_str() {
                Some(channel) => format!("pushes reach this device through {channel}"),
                None => "no push channel: requests reach the inbox only".to_owned(),
            })
        }
        Action::Exchange { push_token } => {
            let body = json!({ "push_token": push_token });
            let done = device
                .send(
                    Method::POST,
                    PUSH_EXCHANGE_PATH,
                    &[],
                    Some(&body),
                    Duration::from_secs(30),
                )
                .await?;
            print(cmd.json, &done, || describe(&done["transaction"]))
        }
        Action::Listen { auto_approve } => listen::listen(&device, auto_approve, cmd.json).await,
        Action::Approve {
            transaction_id,
            number,
            document,
        } => {
            let document_hash = match document {
                Some(file) => Some(documents::hash_of(&device, &file).await?),
                None => None,
            };
            let choice = Choice {
                fraud: false,
                number,
                document_hash,
            };
            decide(&device, &transaction_id, "approve", &choice, cmd.json).await
        }
        Action::Deny { transaction_id, fraud } => {
            let choice = Choice {
                fraud,
                number: None,
                document_hash: None,
            };
            decide(&device, &transaction_id, "deny", &choice, cmd.json).await
        }
        Action::IdentityDocument(DocumentAction::Add {
            barcode_file,
            parsed_fields_file,
            client_id,
        }) => {
            let done = documents::add(
                &device,
                &barcode_file,
                parsed_fields_file.as_deref(),
                client_id.as_deref(),
            )
            .await?;
            print(cmd.json, &done, || {
                format!(
                    "{} registered ({})",
                    done["type"].as_str().unwrap_or("?"),
                    done["status"].as_str().unwrap_or("?")
                )
            })
        }
    }
}

fn print(json: bool, value: &Value, text: impl FnOnce() -> String) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(value)?);
    } else {
        println!("{}", text());
    }
    Ok(())
}

async fn register(
    path: &Path,
    server: &str,
    force: bool,
    user_authentication_required: bool,
    json: bool,
) -> anyhow::Result<()> {
    keys::check_absent(path, force)?;
    let device_keys = DeviceKeys::generate(server);
    // The keys are on disk before the server hears of them, and the file
    // takes its place only once the server accepted them.
    let pending = device_keys.save_pending(path)?;
    let auth_key = keys::public_jwk(&device_keys.auth_key);
    let device = DeviceClient::new(device_keys)?;
    let registered = device
        .send(
            Method::POST,
            DEVICES_PATH,
            &[],
            Some(&json!({ "auth_key": auth_key, "user_authentication_required": user_authentication_required })),
            Duration::from_secs(30),
        )
        .await
        .and_then(|answer| {
            let expected = device.keys.device_id();
            if answer["device_id"].as_str() != Some(expected.as_str()) {
                bail!("the server named the device {}, not {expected}", answer["device_id"]);
            }
            keys::commit(&pending, path, force)?;
            Ok(answer)
        });
    let answer = match registered {
        Ok(answer) => answer,
        Err(e) => {
            let _ = std::fs::remove_file(&pending);
            return Err(e);
        }
    };
    let device_id = device.keys.device_id();
    let status = answer["status"].as_str().unwrap_or("inactive");
    let out = json!({
        "device_id": device_id,
        "status": status,
        "server": device.server,
        "key_file": path.display().to_string(),
    });
    print(json, &out, || {
        format!(
            "device_id: {device_id}\nstatus:    {status}\nkeys in {} (mode 0600)\n\
             next: an operator binds it (trustid devices bind --device {device_id} --user USER),\n      \
             or activate it with a credential: trustid device activate --code CODE",
            path.display()
        )
    })
}

async fn decide(device: &DeviceClient, txn: &str, decision: &str, choice: &Choice, json: bool) -> anyhow::Result<()> {
    let items = device.inbox().await?;
    let Some(item) = items.iter().find(|i| i["transaction_id"].as_str() == Some(txn)) else {
        bail!("{txn} is not in this device's inbox (decided, expired, withdrawn, or another user's request)");
    };
    let answer = device.decide(item, decision, choice).await?;
    print(json, &answer, || {
        format!(
            "{txn}: {} ({:?} from {})",
            answer["status"].as_str().unwrap_or(decision),
            item["binding_message"].as_str().unwrap_or_default(),
            item["client_name"].as_str().unwrap_or("?")
        )
    })
}

/// The expiry as the user reads it: a UTC time and how long is left.
fn expiry(item: &Value) -> String {
    let Some(at) = item["expires_at"].as_i64() else {
        return item["expires_at"].to_string();
    };
    let left = at - keys::now_s();
    let when = time::OffsetDateTime::from_unix_timestamp(at)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_else(|| at.to_string());
    if left > 0 {
        format!("{when} (in {left} s)")
    } else {
        format!("{when} (expired)")
    }
}

/// One inbox item as a person reads it: who asks, the text to show, until when.
fn describe(item: &Value) -> String {
    let s = |name: &str| item[name].as_str().unwrap_or("?").to_owned();
    let number = if client::needs_number(item) {
        "\n  number:  type the number the relying party shows (--number N)"
    } else {
        ""
    };
    format!(
        "{}\n  from:    {}\n  message: {}\n  type:    {}\n  expires: {}{number}",
        s("transaction_id"),
        s("client_name"),
        s("binding_message"),
        s("transaction_type"),
        expiry(item)
    )
}
