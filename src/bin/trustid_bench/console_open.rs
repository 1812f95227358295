//! A console open in a browser during the backchannel phase (issue 19: it
//! must lower that phase by less than 5 %): the dashboard refetched every
//! 3 s, the pending list's event stream held and the page reloaded on each
//! `changed` event, as `console.js` does; with a signed-in session.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::json;

use super::console::Admin;
use super::load::{self, Bounds, Phase, Tally};
use super::phases::{self, Ctx};

/// What the open console did during a phase.
#[derive(Default)]
struct Seen {
    dashboards: AtomicU64,
    reloads: AtomicU64,
    events: AtomicU64,
    failures: AtomicU64,
}

/// A browser with the console open: the dashboard tab fetches `/admin`
/// every 3 s (its script), the pending tab holds the event stream and
/// reloads the page (then reconnects with the new fingerprint) on each
/// `changed` event, as `console.js` does. Runs until `stop`.
async fn browser(admin: Admin, stop: Arc<AtomicBool>, seen: Arc<Seen>, dash: Arc<std::sync::Mutex<Tally>>) {
    let dashboard = {
        let (admin, stop, seen) = (admin.clone(), stop.clone(), seen.clone());
        tokio::spawn(async move {
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                match admin.get("/admin").await {
                    Ok((200, _)) => {
                        seen.dashboards.fetch_add(1, Ordering::Relaxed);
                        if let Ok(mut t) = dash.lock() {
                            t.sample(started.elapsed());
                        }
                    }
                    _ => {
                        seen.failures.fetch_add(1, Ordering::Relaxed);
                    }
                }
                // setInterval: every 3 s from the start, whatever the answer took.
                let next = started + Duration::from_secs(3);
                while Instant::now() < next && !stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
            }
        })
    };
    while !stop.load(Ordering::Relaxed) {
        let seen_now = match admin.get("/admin/pending").await {
            Ok((200, page)) => {
                seen.reloads.fetch_add(1, Ordering::Relaxed);
                page.split("data-events=\"")
                    .nth(1)
                    .and_then(|rest| rest.split('"').next())
                    .map(|p| p.replace("&amp;", "&"))
            }
            _ => None,
        };
        let Some(events) = seen_now else {
            seen.failures.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        };
        let stream = admin
            .http
            .get(format!("{}{events}", admin.base))
            .header("cookie", &admin.cookie)
            .header("accept", "text/event-stream")
            .send()
            .await;
        let Ok(mut res) = stream else {
            seen.failures.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        // Wait for a `changed` event (then reload), checking `stop` now and then.
        loop {
            if stop.load(Ordering::Relaxed) {
                break;
            }
            match tokio::time::timeout(Duration::from_millis(200), res.chunk()).await {
                Err(_) => continue,
                Ok(Ok(Some(chunk))) => {
                    if String::from_utf8_lossy(&chunk).contains("event: changed") {
                        seen.events.fetch_add(1, Ordering::Relaxed);
                        break;
                    }
                }
                Ok(_) => break,
            }
        }
    }
    let _ = dashboard.await;
}

/// The backchannel phase measured alone and with a console open, in the
/// order alone, open, open, alone (the table grows during the phase: the
/// order cancels a steady drift). Returns the four segments; the notes get
/// the two rates and their difference.
pub async fn backchannel(
    ctx: &Arc<Ctx>,
    admin: &Admin,
    bounds: Bounds,
    notes: &mut Vec<String>,
) -> anyhow::Result<Vec<Phase>> {
    let mut out = Vec::new();
    for (round, with_console) in [false, true, true, false].into_iter().enumerate() {
        let name = format!(
            "bc_{}_{}",
            if with_console { "console" } else { "alone" },
            round / 2 + 1
        );
        super::log(&format!("{name} ..."));
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Seen::default());
        let dash = Arc::new(std::sync::Mutex::new(Tally::default()));
        let running =
            with_console.then(|| tokio::spawn(browser(admin.clone(), stop.clone(), seen.clone(), dash.clone())));
        // The page is loaded and the stream connected before the clock starts.
        if running.is_some() {
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let what = if with_console {
            "backchannel requests while a console is open (dashboard every 3 s, pending list live)"
        } else {
            "backchannel requests, no console open"
        };
        let mut phase = phases::backchannel(ctx, bounds, &name, what).await?;
        stop.store(true, Ordering::Relaxed);
        if let Some(running) = running {
            running.await.context("the console browser panicked")?;
            let lat = dash.lock().ok().map(|t| t.lat_us.clone()).unwrap_or_default();
            phase.extra.insert(
                "console".into(),
                json!({
                    "dashboard_fetches": seen.dashboards.load(Ordering::Relaxed),
                    "dashboard_latency": load::latency(lat),
                    "pending_reloads": seen.reloads.load(Ordering::Relaxed),
                    "changed_events": seen.events.load(Ordering::Relaxed),
                    "failures": seen.failures.load(Ordering::Relaxed),
                }),
            );
        }
        out.push(phase);
    }
    if let Some((a, o, change)) = super::report::console_open_change(&out) {
        notes.push(format!(
            "console open during backchannel: alone {a:.0}/s, with the console open {o:.0}/s: {change:+.1} % \
             (segments alone, open, open, alone)"
        ));
    }
    Ok(out)
}
