//! The console phase's history: many transactions, and the rows the
//! timeline reads around them, written with SQL straight into the stopped
//! server's SQLite file (a million backchannel requests over HTTP would take
//! most of an hour here). Shaped like trustid's own rows: ids with their
//! creation time in front (`crypto::secret::transaction_id`), times spread
//! over three days, a few clients, many users with skewed activity, and the
//! statuses, contexts, pushes, challenges, tokens, notifications and
//! failure lines a real history has. Seeded: every run writes the same.

use std::path::Path;
use std::time::Instant;

use anyhow::Context;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::rngs::StdRng;
use rand::{Rng, RngCore, SeedableRng};
use rusqlite::{Connection, params};

/// Days the history spans, ending two minutes before the load.
const DAYS: i64 = 3;
/// Seconds a request stays open (trustid's default expiry).
const EXPIRY: i64 = 300;
/// Rows per SQLite transaction while loading.
const BATCH: usize = 50_000;

/// What the phase needs to know about the rows written.
pub struct History {
    pub rows: usize,
    pub users: Vec<String>,
    /// Each user's device, by user index.
    pub devices: Vec<String>,
    /// Every 1,000th transaction id, oldest first: detail pages and deep pages.
    pub sample_ids: Vec<String>,
    /// The oldest full day in the history (`YYYY-MM-DD`, UTC).
    pub oldest_day: String,
    pub load_s: f64,
    /// Rows written per table.
    pub counts: Vec<(&'static str, u64)>,
}

fn token(rng: &mut StdRng, bytes: usize) -> String {
    let mut b = vec![0u8; bytes];
    rng.fill_bytes(&mut b);
    URL_SAFE_NO_PAD.encode(b)
}

/// Where a generated transaction ended.
#[derive(Clone, Copy, PartialEq, Eq)]
enum End {
    Pending,
    Approved,
    Denied,
    Consumed,
}

impl End {
    fn status(self) -> &'static str {
        match self {
            End::Pending => "pending",
            End::Approved => "approved",
            End::Denied => "denied",
            End::Consumed => "consumed",
        }
    }
}

/// Writes `rows` transactions into the database at `db` (the server must be
/// stopped). `clients`: the clients to spread them over, busiest first; the
/// one at `ping` notifies `ping_target`, the last one is the SAML SP's.
pub fn load(db: &Path, rows: usize, clients: &[String], ping: usize, ping_target: &str) -> anyhow::Result<History> {
    anyhow::ensure!(clients.len() >= 2, "the history needs at least two clients");
    let started = Instant::now();
    let mut conn = Connection::open(db).with_context(|| format!("cannot open {}", db.display()))?;
    // A scratch file: no journal, no syncs while loading. WAL comes back
    // before the server opens it again.
    conn.pragma_update(None, "journal_mode", "OFF")?;
    conn.pragma_update(None, "synchronous", "OFF")?;
    conn.pragma_update(None, "cache_size", -262_144)?;
    let mut rng = StdRng::seed_from_u64(19);
    let now = super::device::now_s();
    let (device_key, auth_key): (String, String) = conn
        .query_row("SELECT device_key, auth_key FROM devices LIMIT 1", [], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .context("the history copies a bench device's keys: no device yet")?;

    let n_users = (rows / 50).clamp(100, 20_000);
    let users: Vec<String> = (0..n_users).map(|i| format!("console-user-{i:05}")).collect();
    let devices: Vec<String> = (0..n_users).map(|_| token(&mut rng, 32)).collect();
    let start_s = now - 120 - DAYS * 86_400;
    {
        let tx = conn.transaction()?;
        {
            let mut user = tx.prepare("INSERT INTO users (id, status, created_at) VALUES (?1, 'active', ?2)")?;
            let mut device = tx.prepare(
                "INSERT INTO devices (id, device_key, auth_key, user_id, status, created_at, push_channel, push_address) \
                 VALUES (?1, ?2, ?3, ?4, 'active', ?5, ?6, ?7)",
            )?;
            for (i, (u, d)) in users.iter().zip(&devices).enumerate() {
                user.execute(params![u, start_s])?;
                // A third of the users' phones take pushes.
                let (channel, address) = if i.is_multiple_of(3) {
                    (Some("fcm"), Some(token(&mut rng, 24)))
                } else {
                    (None, None)
                };
                device.execute(params![d, device_key, auth_key, u, start_s, channel, address])?;
            }
        }
        tx.commit()?;
    }

    let span_ms = DAYS * 86_400_000;
    let step_ms = (span_ms / rows.max(1) as i64).max(1);
    let mut counts = [0u64; 7];
    let mut sample_ids = Vec::with_capacity(rows / 1000 + 1);
    let mut i = 0usize;
    while i < rows {
        let tx = conn.transaction()?;
        {
            let mut txn = tx.prepare(
                "INSERT INTO transactions (id, auth_req_digest, client_id, user_id, context, display_text, scope, \
                 status, created_at, expires_at, decided_at, poll_interval, device_id, failed_attempts, failed_device_id, \
                 auth_req_id, notification_token, notify_kind, user_status, match_number) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'openid', ?7, ?8, ?9, ?10, 5, ?11, ?12, ?13, ?14, ?15, ?16, ?17, ?18)",
            )?;
            let mut push = tx.prepare(
                "INSERT INTO device_pushes (transaction_id, device_id, state, channel, attempts, next_attempt_at, \
                 give_up_at, last_error, token_digest, created_at, finished_at) \
                 VALUES (?1, ?2, ?3, 'fcm', ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
            )?;
            let mut challenge = tx.prepare(
                "INSERT INTO challenges (nonce, transaction_id, device_id, expires_at, used_at, created_at) \
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )?;
            let mut access = tx.prepare(
                "INSERT INTO access_tokens (digest, client_id, user_id, transaction_id, scope, expires_at) \
                 VALUES (?1, ?2, ?3, ?4, 'openid', ?5)",
            )?;
            let mut outbox = tx.prepare(
                "INSERT INTO outbox (id, transaction_id, kind, target, bearer, payload, state, attempts, \
                 next_attempt_at, give_up_at, last_error, created_at, finished_at) \
                 VALUES (?1, ?2, 'ping', ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            )?;
            let mut event = tx.prepare(
                "INSERT INTO transaction_events (transaction_id, at, kind, device_id, detail) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            for _ in 0..BATCH.min(rows - i) {
                let at_ms = start_s * 1000 + i as i64 * step_ms + rng.gen_range(0..step_ms);
                let at = at_ms / 1000;
                let id = format!("{at_ms:012x}{}", token(&mut rng, 16));
                if i.is_multiple_of(1000) {
                    sample_ids.push(id.clone());
                }
                i += 1;
                // Skewed: the first users are the busiest.
                let u = ((rng.r#gen::<f64>().powi(2)) * n_users as f64) as usize;
                let (user, device) = (&users[u.min(n_users - 1)], &devices[u.min(n_users - 1)]);
                let c = match rng.gen_range(0..100) {
                    0..40 => 0,
                    40..65 => 1,
                    65..80 => 2,
                    80..90 => 3,
                    _ => 4 + rng.gen_range(0..clients.len().saturating_sub(4).max(1)),
                }
                .min(clients.len() - 1);
                let client = &clients[c];
                let context = if c == clients.len() - 1 && c != ping {
                    "saml"
                } else if rng.gen_range(0..100) < 6 {
                    "provisioning"
                } else {
                    "authentication"
                };
                let open = at + EXPIRY > now;
                let end = match (open, rng.gen_range(0..100)) {
                    (true, 0..50) => End::Pending,
                    (_, 0..72) => End::Consumed,
                    (_, 72..83) => End::Denied,
                    (_, 83..95) => End::Pending,
                    _ => End::Approved,
                };
                let decided = (end != End::Pending).then(|| at + rng.gen_range(3..40));
                let refused = end != End::Pending && rng.gen_range(0..100) < 2;
                let notify = c == ping;
                let auth_req_id = format!("{id}.{}", token(&mut rng, 32));
                let digest = format!("{id}.{}", token(&mut rng, 32));
                txn.execute(params![
                    id,
                    digest,
                    client,
                    user,
                    context,
                    format!(
                        "Order {} at shop {c}: pay {}.{:02} EUR",
                        i,
                        rng.gen_range(1..500),
                        rng.gen_range(0..100)
                    ),
                    end.status(),
                    at,
                    at + EXPIRY,
                    decided,
                    decided.map(|_| device),
                    refused as i64,
                    refused.then_some(device),
                    notify.then_some(&auth_req_id),
                    notify.then(|| token(&mut rng, 24)),
                    notify.then_some("ping"),
                    (context == "provisioning").then_some("active"),
                    (context == "saml").then(|| rng.gen_range(10..100).to_string()),
                ])?;
                counts[0] += 1;
                if u.is_multiple_of(3) {
                    let failed = rng.gen_range(0..100) < 4;
                    let (state, attempts, error) = if failed {
                        ("failed", 5, Some("FCM answered 404 UNREGISTERED"))
                    } else {
                        ("sent", 1, None)
                    };
                    let sent = at_ms + rng.gen_range(20..400);
                    push.execute(params![
                        id,
                        device,
                        state,
                        attempts,
                        sent,
                        at_ms + EXPIRY * 1000,
                        error,
                        (!failed).then(|| token(&mut rng, 32)),
                        at_ms,
                        sent
                    ])?;
                    counts[1] += 1;
                    if failed {
                        event.execute(params![id, sent, "device_push_failed", device, error])?;
                        counts[5] += 1;
                    }
                }
                if let Some(d) = decided {
                    let fetched = (d - 2).max(at);
                    challenge.execute(params![token(&mut rng, 16), id, device, fetched + EXPIRY, d, fetched])?;
                    counts[2] += 1;
                    if refused {
                        event.execute(params![
                            id,
                            fetched * 1000,
                            "device_refused",
                            device,
                            "the number typed was not the one shown"
                        ])?;
                        counts[5] += 1;
                    }
                }
                if end == End::Consumed {
                    access.execute(params![
                        token(&mut rng, 32),
                        client,
                        user,
                        id,
                        decided.unwrap_or(at) + 3600
                    ])?;
                    counts[3] += 1;
                }
                if notify && !open {
                    let failed = rng.gen_range(0..100) < 3;
                    let from = decided.unwrap_or(at + EXPIRY) * 1000;
                    let done = from + rng.gen_range(2..60);
                    outbox.execute(params![
                        token(&mut rng, 16),
                        id,
                        ping_target,
                        token(&mut rng, 24),
                        format!(r#"{{"auth_req_id":"{auth_req_id}"}}"#),
                        if failed { "failed" } else { "done" },
                        if failed { 8 } else { 1 },
                        done,
                        from + 600_000,
                        failed.then_some("connection refused"),
                        from,
                        done
                    ])?;
                    counts[4] += 1;
                    if failed {
                        event.execute(params![
                            id,
                            done,
                            "notification_failed",
                            None::<String>,
                            "connection refused"
                        ])?;
                        counts[5] += 1;
                    }
                }
            }
        }
        tx.commit()?;
    }
    counts[6] = n_users as u64;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    drop(conn);
    let oldest_day = time::OffsetDateTime::from_unix_timestamp(start_s + 86_400)?
        .date()
        .to_string();
    Ok(History {
        rows,
        users,
        devices,
        sample_ids,
        oldest_day,
        load_s: started.elapsed().as_secs_f64(),
        counts: vec![
            ("transactions", counts[0]),
            ("device_pushes", counts[1]),
            ("challenges", counts[2]),
            ("access_tokens", counts[3]),
            ("outbox", counts[4]),
            ("transaction_events", counts[5]),
            ("users and devices", counts[6]),
        ],
    })
}
