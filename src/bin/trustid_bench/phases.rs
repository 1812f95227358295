//! The measured phases. Each makes its own keep-alive client (fresh
//! connections), runs bounded in time and count, and returns a [`Phase`].

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::Context;
use axum::body::Bytes;
use serde_json::json;

use super::ciba::{self, BcAnswer, Creds, Endpoints, Receiver};
use super::device::{Device, random_b64};
use super::load::{self, Bounds, Done, Meter, Phase, Tally, closed_loop};
use super::raw::Raw;

/// What every phase needs.
pub struct Ctx {
    pub ep: Endpoints,
    pub poll: Creds,
    /// The server's processes: one per instance.
    pub pids: Vec<u32>,
    /// Where each instance listens (base URLs); all share the issuer. A
    /// worker `w` talks to instance `w % len`; empty (a target server):
    /// each endpoint's own URL.
    pub via: Vec<String>,
    /// Login hints the load phases spread their requests over.
    pub hints: Vec<String>,
    /// binding_message of requests that must stay pending.
    pub hold_message: String,
    /// auth_req_ids of requests nobody will decide.
    pub pending: Mutex<Vec<String>>,
    /// The `interval` the server answered, if any.
    pub interval: Mutex<Option<i64>>,
}

impl Ctx {
    pub fn pending_count(&self) -> usize {
        self.pending.lock().map(|p| p.len()).unwrap_or_default()
    }

    pub fn instances(&self) -> usize {
        self.via.len().max(1)
    }

    /// The base URL worker `w`'s device calls go to.
    pub fn via(&self, w: usize) -> &str {
        self.via.get(w % self.instances()).unwrap_or(&self.ep.issuer)
    }

    /// A client for `url` whose worker `w` connects to instance `w + shift`.
    pub fn raw(&self, url: &reqwest::Url, workers: usize, shift: usize) -> anyhow::Result<Arc<Raw>> {
        let ports = self
            .via
            .iter()
            .map(|v| reqwest::Url::parse(v)?.port_or_known_default().context("no port"))
            .collect::<anyhow::Result<Vec<u16>>>()?;
        Raw::spread(url, workers, &ports, shift)
    }
}

/// GET discovery: precomputed bytes, the server's HTTP ceiling.
pub async fn trivial(ctx: &Arc<Ctx>, bounds: Bounds) -> anyhow::Result<Phase> {
    let raw = ctx.raw(&ctx.ep.discovery, bounds.concurrency, 0)?;
    let url = Arc::new(ctx.ep.discovery.clone());
    let meter = Meter::start(&ctx.pids);
    let tally = closed_loop(bounds, move |w, _| {
        let (raw, url) = (raw.clone(), url.clone());
        async move {
            let started = Instant::now();
            match raw.get(w, &url).await {
                Ok(res) if (200..300).contains(&res.status) => Done::new("ok", true, started),
                Ok(_) => Done::new("http_other", false, started),
                Err(_) => Done::new("transport_error", false, started),
            }
        }
    })
    .await;
    let usage = meter.finish().await;
    Ok(load::phase(
        "trivial",
        "GET /.well-known/openid-configuration (precomputed bytes): the HTTP ceiling",
        "ok",
        bounds.concurrency,
        tally,
        usage,
    ))
}

/// POST backchannel requests that stay pending, spread over the hints.
pub async fn backchannel(ctx: &Arc<Ctx>, bounds: Bounds, name: &str, what: &str) -> anyhow::Result<Phase> {
    let raw = ctx.raw(&ctx.ep.backchannel, bounds.concurrency, 0)?;
    let bodies: Arc<Vec<Bytes>> = Arc::new(
        ctx.hints
            .iter()
            .map(|h| {
                ciba::form(&[
                    ("scope", "openid"),
                    ("login_hint", h),
                    ("binding_message", &ctx.hold_message),
                ])
                .into()
            })
            .collect(),
    );
    let meter = Meter::start(&ctx.pids);
    let c = ctx.clone();
    let tally = closed_loop(bounds, move |w, seq| {
        let (raw, c, bodies) = (raw.clone(), c.clone(), bodies.clone());
        async move {
            let body = bodies[(seq % bodies.len() as u64) as usize].clone();
            let started = Instant::now();
            match ciba::backchannel(&raw, w, &c.ep, &c.poll, body).await {
                Ok(BcAnswer::Ok { auth_req_id, interval }) => {
                    let done = Done::new("ok", true, started);
                    if let Ok(mut p) = c.pending.lock() {
                        p.push(auth_req_id);
                    }
                    if let Ok(mut i) = c.interval.lock()
                        && i.is_none()
                    {
                        *i = interval;
                    }
                    done
                }
                Ok(BcAnswer::Refused { kind, body }) => Done {
                    example: Some(body),
                    ..Done::new(kind, false, started)
                },
                Err(e) => Done {
                    example: Some(e.to_string()),
                    ..Done::new("transport_error", false, started)
                },
            }
        }
    })
    .await;
    let usage = meter.finish().await;
    let mut phase = load::phase(name, what, "ok", bounds.concurrency, tally, usage);
    phase.extra.insert("pending_after".into(), json!(ctx.pending_count()));
    Ok(phase)
}

/// Token polls on pending requests, round-robin over a pool, each request
/// polled at most once per `pace` counted from the previous answer (so
/// trustid answers authorization_pending, not slow_down). Returns the first poll of each pool member (a phase of
/// its own: new entries in the server's poll gate) and the steady state.
pub async fn polls(
    ctx: &Arc<Ctx>,
    pool_max: usize,
    pace: Duration,
    first_timeout: Duration,
    bounds: Bounds,
) -> anyhow::Result<Vec<Phase>> {
    let pool: Arc<Vec<String>> = Arc::new({
        let p = ctx.pending.lock().map_err(|_| anyhow::anyhow!("lock poisoned"))?;
        p.iter().take(pool_max).cloned().collect()
    });
    if pool.is_empty() {
        anyhow::bail!("no pending requests to poll (the backchannel phase created none)");
    }
    let epoch = Instant::now();
    let last: Arc<Vec<AtomicU64>> = Arc::new((0..pool.len()).map(|_| AtomicU64::new(0)).collect());
    let waits = Arc::new(AtomicU64::new(0));
    let pace_ms = pace.as_millis() as u64;
    // A little later than the interval: the server's clock is read in
    // whole milliseconds.
    let margin_ms = if pace_ms > 0 { 20 } else { 0 };
    let mut phases = Vec::new();
    let mut offset = 0u64;
    let runs = [
        (
            "polls_first",
            "first token poll of each pending request in the pool",
            Bounds {
                duration: first_timeout,
                max_ops: pool.len() as u64,
                ..bounds
            },
        ),
        (
            "polls",
            "token polls on pending requests (authorization_pending), steady state",
            bounds,
        ),
    ];
    for (name, what, b) in runs {
        if name == "polls" && pace_ms > 0 {
            // The steady window starts when the first request is due again.
            let prev = last[(offset % pool.len() as u64) as usize].load(Ordering::Relaxed);
            let due = Duration::from_millis(prev.saturating_sub(1) + pace_ms + margin_ms);
            if prev != 0 && epoch.elapsed() < due {
                tokio::time::sleep(due - epoch.elapsed()).await;
            }
        }
        let raw = ctx.raw(&ctx.ep.token, b.concurrency, 0)?;
        let meter = Meter::start(&ctx.pids);
        let (c, pool2, last2, waits2) = (ctx.clone(), pool.clone(), last.clone(), waits.clone());
        waits.store(0, Ordering::Relaxed);
        let tally = closed_loop(b, move |w, seq| {
            let (raw, c, pool, last, waits) = (raw.clone(), c.clone(), pool2.clone(), last2.clone(), waits2.clone());
            async move {
                let idx = ((offset + seq) % pool.len() as u64) as usize;
                let prev = last[idx].load(Ordering::Relaxed);
                if prev != 0 && pace_ms > 0 {
                    let due = prev - 1 + pace_ms + margin_ms;
                    let now = epoch.elapsed().as_millis() as u64;
                    if now < due {
                        waits.fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_millis(due - now)).await;
                    }
                }
                let started = Instant::now();
                let answer = ciba::token(&raw, w, &c.ep, &c.poll, &pool[idx]).await;
                // When the answer came back, the server had handled the poll:
                // the next poll of this request is paced from here.
                last[idx].store(epoch.elapsed().as_millis() as u64 + 1, Ordering::Relaxed);
                match answer {
                    Ok((kind, body)) => Done {
                        example: (kind != "authorization_pending" && kind != "slow_down")
                            .then(|| String::from_utf8_lossy(&body).into_owned()),
                        ..Done::new(kind, kind == "authorization_pending", started)
                    },
                    Err(e) => Done {
                        example: Some(e.to_string()),
                        ..Done::new("transport_error", false, started)
                    },
                }
            }
        })
        .await;
        let usage = meter.finish().await;
        let done: u64 = tally.counts.values().sum();
        offset += done;
        let mut phase = load::phase(name, what, "authorization_pending", b.concurrency, tally, usage);
        phase.extra.insert("pool".into(), json!(pool.len()));
        phase.extra.insert("pace_ms".into(), json!(pace_ms));
        phase
            .extra
            .insert("paced_waits".into(), json!(waits.load(Ordering::Relaxed)));
        phases.push(phase);
    }
    Ok(phases)
}

/// Polls on a small pool with no pacing: what an impatient client does
/// (trustid answers slow_down; a server without interval enforcement
/// answers authorization_pending). Both are counted.
pub async fn polls_impatient(ctx: &Arc<Ctx>, pool_size: usize, bounds: Bounds) -> anyhow::Result<Phase> {
    let pool: Arc<Vec<String>> = Arc::new({
        let p = ctx.pending.lock().map_err(|_| anyhow::anyhow!("lock poisoned"))?;
        p.iter().rev().take(pool_size).cloned().collect()
    });
    if pool.is_empty() {
        anyhow::bail!("no pending requests to poll");
    }
    let raw = ctx.raw(&ctx.ep.token, bounds.concurrency, 0)?;
    let meter = Meter::start(&ctx.pids);
    let (c, pool2) = (ctx.clone(), pool.clone());
    let tally = closed_loop(bounds, move |w, seq| {
        let (raw, c, pool) = (raw.clone(), c.clone(), pool2.clone());
        async move {
            let idx = (seq % pool.len() as u64) as usize;
            let started = Instant::now();
            match ciba::token(&raw, w, &c.ep, &c.poll, &pool[idx]).await {
                Ok((kind, _)) => Done::new(kind, true, started),
                Err(e) => Done {
                    example: Some(e.to_string()),
                    ..Done::new("transport_error", false, started)
                },
            }
        }
    })
    .await;
    let usage = meter.finish().await;
    let mut phase = load::phase(
        "polls_impatient",
        "token polls on a small pending pool, no pacing (slow_down or authorization_pending)",
        "authorization_pending",
        bounds.concurrency,
        tally,
        usage,
    );
    let answered: u64 = ["authorization_pending", "slow_down"]
        .iter()
        .map(|k| phase.counts.get(*k).copied().unwrap_or(0))
        .sum();
    phase.extra.insert("pool".into(), json!(pool.len()));
    phase.extra.insert(
        "answers_per_s".into(),
        json!((answered as f64 / phase.usage.elapsed_s.max(1e-9)).round()),
    );
    Ok(phase)
}

/// A user with a bound device, for the flows.
#[derive(Clone)]
pub struct Phone {
    pub user: String,
    pub device: Device,
}

/// Full poll flows: backchannel → inbox → signed approval → token. Worker
/// `w` uses phone `w`, so each inbox holds only its own request. With
/// several instances, worker `w` talks to instance `w`, and each token
/// request goes at once to the next instance too: exactly one of the two
/// may redeem (a second token is counted, `redeemed_twice`).
pub async fn flows(ctx: &Arc<Ctx>, phones: Arc<Vec<Phone>>, bounds: Bounds, name: &str, what: &str) -> Phase {
    let clients = ciba::http_client().and_then(|h| {
        let rival = (ctx.instances() > 1)
            .then(|| ctx.raw(&ctx.ep.token, bounds.concurrency, 1))
            .transpose()?;
        Ok((h, ctx.raw(&ctx.ep.backchannel, bounds.concurrency, 0)?, rival))
    });
    let (http, raw, rival) = match clients {
        Ok(h) => h,
        Err(e) => {
            let mut t = Tally::default();
            t.example(e.to_string());
            return load::phase(name, what, "token", 0, t, Default::default());
        }
    };
    let meter = Meter::start(&ctx.pids);
    let c = ctx.clone();
    let bounds = Bounds {
        concurrency: bounds.concurrency.min(phones.len()),
        ..bounds
    };
    let tally = closed_loop(bounds, move |w, seq| {
        let (http, raw, rival, c, phones) = (http.clone(), raw.clone(), rival.clone(), c.clone(), phones.clone());
        async move {
            let phone = &phones[w];
            let shown = format!("Bench flow {seq}");
            let body = ciba::form(&[
                ("scope", "openid"),
                ("login_hint", &phone.user),
                ("binding_message", &shown),
            ]);
            let started = Instant::now();
            let auth_req_id = match ciba::backchannel(&raw, w, &c.ep, &c.poll, body.into()).await {
                Ok(BcAnswer::Ok { auth_req_id, .. }) => auth_req_id,
                Ok(BcAnswer::Refused { kind, body }) => {
                    return Done {
                        example: Some(body),
                        ..Done::new(kind, false, started)
                    };
                }
                Err(e) => {
                    return Done {
                        example: Some(e.to_string()),
                        ..Done::new("transport_error", false, started)
                    };
                }
            };
            let at = ciba::At {
                issuer: &c.ep.issuer,
                via: c.via(w),
            };
            if let Err(e) = ciba::approve(&http, at, &phone.device, &shown, None).await {
                return Done {
                    example: Some(e.to_string()),
                    ..Done::new("approval_failed", false, started)
                };
            }
            for _ in 0..50 {
                let answer = match &rival {
                    None => ciba::token(&raw, w, &c.ep, &c.poll, &auth_req_id).await,
                    Some(rival) => race_token(&raw, rival, w, &c, &auth_req_id).await,
                };
                match answer {
                    Ok(("token", _)) => return Done::new("token", true, started),
                    Ok(("authorization_pending" | "slow_down", _)) => {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                    }
                    Ok((kind, body)) => {
                        return Done {
                            example: Some(String::from_utf8_lossy(&body).into_owned()),
                            ..Done::new(kind, false, started)
                        };
                    }
                    Err(e) => {
                        return Done {
                            example: Some(e.to_string()),
                            ..Done::new("transport_error", false, started)
                        };
                    }
                }
            }
            Done::new("no_token_after_50_polls", false, started)
        }
    })
    .await;
    let usage = meter.finish().await;
    let mut phase = load::phase(name, what, "token", bounds.concurrency, tally, usage);
    // A bank's capacity: the server's CPU per completed authentication.
    if let Some(cores) = phase.usage.server_cpu_cores.filter(|_| phase.ok > 0) {
        let per_flow_ms = cores * phase.usage.elapsed_s * 1000.0 / phase.ok as f64;
        phase.extra.insert(
            "server_cpu_ms_per_flow".into(),
            json!((per_flow_ms * 100.0).round() / 100.0),
        );
    }
    phase
}

/// The same token request on worker `w`'s instance and, at once, on the
/// next one: one token at most. Two tokens answer `redeemed_twice`; one
/// is the answer; else the main instance's answer.
async fn race_token(
    raw: &Raw,
    rival: &Raw,
    w: usize,
    c: &Ctx,
    auth_req_id: &str,
) -> anyhow::Result<(&'static str, Bytes)> {
    let (main, other) = tokio::join!(
        ciba::token(raw, w, &c.ep, &c.poll, auth_req_id),
        ciba::token(rival, w, &c.ep, &c.poll, auth_req_id),
    );
    let (main, other) = (main?, other?);
    Ok(match (main.0, other.0) {
        ("token", "token") => ("redeemed_twice", main.1),
        (_, "token") => other,
        _ => main,
    })
}

/// Ping flows, one at a time: backchannel (ping client) → signed approval →
/// the ping at our endpoint → token. The figure is approval → ping.
pub async fn ping(
    ctx: &Arc<Ctx>,
    client: &Creds,
    phone: &Phone,
    receiver: &Receiver,
    count: usize,
    timeout: Duration,
) -> anyhow::Result<Phase> {
    let http = ciba::http_client()?;
    // Request `seq` goes to instance `seq`: a decision on one, while every
    // instance's outbox worker may claim the ping.
    let raw = ctx.raw(&ctx.ep.backchannel, ctx.instances(), 0)?;
    let meter = Meter::start(&ctx.pids);
    let (mut main, mut to_ping, mut to_token, mut answer) =
        (Tally::default(), Tally::default(), Tally::default(), Tally::default());
    for seq in 0..count {
        if meter.elapsed() > timeout {
            break;
        }
        let bearer = random_b64();
        let shown = format!("Bench ping {seq}");
        let body = ciba::form(&[
            ("scope", "openid"),
            ("login_hint", &phone.user),
            ("binding_message", &shown),
            ("client_notification_token", &bearer),
        ]);
        let t0 = Instant::now();
        let w = seq % ctx.instances();
        let at = ciba::At {
            issuer: &ctx.ep.issuer,
            via: ctx.via(w),
        };
        let auth_req_id = match ciba::backchannel(&raw, w, &ctx.ep, client, body.into()).await? {
            BcAnswer::Ok { auth_req_id, .. } => auth_req_id,
            BcAnswer::Refused { kind, body } => {
                main.count(kind);
                main.example(body);
                continue;
            }
        };
        let arrived = receiver.expect(&auth_req_id)?;
        let items = ciba::inbox(&http, at, &phone.device).await?;
        let Some(item) = items.iter().find(|i| i.binding_message == shown) else {
            main.count("not_in_inbox");
            continue;
        };
        // From the moment the signed decision leaves the phone.
        let t_approve = ciba::decide(&http, at, &phone.device, item, "approve", None).await?;
        answer.sample(t_approve.elapsed());
        let arrival = match tokio::time::timeout(Duration::from_secs(5), arrived).await {
            Ok(Ok(a)) => a,
            _ => {
                main.count("ping_missing");
                continue;
            }
        };
        if arrival.bearer != bearer {
            main.count("ping_wrong_bearer");
        }
        main.count("ping");
        main.sample(arrival.at.saturating_duration_since(t_approve));
        to_ping.sample(arrival.at.saturating_duration_since(t0));
        match ciba::token(&raw, w, &ctx.ep, client, &auth_req_id).await? {
            ("token", _) => {
                main.count("token");
                to_token.sample(t0.elapsed());
            }
            (kind, body) => {
                main.count(kind);
                main.example(String::from_utf8_lossy(&body).into_owned());
            }
        }
    }
    let usage = meter.finish().await;
    let mut phase = load::phase(
        "ping",
        "approval (signed decision POST sent) → ping received at a local endpoint; sequential",
        "ping",
        1,
        main,
        usage,
    );
    phase
        .extra
        .insert("request_to_ping".into(), json!(load::latency(to_ping.lat_us)));
    phase
        .extra
        .insert("request_to_token".into(), json!(load::latency(to_token.lat_us)));
    phase
        .extra
        .insert("decision_answer".into(), json!(load::latency(answer.lat_us)));
    phase
        .extra
        .insert("receiver_bad_requests".into(), json!(receiver.bad_requests()));
    phase
        .extra
        .insert("duplicate_pings".into(), json!(receiver.duplicates()));
    Ok(phase)
}
