//! `trustid device listen`: follows the inbox's Server-Sent Events stream
//! (`GET /device/v1/inbox/stream`, proven once per connection), which sends
//! the whole inbox whenever it changes, and prints each new request once;
//! with `--auto-approve` it approves it too. A dropped or silent stream is
//! reopened with backoff; a refusal that retrying cannot fix ends it.

use std::collections::HashSet;
use std::time::Duration;

use anyhow::{Context, bail};
use serde_json::{Value, json};

use super::client::{ApiFailure, DeviceClient, needs_number};
use super::describe;
use super::keys::Choice;
use super::sse::SseParser;

/// The first pause before reopening a stream that ended or failed.
const PAUSE: Duration = Duration::from_secs(1);
/// The longest pause between retries after a transient failure.
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// The server sends a keep-alive every 15 s; this long without a byte
/// means the connection is gone even if the socket has not said so.
const SILENCE: Duration = Duration::from_secs(45);

fn transient(e: &anyhow::Error) -> bool {
    match e.downcast_ref::<ApiFailure>() {
        Some(failure) => failure.is_transient(),
        // Not an answer from the server: the network, a proxy, a timeout.
        None => true,
    }
}

/// Listens until Ctrl-C (then returns `Ok`) or a refusal that retrying cannot fix.
pub async fn listen(device: &DeviceClient, auto_approve: bool, json: bool) -> anyhow::Result<()> {
    eprintln!(
        "listening for requests to device {} at {} (Ctrl-C stops)",
        device.keys.device_id(),
        device.server
    );
    tokio::select! {
        result = follow(device, auto_approve, json) => result,
        interrupted = tokio::signal::ctrl_c() => {
            interrupted?;
            eprintln!("stopped");
            Ok(())
        }
    }
}

async fn follow(device: &DeviceClient, auto_approve: bool, json: bool) -> anyhow::Result<()> {
    let mut seen = Seen::default();
    let mut backoff = PAUSE;
    loop {
        let ended = match read_stream(device, &mut seen, auto_approve, json).await {
            Ok(()) => "the server closed the stream".to_owned(),
            Err(e) if transient(&e) => format!("{e:#}"),
            Err(e) => return Err(e),
        };
        // A stream that delivered something resets the backoff.
        if seen.delivered {
            backoff = PAUSE;
            seen.delivered = false;
        }
        eprintln!("inbox stream: {ended}; reconnecting in {} s", backoff.as_secs());
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// Requests printed already, and those decided (or refused for good) already.
#[derive(Default)]
struct Seen {
    shown: HashSet<String>,
    settled: HashSet<String>,
    delivered: bool,
}

/// Reads one connection of the stream until it ends.
async fn read_stream(device: &DeviceClient, seen: &mut Seen, auto_approve: bool, json: bool) -> anyhow::Result<()> {
    let mut res = device.inbox_stream().await?;
    let mut parser = SseParser::default();
    loop {
        let chunk = tokio::time::timeout(SILENCE, res.chunk())
            .await
            .with_context(|| format!("no keep-alive for {} s", SILENCE.as_secs()))?
            .context("the stream broke")?;
        let Some(chunk) = chunk else { return Ok(()) };
        for event in parser.push(&chunk) {
            if event.event != "inbox" {
                continue;
            }
            let inbox: Value = serde_json::from_str(&event.data).context("an inbox event that is not JSON")?;
            let Some(items) = inbox["transactions"].as_array() else {
                bail!("an inbox event without a \"transactions\" list: {inbox}");
            };
            seen.delivered = true;
            handle(device, seen, items, auto_approve, json).await;
        }
    }
}

/// Prints what is new in one snapshot of the inbox, and approves it when asked.
async fn handle(device: &DeviceClient, seen: &mut Seen, items: &[Value], auto_approve: bool, json: bool) {
    let ids: HashSet<&str> = items.iter().filter_map(|i| i["transaction_id"].as_str()).collect();
    // Forget what left the inbox, so memory stays bounded.
    seen.shown.retain(|id| ids.contains(id.as_str()));
    seen.settled.retain(|id| ids.contains(id.as_str()));

    for item in items {
        let Some(id) = item["transaction_id"].as_str() else {
            continue;
        };
        if seen.shown.insert(id.to_owned()) {
            if json {
                let mut event = item.clone();
                event["event"] = Value::from("request");
                println!("{event}");
            } else {
                println!("{}", describe(item));
            }
        }
        if auto_approve && needs_number(item) && seen.settled.insert(id.to_owned()) {
            // Approving without the number the user reads from the relying
            // party would defeat number matching: left to the user.
            eprintln!("{id} uses number matching; not approved automatically (trustid device approve {id} --number N)");
        }
        if auto_approve && !seen.settled.contains(id) {
            match device.decide(item, "approve", &Choice::default()).await {
                Ok(answer) => {
                    seen.settled.insert(id.to_owned());
                    let status = answer["status"].as_str().unwrap_or("approved");
                    if json {
                        println!(
                            "{}",
                            json!({"event": "decision", "transaction_id": id, "status": status})
                        );
                    } else {
                        println!("  -> {status}");
                    }
                }
                Err(e) => {
                    if !transient(&e) {
                        // Decided elsewhere, expired, or refused: not worth another try.
                        seen.settled.insert(id.to_owned());
                    }
                    eprintln!("approve {id}: {e:#}");
                }
            }
        }
    }
}
