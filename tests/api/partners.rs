//! Failing partners (issue 20): a notification endpoint that hangs holds
//! only its own ping, never another client's; an endless answer body is not
//! read. Real endpoints on 127.0.0.1: the receiver, and a raw socket that
//! answers with a body that never ends.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use common::receiver::{Receiver, Reply};
use common::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use trustid::clock::Clock;
use trustid::domain::client::{ClientMetadata, DeliveryMode};
use trustid::engine::admin::ClientCredentials;

async fn ping_client(app: &TestApp, name: &str, endpoint: &str) -> ClientCredentials {
    let mut metadata = ClientMetadata::poll(name);
    metadata.backchannel_token_delivery_mode = DeliveryMode::Ping;
    metadata.backchannel_client_notification_endpoint = Some(endpoint.to_owned());
    app.register(metadata).await
}

async fn approve_one(app: &TestApp, client: &ClientCredentials, device: &TestDevice) {
    let ack = app
        .backchannel(
            client,
            &[
                ("scope", "openid"),
                ("login_hint", "alice"),
                ("client_notification_token", "a-notification-token-of-the-rp"),
            ],
        )
        .await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    assert_eq!(device.decide(app, "approve").await.status, 200);
}

#[tokio::test]
async fn a_hanging_endpoint_does_not_hold_another_clients_ping() {
    // The hanging send lasts 30 s (the delivery timeout); the other ping
    // must arrive while it hangs, bounded by the receiver's 15 s wait.
    let app = spawn_app_with(|s| s.delivery_timeout = 30).await;
    let hanging = Receiver::start(vec![Reply {
        delay: Duration::from_secs(60),
        ..Reply::status(204)
    }])
    .await;
    let healthy = Receiver::start(vec![]).await;
    let stuck = ping_client(&app, "Hanging Bank", &hanging.url("/cb")).await;
    let fine = ping_client(&app, "Healthy Shop", &healthy.url("/cb")).await;
    let device = app.user_with_device("alice").await;
    approve_one(&app, &stuck, &device).await;
    hanging.wait_for(1).await;
    approve_one(&app, &fine, &device).await;
    healthy.wait_for(1).await;
    assert_eq!(hanging.received().len(), 1, "the hanging send is still in flight");
    assert!(
        app.wait_for_metric("trustid_deliveries_total{outcome=\"done\"} 1")
            .await,
        "the healthy ping is recorded as delivered"
    );
}

/// A notification endpoint that answers 200 with a chunked body it never
/// ends; counts the bytes it managed to write before the peer hung up.
struct Endless {
    url: String,
    written: Arc<AtomicU64>,
    closed: Arc<AtomicBool>,
}

impl Endless {
    async fn start() -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/cb", listener.local_addr().unwrap());
        let written = Arc::new(AtomicU64::new(0));
        let closed = Arc::new(AtomicBool::new(false));
        let (w, c) = (written.clone(), closed.clone());
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut head = [0u8; 8192];
            let _ = socket.read(&mut head).await;
            let mut out = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
            let chunk = format!("{:x}\r\n{}\r\n", 65536, "x".repeat(65536));
            loop {
                out.extend_from_slice(chunk.as_bytes());
                if socket.write_all(&out).await.is_err() {
                    c.store(true, Ordering::SeqCst);
                    return;
                }
                w.fetch_add(out.len() as u64, Ordering::SeqCst);
                out.clear();
            }
        });
        Self { url, written, closed }
    }
}

#[tokio::test]
async fn an_endless_answer_body_is_not_read_and_the_ping_counts_as_delivered() {
    let app = spawn_app_with(|s| s.delivery_timeout = 30).await;
    let endless = Endless::start().await;
    let client = ping_client(&app, "Chatty Bank", &endless.url).await;
    let device = app.user_with_device("alice").await;
    approve_one(&app, &client, &device).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
    while !endless.closed.load(Ordering::SeqCst) {
        assert!(tokio::time::Instant::now() < deadline, "trustid hung up");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let written = endless.written.load(Ordering::SeqCst);
    assert!(
        written < 64 << 20,
        "read no further than socket buffers: {written} bytes"
    );
    assert!(
        app.wait_for_metric("trustid_deliveries_total{outcome=\"done\"} 1")
            .await,
        "a 2xx is a delivery, whatever follows it"
    );
}

#[tokio::test]
async fn a_claim_skips_the_endpoints_at_their_cap() {
    let app = spawn_app_without_worker(|_| {}).await;
    let busy = Receiver::start(vec![]).await;
    let idle = Receiver::start(vec![]).await;
    let (busy_url, idle_url) = (busy.url("/cb"), idle.url("/cb"));
    let busy_client = ping_client(&app, "Busy Bank", &busy_url).await;
    let idle_client = ping_client(&app, "Idle Shop", &idle_url).await;
    let device = app.user_with_device("alice").await;
    approve_one(&app, &busy_client, &device).await;
    approve_one(&app, &idle_client, &device).await;
    let now = app.clock.now_ms();
    let store = app.store();
    let first = store
        .claim_deliveries(now, now + 60_000, 10, std::slice::from_ref(&busy_url))
        .await
        .unwrap();
    let targets: Vec<&str> = first.iter().map(|d| d.target.as_str()).collect();
    assert_eq!(targets, [idle_url.as_str()], "the busy endpoint is skipped");
    let rest = store.claim_deliveries(now, now + 60_000, 10, &[]).await.unwrap();
    let targets: Vec<&str> = rest.iter().map(|d| d.target.as_str()).collect();
    assert_eq!(targets, [busy_url.as_str()], "and claimed once it has room");
}

#[tokio::test]
async fn a_down_endpoint_is_retried_and_the_flow_completes_by_polling() {
    let app = spawn_app().await;
    // A port nothing listens on: every connection is refused.
    let closed = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/cb", closed.local_addr().unwrap());
    drop(closed);
    let client = ping_client(&app, "Offline Bank", &url).await;
    let device = app.user_with_device("alice").await;
    let ack = app
        .backchannel(
            &client,
            &[
                ("scope", "openid"),
                ("login_hint", "alice"),
                ("client_notification_token", "a-notification-token-of-the-rp"),
            ],
        )
        .await;
    assert_eq!(device.decide(&app, "approve").await.status, 200);
    assert!(
        app.wait_for_metric("trustid_deliveries_total{outcome=\"retried\"} 1")
            .await,
        "the refused connection is retried"
    );
    let auth_req_id = ack.body["auth_req_id"].as_str().unwrap();
    assert_eq!(
        app.poll(&client, auth_req_id).await.status,
        200,
        "nothing is lost: the client polls"
    );
}
