//! Push to devices, end to end over HTTP: devices say how they
//! are reached, a request wakes the preferred device or all of them through
//! a real local relay / FCM / APNs server, pushes carry only an exchange
//! token, failures are retried, and the inbox stays the way in.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::push::*;
use common::receiver::{Receiver, Reply};
use common::*;
use serde_json::{Value, json};
use trustid::domain::client::ClientMetadata;
use trustid::domain::push::DeviceRouting;
use trustid::domain::url::OutboundRule;

#[tokio::test]
async fn a_request_reaches_both_devices_and_once_one_approves_the_other_inbox_empties() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    let (a, b) = two_devices(&app, "alice").await;

    let auth_req_id = app.start(&client, "alice", "Pay 10 EUR to ACME").await;
    let got = relay.wait_for(2).await;
    let mut tokens = Vec::new();
    for (device_token, device) in [("relay-a", &a), ("relay-b", &b)] {
        let jws = by_device_token(&got, device_token);
        let claims = verify_with_jwks(&app, jws).await;
        assert_eq!(claims["iss"], app.base);
        assert_eq!(claims["aud"], relay.url("/push"));
        // The JWS is base64url: what it carries shows in its decoded claims.
        assert!(!claims.to_string().contains("Pay 10"), "no binding message");
        let push_token = claims["push_token"].as_str().unwrap().to_owned();
        assert!(push_token.len() >= 43, "≥256 bits");
        tokens.push((push_token, device));
    }
    assert!(got.iter().all(|r| r.header("content-type") == Some("application/jwt")));

    // Each device trades its own token for the request; not the other's.
    let wrong = exchange(&app, &b, &json!({"push_token": tokens[0].0})).await;
    assert_eq!((wrong.status, wrong.error()), (404, "unknown_push_token"));
    let item = exchange(&app, &a, &json!({"push_token": tokens[0].0})).await;
    assert_eq!(item.status, 200, "{}", item.body);
    let item = item.body["transaction"].clone();
    assert_eq!(item["binding_message"], "Pay 10 EUR to ACME");
    assert_eq!(b.only_item(&app).await["transaction_id"], item["transaction_id"]);

    let jws = a.decision_jws(&item, "approve", &app);
    let decided = a
        .send_decision(&app, item["transaction_id"].as_str().unwrap(), &jws)
        .await;
    assert_eq!(decided.status, 200, "{}", decided.body);

    let inbox = b.inbox(&app).await;
    assert_eq!(inbox.body["transactions"], json!([]), "withdrawn from the other device");
    let late = exchange(&app, &b, &json!({"push_token": tokens[1].0})).await;
    assert_eq!((late.status, late.error()), (404, "unknown_push_token"));
    assert_eq!(app.poll(&client, &auth_req_id).await.status, 200);

    let r = report(&app, &manage, &auth_req_id).await;
    assert_eq!(r.body["status"], "approved");
    let states: Vec<(&str, &str)> = r.body["device_pushes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["channel"].as_str().unwrap(), p["state"].as_str().unwrap()))
        .collect();
    assert_eq!(states, [("webhook", "sent"), ("webhook", "sent")]);
}

#[tokio::test]
async fn preferred_routing_reaches_only_the_preferred_device_unless_the_request_asks_for_all() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::Preferred).await;
    let (_a, b) = two_devices(&app, "bob").await;

    // No device preferred yet: all of them.
    let first = app.start(&client, "bob", "one").await;
    assert_eq!(
        report(&app, &manage, &first).await.body["device_pushes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Both pushes of the first request arrive before the second is made, so
    // the third push received is the second request's.
    relay.wait_for(2).await;

    assert!(app.store().set_preferred_device("bob", &b.id()).await.unwrap());
    let second = app.start(&client, "bob", "two").await;
    let pushes = report(&app, &manage, &second).await.body["device_pushes"].clone();
    let devices: Vec<&str> = pushes
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["device_id"].as_str().unwrap())
        .collect();
    assert_eq!(devices, [b.id().as_str()]);
    let got = relay.wait_for(3).await;
    assert_eq!(common::jwt_payload(&got[2].raw)["device_token"], "relay-b");

    // The request overrides the client's default.
    let ack = app
        .backchannel(
            &client,
            &[
                ("scope", "openid"),
                ("login_hint", "bob"),
                ("binding_message", "three"),
                ("device_routing", "all"),
            ],
        )
        .await;
    let third = ack.body["auth_req_id"].as_str().unwrap();
    assert_eq!(
        report(&app, &manage, third).await.body["device_pushes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // The preferred device without a push channel: nobody is pushed (the
    // others are not bothered in its place), and its inbox still has it.
    let res = app
        .http
        .delete(app.url(CHANNEL))
        .header("DPoP", b.proof(&app, "DELETE", CHANNEL))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    let fourth = app.start(&client, "bob", "four").await;
    assert_eq!(report(&app, &manage, &fourth).await.body["device_pushes"], json!([]));
    let inbox = b.inbox(&app).await;
    assert!(
        inbox.body["transactions"]
            .as_array()
            .unwrap()
            .iter()
            .any(|t| t["binding_message"] == "four"),
        "{}",
        inbox.body
    );
}

#[tokio::test]
async fn device_routing_must_be_all_or_preferred() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![]).await;
    let (client, _) = relay_client(&app, &relay, DeviceRouting::All).await;
    app.user_with_device("carol").await;
    for (value, why) in [("some", "unknown value"), ("ALL", "values are lower case")] {
        let ack = app
            .backchannel(
                &client,
                &[("scope", "openid"), ("login_hint", "carol"), ("device_routing", value)],
            )
            .await;
        ack.assert_oauth_error(400, "invalid_request", why);
    }
}

#[tokio::test]
async fn a_failing_relay_is_retried_and_the_transaction_still_completes_through_the_inbox() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![Reply::status(503), Reply::status(500)]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    let device = app.user_with_device("dave").await;
    set_channel(&app, &device, &json!({"channel": "webhook", "token": "relay-d"})).await;

    let auth_req_id = app.start(&client, "dave", "Sign the lease").await;
    relay.wait_for(1).await;
    report_until(&app, &manage, &auth_req_id, |p| p[0]["last_error"] == "answered 503").await;
    // Backoff runs on trustid's clock: move it, and the retry comes due.
    app.clock.advance_secs(1);
    relay.wait_for(2).await;
    report_until(&app, &manage, &auth_req_id, |p| p[0]["last_error"] == "answered 500").await;
    app.clock.advance_secs(2);
    relay.wait_for(3).await;
    let pushes = report_until(&app, &manage, &auth_req_id, |p| p[0]["state"] == "sent").await;
    assert_eq!(pushes[0]["attempts"], 3);
    // Each attempt carried its own token; the last two trade (the one before
    // may have been delivered late), older ones do not.
    let got = relay.received();
    let token = |i: usize| common::jwt_payload(&got[i].raw)["push_token"].clone();
    let (old, prev, new) = (token(0), token(1), token(2));
    assert!(old != prev && prev != new && old != new);
    assert_eq!(exchange(&app, &device, &json!({"push_token": old})).await.status, 404);
    assert_eq!(exchange(&app, &device, &json!({"push_token": prev})).await.status, 200);
    assert_eq!(exchange(&app, &device, &json!({"push_token": new})).await.status, 200);

    assert_eq!(device.decide(&app, "approve").await.status, 200);
    assert_eq!(app.poll(&client, &auth_req_id).await.status, 200);
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("trustid_device_pushes_total{outcome=\"retried\"} 2\n"),
        "{metrics}"
    );
    assert!(
        metrics.contains("trustid_device_pushes_total{outcome=\"sent\"} 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_push_token_is_stored_only_while_the_request_is_open_and_the_push_is_this_workers() {
    use trustid::domain::delivery::{DevicePush, PushOutcome};
    use trustid::domain::push::PushChannel;
    let app = spawn_app_without_worker(|_| {}).await;
    let relay = Receiver::start(vec![]).await;
    let (client, _) = relay_client(&app, &relay, DeviceRouting::All).await;
    let device = app.user_with_device("lena").await;
    set_channel(&app, &device, &json!({"channel": "webhook", "token": "relay-l"})).await;
    app.start(&client, "lena", "Sign in").await;
    let store = app.store();
    let now = app.clock_now();
    let now_ms = (now + 1) * 1000;
    let claimed = store.claim_device_pushes(now_ms, now_ms + 5_000, 8).await.unwrap();
    assert_eq!(claimed.len(), 1);
    let push = &claimed[0];
    let stale = DevicePush {
        lease_until: push.lease_until - 1,
        ..push.clone()
    };
    let sent = PushOutcome::Sent(PushChannel::Webhook);
    assert!(
        !store.set_push_token(&stale, "digest-1", now).await.unwrap(),
        "another worker's lease"
    );
    assert!(
        !store.finish_device_push(&stale, &sent, now_ms).await.unwrap(),
        "another worker's lease"
    );
    assert!(
        !store.set_push_token(push, "digest-1", now + 86_400).await.unwrap(),
        "the request expired"
    );
    assert!(
        store.set_push_token(push, "digest-1", now).await.unwrap(),
        "open, and this worker's"
    );

    assert_eq!(device.decide(&app, "deny").await.status, 200);
    assert!(
        !store.set_push_token(push, "digest-2", now).await.unwrap(),
        "the request was decided"
    );
    let withdrawn = PushOutcome::Withdrawn("the request was decided or expired".into());
    assert!(store.finish_device_push(push, &withdrawn, now_ms).await.unwrap());
    assert!(
        !store.finish_device_push(push, &sent, now_ms).await.unwrap(),
        "the lease ended with the outcome"
    );
}

#[tokio::test]
async fn a_push_still_failing_when_the_request_is_about_to_expire_gives_up() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![Reply::status(503); 8]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    let device = app.user_with_device("tess").await;
    set_channel(&app, &device, &json!({"channel": "webhook", "token": "relay-t"})).await;
    let ack = app
        .backchannel(
            &client,
            &[
                ("scope", "openid"),
                ("login_hint", "tess"),
                ("binding_message", "Sign in"),
            ],
        )
        .await;
    let auth_req_id = ack.body["auth_req_id"].as_str().unwrap();
    // The first attempt's outcome is recorded (not merely claimed) before time moves.
    report_until(&app, &manage, auth_req_id, |p| p[0]["last_error"] == "answered 503").await;
    // A second before expiry the next backoff would end past it: no more tries.
    app.clock.advance_secs(ack.body["expires_in"].as_i64().unwrap() - 1);
    let pushes = report_until(&app, &manage, auth_req_id, |p| p[0]["state"] == "failed").await;
    assert_eq!(pushes[0]["last_error"], "gave up after 2 attempts: answered 503");
    assert_eq!(relay.received().len(), 2);
}

#[tokio::test]
async fn a_device_that_cleared_its_channel_or_was_removed_after_the_request_is_not_pushed() {
    let app = spawn_app_without_worker(|_| {}).await;
    let relay = Receiver::start(vec![]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    let (a, b) = two_devices(&app, "uma").await;
    let auth_req_id = app.start(&client, "uma", "Sign in").await;
    assert_eq!(
        report(&app, &manage, &auth_req_id).await.body["device_pushes"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    let res = app
        .http
        .delete(app.url(CHANNEL))
        .header("DPoP", a.proof(&app, "DELETE", CHANNEL))
        .send()
        .await
        .unwrap();
    assert!(res.status().is_success(), "{}", res.status());
    assert!(app.store().remove_device("uma", &b.id()).await.unwrap());
    let _workers = trustid::engine::delivery::spawn_worker(app.state.clone());
    let pushes = report_until(&app, &manage, &auth_req_id, |p| {
        p.iter().all(|p| p["state"] == "withdrawn")
    })
    .await;
    for push in &pushes {
        assert_eq!(push["last_error"], "the device is not active or has no push channel");
    }
    assert_eq!(relay.received().len(), 0);
}

#[tokio::test]
async fn a_push_token_does_not_trade_after_the_request_expired_or_from_a_removed_device() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![]).await;
    let (client, _) = relay_client(&app, &relay, DeviceRouting::All).await;
    let (a, b) = two_devices(&app, "vic").await;
    app.start(&client, "vic", "Sign in").await;
    let got = relay.wait_for(2).await;
    let token_of = |t: &str| common::jwt_payload(by_device_token(&got, t))["push_token"].clone();
    let (token_a, token_b) = (token_of("relay-a"), token_of("relay-b"));

    assert!(app.store().remove_device("vic", &b.id()).await.unwrap());
    let removed = exchange(&app, &b, &json!({"push_token": token_b})).await;
    assert_eq!(
        (removed.status, removed.error()),
        (403, "device_not_active"),
        "{}",
        removed.body
    );

    assert_eq!(exchange(&app, &a, &json!({"push_token": token_a})).await.status, 200);
    app.clock.advance_secs(3600);
    let expired = exchange(&app, &a, &json!({"push_token": token_a})).await;
    assert_eq!(
        (expired.status, expired.error()),
        (404, "unknown_push_token"),
        "{}",
        expired.body
    );
}

#[tokio::test]
async fn pushes_still_owed_are_withdrawn_once_the_request_is_decided() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![Reply::status(503); 8]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    let device = app.user_with_device("erin").await;
    set_channel(&app, &device, &json!({"channel": "webhook", "token": "relay-e"})).await;

    let auth_req_id = app.start(&client, "erin", "Log in").await;
    relay.wait_for(1).await;
    report_until(&app, &manage, &auth_req_id, |p| p[0]["last_error"] == "answered 503").await;
    // The relay is down, but the inbox is not: the user decides.
    assert_eq!(device.decide(&app, "deny").await.status, 200);
    app.clock.advance_secs(60);
    let pushes = report_until(&app, &manage, &auth_req_id, |p| p[0]["state"] == "withdrawn").await;
    assert_eq!(pushes[0]["attempts"], 1);
    assert_eq!(
        pushes[0]["last_error"], "answered 503",
        "the real reason it never went out"
    );
    assert_eq!(relay.received().len(), 1, "nothing more was sent");
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("trustid_device_pushes_total{outcome=\"withdrawn\"} 1\n"),
        "{metrics}"
    );
}

#[tokio::test]
async fn a_relay_that_refuses_is_not_retried_and_a_client_without_relay_fails_at_once() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![Reply::status(400)]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    let device = app.user_with_device("finn").await;
    set_channel(&app, &device, &json!({"channel": "webhook", "token": "relay-f"})).await;
    let refused = app.start(&client, "finn", "one").await;
    let pushes = report_until(&app, &manage, &refused, |p| p[0]["state"] == "failed").await;
    assert_eq!(
        (pushes[0]["attempts"].clone(), pushes[0]["last_error"].clone()),
        (json!(1), json!("answered 400"))
    );

    // A client without a relay: the webhook push fails at once, the inbox works.
    let (plain, token) = app.manager(ClientMetadata::poll("No relay")).await;
    let second = app.start(&plain, "finn", "two").await;
    let pushes = report_until(&app, &token, &second, |p| p[0]["state"] == "failed").await;
    assert_eq!(
        pushes[0]["last_error"],
        "no push relay: neither the request's app nor the client has one"
    );
    assert_eq!(
        device.inbox(&app).await.body["transactions"].as_array().unwrap().len(),
        2
    );
}

/// A relay registered under a looser rule (dev mode here) is refused when
/// the push is due outside it: never called, failed at once, not retried.
#[tokio::test]
async fn an_internal_relay_is_refused_at_call_time_and_never_called() {
    let app = spawn_app_with(|s| s.dev = false).await;
    let relay = Receiver::start(vec![]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    let device = app.user_with_device("hal").await;
    set_channel(&app, &device, &json!({"channel": "webhook", "token": "relay-h"})).await;
    let started = app.start(&client, "hal", "one").await;
    let pushes = report_until(&app, &manage, &started, |p| p[0]["state"] == "failed").await;
    let error = pushes[0]["last_error"].as_str().unwrap();
    assert!(
        error.starts_with("the push relay must") && error.ends_with("(not called)"),
        "{error}"
    );
    assert!(relay.received().is_empty(), "never called");
}

#[tokio::test]
async fn the_push_channel_refuses_bad_input_and_changes_nothing() {
    let app = spawn_app().await;
    let device = app.user_with_device("gina").await;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (json!({}), 400, "invalid_request", "no members"),
        (json!({"channel": "webhook"}), 400, "invalid_request", "no token"),
        (
            json!({"channel": "webhook", "token": "x", "extra": 1}),
            400,
            "invalid_request",
            "unknown member",
        ),
        (
            json!({"channel": "sms", "token": "x"}),
            400,
            "invalid_push_channel",
            "unknown channel",
        ),
        (
            json!({"channel": "fcm", "token": "abc"}),
            400,
            "unsupported_push_channel",
            "FCM not configured",
        ),
        (
            json!({"channel": "apns", "token": "abcd"}),
            400,
            "unsupported_push_channel",
            "APNs not configured",
        ),
        (
            json!({"channel": "webhook", "token": ""}),
            400,
            "invalid_push_token",
            "empty token",
        ),
        (
            json!({"channel": "webhook", "token": "has space"}),
            400,
            "invalid_push_token",
            "space",
        ),
        (
            json!({"channel": "webhook", "token": "x".repeat(4097)}),
            400,
            "invalid_push_token",
            "too long",
        ),
        (
            json!({"channel": "webhook", "token": "a\u{0}b"}),
            400,
            "invalid_request",
            "NUL in the token",
        ),
    ];
    for (body, status, error, why) in cases {
        let answer = set_channel(&app, &device, &body).await;
        assert_eq!(
            (answer.status, answer.error()),
            (status, error),
            "{why}: {}",
            answer.body
        );
        assert_eq!(answer.header("cache-control"), Some("no-store"), "{why}");
        assert!(
            app.store().device(&device.id()).await.unwrap().unwrap().push.is_none(),
            "{why}"
        );
    }
    let unbound = TestDevice::new();
    unbound.register(&app).await;
    let answer = set_channel(&app, &unbound, &json!({"channel": "webhook", "token": "x"})).await;
    assert_eq!((answer.status, answer.error()), (403, "device_not_active"));
    let stranger = TestDevice::new();
    let answer = set_channel(&app, &stranger, &json!({"channel": "webhook", "token": "x"})).await;
    assert_eq!((answer.status, answer.error()), (401, "invalid_proof"));

    // Set, then clear: a cleared device gets no push, only its inbox.
    assert_eq!(
        set_channel(&app, &device, &json!({"channel": "webhook", "token": "g"}))
            .await
            .status,
        200
    );
    let res = app
        .http
        .delete(app.url(CHANNEL))
        .header("DPoP", device.proof(&app, "DELETE", CHANNEL))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert!(app.store().device(&device.id()).await.unwrap().unwrap().push.is_none());
}

#[tokio::test]
async fn the_exchange_and_the_report_refuse_bad_input() {
    let app = spawn_app().await;
    let relay = Receiver::start(vec![]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    let device = app.user_with_device("hugo").await;
    let auth_req_id = app.start(&client, "hugo", "hello").await;
    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (json!({}), 400, "invalid_request", "no token"),
        (json!({"push_token": 5}), 400, "invalid_request", "not a string"),
        (
            json!({"push_token": "x", "more": 1}),
            400,
            "invalid_request",
            "unknown member",
        ),
        (
            json!({"push_token": "never-issued"}),
            404,
            "unknown_push_token",
            "unknown token",
        ),
        (
            json!({"push_token": "a\u{0}b"}),
            400,
            "invalid_request",
            "NUL in the token",
        ),
    ];
    for (body, status, error, why) in cases {
        let answer = exchange(&app, &device, &body).await;
        assert_eq!(
            (answer.status, answer.error()),
            (status, error),
            "{why}: {}",
            answer.body
        );
    }

    let (_, other) = app.manager(ClientMetadata::poll("Other")).await;
    let res = app
        .http
        .post(app.url(REPORT))
        .bearer_auth(&manage)
        .body("{")
        .send()
        .await
        .unwrap();
    assert_eq!(Answer::from(res).await.error(), "invalid_request", "not JSON");
    let cases: Vec<(&str, &str, u16, &str, &str)> = vec![
        (&manage, "no-such-request", 404, "not_found", "unknown auth_req_id"),
        (&other, &auth_req_id, 404, "not_found", "another client's request"),
        ("not-a-token", &auth_req_id, 401, "invalid_token", "no management token"),
    ];
    for (token, id, status, error, why) in cases {
        let answer = report(&app, token, id).await;
        assert_eq!(
            (answer.status, answer.error()),
            (status, error),
            "{why}: {}",
            answer.body
        );
    }
    let own = report(&app, &manage, &auth_req_id).await;
    assert_eq!(
        (own.status, own.body["device_pushes"].clone()),
        (200, json!([])),
        "no channel, no push"
    );

    // The report names where the request stands: open, denied, expired.
    assert_eq!(own.body["status"], "pending");
    assert_eq!(device.decide(&app, "deny").await.status, 200);
    assert_eq!(report(&app, &manage, &auth_req_id).await.body["status"], "denied");
    let late = app.start(&client, "hugo", "too late").await;
    // Past any request's expiry (max_request_expiry), within the management token's life.
    app.clock.advance_secs(1_801);
    let expired = report(&app, &manage, &late).await;
    assert_eq!(
        (expired.status, expired.body["status"].clone()),
        (200, json!("expired"))
    );
}

#[tokio::test]
async fn three_workers_push_each_device_once() {
    let app = spawn_app().await;
    let _second = app.second_instance().await;
    let _third = app.second_instance().await;
    let relay = Receiver::start(vec![]).await;
    let (client, manage) = relay_client(&app, &relay, DeviceRouting::All).await;
    two_devices(&app, "kim").await;
    let mut ids = Vec::new();
    for i in 0..5 {
        ids.push(app.start(&client, "kim", &format!("request {i}")).await);
    }
    for id in &ids {
        report_until(&app, &manage, id, |p| {
            p.len() == 2 && p.iter().all(|p| p["state"] == "sent")
        })
        .await;
    }
    // Each push was attempted once: a second worker sending it again would
    // have counted a second attempt on the same lease-fenced row.
    for id in &ids {
        let pushes = report(&app, &manage, id).await.body["device_pushes"].clone();
        assert!(
            pushes.as_array().unwrap().iter().all(|p| p["attempts"] == 1),
            "{pushes}"
        );
    }
    let got = relay.received();
    assert_eq!(got.len(), 10, "one push per device and request across three workers");
    let mut pairs: Vec<(String, String)> = got
        .iter()
        .map(|r| {
            let claims = common::jwt_payload(&r.raw);
            (claims["transaction_id"].to_string(), claims["device_token"].to_string())
        })
        .collect();
    pairs.sort();
    pairs.dedup();
    assert_eq!(pairs.len(), 10);
}

#[tokio::test]
async fn an_apps_own_relay_takes_the_requests_naming_that_app_and_the_clients_relay_the_rest() {
    let app = spawn_app().await;
    let (client_relay, shop_relay) = (Receiver::start(vec![]).await, Receiver::start(vec![]).await);
    let (client, _) = relay_client(&app, &client_relay, DeviceRouting::All).await;
    app.user("carol", &["shop"]).await;
    let device = app.device_for("carol").await;
    let set = set_channel(&app, &device, &json!({"channel": "webhook", "token": "relay-c"})).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let shop_uri = shop_relay.url("/shop");
    let set = trustid::engine::admin::set_app_push_relay(
        app.store(),
        &client.client_id,
        "shop",
        Some(&shop_uri),
        &OutboundRule::dev(),
        0,
    )
    .await
    .unwrap();
    assert_eq!(set.push_relay_uri.as_deref(), Some(shop_uri.as_str()));
    let for_shop = r#"{"action_context":"authentication","appId":"shop","bindingMessage":"Buy shoes"}"#;

    app.start(&client, "carol", for_shop).await;
    let got = shop_relay.wait_for(1).await;
    let claims = verify_with_jwks(&app, &got[0].raw).await;
    assert_eq!(
        (claims["aud"].as_str(), claims["device_token"].as_str()),
        (Some(shop_uri.as_str()), Some("relay-c"))
    );
    assert_eq!(
        claims["client_id"],
        client.client_id.as_str(),
        "the relay can tell whose request it is"
    );

    app.start(&client, "carol", "No app named").await;
    let got = client_relay.wait_for(1).await;
    assert_eq!(
        verify_with_jwks(&app, &got[0].raw).await["aud"],
        client_relay.url("/push")
    );
    assert_eq!(
        shop_relay.received().len(),
        1,
        "the app's relay hears only of its app's requests"
    );

    // Without its own relay again, the app's requests go through the client's.
    trustid::engine::admin::set_app_push_relay(app.store(), &client.client_id, "shop", None, &OutboundRule::dev(), 0)
        .await
        .unwrap();
    app.start(&client, "carol", for_shop).await;
    client_relay.wait_for(2).await;
    assert_eq!(shop_relay.received().len(), 1);
}

#[tokio::test]
async fn another_client_naming_the_same_app_goes_to_its_own_relay_never_the_other_clients_app_relay() {
    let app = spawn_app().await;
    let (a_relay, shop_relay, b_relay) = (
        Receiver::start(vec![]).await,
        Receiver::start(vec![]).await,
        Receiver::start(vec![]).await,
    );
    let (client_a, _) = relay_client(&app, &a_relay, DeviceRouting::All).await;
    let (client_b, _) = relay_client(&app, &b_relay, DeviceRouting::All).await;
    trustid::engine::admin::set_app_push_relay(
        app.store(),
        &client_a.client_id,
        "shop",
        Some(&shop_relay.url("/shop")),
        &OutboundRule::dev(),
        0,
    )
    .await
    .unwrap();
    app.user("dave", &["shop"]).await;
    let device = app.device_for("dave").await;
    let set = set_channel(&app, &device, &json!({"channel": "webhook", "token": "relay-d"})).await;
    assert_eq!(set.status, 200, "{}", set.body);
    let for_shop = r#"{"action_context":"authentication","appId":"shop","bindingMessage":"Buy shoes"}"#;

    app.start(&client_b, "dave", for_shop).await;
    let got = b_relay.wait_for(1).await;
    let claims = verify_with_jwks(&app, &got[0].raw).await;
    assert_eq!(claims["aud"], b_relay.url("/push"));
    assert_eq!(claims["client_id"], client_b.client_id.as_str());
    // A's own request for the app still goes to A's app relay: only after it
    // arrived is "shop_relay heard one push" proof that B's never went there.
    app.start(&client_a, "dave", for_shop).await;
    let got = shop_relay.wait_for(1).await;
    assert_eq!(
        verify_with_jwks(&app, &got[0].raw).await["client_id"],
        client_a.client_id.as_str()
    );
    assert_eq!(
        shop_relay.received().len(),
        1,
        "B's request never reached A's app relay"
    );
    assert_eq!(a_relay.received().len(), 0);
}

#[tokio::test]
async fn an_app_relay_is_refused_when_its_client_app_id_or_uri_is_bad_and_nothing_changes() {
    let app = spawn_app().await;
    let client = app.register(ClientMetadata::poll("Shop")).await;
    let unknown = trustid::engine::admin::set_app_push_relay(
        app.store(),
        &"nobody".into(),
        "shop",
        Some("https://relay.example.com/"),
        &OutboundRule::dev(),
        0,
    )
    .await
    .expect_err("an unknown client")
    .to_string();
    assert!(unknown.contains("no client `nobody`"), "{unknown}");
    assert_eq!(app.store().app_push_relay("nobody", "shop").await.unwrap(), None);
    let long = "a".repeat(129);
    let cases: &[(&str, Option<&str>, bool, &str, &str)] = &[
        (
            "",
            Some("https://relay.example.com/"),
            false,
            "1 to 128",
            "an empty app id",
        ),
        (
            &long,
            Some("https://relay.example.com/"),
            false,
            "1 to 128",
            "an app id too long for a binding_message",
        ),
        (
            "sh\u{7}op",
            Some("https://relay.example.com/"),
            false,
            "1 to 128",
            "a control character",
        ),
        (
            "shop",
            Some("http://relay.example.com/push"),
            false,
            "push relay URI",
            "http off loopback",
        ),
        (
            "shop",
            Some("http://127.0.0.1:9/push"),
            false,
            "push relay URI",
            "loopback http outside dev mode",
        ),
        ("shop", Some("not a url"), true, "push relay URI", "not a URL"),
        (
            "shop",
            Some("https://relay.example.com/#frag"),
            true,
            "push relay URI",
            "a fragment",
        ),
        ("shop", None, true, "has no push relay", "nothing to clear"),
    ];
    let rule = |dev| {
        if dev {
            OutboundRule::dev()
        } else {
            OutboundRule::strict()
        }
    };
    for (app_id, uri, dev, message, why) in cases {
        let err =
            trustid::engine::admin::set_app_push_relay(app.store(), &client.client_id, app_id, *uri, &rule(*dev), 0)
                .await
                .expect_err(why)
                .to_string();
        assert!(err.contains(message), "{why}: {err}");
        assert_eq!(
            app.store().app_push_relay(&client.client_id, app_id).await.unwrap(),
            None,
            "{why}: nothing stored"
        );
    }
}
