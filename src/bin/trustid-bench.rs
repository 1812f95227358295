//! `trustid-bench`: the load generator that ships with trustid (issue 8).
//!
//! It starts `trustid serve` on a fresh directory and a free loopback port
//! (or targets a running CIBA server with `--target-url`), creates clients,
//! users and devices with real P-256 keys, then measures in one run: start-up
//! to ready, the HTTP ceiling of a trivial route, full poll flows (sequential
//! and under load), ping delivery, backchannel requests/s, the server's RSS
//! with 100,000 pending requests, and token polls on pending requests. It
//! prints a table and writes `results.json` and `chart.svg` under `--out`
//! (default `target/bench`). Loopback only; every phase is bounded in time
//! and count. `--quick` is the few-second smoke run CI uses.

#[path = "trustid_bench/ciba.rs"]
mod ciba;
#[path = "trustid_bench/console.rs"]
mod console;
#[path = "trustid_bench/console_open.rs"]
mod console_open;
#[path = "trustid_bench/console_rows.rs"]
mod console_rows;
#[path = "trustid_bench/database.rs"]
mod database;
#[path = "trustid_bench/device.rs"]
mod device;
#[path = "trustid_bench/flow_checks.rs"]
mod flow_checks;
#[path = "trustid_bench/hostile.rs"]
mod hostile;
#[path = "trustid_bench/instance_checks.rs"]
mod instance_checks;
#[path = "trustid_bench/load.rs"]
mod load;
#[path = "trustid_bench/phases.rs"]
mod phases;
#[path = "trustid_bench/raw.rs"]
mod raw;
#[path = "trustid_bench/report.rs"]
mod report;
#[path = "trustid_bench/saml.rs"]
mod saml;
#[path = "trustid_bench/server.rs"]
mod server;

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{Context, bail};
use clap::Parser;
use serde_json::json;

use load::{Bounds, Phase};
use phases::{Ctx, Phone};
use report::{Results, Rss, Startup};

const ALL_PHASES: [&str; 9] = [
    "startup",
    "trivial",
    "flows",
    "saml",
    "ping",
    "backchannel",
    "fill",
    "polls",
    "impatient",
];
const TARGET_PHASES: [&str; 4] = ["trivial", "backchannel", "polls", "impatient"];
/// Opt-in (`--console`, or named in `--phases`), after all others: `console`
/// loads `--console-rows` transactions into the stopped server's database and
/// reads the console's pages; `console_open` runs the backchannel phase
/// without and with a console open in a browser.
const CONSOLE_PHASES: [&str; 2] = ["console", "console_open"];
/// Opt-in too (issue 20): a well-behaved client measured calm, then while
/// idle connections are held, another client floods, and a partner hangs.
const HOSTILE: &str = "hostile";

#[derive(Parser, Debug, Clone)]
#[command(
    name = "trustid-bench",
    version,
    about = "Load and latency bench for trustid (or another CIBA server on loopback)"
)]
struct Args {
    /// The trustid binary to start (default: `trustid` next to this binary).
    #[arg(long)]
    server_bin: Option<PathBuf>,
    /// Measure a running CIBA server instead (base or discovery URL, loopback
    /// only): the phases that need no approval (trivial, backchannel, fill, polls, impatient).
    #[arg(long)]
    target_url: Option<String>,
    /// With --target-url: a poll-mode client (client_secret_basic).
    #[arg(long, requires = "target_url")]
    client_id: Option<String>,
    #[arg(long, requires = "target_url")]
    client_secret: Option<String>,
    /// With --target-url: the login_hint; `{n}` is replaced by 0..--login-hint-count.
    #[arg(long, default_value = "user{n}")]
    login_hint: String,
    #[arg(long, default_value_t = 1000)]
    login_hint_count: usize,
    /// With --target-url: a binding_message the target keeps pending (the node peer: HOLD).
    #[arg(long, default_value = "HOLD")]
    binding_message: String,
    /// With --target-url: the target's pid, to sample its RSS and CPU.
    #[arg(long)]
    server_pid: Option<u32>,

    /// Comma-separated phases (default: all; with --target-url: trivial,backchannel,polls,impatient).
    /// Known: startup, trivial, flows, saml, ping, backchannel, fill, polls, impatient;
    /// and, never by default, console, console_open, hostile.
    #[arg(long)]
    phases: Option<String>,
    /// Add the console phases (issue 19) to the chosen ones.
    #[arg(long)]
    console: bool,
    /// Hostile phases: connections of the measured client.
    #[arg(long, default_value_t = 4)]
    hostile_concurrency: usize,
    /// Hostile phases: connections opened and never used.
    #[arg(long, default_value_t = 2000)]
    idle_connections: usize,
    /// Hostile phases: connections of the flooding client.
    #[arg(long, default_value_t = 64)]
    flood_concurrency: usize,
    /// Transactions written into the database for the console phase.
    #[arg(long, default_value_t = 1_000_000)]
    console_rows: usize,
    /// Requests per kind of console page (each kind also bounded by --duration).
    #[arg(long, default_value_t = 300)]
    console_samples: usize,
    /// Concurrent connections of the load phases.
    #[arg(long, default_value_t = 32)]
    concurrency: usize,
    /// Seconds per throughput phase.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Pending requests to hold before measuring RSS and polls (fill phase).
    #[arg(long, default_value_t = 100_000)]
    pending: usize,
    #[arg(long, default_value_t = 64)]
    fill_concurrency: usize,
    /// Upper bound of the fill phase, seconds.
    #[arg(long, default_value_t = 180.0)]
    fill_timeout: f64,
    /// Users the pending requests are spread over.
    #[arg(long, default_value_t = 100)]
    pending_users: usize,
    /// TRUSTID_POLL_INTERVAL of the started server (seconds, ≥ 1).
    #[arg(long, default_value_t = 1)]
    poll_interval: i64,
    /// Seconds between two polls of one request (default: the interval the server answered).
    #[arg(long)]
    poll_pace: Option<f64>,
    /// Pending requests the poll phase cycles through.
    #[arg(long, default_value_t = 100_000)]
    poll_pool: usize,
    /// Upper bound of the first pass over the poll pool, seconds.
    #[arg(long, default_value_t = 60.0)]
    first_poll_timeout: f64,
    /// Pool of the impatient polls (no pacing).
    #[arg(long, default_value_t = 64)]
    impatient_pool: usize,
    /// Sequential full flows (bounded by 20 s).
    #[arg(long, default_value_t = 300)]
    flows_sequential: usize,
    /// Sequential ping flows (bounded by 20 s).
    #[arg(long, default_value_t = 300)]
    ping_samples: usize,
    /// Restarts measured for the warm start-up figure.
    #[arg(long, default_value_t = 3)]
    warm_starts: usize,
    /// A setting for the started server, `NAME=VALUE` (as `TRUSTID_NAME`), repeatable;
    /// e.g. `--server-setting sqlite_synchronous=normal`.
    #[arg(long = "server-setting", value_name = "NAME=VALUE")]
    server_settings: Vec<String>,
    /// Run the started server on PostgreSQL: a fresh database is created on
    /// the server this URL names (e.g. postgres://postgres@127.0.0.1:5432/postgres)
    /// and dropped after the run.
    #[arg(long, value_name = "URL")]
    database: Option<String>,
    /// Start this many instances of the server on the one --database, all
    /// answering as the same issuer; workers are spread over them, the CPU
    /// and RSS are their sums, and the flows race each redemption on two.
    #[arg(long, default_value_t = 1)]
    instances: usize,
    /// A results.json of one instance on the same database, measured in the
    /// same session: judges the pair's rates (`--instances 2`).
    #[arg(long, value_name = "RESULTS_JSON")]
    compare_single: Option<PathBuf>,
    /// Threads of the bench's own runtime (1 = a single-threaded client, like `wrk -t1`).
    #[arg(long, default_value_t = 1)]
    client_threads: usize,
    /// Rest before the idle and the pending RSS readings, milliseconds.
    #[arg(long, default_value_t = 1000)]
    settle_ms: u64,
    /// Before each phase, wait up to this many seconds for other processes
    /// to use less than 0.15 cores (other work on the machine skews figures).
    #[arg(long, default_value_t = 0.0)]
    wait_idle: f64,
    /// Tiny counts, a few seconds in all: the CI smoke run.
    #[arg(long)]
    quick: bool,
    /// Where results.json and chart.svg go.
    #[arg(long, default_value = "target/bench")]
    out: PathBuf,
    /// A name for this run in the results.
    #[arg(long, default_value = "")]
    label: String,
    /// A previous results.json (e.g. of the node peer) to compare with.
    #[arg(long)]
    compare: Option<PathBuf>,
    /// node's full flows, as `../shared/peers/bench_ciba.py --phases c --json F`
    /// wrote them in the same session: judges the completed authentications.
    #[arg(long, value_name = "NODE.json")]
    compare_flows: Option<PathBuf>,
    /// Keep the server's temporary directory (database, keys, server.log).
    #[arg(long)]
    keep_dir: bool,
    /// Draw chart.svg (into --out, with --compare) from a stored results.json and exit.
    #[arg(long, value_name = "RESULTS_JSON")]
    chart: Option<PathBuf>,
    /// Print medians [min–max] of these results.json files and exit.
    #[arg(long, num_args = 1.., value_name = "RESULTS_JSON")]
    summarize: Vec<PathBuf>,
}

impl Args {
    fn apply_quick(&mut self) {
        if !self.quick {
            return;
        }
        self.duration = self.duration.min(0.4);
        self.concurrency = self.concurrency.min(8);
        self.fill_concurrency = self.fill_concurrency.min(16);
        self.pending = self.pending.min(600);
        self.pending_users = self.pending_users.min(4);
        self.fill_timeout = self.fill_timeout.min(2.0);
        self.first_poll_timeout = self.first_poll_timeout.min(1.5);
        self.flows_sequential = self.flows_sequential.min(10);
        self.ping_samples = self.ping_samples.min(10);
        self.warm_starts = self.warm_starts.min(1);
        self.poll_pool = self.poll_pool.min(600);
        self.settle_ms = self.settle_ms.min(200);
        self.console_rows = self.console_rows.min(2_000);
        self.console_samples = self.console_samples.min(20);
        self.idle_connections = self.idle_connections.min(50);
        self.flood_concurrency = self.flood_concurrency.min(8);
    }

    fn phases(&self) -> anyhow::Result<Vec<String>> {
        let mut chosen: Vec<String> = match &self.phases {
            Some(list) => list
                .split(',')
                .map(|p| p.trim().to_owned())
                .filter(|p| !p.is_empty())
                .collect(),
            None if self.target_url.is_some() => TARGET_PHASES.iter().map(|p| (*p).to_owned()).collect(),
            None => ALL_PHASES.iter().map(|p| (*p).to_owned()).collect(),
        };
        if self.console {
            chosen.extend(CONSOLE_PHASES.iter().map(|p| (*p).to_owned()));
        }
        if self.instances > 1 && self.phases.is_none() {
            // Start-up restarts one server: measured with one instance.
            chosen.retain(|p| p != "startup");
        }
        for p in &chosen {
            if !ALL_PHASES.contains(&p.as_str()) && !CONSOLE_PHASES.contains(&p.as_str()) && p != HOSTILE {
                bail!(
                    "unknown phase `{p}` (known: {}, {}, {HOSTILE})",
                    ALL_PHASES.join(", "),
                    CONSOLE_PHASES.join(", ")
                );
            }
            if self.target_url.is_some()
                && ["startup", "flows", "saml", "ping", "console", "console_open", HOSTILE].contains(&p.as_str())
            {
                bail!("phase `{p}` needs a device approval, which only a started trustid gets");
            }
        }
        Ok(chosen)
    }

    fn settle(&self) -> Duration {
        Duration::from_millis(self.settle_ms)
    }

    /// Waits (bounded by --wait-idle) until the rest of the machine is quiet.
    async fn quiet(&self, pids: &[u32], phase: &str, notes: &mut Vec<String>) {
        if self.wait_idle <= 0.0 {
            return;
        }
        let (waited, busy) = load::wait_idle(pids, Duration::from_secs_f64(self.wait_idle), 0.15).await;
        if busy >= 0.15 {
            notes.push(format!(
                "{phase}: other processes still used {busy:.2} cores after waiting {waited:.0} s"
            ));
        }
    }

    fn bounds(&self, concurrency: usize) -> Bounds {
        Bounds {
            concurrency: concurrency.max(1),
            duration: Duration::from_secs_f64(self.duration),
            max_ops: 100_000_000,
        }
    }

    fn config(&self) -> serde_json::Value {
        json!({
            "concurrency": self.concurrency, "duration_s": self.duration, "pending": self.pending,
            "fill_concurrency": self.fill_concurrency, "pending_users": self.pending_users,
            "poll_interval": self.poll_interval, "poll_pace": self.poll_pace, "poll_pool": self.poll_pool,
            "impatient_pool": self.impatient_pool, "flows_sequential": self.flows_sequential,
            "ping_samples": self.ping_samples, "client_threads": self.client_threads, "quick": self.quick,
            "wait_idle_s": self.wait_idle, "console_rows": self.console_rows,
            "console_samples": self.console_samples,
            "cpus": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "phases": self.phases().unwrap_or_default(),
            "database": if self.database.is_some() { "postgres" } else { "sqlite" },
            "instances": self.instances.max(1),
        })
    }
}

fn log(msg: &str) {
    eprintln!("[trustid-bench] {msg}");
}

fn ms(d: Duration) -> f64 {
    (d.as_secs_f64() * 10_000.0).round() / 10.0
}

fn peak(phases: &[Phase]) -> Option<f64> {
    phases
        .iter()
        // The console phases run last, over another history: not the load phases' peak.
        .filter(|p| p.name != "fill" && !p.name.starts_with("console") && !p.name.starts_with("bc_"))
        .filter_map(|p| p.usage.server_rss_peak_mib)
        .reduce(f64::max)
}

/// The phases that need no device, in the order both modes run them.
async fn load_phases(args: &Args, ctx: &Arc<Ctx>, chosen: &[String], r: &mut Results) -> anyhow::Result<()> {
    let has = |p: &str| chosen.iter().any(|c| c == p);
    if has("backchannel") {
        args.quiet(&ctx.pids, "backchannel", &mut r.notes).await;
        log("backchannel requests ...");
        let p = phases::backchannel(
            ctx,
            args.bounds(args.concurrency),
            "backchannel",
            "POST backchannel requests that stay pending",
        )
        .await?;
        r.phases.push(p);
    }
    if has("fill") && ctx.pending_count() < args.pending {
        log(&format!("creating pending requests up to {} ...", args.pending));
        let bounds = Bounds {
            concurrency: args.fill_concurrency.max(1),
            duration: Duration::from_secs_f64(args.fill_timeout),
            max_ops: (args.pending - ctx.pending_count()) as u64,
        };
        let what = "backchannel requests while the table grows to the pending target";
        let p = phases::backchannel(ctx, bounds, "fill", what).await?;
        r.phases.push(p);
    }
    if has("fill") || has("backchannel") {
        tokio::time::sleep(args.settle()).await;
        r.rss.pending_count = Some(ctx.pending_count());
        r.rss.pending_mib = load::rss_kib_sum(&ctx.pids).map(load::mib);
    }
    if has("polls") {
        args.quiet(&ctx.pids, "polls", &mut r.notes).await;
        let interval = ctx.interval.lock().ok().and_then(|i| *i);
        let pace = args.poll_pace.unwrap_or(interval.unwrap_or(0) as f64);
        log(&format!(
            "token polls on pending requests (pool ≤ {}, each polled at most every {pace} s) ...",
            args.poll_pool
        ));
        let first = Duration::from_secs_f64(args.first_poll_timeout);
        let ps = phases::polls(
            ctx,
            args.poll_pool,
            Duration::from_secs_f64(pace),
            first,
            args.bounds(args.concurrency),
        )
        .await?;
        let pool = ps
            .first()
            .and_then(|p| p.extra.get("pool"))
            .cloned()
            .unwrap_or_default();
        r.notes.push(if pace > 0.0 {
            format!(
                "polls: round-robin over {pool} pending requests, each polled at most every {pace} s (+20 ms) after its last answer; \
                 slow_down answers are counted apart and not in the rate"
            )
        } else {
            format!("polls: round-robin over {pool} pending requests, no pacing (the server answered no interval)")
        });
        r.phases.extend(ps);
    }
    if has("impatient") {
        args.quiet(&ctx.pids, "impatient", &mut r.notes).await;
        log("impatient polls (small pool, no pacing) ...");
        let p = phases::polls_impatient(ctx, args.impatient_pool, args.bounds(args.concurrency)).await?;
        r.phases.push(p);
    }
    Ok(())
}

async fn run_started(args: &Args, chosen: &[String], r: &mut Results, database: Option<&str>) -> anyhow::Result<()> {
    let has = |p: &str| chosen.iter().any(|c| c == p);
    let bin = match &args.server_bin {
        Some(b) => b.clone(),
        None => server::default_bin()?,
    };
    let mut srv = server::Server::prepare(bin, args.poll_interval, args.keep_dir)?;
    if let Some(url) = database {
        srv.set("database_url", url);
        r.notes
            .push("database: a fresh PostgreSQL database (--database)".into());
    }
    for setting in &args.server_settings {
        let (name, value) = setting
            .split_once('=')
            .with_context(|| format!("--server-setting `{setting}` is not NAME=VALUE"))?;
        srv.set(name, value);
    }
    r.mode = "started".into();
    r.server = srv.bin().display().to_string();
    r.notes.push(format!(
        "server started with {}",
        srv.env()
            .iter()
            .filter(|(k, _)| !["TRUSTID_DATABASE_URL", "TRUSTID_KEYS_DIR"].contains(&k.as_str()))
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(" ")
    ));
    if args.keep_dir {
        log(&format!("server directory: {}", srv.dir.display()));
    }

    // 7. Start-up to ready: spawn → discovery answers.
    srv.spawn()?;
    let cold = srv.wait_ready(&ciba::http_client()?, Duration::from_secs(60)).await?;
    if has("startup") {
        let mut warm = Vec::new();
        for _ in 0..args.warm_starts {
            srv.stop()?;
            srv.spawn()?;
            warm.push(ms(srv
                .wait_ready(&ciba::http_client()?, Duration::from_secs(60))
                .await?));
        }
        let mut sorted = warm.clone();
        sorted.sort_by(f64::total_cmp);
        r.startup = Some(Startup {
            cold_ms: ms(cold),
            warm_median_ms: sorted.get(sorted.len() / 2).copied().unwrap_or(ms(cold)),
            warm_ms: warm,
        });
        log(&format!("start-up: cold {:.1} ms, warm {:?} ms", ms(cold), sorted));
    }
    // More instances on the same database, answering as the same issuer.
    let mut siblings = Vec::new();
    for _ in 1..args.instances.max(1) {
        let mut sibling = srv.sibling()?;
        sibling.spawn()?;
        sibling
            .wait_ready(&ciba::http_client()?, Duration::from_secs(60))
            .await?;
        siblings.push(sibling);
    }
    let pids: Vec<u32> = std::iter::once(&srv)
        .chain(&siblings)
        .filter_map(server::Server::pid)
        .collect();
    let via: Vec<String> = std::iter::once(&srv).chain(&siblings).map(|s| s.base.clone()).collect();
    if args.instances > 1 {
        r.notes.push(format!(
            "{} instances on one database, answering as {}; workers spread over them",
            args.instances, srv.base
        ));
    }

    // Clients, users, devices.
    log("creating clients, users and devices ...");
    let setup = Instant::now();
    let http = ciba::http_client()?;
    let ep = ciba::discover(&http, &srv.base).await?;
    let receiver = ciba::Receiver::start().await?;
    let s = |v: &[&str]| v.iter().map(|x| (*x).to_owned()).collect::<Vec<String>>();
    let clients = srv.cli_many(
        &[
            s(&["clients", "add", "--name", "bench poll"]),
            s(&[
                "clients",
                "add",
                "--name",
                "bench ping",
                "--delivery-mode",
                "ping",
                "--notification-endpoint",
                &receiver.url,
            ]),
        ],
        2,
    )?;
    let creds = |v: &serde_json::Value| {
        ciba::Creds::new(
            v["client_id"].as_str().unwrap_or_default(),
            v["client_secret"].as_str().unwrap_or_default(),
        )
    };
    let poll = creds(&clients[0])?;
    let ping_client = creds(&clients[1])?;
    let hostile_parts = if has(HOSTILE) {
        let hang_endpoint = hostile::Hanging::start().await?;
        let made = srv.cli_many(
            &[
                s(&["clients", "add", "--name", "bench flood"]),
                s(&[
                    "clients",
                    "add",
                    "--name",
                    "bench hanging partner",
                    "--delivery-mode",
                    "ping",
                    "--notification-endpoint",
                    &hang_endpoint.url,
                ]),
            ],
            2,
        )?;
        Some((creds(&made[0])?, creds(&made[1])?, hang_endpoint))
    } else {
        None
    };
    let pool_users: Vec<String> = (0..args.pending_users.max(1))
        .map(|i| format!("bench-pool-{i}"))
        .collect();
    let flow_users: Vec<String> = (0..args.concurrency.max(1))
        .map(|i| format!("bench-flow-{i}"))
        .collect();
    let ping_user = "bench-ping".to_owned();
    let mut users: Vec<String> = pool_users.clone();
    users.extend(flow_users.iter().cloned());
    users.push("bench-saml".to_owned());
    users.push(ping_user.clone());
    if has("saml") {
        srv.cli(&saml::register_args())?;
    }
    let adds: Vec<Vec<String>> = users
        .iter()
        .map(|u| vec!["users".into(), "add".into(), format!("--id={u}")])
        .collect();
    srv.cli_many(&adds, 4)?;
    let mut devices: Vec<device::Device> = Vec::with_capacity(users.len());
    for chunk in users.chunks(16) {
        let made: Vec<device::Device> = chunk.iter().map(|_| device::Device::new()).collect();
        let calls = made.iter().map(|d| ciba::register_device(&http, &ep.issuer, d));
        for result in futures_join(calls).await {
            result?;
        }
        devices.extend(made);
    }
    let binds: Vec<Vec<String>> = users
        .iter()
        .zip(&devices)
        // `--device=ID`: a base64url id may start with '-'.
        .map(|(u, d)| {
            vec![
                "devices".into(),
                "bind".into(),
                format!("--device={}", d.id),
                format!("--user={u}"),
            ]
        })
        .collect();
    srv.cli_many(&binds, 4)?;
    r.setup_s = Some((setup.elapsed().as_secs_f64() * 100.0).round() / 100.0);
    log(&format!(
        "{} users with bound devices in {:.1} s",
        users.len(),
        setup.elapsed().as_secs_f64()
    ));
    let mut phones: Vec<Phone> = users
        .into_iter()
        .zip(devices)
        .map(|(user, device)| Phone { user, device })
        .collect();
    let ping_phone = phones.pop().context("no ping phone")?;
    let saml_phone = phones.pop().context("no SAML phone")?;
    let flow_phones: Arc<Vec<Phone>> = Arc::new(phones.split_off(pool_users.len()));

    tokio::time::sleep(args.settle()).await;
    r.rss.idle_mib = load::rss_kib_sum(&pids).map(load::mib);

    let ctx = Arc::new(Ctx {
        ep,
        poll,
        pids: pids.clone(),
        via,
        hints: pool_users,
        hold_message: "Bench: a request nobody answers".into(),
        pending: Mutex::new(Vec::new()),
        interval: Mutex::new(None),
    });
    if has("trivial") {
        args.quiet(&pids, "trivial", &mut r.notes).await;
        log("trivial route (HTTP ceiling) ...");
        r.phases
            .push(phases::trivial(&ctx, args.bounds(args.concurrency)).await?);
    }
    if has("flows") {
        args.quiet(&pids, "flows", &mut r.notes).await;
        log("full poll flows, sequential ...");
        let seq = Bounds {
            concurrency: 1,
            duration: Duration::from_secs(20),
            max_ops: args.flows_sequential as u64,
        };
        let what = "backchannel → inbox → signed approval → token, one at a time";
        r.phases
            .push(phases::flows(&ctx, flow_phones.clone(), seq, "flow_seq", what).await);
        log("full poll flows under load ...");
        let what = "backchannel → inbox → signed approval → token, one phone per connection";
        r.phases.push(
            phases::flows(
                &ctx,
                flow_phones.clone(),
                args.bounds(args.concurrency),
                "flow_load",
                what,
            )
            .await,
        );
    }
    if has("saml") {
        args.quiet(&pids, "saml", &mut r.notes).await;
        log("SAML logins, sequential ...");
        let p = saml::logins(&ctx, saml_phone, args.flows_sequential, Duration::from_secs(20)).await;
        r.phases.push(p);
    }
    if has("ping") {
        args.quiet(&pids, "ping", &mut r.notes).await;
        log("ping flows ...");
        let p = phases::ping(
            &ctx,
            &ping_client,
            &ping_phone,
            &receiver,
            args.ping_samples,
            Duration::from_secs(20),
        )
        .await?;
        r.phases.push(p);
    }
    load_phases(args, &ctx, chosen, r).await?;
    if let Some((flooder, hanging, hang_endpoint)) = hostile_parts {
        log("hostile: calm, idle connections, a flooding client, a hanging partner ...");
        let h = hostile::Hostile {
            concurrency: args.hostile_concurrency.max(1),
            duration: Duration::from_secs_f64(args.duration),
            idle_connections: args.idle_connections,
            flood_concurrency: args.flood_concurrency.max(1),
            flooder,
            hanging,
            hang_phones: Arc::new(flow_phones.iter().take(4).cloned().collect()),
            ping: ping_client.clone(),
            ping_phone: ping_phone.clone(),
            receiver: receiver.clone(),
            ping_samples: args.ping_samples,
            hang_endpoint,
        };
        let phases = hostile::run(&ctx, &h, &mut r.notes).await?;
        r.phases.extend(phases);
    }
    r.rss.under_load_peak_mib = peak(&r.phases);
    r.rss.end_mib = load::rss_kib_sum(&pids).map(load::mib);
    if has("console") || has("console_open") {
        let mut ids: Vec<String> = clients
            .iter()
            .map(|c| c["client_id"].as_str().unwrap_or_default().to_owned())
            .collect();
        console_phases(args, &mut srv, &ctx, &mut ids, &receiver.url, chosen, r).await?;
    }
    for sibling in &mut siblings {
        sibling.stop()?;
    }
    srv.stop()?;
    Ok(())
}

/// The console phases, last: an admin, more clients, the history loaded
/// into the stopped server's file (`console`), then the reads and the
/// backchannel with a console open.
async fn console_phases(
    args: &Args,
    srv: &mut server::Server,
    ctx: &Arc<Ctx>,
    clients: &mut Vec<String>,
    ping_target: &str,
    chosen: &[String],
    r: &mut Results,
) -> anyhow::Result<()> {
    let has = |p: &str| chosen.iter().any(|c| c == p);
    let password = device::random_b64();
    srv.cli_input(
        &[
            "admin".into(),
            "create".into(),
            format!("--email={}", console::ADMIN_EMAIL),
        ],
        Some(&password),
    )?;
    let mut ctx = ctx.clone();
    let mut history = None;
    if has("console") {
        let adds: Vec<Vec<String>> = ["shop A", "shop B", "bank app", "SAML SP"]
            .iter()
            .map(|name| vec!["clients".into(), "add".into(), format!("--name=console {name}")])
            .collect();
        for made in srv.cli_many(&adds, 2)? {
            clients.push(made["client_id"].as_str().unwrap_or_default().to_owned());
        }
        srv.stop()?;
        log(&format!(
            "console: writing {} transactions into the database ...",
            args.console_rows
        ));
        let db = srv.dir.join("trustid.db");
        let h = console_rows::load(&db, args.console_rows, clients, 1, ping_target)?;
        log(&format!("console: history written in {:.1} s", h.load_s));
        r.notes.push(format!(
            "console: history of {} written with SQL in {:.1} s ({}); the server restarted on it",
            h.rows,
            h.load_s,
            h.counts
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        srv.spawn()?;
        srv.wait_ready(&ciba::http_client()?, Duration::from_secs(120)).await?;
        ctx = Arc::new(Ctx {
            ep: ctx.ep.clone(),
            poll: ctx.poll.clone(),
            pids: srv.pid().into_iter().collect(),
            via: ctx.via.clone(),
            hints: ctx.hints.clone(),
            hold_message: ctx.hold_message.clone(),
            pending: Mutex::new(Vec::new()),
            interval: Mutex::new(None),
        });
        history = Some(h);
    }
    let admin = console::Admin::sign_in(&srv.base, &password).await?;
    if let Some(h) = &history {
        args.quiet(&ctx.pids, "console", &mut r.notes).await;
        let bound = Duration::from_secs_f64(args.duration);
        r.phases
            .extend(console::reads(&ctx, &admin, h, clients, args.console_samples, bound).await);
    }
    if has("console_open") {
        args.quiet(&ctx.pids, "console_open", &mut r.notes).await;
        let phases = console_open::backchannel(&ctx, &admin, args.bounds(args.concurrency), &mut r.notes).await?;
        r.phases.extend(phases);
    }
    Ok(())
}

/// Awaits futures concurrently (on this task), in order.
async fn futures_join<F: std::future::Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut pinned: Vec<std::pin::Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut out: Vec<Option<F::Output>> = pinned.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (f, slot) in pinned.iter_mut().zip(out.iter_mut()) {
            if slot.is_none() {
                match f.as_mut().poll(cx) {
                    std::task::Poll::Ready(v) => *slot = Some(v),
                    std::task::Poll::Pending => pending = true,
                }
            }
        }
        if pending {
            std::task::Poll::Pending
        } else {
            std::task::Poll::Ready(())
        }
    })
    .await;
    out.into_iter().flatten().collect()
}

async fn run_target(args: &Args, url: &str, chosen: &[String], r: &mut Results) -> anyhow::Result<()> {
    let (Some(id), Some(secret)) = (&args.client_id, &args.client_secret) else {
        bail!("--target-url needs --client-id and --client-secret (a poll-mode client)");
    };
    let http = ciba::http_client()?;
    let ep = ciba::discover(&http, url).await?;
    r.mode = "target".into();
    r.server = url.to_owned();
    let hints: Vec<String> = if args.login_hint.contains("{n}") {
        (0..args.login_hint_count.max(1))
            .map(|n| args.login_hint.replace("{n}", &n.to_string()))
            .collect()
    } else {
        vec![args.login_hint.clone()]
    };
    let pids: Vec<u32> = args.server_pid.into_iter().collect();
    r.rss.idle_mib = load::rss_kib_sum(&pids).map(load::mib);
    let ctx = Arc::new(Ctx {
        via: Vec::new(),
        ep,
        poll: ciba::Creds::new(id, secret)?,
        pids: pids.clone(),
        hints,
        hold_message: args.binding_message.clone(),
        pending: Mutex::new(Vec::new()),
        interval: Mutex::new(None),
    });
    if chosen.iter().any(|c| c == "trivial") {
        args.quiet(&ctx.pids, "trivial", &mut r.notes).await;
        log("trivial route (GET discovery) ...");
        r.phases
            .push(phases::trivial(&ctx, args.bounds(args.concurrency)).await?);
    }
    load_phases(args, &ctx, chosen, r).await?;
    r.rss.under_load_peak_mib = peak(&r.phases);
    r.rss.end_mib = load::rss_kib_sum(&pids).map(load::mib);
    Ok(())
}

async fn run(mut args: Args) -> anyhow::Result<()> {
    args.apply_quick();
    let chosen = args.phases()?;
    let peer = args.compare.as_deref().map(report::load).transpose()?;
    let started = Instant::now();
    let mut r = Results {
        label: if args.label.is_empty() {
            if args.target_url.is_some() {
                "target".into()
            } else {
                "trustid".into()
            }
        } else {
            args.label.clone()
        },
        unix_time: device::now_s(),
        config: args.config(),
        ..Results::default()
    };
    r.rss = Rss::default();
    instance_checks::refuse(
        args.instances,
        args.database.is_some(),
        args.target_url.is_some(),
        &chosen,
    )?;
    if let Some(path) = &args.compare_single {
        r.config["single_instance"] = instance_checks::single_rates(path)?;
    }
    if let Some(path) = &args.compare_flows {
        r.config["node_flows_per_s"] = json!(flow_checks::node_flows(path)?);
    }
    match args.target_url.clone() {
        Some(url) => run_target(&args, &url, &chosen, &mut r).await?,
        None => match &args.database {
            None => run_started(&args, &chosen, &mut r, None).await?,
            Some(server) => {
                let db = database::FreshDatabase::create(server).await?;
                log(&format!("fresh PostgreSQL database: {}", database::redacted(&db.url)));
                let done = run_started(&args, &chosen, &mut r, Some(&db.url)).await;
                // Dropped whether or not the run went through.
                if let Err(e) = db.drop().await {
                    log(&format!("could not drop the bench's database: {e:#}"));
                }
                done?
            }
        },
    }
    r.config["bench_wall_s"] = json!((started.elapsed().as_secs_f64() * 10.0).round() / 10.0);
    println!("{}", report::table(&r, peer.as_ref()));
    report::write(&args.out, &r, peer.as_ref())?;
    log(&format!(
        "wrote {0}/results.json and {0}/chart.svg ({1:.1} s in all)",
        args.out.display(),
        started.elapsed().as_secs_f64()
    ));
    let broken = instance_checks::violations(&r);
    anyhow::ensure!(broken.is_empty(), "guarantees broken: {}", broken.join("; "));
    Ok(())
}

fn main() -> ExitCode {
    let args = Args::parse();
    if !args.summarize.is_empty() {
        let runs: anyhow::Result<Vec<Results>> = args.summarize.iter().map(|p| report::load(p)).collect();
        return match runs {
            Ok(runs) => {
                print!("{}", report::summarize(&runs));
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    if let Some(path) = &args.chart {
        let drawn = report::load(path).and_then(|r| {
            let peer = args.compare.as_deref().map(report::load).transpose()?;
            std::fs::create_dir_all(&args.out)?;
            let file = args.out.join("chart.svg");
            std::fs::write(&file, report::svg(&r, peer.as_ref()))?;
            Ok(file)
        });
        return match drawn {
            Ok(file) => {
                println!("{}", file.display());
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                ExitCode::FAILURE
            }
        };
    }
    let runtime = if args.client_threads <= 1 {
        tokio::runtime::Builder::new_current_thread().enable_all().build()
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(args.client_threads)
            .enable_all()
            .build()
    };
    let runtime = match runtime {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(args)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
