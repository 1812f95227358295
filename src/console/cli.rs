//! `trustid admin create|passwd|disable|forget-phones|list`: the accounts
//! that sign in to
//! the console. A password is read from standard input (typed at a terminal
//! without echo, twice; or the first line of a pipe), never taken as an
//! argument, where `ps` and shell history would show it.

use std::io::{BufRead, IsTerminal, Write};
use std::process::{Command, Stdio};

use anyhow::bail;
use clap::Subcommand;

use crate::engine::admins;
use crate::store::Store;

#[derive(Subcommand)]
pub enum AdminCommand {
    /// Create an admin; the password is read from standard input.
    Create {
        /// The admin's e-mail address (their sign-in name).
        #[arg(long)]
        email: String,
        /// Answer in JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
    /// Set an admin's password (read from standard input).
    Passwd {
        /// The admin's e-mail address.
        #[arg(long)]
        email: String,
    },
    /// Disable an admin: no more sign-ins (the account stays for the audit trail).
    Disable {
        /// The admin's e-mail address.
        #[arg(long)]
        email: String,
    },
    /// Remove every phone bound to an admin (lost or replaced) and end
    /// their sessions; they then sign in by password and bind a new one.
    ForgetPhones {
        /// The admin's e-mail address.
        #[arg(long)]
        email: String,
    },
    /// Every admin.
    List {
        /// Answer in JSON, for scripts.
        #[arg(long)]
        json: bool,
    },
}

pub async fn run(store: &dyn Store, now: i64, command: AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Create { email, json } => {
            let created = admins::create_admin(store, &email, read_password()?, now).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&created)?);
            } else {
                println!("admin {} created", created.email);
            }
        }
        AdminCommand::Passwd { email } => {
            admins::set_password(store, &email, read_password()?, now).await?;
            println!("password of {} changed", email.trim().to_lowercase());
        }
        AdminCommand::Disable { email } => {
            admins::disable(store, &email, now).await?;
            println!("admin {} disabled", email.trim().to_lowercase());
        }
        AdminCommand::ForgetPhones { email } => {
            let removed = admins::forget_phones(store, &email, now).await?;
            println!("{removed} phone(s) of {} removed", email.trim().to_lowercase());
        }
        AdminCommand::List { json } => {
            let all = admins::list(store).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&all)?);
            } else {
                for a in &all {
                    let state = if a.disabled { "disabled" } else { "enabled" };
                    println!("{}\t{state}", a.email);
                }
            }
        }
    }
    Ok(())
}

/// The password from standard input: at a terminal, typed twice without
/// echo; from a pipe, its first line.
fn read_password() -> anyhow::Result<String> {
    let tty = std::io::stdin().is_terminal();
    let first = read_line(tty, "Password: ")?;
    if tty && read_line(tty, "Again: ")? != first {
        bail!("the two passwords differ");
    }
    if first.is_empty() {
        bail!("no password: type it, or pipe it on standard input");
    }
    Ok(first)
}

fn read_line(tty: bool, prompt: &str) -> anyhow::Result<String> {
    let stty = |arg: &str| {
        Command::new("stty")
            .arg(arg)
            .stdin(Stdio::inherit())
            .status()
            .is_ok_and(|s| s.success())
    };
    let mut echo_off = false;
    if tty {
        eprint!("{prompt}");
        std::io::stderr().flush()?;
        echo_off = stty("-echo");
    }
    let mut line = String::new();
    let read = std::io::stdin().lock().read_line(&mut line);
    if echo_off {
        stty("echo");
        eprintln!();
    }
    read?;
    Ok(line.trim_end_matches(['\r', '\n']).to_owned())
}
