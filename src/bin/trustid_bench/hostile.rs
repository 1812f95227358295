//! The `hostile` phases (issue 20): a well-behaved client's trivial route
//! and backchannel requests, at a few connections, measured calm and then
//! while the server is under one stress at a time:
//! - `idle`: thousands of connections opened and never used (reopened as
//!   the server closes them);
//! - `flood`: another client sends backchannel requests on many connections;
//! - `hang`: a ping client's notification endpoint accepts and never
//!   answers, while its approvals keep coming; a healthy ping client's
//!   approval → ping is measured too.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use super::ciba::{self, BcAnswer, Creds, Receiver};
use super::load::{Bounds, Phase};
use super::phases::{self, Ctx, Phone};
use super::raw::Raw;

/// What the hostile phases are given.
pub struct Hostile {
    /// Connections of the measured client.
    pub concurrency: usize,
    pub duration: Duration,
    pub idle_connections: usize,
    pub flood_concurrency: usize,
    /// A second poll client, the flooder.
    pub flooder: Creds,
    /// A ping client whose endpoint is [`Hanging`], and phones to approve its requests.
    pub hanging: Creds,
    pub hang_phones: Arc<Vec<Phone>>,
    /// A healthy ping client, its phone and its endpoint, and pings per sample.
    pub ping: Creds,
    pub ping_phone: Phone,
    pub receiver: Receiver,
    pub ping_samples: usize,
    /// The hanging client's endpoint.
    pub hang_endpoint: Hanging,
}

/// The measured client's trivial route and backchannel, named after `stress`.
async fn measure(ctx: &Arc<Ctx>, h: &Hostile, stress: &str) -> anyhow::Result<Vec<Phase>> {
    let bounds = Bounds {
        concurrency: h.concurrency,
        duration: h.duration,
        max_ops: u64::MAX,
    };
    let mut trivial = phases::trivial(ctx, bounds).await?;
    trivial.name = format!("trivial_{stress}");
    let what = format!("POST backchannel requests of a well-behaved client ({stress})");
    let bc = phases::backchannel(ctx, bounds, &format!("bc_{stress}"), &what).await?;
    Ok(vec![trivial, bc])
}

pub async fn run(ctx: &Arc<Ctx>, h: &Hostile, notes: &mut Vec<String>) -> anyhow::Result<Vec<Phase>> {
    let mut out = measure(ctx, h, "calm").await?;
    let mut ping = phases::ping(ctx, &h.ping, &h.ping_phone, &h.receiver, h.ping_samples, h.duration).await?;
    ping.name = "ping_calm".into();
    out.push(ping);

    let (stop, stopped) = watch::channel(false);
    let holder = tokio::spawn(hold_idle(ctx.ep.issuer.clone(), h.idle_connections, stopped));
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut idle = measure(ctx, h, "idle").await?;
    let _ = stop.send(true);
    let held = holder.await??;
    for p in &mut idle {
        p.extra.insert("idle_connections".into(), json!(held));
    }
    notes.push(format!(
        "hostile idle: {} connections opened and never used; held at least {} at every check, {} reopened after the server closed them",
        h.idle_connections, held.min_held, held.reopened
    ));
    out.extend(idle);

    let (stop, stopped) = watch::channel(false);
    let flood = tokio::spawn(flood(ctx.clone(), h.flooder.clone(), h.flood_concurrency, stopped));
    tokio::time::sleep(Duration::from_millis(500)).await;
    let mut flooded = measure(ctx, h, "flood").await?;
    let _ = stop.send(true);
    let (sent, elapsed) = flood.await?;
    let rate = (sent as f64 / elapsed.as_secs_f64()).round();
    for p in &mut flooded {
        p.extra.insert("flood_requests_per_s".into(), json!(rate));
    }
    notes.push(format!(
        "hostile flood: another client sent {rate} backchannel requests/s on {} connections meanwhile",
        h.flood_concurrency
    ));
    out.extend(flooded);

    let hanging = &h.hang_endpoint;
    let (stop, stopped) = watch::channel(false);
    let approvals = tokio::spawn(approve_for(
        ctx.clone(),
        h.hanging.clone(),
        h.hang_phones.clone(),
        stopped,
    ));
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut hung = measure(ctx, h, "hang").await?;
    let mut ping = phases::ping(ctx, &h.ping, &h.ping_phone, &h.receiver, h.ping_samples, h.duration).await?;
    ping.name = "ping_hang".into();
    hung.push(ping);
    let _ = stop.send(true);
    let approved = approvals.await?;
    let held = hanging.connections.load(Ordering::Relaxed);
    for p in &mut hung {
        p.extra.insert("hanging_approvals".into(), json!(approved));
    }
    notes.push(format!(
        "hostile hang: {approved} approvals owed pings to an endpoint that accepts and never answers \
         ({held} connections reached it); the healthy client's pings measured meanwhile"
    ));
    out.extend(hung);
    Ok(out)
}

#[derive(Debug, Clone, Copy, serde::Serialize)]
struct Held {
    min_held: usize,
    reopened: u64,
}

/// Opens `count` connections to the server and keeps them open without a
/// byte sent, reopening each the server closes, until told to stop.
async fn hold_idle(base: String, count: usize, mut stop: watch::Receiver<bool>) -> anyhow::Result<Held> {
    let addr = base.trim_start_matches("http://").trim_end_matches('/').to_owned();
    let mut conns = Vec::with_capacity(count);
    for _ in 0..count {
        conns.push(TcpStream::connect(&addr).await?);
    }
    let (mut min_held, mut reopened) = (count, 0u64);
    while !*stop.borrow() {
        let mut held = 0;
        for conn in &mut conns {
            let mut byte = [0u8; 1];
            match conn.try_read(&mut byte) {
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => held += 1,
                // Closed (or, never, answered): open another.
                _ => {
                    *conn = TcpStream::connect(&addr).await?;
                    reopened += 1;
                }
            }
        }
        min_held = min_held.min(held);
        tokio::select! {
            _ = stop.changed() => {}
            () = tokio::time::sleep(Duration::from_millis(250)) => {}
        }
    }
    Ok(Held { min_held, reopened })
}

/// Runs `op` on `concurrency` workers until told to stop; how many times
/// it answered true, and over how long.
async fn until_stopped<F, Fut>(concurrency: usize, stop: watch::Receiver<bool>, op: F) -> (u64, Duration)
where
    F: Fn(usize, u64) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = bool> + Send + 'static,
{
    let op = Arc::new(op);
    let (done, next) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let started = Instant::now();
    let workers: Vec<_> = (0..concurrency)
        .map(|w| {
            let (op, done, next, stop) = (op.clone(), done.clone(), next.clone(), stop.clone());
            tokio::spawn(async move {
                while !*stop.borrow() {
                    if op(w, next.fetch_add(1, Ordering::Relaxed)).await {
                        done.fetch_add(1, Ordering::Relaxed);
                    }
                }
            })
        })
        .collect();
    for worker in workers {
        let _ = worker.await;
    }
    (done.load(Ordering::Relaxed), started.elapsed())
}

/// Backchannel requests of `client` on `concurrency` connections until told
/// to stop: how many were accepted, and over how long.
async fn flood(ctx: Arc<Ctx>, client: Creds, concurrency: usize, stop: watch::Receiver<bool>) -> (u64, Duration) {
    let Ok(raw) = Raw::new(&ctx.ep.backchannel, concurrency) else {
        return (0, Duration::from_secs(1));
    };
    let client = Arc::new(client);
    until_stopped(concurrency, stop, move |w, seq| {
        let (raw, c, client) = (raw.clone(), ctx.clone(), client.clone());
        async move {
            let hint = &c.hints[(seq % c.hints.len() as u64) as usize];
            let body = ciba::form(&[("scope", "openid"), ("login_hint", hint), ("binding_message", "Flood")]);
            matches!(
                ciba::backchannel(&raw, w, &c.ep, &client, body.into()).await,
                Ok(BcAnswer::Ok { .. })
            )
        }
    })
    .await
}

/// Requests of the hanging client, each approved on a phone (one worker per
/// phone), until told to stop: every approval owes a ping that hangs.
async fn approve_for(ctx: Arc<Ctx>, client: Creds, phones: Arc<Vec<Phone>>, stop: watch::Receiver<bool>) -> u64 {
    let (Ok(http), Ok(raw)) = (ciba::http_client(), Raw::new(&ctx.ep.backchannel, phones.len())) else {
        return 0;
    };
    let client = Arc::new(client);
    let (approved, _) = until_stopped(phones.len(), stop, move |w, seq| {
        let (http, raw, c, client, phones) = (http.clone(), raw.clone(), ctx.clone(), client.clone(), phones.clone());
        async move {
            let phone = &phones[w];
            let shown = format!("Bench hang {seq}");
            let body = ciba::form(&[
                ("scope", "openid"),
                ("login_hint", &phone.user),
                ("binding_message", &shown),
                ("client_notification_token", "bench-hanging-partner-token"),
            ]);
            let Ok(BcAnswer::Ok { .. }) = ciba::backchannel(&raw, w, &c.ep, &client, body.into()).await else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                return false;
            };
            ciba::approve(&http, ciba::At::issuer(&c.ep.issuer), &phone.device, &shown, None)
                .await
                .is_ok()
        }
    })
    .await;
    approved
}

/// A notification endpoint that accepts connections, reads what comes and
/// never answers.
pub struct Hanging {
    pub url: String,
    connections: Arc<AtomicU64>,
}

impl Hanging {
    pub async fn start() -> anyhow::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}/cb", listener.local_addr()?);
        let connections = Arc::new(AtomicU64::new(0));
        let counted = connections.clone();
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                counted.fetch_add(1, Ordering::Relaxed);
                tokio::spawn(async move {
                    let mut sink = [0u8; 4096];
                    while matches!(socket.read(&mut sink).await, Ok(n) if n > 0) {}
                });
            }
        });
        Ok(Self { url, connections })
    }
}
