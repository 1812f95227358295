//! Failed client authentications are counted per client and per address
//! (`engine::auth_failures`): after a few, each failure is answered late;
//! the right secret is never held up; an address that fails too often is
//! refused, right secret or not, until its window ends. Time moves by the
//! clock; the holds are counted in `/metrics`, not timed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use trustid::domain::client::SigningAlg;

fn metric(metrics: &str, line: &str) -> u64 {
    metrics
        .lines()
        .find_map(|l| l.strip_prefix(line)?.trim().parse().ok())
        .unwrap_or_else(|| panic!("no {line} in\n{metrics}"))
}

#[tokio::test]
async fn repeated_failures_are_slowed_then_the_address_is_refused_until_its_window_ends() {
    let app = spawn_app_with(|s| s.client_auth_failures_per_address = 8).await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("alice").await;
    let auth_req_id = app.start(&client, "alice", "Log in").await;
    let form = [("grant_type", CIBA_GRANT), ("auth_req_id", auth_req_id.as_str())];
    let guess = || async {
        let res = app
            .http
            .post(app.url("/token"))
            .basic_auth(&client.client_id, Some("a guess"))
            .form(&form)
            .send()
            .await
            .unwrap();
        Answer::from(res).await
    };
    for _ in 0..5 {
        guess()
            .await
            .assert_oauth_error(401, "invalid_client", "a wrong secret");
    }
    let metrics = app.metrics().await;
    assert_eq!(metric(&metrics, "trustid_client_auth_failures_total"), 5);
    assert_eq!(
        metric(&metrics, "trustid_client_auth_throttled_total{outcome=\"slowed\"}"),
        0
    );

    // The sixth and seventh are held; the client's own secret is not.
    guess().await.assert_oauth_error(401, "invalid_client", "held");
    app.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "authorization_pending", "the right secret passes");
    guess().await.assert_oauth_error(401, "invalid_client", "held longer");
    let metrics = app.metrics().await;
    assert_eq!(
        metric(&metrics, "trustid_client_auth_throttled_total{outcome=\"slowed\"}"),
        2
    );
    let client_trail = app
        .store()
        .audit_of(&format!("client:{}", client.client_id))
        .await
        .unwrap();
    assert!(
        client_trail
            .iter()
            .any(|(_, actor, action)| actor == "trustid" && action == "client_auth.slowed"),
        "{client_trail:?}"
    );

    // The eighth reaches the address's limit: the next is refused unchecked.
    guess().await.assert_oauth_error(401, "invalid_client", "the limit");
    let refused = app.poll(&client, &auth_req_id).await;
    refused.assert_oauth_error(429, "invalid_client", "refused, right secret or not");
    let wait: i64 = refused.header("retry-after").unwrap().parse().unwrap();
    assert!((1..=300).contains(&wait), "Retry-After {wait}");
    let backchannel = app
        .backchannel(&client, &[("scope", "openid"), ("login_hint", "alice")])
        .await;
    backchannel.assert_oauth_error(429, "invalid_client", "every endpoint that authenticates clients");
    let metrics = app.metrics().await;
    assert_eq!(
        metric(&metrics, "trustid_client_auth_throttled_total{outcome=\"refused\"}"),
        2
    );
    assert_eq!(
        metric(&metrics, "trustid_client_auth_failures_total"),
        8,
        "refusals are not failures"
    );
    let address_trail = app.store().audit_of("address:127.0.0.1").await.unwrap();
    let actions: Vec<&str> = address_trail.iter().map(|(_, _, a)| a.as_str()).collect();
    assert_eq!(actions, ["client_auth.slowed", "client_auth.refused"]);

    app.clock.advance_secs(wait);
    let after = app
        .backchannel(&client, &[("scope", "openid"), ("login_hint", "alice")])
        .await;
    assert_eq!(after.status, 200, "the window ended: {}", after.body);
}

#[tokio::test]
async fn a_limit_of_zero_turns_the_throttle_off_and_failures_are_still_counted() {
    let app = spawn_app_with(|s| s.client_auth_failures_per_address = 0).await;
    let client = app.client(SigningAlg::ES256).await;
    for _ in 0..12 {
        let res = app
            .http
            .post(app.url("/token"))
            .basic_auth(&client.client_id, Some("a guess"))
            .form(&[("grant_type", CIBA_GRANT), ("auth_req_id", "x")])
            .send()
            .await
            .unwrap();
        Answer::from(res)
            .await
            .assert_oauth_error(401, "invalid_client", "never refused");
    }
    let metrics = app.metrics().await;
    assert_eq!(metric(&metrics, "trustid_client_auth_failures_total"), 12);
    assert_eq!(
        metric(&metrics, "trustid_client_auth_throttled_total{outcome=\"slowed\"}"),
        0
    );
}
