//! Cancelling an open request from the console, and a transaction's
//! timeline: every step of its life, as the detail page lists it.

use std::time::Duration;

use serde_json::json;
use trustid::domain::client::{ClientMetadata, DeliveryMode, SigningAlg};
use trustid::engine::admin::ClientCredentials;

use crate::common::TestApp;
use crate::common::receiver::{Receiver, Reply};
use crate::console::{app_with_admin, csrf_in, get, location, post_signed, sign_in};

async fn page(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let res = get(app, path, Some(cookie)).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

async fn notified(app: &TestApp, mode: DeliveryMode, endpoint: &Receiver) -> ClientCredentials {
    let mut m = ClientMetadata::poll("Notified");
    m.backchannel_token_delivery_mode = mode;
    m.backchannel_client_notification_endpoint = Some(endpoint.url("/cb"));
    app.register(m).await
}

/// The id of the only transaction the pending page lists, and the page.
async fn only_pending(app: &TestApp, cookie: &str) -> (String, String) {
    let (_, html) = page(app, cookie, "/admin/pending").await;
    let marker = "action=\"/admin/transactions/";
    let at = html.find(marker).expect("a cancel button") + marker.len();
    let id = html[at..at + html[at..].find('/').unwrap()].to_owned();
    assert_eq!(html.matches(marker).count(), 1, "{html}");
    (id, html)
}

#[tokio::test]
async fn an_operator_cancels_a_request_and_its_client_is_told_by_its_mode() {
    let app = app_with_admin().await;
    let cookie = sign_in(&app).await;
    let poll = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("ivy").await;
    let auth_req_id = app.start(&poll, "ivy", "Pay 30 EUR").await;
    let (id, html) = only_pending(&app, &cookie).await;
    let csrf = csrf_in(&html);
    let cancel = format!("/admin/transactions/{id}/cancel");

    // Refused without the session's token, from another origin, or signed out: nothing changes.
    assert_eq!(post_signed(&app, &cookie, &cancel, &[]).await.status(), 403);
    assert_eq!(
        post_signed(&app, &cookie, &cancel, &[("csrf", "wrong")]).await.status(),
        403
    );
    let cross = app
        .http
        .post(app.url(&cancel))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let stranger = app
        .http
        .post(app.url(&cancel))
        .header("origin", &app.base)
        .form(&[("csrf", csrf.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(location(&stranger), "/admin/sign-in");
    assert_eq!(
        device.inbox(&app).await.body["transactions"].as_array().unwrap().len(),
        1
    );
    app.poll(&poll, &auth_req_id).await.assert_oauth_error(
        400,
        "authorization_pending",
        "still open after refused cancels",
    );

    let done = post_signed(&app, &cookie, &cancel, &[("csrf", csrf.as_str())]).await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), format!("/admin/transactions/{id}"));
    app.poll(&poll, &auth_req_id)
        .await
        .assert_oauth_error(400, "access_denied", "a cancelled request is denied");
    assert!(
        device.inbox(&app).await.body["transactions"]
            .as_array()
            .unwrap()
            .is_empty()
    );
    let (_, detail) = page(&app, &cookie, &format!("/admin/transactions/{id}")).await;
    assert!(detail.contains("Ended by trustid, not by a device"), "{detail}");
    assert!(detail.contains("Audit: transaction.cancelled by admin:"), "{detail}");
    assert!(!detail.contains("Cancel this request"), "no cancel once ended");
    let (_, pending) = page(&app, &cookie, "/admin/pending").await;
    assert!(pending.contains("No request is waiting"), "{pending}");
    let (_, audit) = page(&app, &cookie, "/admin/audit?action=transaction.cancelled").await;
    assert!(audit.contains(&format!("transaction:{id}")), "{audit}");

    let again = post_signed(&app, &cookie, &cancel, &[("csrf", csrf.as_str())]).await;
    assert_eq!(again.status(), 409);
    assert!(again.text().await.unwrap().contains("no longer open"));
    let unknown = post_signed(
        &app,
        &cookie,
        "/admin/transactions/nope/cancel",
        &[("csrf", csrf.as_str())],
    )
    .await;
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn a_cancel_pings_a_ping_client_and_pushes_a_failure_to_a_push_client() {
    let app = app_with_admin().await;
    let cookie = sign_in(&app).await;
    let pings = Receiver::start(vec![]).await;
    let pushes = Receiver::start(vec![]).await;
    let ping = notified(&app, DeliveryMode::Ping, &pings).await;
    let push = notified(&app, DeliveryMode::Push, &pushes).await;
    app.user_with_device("jo").await;
    let mut acks = Vec::new();
    for client in [&ping, &push] {
        let params = [
            ("scope", "openid"),
            ("login_hint", "jo"),
            ("client_notification_token", "tok"),
        ];
        let ack = app.backchannel(client, &params).await;
        assert_eq!(ack.status, 200, "{}", ack.body);
        acks.push(ack.body["auth_req_id"].as_str().unwrap().to_owned());
        let (id, html) = only_pending(&app, &cookie).await;
        let cancel = format!("/admin/transactions/{id}/cancel");
        let done = post_signed(&app, &cookie, &cancel, &[("csrf", csrf_in(&html).as_str())]).await;
        assert_eq!(done.status(), 303);
    }
    assert_eq!(pings.wait_for(1).await[0].body, json!({"auth_req_id": acks[0]}));
    app.poll(&ping, &acks[0])
        .await
        .assert_oauth_error(400, "access_denied", "the ping client then polls a denial");
    let pushed = pushes.wait_for(1).await;
    assert_eq!(pushed[0].body["error"], "transaction_failed");
    assert_eq!(pushed[0].body["auth_req_id"], acks[1]);
}

/// A ping client whose endpoint fails once, a device that first signs the
/// wrong text: the timeline shows the request, the fetches, the refused
/// attempt and its reason, the approval, each notification attempt and the
/// tokens, in order.
#[tokio::test]
async fn the_timeline_shows_each_step_and_each_failure_with_its_answer() {
    let app = app_with_admin().await;
    let cookie = sign_in(&app).await;
    let pings = Receiver::start(vec![Reply::status(503)]).await;
    let client = notified(&app, DeliveryMode::Ping, &pings).await;
    let device = app.user_with_device("kim").await;
    let params = [
        ("scope", "openid"),
        ("login_hint", "kim"),
        ("binding_message", "Wire 80 EUR"),
        ("client_notification_token", "tok"),
    ];
    let ack = app.backchannel(&client, &params).await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    let item = device.only_item(&app).await;
    let id = item["transaction_id"].as_str().unwrap().to_owned();
    let mut other_text = item.clone();
    other_text["binding_message"] = json!("Wire 8000 EUR");
    let refused = device
        .send_decision(&app, &id, &device.decision_jws(&other_text, "approve", &app))
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(device.decide(&app, "approve").await.status, 200);
    pings.wait_for(1).await;
    for _ in 0..6 {
        app.clock.advance_secs(5);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    pings.wait_for(2).await;
    let auth_req_id = ack.body["auth_req_id"].as_str().unwrap();
    assert_eq!(app.poll(&client, auth_req_id).await.status, 200);

    let (status, detail) = page(&app, &cookie, &format!("/admin/transactions/{id}")).await;
    assert_eq!(status, 200);
    let device_id = device.id();
    let steps = [
        "Requested by client".to_owned(),
        format!("Fetched by device {device_id}"),
        format!("Device {device_id} refused: message_mismatch"),
        format!("Approved on device {device_id}: its P-256 signature"),
        "A ping notification owed to".to_owned(),
        "Notification attempt failed: ".to_owned(),
        "The ping notification delivered (2 attempts)".to_owned(),
        "Tokens issued to the client".to_owned(),
    ];
    let mut from = detail.find("id=\"timeline\"").expect("a timeline");
    for step in &steps {
        let at = detail[from..]
            .find(step.as_str())
            .unwrap_or_else(|| panic!("{step} after the step before: {detail}"));
        from += at;
    }
    assert!(detail.contains("503"), "the failed attempt's answer: {detail}");
}

#[tokio::test]
async fn a_cancel_the_audit_trail_cannot_record_says_so() {
    let app = app_with_admin().await;
    let cookie = sign_in(&app).await;
    let poll = app.client(SigningAlg::ES256).await;
    app.user_with_device("lu").await;
    let auth_req_id = app.start(&poll, "lu", "Pay 1 EUR").await;
    let (id, html) = only_pending(&app, &cookie).await;
    crate::console::refuse_audit_writes(&app).await;
    let cancel = format!("/admin/transactions/{id}/cancel");
    let res = post_signed(&app, &cookie, &cancel, &[("csrf", csrf_in(&html).as_str())]).await;
    assert_eq!(res.status(), 500);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("was cancelled, but the audit trail could not record it")
    );
    app.poll(&poll, &auth_req_id)
        .await
        .assert_oauth_error(400, "access_denied", "cancelled all the same");
}
