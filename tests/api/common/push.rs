//! Helpers for the push-to-devices tests: the device's push channel and
//! exchange, a management-capable client and its push report, and relay
//! notifications verified with trustid's published keys.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use trustid::domain::client::ClientMetadata;
use trustid::domain::push::DeviceRouting;
use trustid::engine::admin::ClientCredentials;

use super::receiver::{Received, Receiver};
use super::{Answer, TestApp, TestDevice};

pub const CHANNEL: &str = "/device/v1/push-channel";
pub const EXCHANGE: &str = "/device/v1/push/exchange";
pub const REPORT: &str = "/manage/v1/device-pushes";

pub async fn set_channel(app: &TestApp, device: &TestDevice, body: &Value) -> Answer {
    let res = app
        .http
        .put(app.url(CHANNEL))
        .header("DPoP", device.proof(app, "PUT", CHANNEL))
        .json(body)
        .send()
        .await
        .unwrap();
    Answer::from(res).await
}

pub async fn exchange(app: &TestApp, device: &TestDevice, body: &Value) -> Answer {
    let res = app
        .http
        .post(app.url(EXCHANGE))
        .header("DPoP", device.proof(app, "POST", EXCHANGE))
        .json(body)
        .send()
        .await
        .unwrap();
    Answer::from(res).await
}

/// A client whose devices on the webhook channel are reached through `relay`;
/// it may also read its requests' push reports (management).
pub async fn relay_client(app: &TestApp, relay: &Receiver, routing: DeviceRouting) -> (ClientCredentials, String) {
    let mut m = ClientMetadata::poll("Push Bank");
    m.push_relay_uri = Some(relay.url("/push"));
    m.device_routing = routing;
    app.manager(m).await
}

pub async fn report(app: &TestApp, token: &str, auth_req_id: &str) -> Answer {
    let res = app
        .http
        .post(app.url(REPORT))
        .bearer_auth(token)
        .json(&json!({"auth_req_id": auth_req_id}))
        .send()
        .await
        .unwrap();
    Answer::from(res).await
}

/// The report's pushes once `done` holds for them (bounded wait).
pub async fn report_until(
    app: &TestApp,
    token: &str,
    auth_req_id: &str,
    done: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let r = report(app, token, auth_req_id).await;
        assert_eq!(r.status, 200, "{}", r.body);
        let pushes = r.body["device_pushes"].as_array().unwrap().clone();
        if done(&pushes) {
            return pushes;
        }
        assert!(Instant::now() < deadline, "push report never settled: {}", r.body);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Verifies a relay notification with the keys trustid publishes at /jwks.
pub async fn verify_with_jwks(app: &TestApp, jws: &str) -> Value {
    let jwks = app.jwks().await;
    let header = super::jwt_header(jws);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "trustid-push+jwt", "explicitly typed (RFC 8725 §3.11)");
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the kid is published");
    let jwk = josekit::jwk::Jwk::from_map(key.as_object().unwrap().clone()).unwrap();
    let verifier = josekit::jws::ES256.verifier_from_jwk(&jwk).unwrap();
    let (payload, _) = josekit::jws::deserialize_compact(jws, &verifier).expect("the signature verifies");
    serde_json::from_slice(&payload).unwrap()
}

/// A user with two active devices, both on the webhook channel.
pub async fn two_devices(app: &TestApp, user: &str) -> (TestDevice, TestDevice) {
    let a = app.user_with_device(user).await;
    let b = app.device_for(user).await;
    for (device, token) in [(&a, "relay-a"), (&b, "relay-b")] {
        let set = set_channel(app, device, &json!({"channel": "webhook", "token": token})).await;
        assert_eq!((set.status, &set.body), (200, &json!({"channel": "webhook"})));
    }
    (a, b)
}

/// The relay notification for the device with relay-side token `token`.
pub fn by_device_token<'a>(got: &'a [Received], token: &str) -> &'a str {
    got.iter()
        .map(|r| r.raw.as_str())
        .find(|raw| super::jwt_payload(raw)["device_token"] == token)
        .unwrap_or_else(|| panic!("no push for {token}"))
}

/// A Google service-account key file for `project`, its token endpoint at `token_uri`.
pub fn service_account(dir: &std::path::Path, token_uri: &str) -> (std::path::PathBuf, Vec<u8>) {
    let key = josekit::jwk::alg::rsa::RsaKeyPair::generate(2048).unwrap();
    let account = json!({
        "type": "service_account",
        "project_id": "trustid-test",
        "private_key_id": "key-1",
        "private_key": String::from_utf8(key.to_pem_private_key()).unwrap(),
        "client_email": "push@trustid-test.iam.gserviceaccount.com",
        "token_uri": token_uri,
    });
    let path = dir.join("service-account.json");
    std::fs::write(&path, account.to_string()).unwrap();
    (path, key.to_pem_public_key())
}
