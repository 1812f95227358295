//! `/metrics` as a Prometheus server reads it: the whole page parses with a
//! text-format parser, and a flow moves the counters, the per-route
//! requests and latency histogram and the request-to-decision histogram by
//! exactly what it did; the gauges read from the database count what is
//! there. `metrics_listen` moves the page to its own address.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use prometheus_parse::{Sample, Scrape, Value};
use trustid::domain::client::SigningAlg;

use crate::common::*;

fn parse(text: &str) -> Vec<Sample> {
    Scrape::parse(text.lines().map(|l| Ok(l.to_owned()))).unwrap().samples
}

/// The value of the counter, gauge or untyped sample `metric` with `labels`.
fn value(samples: &[Sample], metric: &str, labels: &[(&str, &str)]) -> f64 {
    let sample = samples
        .iter()
        .find(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .unwrap_or_else(|| panic!("no {metric} {labels:?}"));
    match sample.value {
        Value::Counter(v) | Value::Gauge(v) | Value::Untyped(v) => v,
        _ => panic!("{metric} is a histogram or summary"),
    }
}

/// A histogram's observations (its `+Inf` bucket).
fn observations(samples: &[Sample], metric: &str, labels: &[(&str, &str)]) -> f64 {
    samples
        .iter()
        .filter(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)))
        .find_map(|s| match &s.value {
            Value::Histogram(buckets) => buckets.iter().find(|b| b.less_than.is_infinite()).map(|b| b.count),
            _ => None,
        })
        .unwrap_or(0.0)
}

#[tokio::test]
async fn the_page_parses_and_a_flow_moves_what_it_did() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    let before = parse(&app.metrics().await);

    let auth_req_id = app.start(&client, "alice", "Log in").await;
    let decided = device.decide(&app, "approve").await;
    assert!(decided.status < 300, "{}", decided.body);
    let tokens = app.poll(&client, &auth_req_id).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
    let missing = app.http.get(app.url("/no/such/page")).send().await.unwrap();
    assert_eq!(missing.status(), 404);
    let after = parse(&app.metrics().await);

    let moved = |metric: &str, labels: &[(&str, &str)]| {
        let was = before
            .iter()
            .any(|s| s.metric == metric && labels.iter().all(|(k, v)| s.labels.get(k) == Some(v)));
        value(&after, metric, labels) - if was { value(&before, metric, labels) } else { 0.0 }
    };
    let requests = "trustid_http_requests_total";
    assert_eq!(moved(requests, &[("route", "/bc-authorize"), ("status", "200")]), 1.0);
    assert_eq!(moved(requests, &[("route", "/token"), ("status", "200")]), 1.0);
    assert_eq!(moved(requests, &[("route", "unmatched"), ("status", "404")]), 1.0);
    let decision_route = after
        .iter()
        .filter_map(|s| s.labels.get("route"))
        .find(|r| r.ends_with("/decision"))
        .expect("the decision route");
    assert_eq!(
        decision_route, "/device/v1/transactions/:id/decision",
        "a route is its template, never a path with an id"
    );
    let latency = "trustid_http_request_duration_seconds";
    assert_eq!(
        observations(&after, latency, &[("route", "/bc-authorize")])
            - observations(&before, latency, &[("route", "/bc-authorize")]),
        1.0
    );
    assert_eq!(moved("trustid_backchannel_requests_accepted_total", &[]), 1.0);
    assert_eq!(moved("trustid_decisions_total", &[("outcome", "approved")]), 1.0);
    assert_eq!(moved("trustid_tokens_issued_total", &[]), 1.0);
    assert_eq!(
        observations(&after, "trustid_decision_seconds", &[]) - observations(&before, "trustid_decision_seconds", &[]),
        1.0
    );
    assert_eq!(
        value(&after, "trustid_build_info", &[("version", env!("CARGO_PKG_VERSION"))]),
        1.0
    );
    let commits = observations(&after, "trustid_sqlite_commit_rows", &[])
        - observations(&before, "trustid_sqlite_commit_rows", &[]);
    let sqlite = app.settings.database_url.starts_with("sqlite:");
    // One after the other, each alone: the request, the inbox's proof and
    // challenges, the decision's proof and decision, the redemption.
    assert_eq!(
        commits,
        if sqlite { 6.0 } else { 0.0 },
        "six group commits, on SQLite only"
    );
    assert!(value(&after, "trustid_db_pool_max_connections", &[]) >= 1.0);
    value(&after, "trustid_db_pool_connections", &[("state", "idle")]);
    assert_eq!(value(&after, "trustid_users_locked", &[]), 0.0);
    assert_eq!(value(&after, "trustid_failed_attempts_total", &[]), 0.0);
}

#[tokio::test]
async fn failed_attempts_and_a_lockout_are_counted() {
    let app = spawn_app_with(|s| s.device_lockout_threshold = 1).await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    app.start(&client, "alice", "Log in").await;
    let item = device.only_item(&app).await;
    let mut jws = device.decision_jws(&item, "approve", &app);
    jws.replace_range(jws.len() - 4.., "AAAA");
    let refused = device
        .send_decision(&app, item["transaction_id"].as_str().unwrap(), &jws)
        .await;
    assert!(refused.status >= 400, "{}", refused.body);
    let samples = parse(&app.metrics().await);
    assert_eq!(value(&samples, "trustid_failed_attempts_total", &[]), 1.0);
    assert_eq!(value(&samples, "trustid_lockouts_total", &[("of", "device")]), 1.0);
    assert_eq!(value(&samples, "trustid_devices_locked", &[]), 1.0);
    // Read from the database (this scrape is the first: nothing cached).
    let recent = [
        ("window", "1h"),
        ("context", "authentication"),
        ("delivery", "poll"),
        ("state", "pending"),
    ];
    assert_eq!(value(&samples, "trustid_recent_transactions", &recent), 1.0);
}

#[tokio::test]
async fn metrics_listen_serves_the_page_on_its_own_address_only() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let address = format!("127.0.0.1:{port}");
    let server = crate::shutdown::Server::start_with(dir.path(), &[("TRUSTID_METRICS_LISTEN", &address)]).await;
    let main = reqwest::get(server.url("/metrics")).await.unwrap();
    assert_eq!(main.status(), 404, "not on the main listener");
    let res = reqwest::get(format!("http://{address}/metrics")).await.unwrap();
    assert_eq!(res.status(), 200);
    let samples = parse(&res.text().await.unwrap());
    assert_eq!(
        value(
            &samples,
            "trustid_build_info",
            &[("version", env!("CARGO_PKG_VERSION"))]
        ),
        1.0
    );
    let other = reqwest::get(format!("http://{address}/.well-known/openid-configuration"))
        .await
        .unwrap();
    assert_eq!(other.status(), 404, "nothing else there");
}
