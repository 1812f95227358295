//! `trustid users list | show | lock | unlock | remove` and `trustid devices
//! list | show | remove | lock | unlock`: the engine's user and device changes
//! (`engine::users`), as the console and the management API make them.

use serde_json::{Value, json};

use super::{Output, print, table, when};
use crate::domain::device::Device;
use crate::domain::ids::{DeviceId, UserId};
use crate::domain::user::{User, UserStatus};
use crate::engine::AppState;
use crate::engine::users::{self, Actor, Refusal};

#[derive(clap::Subcommand, Debug)]
pub enum UsersLook {
    /// Users, newest first (removed ones only with `--status removed`).
    List {
        /// active, locked or removed.
        #[arg(long)]
        status: Option<String>,
        /// Part of an id, e-mail address or phone number (any case).
        #[arg(long)]
        search: Option<String>,
        /// At most this many.
        #[arg(long, default_value_t = 50)]
        limit: i64,
        #[command(flatten)]
        output: Output,
    },
    /// One user, found by id, e-mail or phone, with their devices.
    Show {
        /// A user id, an e-mail address or a phone number.
        #[arg(allow_hyphen_values = true)]
        who: String,
        #[command(flatten)]
        output: Output,
    },
    /// Refuse every request for the user until unlocked.
    Lock {
        /// The user's id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Let a locked user be asked again.
    Unlock {
        /// The user's id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        output: Output,
    },
    /// Unregister the user: their devices, bindings and open requests go
    /// (each open request's client is told); the user stays, removed, for the
    /// audit trail.
    Remove {
        /// The user's id.
        #[arg(allow_hyphen_values = true)]
        id: String,
        #[command(flatten)]
        output: Output,
    },
}

#[derive(clap::Subcommand, Debug)]
pub enum DevicesLook {
    /// One device, whoever it belongs to.
    Show {
        /// The device's id.
        #[arg(allow_hyphen_values = true)]
        device: String,
        #[command(flatten)]
        output: Output,
    },
    /// A user's devices.
    List {
        /// The user's id.
        #[arg(long, allow_hyphen_values = true)]
        user: String,
        #[command(flatten)]
        output: Output,
    },
    /// Remove one of a user's devices.
    Remove {
        /// The user's id.
        #[arg(long, allow_hyphen_values = true)]
        user: String,
        /// The device's id.
        #[arg(long, allow_hyphen_values = true)]
        device: String,
        #[command(flatten)]
        output: Output,
    },
    /// Lock one of a user's active devices.
    Lock {
        /// The user's id.
        #[arg(long, allow_hyphen_values = true)]
        user: String,
        /// The device's id.
        #[arg(long, allow_hyphen_values = true)]
        device: String,
        #[command(flatten)]
        output: Output,
    },
    /// Unlock a locked device (after too many failed decisions, say).
    Unlock {
        /// The user's id.
        #[arg(long, allow_hyphen_values = true)]
        user: String,
        /// The device's id.
        #[arg(long, allow_hyphen_values = true)]
        device: String,
        #[command(flatten)]
        output: Output,
    },
}

fn refused(e: Refusal) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

/// A user as an operator sees them: never a hash.
fn user_json(user: &User) -> Value {
    json!({
        "user_id": user.id, "email": user.email, "phone": user.phone,
        "status": user.status.as_str(), "failed_attempts": user.failed_attempts,
        "created_at": user.created_at,
    })
}

fn device_json(device: &Device) -> Value {
    json!({
        "device_id": device.id, "status": device.status.as_str(), "preferred": device.preferred,
        "failed_attempts": device.failed_attempts, "push": device.push.as_ref().map(|(channel, _)| channel.as_str()),
        "created_at": device.created_at,
    })
}

fn device_rows(devices: &[Device]) -> String {
    let rows: Vec<Vec<String>> = devices
        .iter()
        .map(|d| {
            vec![
                d.id.to_string(),
                d.status.as_str().to_owned(),
                if d.preferred { "yes" } else { "" }.to_owned(),
                d.failed_attempts.to_string(),
                when(Some(d.created_at)),
            ]
        })
        .collect();
    table(&["device_id", "status", "preferred", "failed", "created"], &rows)
}

pub async fn run_users(state: &AppState, command: UsersLook) -> anyhow::Result<()> {
    let actor = Actor::Operator;
    match command {
        UsersLook::List {
            status,
            search,
            limit,
            output,
        } => {
            if let Some(status) = &status {
                status
                    .parse::<UserStatus>()
                    .map_err(|_| anyhow::anyhow!("--status: active, locked or removed"))?;
            }
            if !(1..=10_000).contains(&limit) {
                anyhow::bail!("--limit: between 1 and 10000");
            }
            let found = state
                .store
                .users_list(status.as_deref(), search.as_deref(), limit)
                .await?;
            let listed: Vec<Value> = found.iter().map(user_json).collect();
            print(&output, &listed, |_| {
                let rows: Vec<Vec<String>> = found
                    .iter()
                    .map(|u| {
                        vec![
                            u.id.to_string(),
                            u.email.clone().unwrap_or_default(),
                            u.phone.clone().unwrap_or_default(),
                            u.status.as_str().to_owned(),
                            u.failed_attempts.to_string(),
                            when(Some(u.created_at)),
                        ]
                    })
                    .collect();
                table(&["user_id", "email", "phone", "status", "failed", "created"], &rows)
            })
        }
        UsersLook::Show { who, output } => {
            let (user, _) = state
                .store
                .user_by_hint_counting_devices(&who)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no user with the id, e-mail or phone {who}"))?;
            let (user, devices) = users::devices(state, &actor, &user.id).await.map_err(refused)?;
            let mut shown = user_json(&user);
            shown["devices"] = devices.iter().map(device_json).collect();
            print(&output, &shown, |_| {
                let contact = [user.email.as_deref(), user.phone.as_deref()];
                let contact: Vec<&str> = contact.into_iter().flatten().collect();
                format!(
                    "user {} ({}), {}, {} failed attempts, created {}\n\n{}",
                    user.id,
                    if contact.is_empty() {
                        "no contact".to_owned()
                    } else {
                        contact.join(", ")
                    },
                    user.status.as_str(),
                    user.failed_attempts,
                    when(Some(user.created_at)),
                    device_rows(&devices)
                )
            })
        }
        UsersLook::Lock { id, output } => set_status(state, &actor, id, UserStatus::Locked, &output).await,
        UsersLook::Unlock { id, output } => set_status(state, &actor, id, UserStatus::Active, &output).await,
        UsersLook::Remove { id, output } => {
            let id = UserId::new(id);
            let detail = Some("from the command line".to_owned());
            let removed = users::unregister(state, &actor, &id, detail).await.map_err(refused)?;
            let answer = json!({
                "user_id": id, "devices": removed.devices, "bindings": removed.bindings,
                "registrations": removed.registrations, "transactions_ended": removed.transactions,
            });
            print(&output, &answer, |_| {
                format!(
                    "user {id} removed: {} devices, {} bindings, {} registrations, {} open requests ended",
                    removed.devices, removed.bindings, removed.registrations, removed.transactions
                )
            })
        }
    }
}

async fn set_status(
    state: &AppState,
    actor: &Actor,
    id: String,
    status: UserStatus,
    output: &Output,
) -> anyhow::Result<()> {
    let id = UserId::new(id);
    users::set_status(state, actor, &id, status).await.map_err(refused)?;
    let answer = json!({"user_id": id, "status": status.as_str()});
    print(output, &answer, |_| format!("user {id} is {}", status.as_str()))
}

pub async fn run_devices(state: &AppState, command: DevicesLook) -> anyhow::Result<()> {
    let actor = Actor::Operator;
    let (user, device, output, action) = match command {
        DevicesLook::Show { device, output } => {
            let found = state
                .store
                .device(&device)
                .await?
                .ok_or_else(|| anyhow::anyhow!("no such device: {device}"))?;
            let mut shown = device_json(&found);
            shown["user_id"] = json!(found.user_id);
            return print(&output, &shown, |v| serde_json::to_string_pretty(v).unwrap_or_default());
        }
        DevicesLook::List { user, output } => {
            let (_, devices) = users::devices(state, &actor, &UserId::new(user))
                .await
                .map_err(refused)?;
            let listed: Vec<Value> = devices.iter().map(device_json).collect();
            return print(&output, &listed, |_| device_rows(&devices));
        }
        DevicesLook::Remove { user, device, output } => (user, device, output, "removed"),
        DevicesLook::Lock { user, device, output } => (user, device, output, "locked"),
        DevicesLook::Unlock { user, device, output } => (user, device, output, "unlocked"),
    };
    let (user, device) = (UserId::new(user), DeviceId::new(device));
    match action {
        "removed" => users::remove_device(state, &actor, &user, &device).await,
        locked => users::set_device_locked(state, &actor, &user, &device, locked == "locked").await,
    }
    .map_err(refused)?;
    let answer = json!({"user_id": user, "device_id": device, "status": action});
    print(&output, &answer, |_| format!("device {device} of {user}: {action}"))
}
