//! Adaptive rules at registration (issue 22, seed 001's CDDC evidence) and
//! seed 002's `user_authentication_required` devices.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::{Value, json};

use crate::common::{Answer, TestApp, TestDevice, public_jwk, spawn_app};
use crate::lifecycle::call;
use trustid::domain::client::ClientMetadata;

fn cddc(fingerprint: &str) -> Value {
    json!({"browserCDDC": {"fingerprintRaw": "{\"ua\":\"test\"}", "fingerprintHash": fingerprint}})
}

async fn register(app: &TestApp, token: &str, user: &str, fingerprint: &str) -> Answer {
    let body = json!({"objectType": "AdaptiveRegisterUserInput", "userID": user, "clientIP": "192.0.2.10",
        "cddc": cddc(fingerprint)});
    call(app, token, "POST", "/manage/v1/users/register", Some(body)).await
}

fn assert_refused(answer: &Answer, rule: &str) {
    assert_eq!(
        (answer.status, answer.error()),
        (403, "registration_refused"),
        "{}",
        answer.body
    );
    assert!(
        !answer.body.to_string().contains(rule),
        "the rule is not named: {}",
        answer.body
    );
}

#[tokio::test]
async fn one_fingerprint_registering_many_users_is_refused_and_audited() {
    let app = spawn_app().await;
    let (_, token) = app.manager(ClientMetadata::poll("Bank")).await;
    let rule = json!({"name": "one browser, many users", "outcome": "BLOCK", "applies_to": ["registration"],
        "conditions": [{"type": "action", "any_of": ["register"]},
                       {"type": "velocity", "per": "fingerprint", "window": 600, "op": "ge", "value": 2}]});
    assert_eq!(
        call(&app, &token, "POST", "/manage/v1/rules", Some(rule)).await.status,
        201
    );
    assert_eq!(register(&app, &token, "u1", "fp-shared").await.status, 201);
    assert_eq!(register(&app, &token, "u2", "fp-shared").await.status, 201);
    assert_refused(&register(&app, &token, "u3", "fp-shared").await, "one browser");
    assert!(
        app.store().user("u3").await.unwrap().is_none(),
        "no account was created"
    );
    assert_eq!(
        register(&app, &token, "u4", "fp-other").await.status,
        201,
        "another browser"
    );
    let audit = app.store().audit_of("user:u3").await.unwrap();
    assert!(
        audit.iter().any(|(_, _, action)| action == "risk.registration_refused"),
        "{audit:?}"
    );
    app.clock.advance_secs(601);
    assert_eq!(
        register(&app, &token, "u5", "fp-shared").await.status,
        201,
        "the window passed"
    );
}

#[tokio::test]
async fn an_unregistration_from_a_new_address_can_be_refused() {
    let app = spawn_app().await;
    let (_, token) = app.manager(ClientMetadata::poll("Bank")).await;
    let rule = json!({"name": "unknown places", "outcome": "BLOCK", "applies_to": ["registration"],
        "conditions": [{"type": "action", "any_of": ["unregister"]}, {"type": "new_address"}]});
    call(&app, &token, "POST", "/manage/v1/rules", Some(rule)).await;
    assert_eq!(register(&app, &token, "vera", "fp-vera").await.status, 201);
    let unregister =
        |ip: &str| json!({"objectType": "AdaptiveUnregisterUserInput", "clientIP": ip, "cddc": cddc("fp-vera")});
    let path = "/manage/v1/users/vera/unregister";
    assert_refused(
        &call(&app, &token, "POST", path, Some(unregister("203.0.113.66"))).await,
        "unknown places",
    );
    assert_eq!(
        app.store().user("vera").await.unwrap().unwrap().status.as_str(),
        "active"
    );
    let done = call(&app, &token, "POST", path, Some(unregister("192.0.2.10"))).await;
    assert_eq!(done.status, 200, "from the address it registered from: {}", done.body);
}

#[tokio::test]
async fn a_device_that_needs_the_os_prompt_turns_allow_into_a_challenge() {
    let app = spawn_app().await;
    let (_, token) = app.manager(ClientMetadata::poll("Bank")).await;
    app.user("walt", &[]).await;
    let track = || {
        call(
            &app,
            &token,
            "POST",
            "/manage/v1/actions",
            Some(json!({"user_id": "walt", "action": "signIn"})),
        )
    };
    assert_eq!(track().await.body["state"], "ALLOW", "no rules, no such device");

    let device = TestDevice::new();
    let res = app
        .http
        .post(app.url("/device/v1/devices"))
        .header("DPoP", device.proof(&app, "POST", "/device/v1/devices"))
        .json(&json!({"auth_key": public_jwk(&device.auth_key), "user_authentication_required": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    trustid::engine::admin::bind_device(app.store(), &device.id().into(), &"walt".into())
        .await
        .unwrap();
    let tracked = track().await;
    assert_eq!(tracked.body["state"], "CHALLENGE_REQUIRED", "{}", tracked.body);
    assert_eq!(tracked.body["rule"], Value::Null, "no rule decided it");
    assert_eq!(device.only_item(&app).await["binding_message"], "Confirm signIn");

    // Named, the device decides: another of walt's devices, without the flag, is merely allowed.
    let plain = app.device_for("walt").await;
    let on = |device_id: String| {
        call(
            &app,
            &token,
            "POST",
            "/manage/v1/actions",
            Some(json!({"user_id": "walt", "action": "signIn", "device_id": device_id})),
        )
    };
    assert_eq!(on(plain.id()).await.body["state"], "ALLOW");
    assert_eq!(on(device.id()).await.body["state"], "CHALLENGE_REQUIRED");
    let unknown = on("not-a-device".into()).await;
    assert_eq!(
        (unknown.status, unknown.error()),
        (404, "not_found"),
        "{}",
        unknown.body
    );
}

#[test]
fn the_cli_adds_lists_updates_and_removes_a_clients_rules() {
    use crate::cli::{json_of, trustid};
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let run = |args: &[&str]| json_of(&trustid(d, args, &[]));
    let client = run(&["clients", "add", "--name", "Bank", "--json"]);
    let id = client["client_id"].as_str().unwrap();
    let file = d.join("rule.json");
    std::fs::write(
        &file,
        r#"{"name": "nights", "outcome": "BLOCK",
        "conditions": [{"type": "time_of_day", "from": "01:00", "to": "05:00"}]}"#,
    )
    .unwrap();
    let file = file.to_str().unwrap();
    let added = run(&[
        "rules",
        "add",
        "--client",
        id,
        "--file",
        file,
        "--position",
        "7",
        "--json",
    ]);
    assert_eq!(
        (added["name"].as_str(), added["position"].as_i64()),
        (Some("nights"), Some(7))
    );
    let rule_id = added["id"].as_str().unwrap();
    let listed = run(&["rules", "list", "--client", id, "--json"]);
    assert_eq!(listed.as_array().unwrap().len(), 1, "{listed}");
    let table = String::from_utf8_lossy(&trustid(d, &["rules", "list", "--client", id], &[]).stdout).into_owned();
    assert!(table.starts_with("position") && table.contains("nights"), "{table}");
    let moved = run(&[
        "rules",
        "update",
        "--client",
        id,
        rule_id,
        "--file",
        file,
        "--position",
        "3",
        "--json",
    ]);
    assert_eq!(moved["position"], 3);
    std::fs::write(d.join("bad.json"), r#"{"name": "x", "outcome": "SOMETIMES"}"#).unwrap();
    let bad = trustid(
        d,
        &[
            "rules",
            "add",
            "--client",
            id,
            "--file",
            d.join("bad.json").to_str().unwrap(),
        ],
        &[],
    );
    assert!(!bad.status.success() && String::from_utf8_lossy(&bad.stderr).contains("invalid rule"));
    let unknown = trustid(d, &["rules", "list", "--client", "nobody"], &[]);
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no such client"));
    run(&["rules", "remove", "--client", id, rule_id, "--json"]);
    assert_eq!(run(&["rules", "list", "--client", id, "--json"]), json!([]));
    let trail = run(&["audit", "list", "--actor", "cli", "--json"]);
    let actions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    for change in ["risk_rule.added", "risk_rule.updated", "risk_rule.removed"] {
        assert!(actions.contains(&change), "{actions:?}");
    }
}
