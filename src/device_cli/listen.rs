//! `trustid device listen`: follows the inbox with the long-poll
//! `GET /device/v1/inbox?wait=30` (a fresh proof each time) and prints each
//! new request once; with `--auto-approve` it approves it too. A server that
//! ignores `wait` answers at once: the loop then pauses a second between
//! reads that brought nothing new.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use super::client::{ApiFailure, DeviceClient, needs_number};
use super::describe;
use super::keys::Choice;

/// How long the server may hold one inbox request.
const WAIT_S: u64 = 30;
/// The pause after a quick answer with nothing new.
const PAUSE: Duration = Duration::from_secs(1);
/// The longest pause between retries after a transient failure.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

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
    // Requests printed already, and those decided (or refused for good) already.
    let mut shown: HashSet<String> = HashSet::new();
    let mut settled: HashSet<String> = HashSet::new();
    let mut backoff = PAUSE;
    loop {
        let asked = Instant::now();
        let items = match device.inbox(Some(WAIT_S)).await {
            Ok(items) => {
                backoff = PAUSE;
                items
            }
            Err(e) if transient(&e) => {
                eprintln!("inbox: {e:#}; trying again in {} s", backoff.as_secs());
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
            Err(e) => return Err(e),
        };
        let ids: HashSet<String> = items
            .iter()
            .filter_map(|i| i["transaction_id"].as_str().map(str::to_owned))
            .collect();
        // Forget what left the inbox, so memory stays bounded.
        shown.retain(|id| ids.contains(id));
        settled.retain(|id| ids.contains(id));

        let mut news = false;
        for item in &items {
            let Some(id) = item["transaction_id"].as_str() else {
                continue;
            };
            if shown.insert(id.to_owned()) {
                news = true;
                if json {
                    let mut event = item.clone();
                    event["event"] = Value::from("request");
                    println!("{event}");
                } else {
                    println!("{}", describe(item));
                }
            }
            if auto_approve && needs_number(item) && settled.insert(id.to_owned()) {
                // Approving without the number the user reads from the relying
                // party would defeat number matching: left to the user.
                eprintln!(
                    "{id} uses number matching; not approved automatically (trustid device approve {id} --number N)"
                );
            }
            if auto_approve && !settled.contains(id) {
                match device.decide(item, "approve", &Choice::default()).await {
                    Ok(answer) => {
                        settled.insert(id.to_owned());
                        news = true;
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
                            settled.insert(id.to_owned());
                        }
                        eprintln!("approve {id}: {e:#}");
                    }
                }
            }
        }
        if !news && asked.elapsed() < PAUSE {
            tokio::time::sleep(PAUSE).await;
        }
    }
}
