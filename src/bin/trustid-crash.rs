//! `trustid-crash`: the crash drill of issue 20. trustid runs as a separate
//! process under a steady load of full flows (a poll and a ping client's
//! requests, phones approving and denying, polls, pings to a receiver
//! here) and is killed with SIGKILL at random moments, `--kills` times,
//! restarting on the same database each time. Then every phone told
//! "approved" must find its request redeemable exactly once (or redeemed),
//! none flips or disappears, no `auth_req_id` yields tokens twice, every
//! ping owed arrives, and SQLite's file passes `PRAGMA integrity_check`.
//! Exits 1 on any violation; `.ci/run` runs it on SQLite and PostgreSQL.

#[path = "trustid_crash/checks.rs"]
mod checks;
#[allow(dead_code)]
#[path = "trustid_bench/device.rs"]
mod device;
#[path = "trustid_crash/flows.rs"]
mod flows;
#[allow(dead_code)]
#[path = "trustid_bench/server.rs"]
mod server;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use clap::Parser;
use rand::Rng;

#[derive(Parser)]
#[command(about = "Kill trustid under load, restart it, and check nothing was lost or given twice")]
struct Args {
    /// SIGKILLs before the checks.
    #[arg(long, default_value_t = 20)]
    kills: usize,
    /// Concurrent flows, each with its own user and phone.
    #[arg(long, default_value_t = 8)]
    workers: usize,
    /// Longest pause between two kills in ms (each pause is random, at least a fifth of it).
    #[arg(long, default_value_t = 1500)]
    max_pause_ms: u64,
    /// A PostgreSQL server (`postgres://…`): the drill runs on a fresh database there
    /// instead of a SQLite file.
    #[arg(long)]
    postgres: Option<String>,
    /// With --postgres: a command that restarts that PostgreSQL server (run
    /// with `sh -c`, after the kills, as often as --postgres-restarts says);
    /// meanwhile trustid must answer 503, never 500, and recover by itself.
    #[arg(long, requires = "postgres")]
    restart_postgres: Option<String>,
    #[arg(long, default_value_t = 3)]
    postgres_restarts: usize,
    /// The `trustid` binary (default: the one next to this one).
    #[arg(long)]
    server_bin: Option<PathBuf>,
}

fn log(text: &str) {
    eprintln!("[trustid-crash] {text}");
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    match run(&args).await {
        Ok(findings) if findings.violations.is_empty() => ExitCode::SUCCESS,
        Ok(findings) => {
            for v in &findings.violations {
                log(&format!("VIOLATION {v}"));
            }
            ExitCode::FAILURE
        }
        Err(e) => {
            log(&format!("error: {e:#}"));
            ExitCode::FAILURE
        }
    }
}

/// A fresh database on the PostgreSQL server at `server`.
async fn fresh_postgres(server: &str) -> anyhow::Result<String> {
    use sqlx::Connection;
    let name = format!(
        "trustid_crash_{}",
        device::random_b64().to_lowercase().replace(['-', '_'], "")
    );
    let mut admin = sqlx::PgConnection::connect(server)
        .await
        .context("cannot reach --postgres")?;
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await?;
    let mut url = url::Url::parse(server)?;
    url.set_path(&format!("/{name}"));
    Ok(url.to_string())
}

async fn run(args: &Args) -> anyhow::Result<checks::Findings> {
    let bin = match &args.server_bin {
        Some(b) => b.clone(),
        None => server::default_bin()?,
    };
    let mut srv = server::Server::prepare(bin, 1, false)?;
    let sqlite_url = format!("sqlite://{}", srv.dir.join("trustid.db").display());
    let database = match &args.postgres {
        Some(server) => fresh_postgres(server).await?,
        None => sqlite_url.clone(),
    };
    srv.set("database_url", &database);
    srv.set("request_expiry", "600");
    srv.spawn()?;
    let http = reqwest::Client::builder().timeout(Duration::from_secs(10)).build()?;
    srv.wait_ready(&http, Duration::from_secs(60)).await?;

    let receiver = flows::Receiver::start().await?;
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<String>>();
    let made = srv.cli_many(
        &[
            s(&["clients", "add", "--name", "drill poll"]),
            s(&[
                "clients",
                "add",
                "--name",
                "drill ping",
                "--delivery-mode",
                "ping",
                "--notification-endpoint",
                &receiver.url,
            ]),
        ],
        2,
    )?;
    let creds = |v: &serde_json::Value| flows::Creds {
        id: v["client_id"].as_str().unwrap_or_default().to_owned(),
        secret: v["client_secret"].as_str().unwrap_or_default().to_owned(),
    };
    let mut phones = Vec::new();
    for w in 0..args.workers.max(1) {
        let user = format!("drill-{w}");
        srv.cli(&s(&["users", "add", &format!("--id={user}")]))?;
        let device = device::Device::new();
        let url = format!("{}/device/v1/devices", srv.base);
        let res = http.post(&url).header("DPoP", device.proof("POST", &url));
        let res = res
            .json(&serde_json::json!({"auth_key": device.auth_jwk()}))
            .send()
            .await?;
        anyhow::ensure!(
            res.status().is_success(),
            "device registration answered {}",
            res.status()
        );
        srv.cli(&s(&[
            "devices",
            "bind",
            &format!("--device={}", device.id),
            &format!("--user={user}"),
        ]))?;
        phones.push((user, device));
    }
    let load = Arc::new(flows::Load {
        base: srv.base.clone(),
        http: http.clone(),
        poll: creds(&made[0]),
        ping: creds(&made[1]),
        receiver,
        stop: AtomicBool::new(false),
        flows: Mutex::new(Vec::new()),
        failures: Mutex::new(Default::default()),
    });
    let workers: Vec<_> = phones
        .into_iter()
        .enumerate()
        .map(|(w, (user, device))| tokio::spawn(flows::worker(load.clone(), w, user, device)))
        .collect();

    let started = Instant::now();
    let mut downtime = Duration::ZERO;
    for k in 1..=args.kills {
        let max = args.max_pause_ms.max(5);
        let pause = rand::thread_rng().gen_range(max / 5..=max);
        tokio::time::sleep(Duration::from_millis(pause)).await;
        srv.kill()?;
        let down = Instant::now();
        srv.spawn()?;
        srv.wait_ready(&http, Duration::from_secs(60)).await?;
        downtime += down.elapsed();
        let done = load.flows.lock().map(|f| f.len()).unwrap_or_default();
        log(&format!(
            "kill {k}/{}: restarted in {:.0} ms; {done} flows so far",
            args.kills,
            down.elapsed().as_secs_f64() * 1000.0
        ));
    }
    if let Some(command) = &args.restart_postgres {
        for r in 1..=args.postgres_restarts {
            tokio::time::sleep(Duration::from_millis(args.max_pause_ms)).await;
            let before = load.flows.lock().map(|f| f.len()).unwrap_or_default();
            let status = std::process::Command::new("sh").args(["-c", command]).status()?;
            anyhow::ensure!(status.success(), "`{command}` failed: {status}");
            // Recovered by itself: flows complete again without a restart of trustid.
            let waited = Instant::now();
            while load.flows.lock().map(|f| f.len()).unwrap_or_default() < before + args.workers.max(1) {
                anyhow::ensure!(
                    waited.elapsed() < Duration::from_secs(60),
                    "no flow completed within 60 s of PostgreSQL's restart"
                );
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            log(&format!(
                "PostgreSQL restart {r}/{}: flows complete again {:.0} ms after the restart command returned",
                args.postgres_restarts,
                waited.elapsed().as_secs_f64() * 1000.0
            ));
        }
    }
    load.stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.await?;
    }
    let flows = load.flows.lock().map(|f| f.clone()).unwrap_or_default();
    log(&format!(
        "{} flows in {:.1} s; waiting for the pings owed ...",
        flows.len(),
        started.elapsed().as_secs_f64()
    ));
    checks::wait_for_pings(&load, &flows, Duration::from_secs(90)).await;
    let db = checks::Database::open(&database).await?;
    let mut findings = checks::check(&load, &flows, &db).await;
    let failures = load.failures.lock().map(|f| f.clone()).unwrap_or_default();
    log(&format!("answers of 500 and above, by status: {failures:?}"));
    if let Some(n) = failures.get(&500) {
        findings
            .violations
            .push(format!("{n} answers of 500: a database that is down must answer 503"));
    }
    srv.kill()?;
    if args.postgres.is_none() {
        let integrity = checks::sqlite_integrity(&sqlite_url).await?;
        if integrity != "ok" {
            findings.violations.push(format!("PRAGMA integrity_check: {integrity}"));
        }
    }
    log(&format!(
        "{} kills survived ({:.1} s down in all); {} flows checked: {} approved ({} redeemed under load, {} after, {} with the answer lost), \
         {} denied, {} unsure; pings owed {}, delivered {}, of them {} more than once; {} violations",
        args.kills,
        downtime.as_secs_f64(),
        findings.flows,
        findings.approved,
        findings.redeemed_during_load,
        findings.redeemed_after,
        findings.answers_lost,
        findings.denied,
        findings.unsure,
        findings.pings_owed,
        findings.pings_delivered,
        findings.pings_repeated,
        findings.violations.len()
    ));
    Ok(findings)
}
