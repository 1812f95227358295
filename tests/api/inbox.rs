//! The live device inbox: a long-poll that wakes when a request arrives, and
//! a Server-Sent Events stream that follows every change, also across two
//! instances on one PostgreSQL database.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::Duration;

use common::*;
use serde_json::Value;
use trustid::domain::client::SigningAlg;

/// A bound on every wait: far beyond a wake-up, far below the long-poll's own.
const WAKE_BOUND: Duration = Duration::from_secs(8);

async fn long_poll(app: &TestApp, device: &TestDevice, wait: u64) -> Answer {
    let res = app
        .http
        .get(app.url(&format!("/device/v1/inbox?wait={wait}")))
        .header("DPoP", device.proof(app, "GET", "/device/v1/inbox"))
        .send()
        .await
        .unwrap();
    Answer::from(res).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_wakes_when_a_request_arrives() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    let create = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.start(&client, "alice", "Pay 5 EUR").await
    };
    // The long-poll asks for 25 s; answering within the bound proves the wake-up.
    let (answer, _) = tokio::join!(tokio::time::timeout(WAKE_BOUND, long_poll(&app, &device, 25)), create);
    let answer = answer.expect("woken by the new request, not by the 25 s timeout");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["transactions"][0]["binding_message"], "Pay 5 EUR");
    assert_eq!(
        long_poll(&app, &device, 1).await.body["transactions"]
            .as_array()
            .unwrap()
            .len(),
        1,
        "answers at once"
    );
    let bad = long_poll(&app, &device, 31).await;
    assert_eq!((bad.status, bad.error()), (400, "invalid_request"));
}

/// A long-poll for a change of the set the device holds (`If-None-Match`).
async fn long_poll_since(app: &TestApp, device: &TestDevice, wait: u64, tag: &str) -> Answer {
    let res = app
        .http
        .get(app.url(&format!("/device/v1/inbox?wait={wait}")))
        .header("DPoP", device.proof(app, "GET", "/device/v1/inbox"))
        .header("If-None-Match", tag)
        .send()
        .await
        .unwrap();
    Answer::from(res).await
}

fn etag(answer: &Answer) -> String {
    answer.headers["etag"].to_str().unwrap().to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_with_the_inbox_tag_wakes_when_a_request_is_withdrawn() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let phone = app.user_with_device("alice").await;
    let tablet = app.device_for("alice").await;
    let empty = long_poll(&app, &tablet, 0).await;
    app.start(&client, "alice", "Log in").await;
    let listed = long_poll(&app, &tablet, 0).await;
    assert_eq!(listed.body["transactions"].as_array().unwrap().len(), 1);
    let tag = etag(&listed);
    assert_ne!(tag, etag(&empty), "the tag names the set of requests");
    assert_eq!(
        etag(&long_poll(&app, &tablet, 0).await),
        tag,
        "fresh nonces, same set, same tag"
    );

    let unchanged = long_poll_since(&app, &tablet, 1, &tag).await;
    assert_eq!(unchanged.status, 304, "nothing changed within the wait");
    assert_eq!(
        (etag(&unchanged), unchanged.body.clone()),
        (tag.clone(), Value::from(""))
    );
    assert_eq!(unchanged.headers["cache-control"], "no-store");

    let decide = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        phone.decide(&app, "approve").await
    };
    let (answer, decided) = tokio::join!(
        tokio::time::timeout(WAKE_BOUND, long_poll_since(&app, &tablet, 25, &tag)),
        decide
    );
    assert_eq!(decided.status, 200);
    let answer = answer.expect("woken by the withdrawal, not by the 25 s timeout");
    assert_eq!(answer.status, 200);
    assert!(answer.body["transactions"].as_array().unwrap().is_empty(), "withdrawn");
    assert_eq!(etag(&answer), etag(&empty));

    let other = long_poll_since(&app, &tablet, 1, "\"not-this-set\"").await;
    assert_eq!(other.status, 200, "a tag of another set is answered at once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_long_poll_with_the_inbox_tag_wakes_when_a_request_arrives_and_without_wait_answers_at_once() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("bea").await;
    app.start(&client, "bea", "First").await;
    let tag = etag(&long_poll(&app, &device, 0).await);

    let now = long_poll_since(&app, &device, 0, &tag).await;
    assert_eq!(now.status, 200, "without wait the tag is not waited on");
    assert_eq!(etag(&now), tag);

    let create = async {
        tokio::time::sleep(Duration::from_millis(200)).await;
        app.start(&client, "bea", "Second").await
    };
    let (answer, _) = tokio::join!(
        tokio::time::timeout(WAKE_BOUND, long_poll_since(&app, &device, 25, &tag)),
        create
    );
    let answer = answer.expect("woken by the arrival, not by the 25 s timeout");
    assert_eq!(answer.status, 200);
    assert_eq!(answer.body["transactions"].as_array().unwrap().len(), 2);
    assert_ne!(etag(&answer), tag);
}

/// Reads Server-Sent Events from a response, one `data:` payload at a time.
struct Events {
    res: reqwest::Response,
    buffer: String,
}

impl Events {
    async fn open(app: &TestApp, device: &TestDevice) -> Self {
        let res = app
            .http
            .get(app.url("/device/v1/inbox/stream"))
            .header("DPoP", device.proof(app, "GET", "/device/v1/inbox/stream"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status().as_u16(), 200);
        assert_eq!(res.headers()["content-type"], "text/event-stream");
        Self {
            res,
            buffer: String::new(),
        }
    }

    async fn next(&mut self) -> Value {
        let read = async {
            loop {
                if let Some(end) = self.buffer.find("\n\n") {
                    let block: String = self.buffer.drain(..end + 2).collect();
                    if let Some(data) = block.lines().find_map(|l| l.strip_prefix("data:")) {
                        return serde_json::from_str(data.trim()).unwrap();
                    }
                    continue;
                }
                let chunk = self.res.chunk().await.unwrap().expect("stream open");
                self.buffer.push_str(&String::from_utf8_lossy(&chunk));
            }
        };
        tokio::time::timeout(WAKE_BOUND, read).await.expect("an event")
    }
}

fn ids(inbox: &Value) -> Vec<String> {
    inbox["transactions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["transaction_id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_stream_follows_arrivals_and_withdraws_what_another_device_decided() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let phone = app.user_with_device("alice").await;
    let tablet = app.device_for("alice").await;
    let mut tablet_events = Events::open(&app, &tablet).await;
    assert!(
        ids(&tablet_events.next().await).is_empty(),
        "the current (empty) inbox first"
    );
    app.start(&client, "alice", "Log in").await;
    let arrived = tablet_events.next().await;
    assert_eq!(ids(&arrived).len(), 1, "the new request, pushed");
    assert_eq!(arrived["transactions"][0]["binding_message"], "Log in");
    assert_eq!(phone.decide(&app, "approve").await.status, 200);
    assert!(
        ids(&tablet_events.next().await).is_empty(),
        "withdrawn once the phone decided"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_long_poll_on_one_instance_wakes_for_a_request_made_on_another() {
    if std::env::var("TRUSTID_TEST_DATABASE_URL").is_err() {
        println!("skipped: cross-instance wake-ups need PostgreSQL (TRUSTID_TEST_DATABASE_URL)");
        return;
    }
    let a = spawn_app().await;
    let b = a.second_instance().await;
    let client = a.client(SigningAlg::ES256).await;
    let device = a.user_with_device("alice").await;
    // Let B's LISTEN connection settle before the request is made at A.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let create = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        a.start(&client, "alice", "From A").await
    };
    let (answer, auth_req_id) = tokio::join!(tokio::time::timeout(WAKE_BOUND, long_poll(&b, &device, 25)), create);
    let answer = answer.expect("woken through PostgreSQL NOTIFY");
    assert_eq!(answer.body["transactions"][0]["binding_message"], "From A");
    assert_eq!(device.decide(&b, "approve").await.status, 200, "decided at B");
    a.clock.advance_secs(5);
    assert_eq!(a.poll(&client, &auth_req_id).await.status, 200, "tokens at A");
}

/// Draining (SIGTERM, `tests/api/shutdown.rs`) ends both waits as their
/// normal end: the long-poll answers its unchanged inbox, the stream closes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_answers_the_long_poll_and_ends_the_stream() {
    let app = spawn_app().await;
    let device = app.user_with_device("alice").await;
    let mut events = Events::open(&app, &device).await;
    assert!(ids(&events.next().await).is_empty());
    let drain = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        app.state.drain.start();
    };
    let (answer, ()) = tokio::join!(tokio::time::timeout(WAKE_BOUND, long_poll(&app, &device, 25)), drain);
    let answer = answer.expect("answered by the drain, not by the 25 s timeout");
    assert_eq!(answer.status, 200);
    assert!(ids(&answer.body).is_empty());
    let ended = tokio::time::timeout(WAKE_BOUND, async {
        while let Some(chunk) = events.res.chunk().await.unwrap() {
            assert!(!String::from_utf8_lossy(&chunk).contains("data:"), "no more events");
        }
    });
    ended.await.expect("the stream ends");
}

/// A device holds at most four long-polls and streams at once
/// (`engine::waits`); the fifth is refused with 429 until one ends, and
/// another device is not affected.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_device_holds_at_most_four_open_waits() {
    let app = spawn_app().await;
    let device = app.user_with_device("alice").await;
    let other = app.user_with_device("bob").await;
    let mut streams = Vec::new();
    for _ in 0..3 {
        streams.push(Events::open(&app, &device).await);
    }
    let poll = long_poll(&app, &device, 25);
    let refused = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let fifth = app
            .http
            .get(app.url("/device/v1/inbox/stream"))
            .header("DPoP", device.proof(&app, "GET", "/device/v1/inbox/stream"))
            .send()
            .await
            .unwrap();
        let fifth = Answer::from(fifth).await;
        let other_ok = long_poll(&app, &other, 0).await.status;
        app.start(&app.client(SigningAlg::ES256).await, "alice", "Ends the long-poll")
            .await;
        (fifth, other_ok)
    };
    let (polled, (fifth, other_ok)) = tokio::join!(tokio::time::timeout(WAKE_BOUND, poll), refused);
    assert_eq!((fifth.status, fifth.error()), (429, "too_many_waits"), "{}", fifth.body);
    assert_eq!(other_ok, 200, "another device is not affected");
    assert_eq!(polled.expect("woken by the request").status, 200);
    streams.pop();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let again = long_poll(&app, &device, 1).await;
    assert_eq!(
        again.status, 200,
        "a slot freed by the ended poll and the closed stream"
    );
}
