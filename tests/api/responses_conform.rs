//! Real responses conform to `openapi.yaml`: the main flows run through a
//! live trustid, and every answer is held to its operation in the spec — the
//! status is documented, the content type is the documented one, the JSON
//! body validates against the response schema (JSON Schema 2020-12, `$ref`s
//! resolved in the document) and the documented headers are present with
//! their documented values.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use jsonschema::{Draft, Validator};
use serde_json::{Value, json};

use common::*;
use trustid::domain::client::{ClientMetadata, DeliveryMode, SigningAlg};
use trustid::engine::admin::ClientCredentials;

/// `openapi.yaml` as JSON, with a validator cache per schema location.
struct Contract {
    spec: Value,
    validators: Mutex<HashMap<String, Arc<Validator>>>,
}

fn contract() -> &'static Contract {
    static CONTRACT: OnceLock<Contract> = OnceLock::new();
    CONTRACT.get_or_init(|| {
        let text = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml")).unwrap();
        let spec: Value = serde_yaml_ng::from_str(&text).expect("openapi.yaml is YAML");
        Contract {
            spec,
            validators: Mutex::new(HashMap::new()),
        }
    })
}

/// RFC 6901 escaping of one pointer segment.
fn escape(segment: &str) -> String {
    segment.replace('~', "~0").replace('/', "~1")
}

impl Contract {
    fn at(&self, pointer: &str) -> &Value {
        self.spec
            .pointer(pointer)
            .unwrap_or_else(|| panic!("openapi.yaml has nothing at {pointer}"))
    }

    /// Follows a local `$ref` (components/responses, components/headers).
    fn resolve(&self, pointer: String) -> String {
        match self.at(&pointer).get("$ref").and_then(Value::as_str) {
            Some(r) => self.resolve(r.strip_prefix('#').expect("local $ref").to_owned()),
            None => pointer,
        }
    }

    /// A validator for the schema at `pointer`, with the whole document as
    /// the root so its `#/components/...` references resolve.
    fn validator(&self, pointer: &str) -> Arc<Validator> {
        let mut cache = self.validators.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(v) = cache.get(pointer) {
            return v.clone();
        }
        let mut root = self.spec.clone();
        root["$schema"] = json!("https://json-schema.org/draft/2020-12/schema");
        // A URI fragment: the pointer with `{`, `}` and friends percent-encoded.
        let fragment: String = pointer
            .chars()
            .map(|c| match c {
                '{' | '}' | ' ' | '%' | '"' | '<' | '>' | '\\' | '^' | '`' | '|' => format!("%{:02X}", c as u32),
                c => c.to_string(),
            })
            .collect();
        root["$ref"] = json!(format!("#{fragment}"));
        let validator = jsonschema::options()
            .with_draft(Draft::Draft202012)
            .should_validate_formats(true)
            .build(&root)
            .unwrap_or_else(|e| panic!("schema at {pointer} does not compile: {e}"));
        let validator = Arc::new(validator);
        cache.insert(pointer.to_owned(), validator.clone());
        validator
    }

    /// Asserts that `answer` is a documented response of `method path`
    /// (`path` as written in the spec, e.g. with `{id}`).
    fn check(&self, method: &str, path: &str, answer: &Answer) {
        let what = format!("{} {path} → {}", method.to_uppercase(), answer.status);
        let op = format!("/paths/{}/{}", escape(path), method.to_lowercase());
        let responses = self.at(&format!("{op}/responses")).as_object().unwrap();
        let status = answer.status.to_string();
        let range = format!("{}XX", &status[..1]);
        let key = [status.as_str(), range.as_str(), "default"]
            .into_iter()
            .find(|k| responses.contains_key(*k))
            .unwrap_or_else(|| panic!("{what}: status not documented (body {})", answer.body));
        let response = self.resolve(format!("{op}/responses/{}", escape(key)));

        // Headers: every required one present, every documented one valid.
        if let Some(headers) = self.at(&response).get("headers").and_then(Value::as_object) {
            for name in headers.keys() {
                let header = self.resolve(format!("{response}/headers/{}", escape(name)));
                let required = self.at(&header)["required"].as_bool().unwrap_or(false);
                match answer.header(name) {
                    Some(value) => {
                        let v = self.validator(&format!("{header}/schema"));
                        let errors: Vec<String> = v.iter_errors(&json!(value)).map(|e| e.to_string()).collect();
                        assert!(errors.is_empty(), "{what}: header {name}: {value:?}: {errors:?}");
                    }
                    None => assert!(!required, "{what}: required header {name} is missing"),
                }
            }
        }

        // Body.
        let content = self.at(&response).get("content").and_then(Value::as_object);
        let Some(content) = content else {
            assert_eq!(answer.body, json!(""), "{what}: the spec documents no body");
            return;
        };
        let ctype = answer.header("content-type").unwrap_or("");
        let media = ctype.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
        assert!(
            content.contains_key(&media),
            "{what}: content type {ctype:?} is not documented ({:?})",
            content.keys().collect::<Vec<_>>()
        );
        let schema = format!("{response}/content/{}/schema", escape(&media));
        let body = if media == "application/json" {
            answer.body.clone()
        } else {
            // Text bodies: the schema describes the text itself.
            match &answer.body {
                Value::String(s) => json!(s),
                other => json!(other.to_string()),
            }
        };
        let errors: Vec<String> = self
            .validator(&schema)
            .iter_errors(&body)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{what}: body {body} violates {schema}: {errors:#?}");
    }
}

/// Sends a request and holds the answer to the contract.
async fn call(method: &str, path: &str, req: reqwest::RequestBuilder) -> Answer {
    let answer = Answer::from(req.send().await.unwrap()).await;
    contract().check(method, path, &answer);
    answer
}

fn get(app: &TestApp, path: &str) -> reqwest::RequestBuilder {
    app.http.get(app.url(path))
}

fn post(app: &TestApp, path: &str) -> reqwest::RequestBuilder {
    app.http.post(app.url(path))
}

fn basic(req: reqwest::RequestBuilder, client: &ClientCredentials) -> reqwest::RequestBuilder {
    req.basic_auth(&client.client_id, Some(client.secret()))
}

/// `POST path` with Basic auth and a form, checked.
async fn form(app: &TestApp, client: &ClientCredentials, path: &str, params: &[(&str, &str)]) -> Answer {
    call("post", path, basic(post(app, path), client).form(params)).await
}

async fn poll(app: &TestApp, client: &ClientCredentials, auth_req_id: &str) -> Answer {
    form(
        app,
        client,
        "/token",
        &[("grant_type", CIBA_GRANT), ("auth_req_id", auth_req_id)],
    )
    .await
}

/// The device posts `jws` as its decision on `txn`, checked.
async fn decide(app: &TestApp, device: &TestDevice, txn: &str, body: &Value) -> Answer {
    let path = format!("/device/v1/transactions/{txn}/decision");
    let req = post(app, &path)
        .header("DPoP", device.proof(app, "POST", &path))
        .json(body);
    call("post", "/device/v1/transactions/{id}/decision", req).await
}

async fn inbox(app: &TestApp, device: &TestDevice) -> Answer {
    let req = get(app, "/device/v1/inbox").header("DPoP", device.proof(app, "GET", "/device/v1/inbox"));
    call("get", "/device/v1/inbox", req).await
}

/// Starts a transaction for `user` (checked) and returns its `auth_req_id`.
async fn start(app: &TestApp, client: &ClientCredentials, user: &str, scope: &str, message: &str) -> String {
    let ack = form(
        app,
        client,
        "/bc-authorize",
        &[("scope", scope), ("login_hint", user), ("binding_message", message)],
    )
    .await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    ack.body["auth_req_id"].as_str().unwrap().to_owned()
}

/// The device decides the single item of its inbox (all checked).
async fn decide_only(app: &TestApp, device: &TestDevice, decision: &str) -> Answer {
    let listed = inbox(app, device).await;
    assert_eq!(listed.status, 200, "{}", listed.body);
    let item = listed.body["transactions"][0].clone();
    let jws = device.decision_jws(&item, decision, app);
    decide(
        app,
        device,
        item["transaction_id"].as_str().unwrap(),
        &json!({"decision_jws": jws}),
    )
    .await
}

/// The initial access token of the registration tests (32+ characters).
const IAT: &str = "initial-access-token-0123456789abcdef";

#[tokio::test]
async fn metadata_endpoints_conform() {
    let app = spawn_app().await;
    for path in [
        "/.well-known/openid-configuration",
        "/jwks",
        "/metrics",
        "/openapi.yaml",
    ] {
        let answer = call("get", path, get(&app, path)).await;
        assert_eq!(answer.status, 200, "{path}");
    }
    for method in ["get", "post"] {
        let req = app.http.request(
            method.to_uppercase().parse().unwrap(),
            app.url("/authorize?response_type=code"),
        );
        assert_eq!(call(method, "/authorize", req).await.status, 400);
    }
    // With dynamic registration on, discovery names the endpoint.
    let app = spawn_app_with(|s| s.registration_access_token = Some(IAT.into())).await;
    let path = "/.well-known/openid-configuration";
    let answer = call("get", path, get(&app, path)).await;
    assert!(answer.body["registration_endpoint"].is_string());
}

#[tokio::test]
async fn the_poll_flow_conforms_from_request_to_userinfo() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    let message = r#"{"action_context":"authentication","bindingMessage":"Pay 10 EUR to ACME"}"#;
    let id = start(&app, &client, "alice", "openid email phone offline_access", message).await;
    assert_eq!(poll(&app, &client, &id).await.error(), "authorization_pending");
    assert_eq!(poll(&app, &client, &id).await.error(), "slow_down");
    assert_eq!(decide_only(&app, &device, "approve").await.status, 200);
    app.clock.advance_secs(30);
    let tokens = poll(&app, &client, &id).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);

    // The ID token's claims are documented by IdTokenClaims.
    let claims = jwt_payload(tokens.body["id_token"].as_str().unwrap());
    let v = contract().validator("/components/schemas/IdTokenClaims");
    let errors: Vec<String> = v.iter_errors(&claims).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "ID token {claims}: {errors:?}");

    // RS256 ID tokens too.
    let app2 = spawn_app().await;
    let client2 = app2.client(SigningAlg::RS256).await;
    let device2 = app2.user_with_device("bob").await;
    let id2 = start(&app2, &client2, "bob", "openid", "Log in 4711").await;
    decide_only(&app2, &device2, "approve").await;
    let tokens2 = poll(&app2, &client2, &id2).await;
    assert_eq!(tokens2.status, 200, "{}", tokens2.body);
    // A second redemption is refused (and revokes what the first issued).
    assert_eq!(poll(&app2, &client2, &id2).await.error(), "invalid_grant");

    let access = tokens.body["access_token"].as_str().unwrap().to_owned();
    let refresh = tokens.body["refresh_token"].as_str().unwrap().to_owned();
    for method in ["get", "post"] {
        let req = app
            .http
            .request(method.to_uppercase().parse().unwrap(), app.url("/userinfo"))
            .bearer_auth(&access);
        let info = call(method, "/userinfo", req).await;
        assert_eq!(info.status, 200, "{}", info.body);
        let missing = app
            .http
            .request(method.to_uppercase().parse().unwrap(), app.url("/userinfo"));
        assert_eq!(call(method, "/userinfo", missing).await.status, 401);
        let wrong = app
            .http
            .request(method.to_uppercase().parse().unwrap(), app.url("/userinfo"))
            .bearer_auth("not-a-token");
        assert_eq!(call(method, "/userinfo", wrong).await.status, 401);
    }

    // Introspection of both tokens, and of junk.
    for token in [access.as_str(), refresh.as_str(), "unknown"] {
        let answer = form(
            &app,
            &client,
            "/introspect",
            &[("token", token), ("token_type_hint", "x")],
        )
        .await;
        assert_eq!(answer.status, 200);
    }
    assert_eq!(form(&app, &client, "/introspect", &[]).await.status, 400);
    let anonymous = post(&app, "/introspect").form(&[("token", access.as_str())]);
    assert_eq!(call("post", "/introspect", anonymous).await.status, 401);

    // Refresh: rotate, narrow, refuse.
    let refresh_form = |token: &str, scope: Option<&str>| {
        let mut f = vec![
            ("grant_type", "refresh_token".to_owned()),
            ("refresh_token", token.to_owned()),
        ];
        if let Some(s) = scope {
            f.push(("scope", s.to_owned()));
        }
        f
    };
    let rotated = call(
        "post",
        "/token",
        basic(post(&app, "/token"), &client).form(&refresh_form(&refresh, Some("openid offline_access"))),
    )
    .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let claims = jwt_payload(rotated.body["id_token"].as_str().unwrap());
    let errors: Vec<String> = v.iter_errors(&claims).map(|e| e.to_string()).collect();
    assert!(errors.is_empty(), "refreshed ID token {claims}: {errors:?}");
    let refresh2 = rotated.body["refresh_token"].as_str().unwrap();
    let widened = call(
        "post",
        "/token",
        basic(post(&app, "/token"), &client).form(&refresh_form(refresh2, Some("openid profile"))),
    )
    .await;
    assert_eq!(widened.error(), "invalid_scope");

    // Revocation answers 200 with no body, known token or not.
    for token in [refresh2, "unknown"] {
        assert_eq!(form(&app, &client, "/revoke", &[("token", token)]).await.status, 200);
    }
    assert_eq!(form(&app, &client, "/revoke", &[]).await.status, 400);
    let anonymous = post(&app, "/revoke").form(&[("token", "x")]);
    assert_eq!(call("post", "/revoke", anonymous).await.status, 401);
}

#[tokio::test]
async fn token_errors_conform() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "invalid_request"),
        (vec![("grant_type", CIBA_GRANT)], "invalid_request"),
        (vec![("grant_type", "refresh_token")], "invalid_request"),
        (
            vec![("grant_type", "authorization_code"), ("code", "x")],
            "unsupported_grant_type",
        ),
        (
            vec![("grant_type", CIBA_GRANT), ("auth_req_id", "unknown")],
            "invalid_grant",
        ),
        (
            vec![("grant_type", "refresh_token"), ("refresh_token", "unknown")],
            "invalid_grant",
        ),
        (
            vec![("grant_type", CIBA_GRANT), ("auth_req_id", "a"), ("client_secret", "s")],
            "invalid_request",
        ),
    ];
    for (params, error) in cases {
        assert_eq!(
            form(&app, &client, "/token", &params).await.error(),
            error,
            "{params:?}"
        );
    }
    let not_a_form = basic(post(&app, "/token"), &client).json(&json!({"grant_type": CIBA_GRANT}));
    assert_eq!(call("post", "/token", not_a_form).await.error(), "invalid_request");
    for req in [
        post(&app, "/token").form(&[("grant_type", CIBA_GRANT)]),
        post(&app, "/token")
            .basic_auth(&client.client_id, Some("wrong"))
            .form(&[("grant_type", CIBA_GRANT)]),
        post(&app, "/token").form(&[
            ("client_id", client.client_id.as_str()),
            ("client_secret", client.secret()),
        ]),
    ] {
        assert_eq!(call("post", "/token", req).await.error(), "invalid_client");
    }

    // Denied, then expired.
    let denied = start(&app, &client, "alice", "openid", "Pay 10 EUR").await;
    assert_eq!(decide_only(&app, &device, "deny").await.status, 200);
    assert_eq!(poll(&app, &client, &denied).await.error(), "access_denied");
    let expired = {
        let ack = form(
            &app,
            &client,
            "/bc-authorize",
            &[("scope", "openid"), ("login_hint", "alice"), ("requested_expiry", "30")],
        )
        .await;
        ack.body["auth_req_id"].as_str().unwrap().to_owned()
    };
    app.clock.advance_secs(31);
    assert_eq!(poll(&app, &client, &expired).await.error(), "expired_token");

    // The client credentials grant (management API tokens).
    let mut manager = ClientMetadata::poll("Operator console");
    manager.management = true;
    let manager = app.register(manager).await;
    let granted = form(
        &app,
        &manager,
        "/token",
        &[("grant_type", "client_credentials"), ("scope", "trustid:manage")],
    )
    .await;
    assert_eq!(granted.status, 200, "{}", granted.body);
    let wrong_scope = form(
        &app,
        &manager,
        "/token",
        &[("grant_type", "client_credentials"), ("scope", "openid")],
    )
    .await;
    assert_eq!(wrong_scope.error(), "invalid_scope");
    let not_granted = form(
        &app,
        &client,
        "/token",
        &[("grant_type", "client_credentials"), ("scope", "trustid:manage")],
    )
    .await;
    assert_eq!(not_granted.error(), "unauthorized_client");

    // A push client may not poll.
    let mut push = ClientMetadata::poll("Push Bank");
    push.backchannel_token_delivery_mode = DeliveryMode::Push;
    push.backchannel_client_notification_endpoint = Some("http://127.0.0.1:9/notify".into());
    let push = app.register(push).await;
    let ack = form(
        &app,
        &push,
        "/bc-authorize",
        &[
            ("scope", "openid"),
            ("login_hint", "alice"),
            ("client_notification_token", "tok-123"),
        ],
    )
    .await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    assert!(ack.body.get("interval").is_none(), "push clients get no interval");
    let id = ack.body["auth_req_id"].as_str().unwrap();
    assert_eq!(poll(&app, &push, id).await.error(), "unauthorized_client");
}

#[tokio::test]
async fn backchannel_errors_conform() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("alice").await;
    app.user("nodevice", &[]).await;
    admin_user_locked(&app, "locked").await;
    let other_app = r#"{"action_context":"authentication","appId":"other","bindingMessage":"x"}"#;
    let cases: Vec<FormCase> = vec![
        (vec![("login_hint", "alice")], 400, "invalid_request", "no scope"),
        (vec![("scope", "openid")], 400, "invalid_request", "no hint"),
        (
            vec![("scope", "email"), ("login_hint", "alice")],
            400,
            "invalid_scope",
            "no openid",
        ),
        (
            vec![("scope", "openid profile"), ("login_hint", "alice")],
            400,
            "invalid_scope",
            "unknown scope",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", "alice"),
                ("binding_message", "{nope"),
            ],
            400,
            "invalid_binding_message",
            "malformed JSON message",
        ),
        (
            vec![("scope", "openid"), ("login_hint", "alice"), ("requested_expiry", "-1")],
            400,
            "invalid_request",
            "negative expiry",
        ),
        (
            vec![("scope", "openid"), ("login_hint", "alice"), ("request_uri", "urn:x")],
            400,
            "invalid_request",
            "request_uri",
        ),
        (
            vec![("scope", "openid"), ("id_token_hint", "a.b.c")],
            400,
            "unknown_user_id",
            "junk id_token_hint",
        ),
        (
            vec![("scope", "openid"), ("login_hint", "nobody")],
            400,
            "unknown_user_id",
            "unknown user",
        ),
        (
            vec![("scope", "openid"), ("login_hint", "nodevice")],
            403,
            "access_denied",
            "no device",
        ),
        (
            vec![("scope", "openid"), ("login_hint", "locked")],
            403,
            "access_denied",
            "locked user",
        ),
        (
            vec![
                ("scope", "openid"),
                ("login_hint", "alice"),
                ("binding_message", other_app),
            ],
            403,
            "access_denied",
            "not associated with the app",
        ),
    ];
    for (params, status, error, why) in cases {
        let answer = form(&app, &client, "/bc-authorize", &params).await;
        assert_eq!((answer.status, answer.error()), (status, error), "{why}: {params:?}");
    }
    let repeated = basic(post(&app, "/bc-authorize"), &client)
        .header("content-type", "application/x-www-form-urlencoded")
        .body("scope=openid&scope=email&login_hint=alice");
    assert_eq!(call("post", "/bc-authorize", repeated).await.error(), "invalid_request");
    let not_a_form = basic(post(&app, "/bc-authorize"), &client).body("scope=openid");
    assert_eq!(
        call("post", "/bc-authorize", not_a_form).await.error(),
        "invalid_request"
    );
    let anonymous = post(&app, "/bc-authorize").form(&[("scope", "openid"), ("login_hint", "alice")]);
    assert_eq!(call("post", "/bc-authorize", anonymous).await.status, 401);
    let garbage = post(&app, "/bc-authorize")
        .header("authorization", "Basic !!!")
        .form(&[("scope", "openid")]);
    assert_eq!(call("post", "/bc-authorize", garbage).await.status, 401);

    // The per-user cap.
    let capped = spawn_app_with(|s| s.user_requests_per_minute = 1).await;
    let client = capped.client(SigningAlg::ES256).await;
    capped.user_with_device("alice").await;
    start(&capped, &client, "alice", "openid", "one").await;
    let answer = form(
        &capped,
        &client,
        "/bc-authorize",
        &[("scope", "openid"), ("login_hint", "alice")],
    )
    .await;
    assert_eq!((answer.status, answer.error()), (403, "access_denied"));
}

async fn admin_user_locked(app: &TestApp, id: &str) {
    let new = trustid::engine::admin::NewUser {
        id: id.into(),
        email: None,
        phone: None,
        locked: true,
        apps: vec![],
        user_code: None,
    };
    trustid::engine::admin::create_user(app.store(), new, trustid::clock::Clock::now(&app.clock))
        .await
        .unwrap();
    app.device_for(id).await;
}

#[tokio::test]
async fn registration_conforms() {
    let off = spawn_app().await;
    let req = post(&off, "/register")
        .bearer_auth(IAT)
        .json(&json!({"backchannel_token_delivery_mode": "poll"}));
    assert_eq!(call("post", "/register", req).await.error(), "invalid_request");

    let app = spawn_app_with(|s| s.registration_access_token = Some(IAT.into())).await;
    let bodies = [
        json!({"client_name": "Bank", "backchannel_token_delivery_mode": "poll"}),
        json!({
            "client_name": "Ping Bank", "backchannel_token_delivery_mode": "ping",
            "backchannel_client_notification_endpoint": "http://127.0.0.1:9/cb",
            "token_endpoint_auth_method": "client_secret_post", "id_token_signed_response_alg": "PS256",
            "grant_types": [CIBA_GRANT, "refresh_token"],
        }),
        json!({
            "client_name": "FAPI Bank", "backchannel_token_delivery_mode": "poll", "fapi_ciba": true,
            "token_endpoint_auth_method": "private_key_jwt",
            "backchannel_authentication_request_signing_alg": "ES256",
            "jwks": ClientKey::new("k1").jwks(),
        }),
    ];
    for body in bodies {
        let req = post(&app, "/register").bearer_auth(IAT).json(&body);
        let answer = call("post", "/register", req).await;
        assert_eq!(answer.status, 201, "{}", answer.body);
    }
    for body in [
        json!({}),
        json!([1, 2]),
        json!({"backchannel_token_delivery_mode": "smoke"}),
        json!({"backchannel_token_delivery_mode": "ping"}),
        json!({"backchannel_token_delivery_mode": "poll", "fapi_ciba": true}),
        json!({"backchannel_token_delivery_mode": "poll", "grant_types": ["authorization_code"]}),
    ] {
        let req = post(&app, "/register").bearer_auth(IAT).json(&body);
        let answer = call("post", "/register", req).await;
        assert_eq!(answer.error(), "invalid_client_metadata", "{body}");
    }
    let not_json = post(&app, "/register").bearer_auth(IAT).body("nope");
    assert_eq!(call("post", "/register", not_json).await.status, 400);
    let big = post(&app, "/register")
        .bearer_auth(IAT)
        .header("content-type", "application/json")
        .body(vec![b' '; 3 * 1024 * 1024]);
    assert_eq!(call("post", "/register", big).await.status, 413);
    for req in [
        post(&app, "/register").json(&json!({"backchannel_token_delivery_mode": "poll"})),
        post(&app, "/register")
            .bearer_auth("wrong")
            .json(&json!({"backchannel_token_delivery_mode": "poll"})),
    ] {
        assert_eq!(call("post", "/register", req).await.error(), "invalid_token");
    }
}

#[tokio::test]
async fn the_device_api_conforms() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let path = "/device/v1/devices";
    let register = |device: &TestDevice, body: Value| {
        post(&app, path)
            .header("DPoP", device.proof(&app, "POST", path))
            .json(&body)
    };

    // Registration: created, again, conflicts and refusals.
    let device = TestDevice::new();
    let auth = public_jwk(&device.auth_key);
    assert_eq!(
        call("post", path, register(&device, json!({"auth_key": auth})))
            .await
            .status,
        201
    );
    assert_eq!(
        call("post", path, register(&device, json!({"auth_key": auth})))
            .await
            .status,
        200
    );
    let other_auth = public_jwk(&random_key());
    assert_eq!(
        call("post", path, register(&device, json!({"auth_key": other_auth})))
            .await
            .status,
        409
    );
    let fresh = TestDevice::new();
    for (body, error) in [
        (json!({}), "invalid_request"),
        (json!({"auth_key": auth, "extra": 1}), "invalid_request"),
        (
            json!({"auth_key": {"kty": "RSA", "n": "x", "e": "AQAB"}}),
            "invalid_key",
        ),
        (json!({"auth_key": public_jwk(&fresh.device_key)}), "invalid_key"),
    ] {
        let answer = call("post", path, register(&fresh, body.clone())).await;
        assert_eq!(answer.error(), error, "{body}");
    }
    let no_proof = post(&app, path).json(&json!({"auth_key": auth}));
    assert_eq!(call("post", path, no_proof).await.error(), "invalid_proof");
    let stale = TestDevice::new();
    let proof = stale.proof(&app, "POST", path);
    app.clock.advance_secs(1000);
    let stale_req = post(&app, path).header("DPoP", proof).json(&json!({"auth_key": auth}));
    assert_eq!(call("post", path, stale_req).await.error(), "invalid_proof");

    // Inbox: inactive device, unknown device, empty, one item.
    assert_eq!(inbox(&app, &device).await.error(), "device_not_active");
    assert_eq!(inbox(&app, &TestDevice::new()).await.error(), "invalid_proof");
    app.user("alice", &["bank"]).await;
    trustid::engine::admin::bind_device(app.store(), &device.id().into(), &"alice".into())
        .await
        .unwrap();
    let empty = inbox(&app, &device).await;
    assert_eq!(empty.body, json!({"transactions": []}));
    let message = r#"{"action_context":"provisioning","appId":"shop","bindingMessage":"Activate shop"}"#;
    start(&app, &client, "alice", "openid", message).await;
    let listed = inbox(&app, &device).await;
    let item = listed.body["transactions"][0].clone();
    let txn = item["transaction_id"].as_str().unwrap().to_owned();

    // Decisions: every refusal, then the approval, then too late.
    let good = device.decision_jws(&item, "approve", &app);
    let intruder = app.user_with_device("mallory").await;
    let signed_by_other = intruder.decision_jws(&item, "approve", &app);
    let mut wrong_text = item.clone();
    wrong_text["binding_message"] = json!("Pay 1000 EUR");
    let mut wrong_nonce = item.clone();
    wrong_nonce["nonce"] = json!("A".repeat(43));
    let mut wrong_txn = item.clone();
    wrong_txn["transaction_id"] = json!("B".repeat(22));
    let cases: Vec<(&TestDevice, String, Value, &str)> = vec![
        (
            &device,
            "C".repeat(22),
            json!({"decision_jws": good}),
            "unknown_transaction",
        ),
        (&device, txn.clone(), json!({}), "invalid_request"),
        (&device, txn.clone(), json!({"decision_jws": "a.b"}), "invalid_request"),
        (
            &intruder,
            txn.clone(),
            json!({"decision_jws": signed_by_other}),
            "device_not_bound",
        ),
        (
            &device,
            txn.clone(),
            json!({"decision_jws": signed_by_other}),
            "invalid_signature",
        ),
        (
            &device,
            txn.clone(),
            json!({"decision_jws": device.decision_jws(&item, "maybe", &app)}),
            "invalid_decision",
        ),
        (
            &device,
            txn.clone(),
            json!({"decision_jws": device.decision_jws(&wrong_txn, "approve", &app)}),
            "invalid_decision",
        ),
        (
            &device,
            txn.clone(),
            json!({"decision_jws": device.decision_jws(&wrong_nonce, "approve", &app)}),
            "invalid_nonce",
        ),
        (
            &device,
            txn.clone(),
            json!({"decision_jws": device.decision_jws(&wrong_text, "approve", &app)}),
            "message_mismatch",
        ),
    ];
    for (who, id, body, error) in cases {
        let answer = decide(&app, who, &id, &body).await;
        assert_eq!(answer.error(), error, "{body}");
    }
    let fresh_item = inbox(&app, &device).await.body["transactions"][0].clone();
    let good = device.decision_jws(&fresh_item, "approve", &app);
    let approved = decide(&app, &device, &txn, &json!({"decision_jws": good})).await;
    assert_eq!(approved.status, 200, "{}", approved.body);
    assert_eq!(
        decide(&app, &device, &txn, &json!({"decision_jws": good}))
            .await
            .error(),
        "nonce_replayed"
    );
    let late = device.decision_jws(&item, "deny", &app);
    let answer = decide(&app, &device, &txn, &json!({"decision_jws": late})).await;
    assert_eq!(answer.error(), "already_decided", "{}", answer.body);

    // Expired, and a nonce that outlived its TTL.
    start(&app, &client, "alice", "openid", "Pay 5 EUR").await;
    let item = inbox(&app, &device).await.body["transactions"][0].clone();
    app.clock.advance_secs(400);
    let jws = device.decision_jws(&item, "approve", &app);
    let answer = decide(
        &app,
        &device,
        item["transaction_id"].as_str().unwrap(),
        &json!({"decision_jws": jws}),
    )
    .await;
    assert_eq!(answer.error(), "transaction_expired", "{}", answer.body);
    let ack = form(
        &app,
        &client,
        "/bc-authorize",
        &[
            ("scope", "openid"),
            ("login_hint", "alice"),
            ("requested_expiry", "1800"),
        ],
    )
    .await;
    assert_eq!(ack.status, 200);
    let item = inbox(&app, &device).await.body["transactions"][0].clone();
    app.clock.advance_secs(400);
    let jws = device.decision_jws(&item, "approve", &app);
    let answer = decide(
        &app,
        &device,
        item["transaction_id"].as_str().unwrap(),
        &json!({"decision_jws": jws}),
    )
    .await;
    assert_eq!(answer.error(), "nonce_expired", "{}", answer.body);

    // No proof at all.
    let decision_path = format!("/device/v1/transactions/{txn}/decision");
    let req = post(&app, &decision_path).json(&json!({"decision_jws": "a.b.c"}));
    let answer = call("post", "/device/v1/transactions/{id}/decision", req).await;
    assert_eq!(answer.error(), "invalid_proof");

    // Too large a body: the framework's plain-text 413.
    let big = vec![b' '; 3 * 1024 * 1024];
    let req = post(&app, path)
        .header("DPoP", TestDevice::new().proof(&app, "POST", path))
        .header("content-type", "application/json")
        .body(big.clone());
    assert_eq!(call("post", path, req).await.status, 413);
    let req = post(&app, &decision_path)
        .header("DPoP", device.proof(&app, "POST", &decision_path))
        .header("content-type", "application/json")
        .body(big);
    assert_eq!(
        call("post", "/device/v1/transactions/{id}/decision", req).await.status,
        413
    );
}

#[tokio::test]
async fn the_device_push_api_conforms() {
    let app = spawn_app().await;
    let relay = common::receiver::Receiver::start(vec![]).await;
    let mut m = ClientMetadata::poll("Push Bank");
    m.push_relay_uri = Some(relay.url("/push"));
    m.management = true;
    let client = app.register(m).await;
    let manage = form(
        &app,
        &client,
        "/token",
        &[("grant_type", "client_credentials"), ("scope", "trustid:manage")],
    )
    .await
    .body["access_token"]
        .as_str()
        .unwrap()
        .to_owned();
    let device = app.user_with_device("alice").await;
    let unbound = TestDevice::new();
    unbound.register(&app).await;
    let stranger = TestDevice::new();

    let channel = "/device/v1/push-channel";
    let put = |d: &TestDevice, body: Value| {
        app.http
            .put(app.url(channel))
            .header("DPoP", d.proof(&app, "PUT", channel))
            .json(&body)
    };
    for (d, body, status) in [
        (&device, json!({"channel": "webhook", "token": "relay-1"}), 200),
        (&device, json!({"channel": "webhook"}), 400),
        (&device, json!({"channel": "sms", "token": "x"}), 400),
        (&device, json!({"channel": "fcm", "token": "x"}), 400),
        (&device, json!({"channel": "apns", "token": "xyz"}), 400),
        (&unbound, json!({"channel": "webhook", "token": "x"}), 403),
        (&stranger, json!({"channel": "webhook", "token": "x"}), 401),
    ] {
        assert_eq!(
            call("put", channel, put(d, body.clone())).await.status,
            status,
            "{body}"
        );
    }
    let big = app
        .http
        .put(app.url(channel))
        .header("DPoP", device.proof(&app, "PUT", channel))
        .header("content-type", "application/json")
        .body(vec![b' '; 3 * 1024 * 1024]);
    assert_eq!(call("put", channel, big).await.status, 413);

    let auth_req_id = start(&app, &client, "alice", "openid", "Pay 10 EUR").await;
    let got = relay.wait_for(1).await;
    let push_token = jwt_payload(&got[0].raw)["push_token"].clone();
    let exchange = "/device/v1/push/exchange";
    let trade = |d: &TestDevice, body: Value| {
        post(&app, exchange)
            .header("DPoP", d.proof(&app, "POST", exchange))
            .json(&body)
    };
    for (d, body, status) in [
        (&device, json!({"push_token": push_token}), 200),
        (&device, json!({"push_token": 1}), 400),
        (&device, json!({"push_token": "unknown"}), 404),
        (&unbound, json!({"push_token": push_token}), 403),
        (&stranger, json!({"push_token": push_token}), 401),
    ] {
        assert_eq!(
            call("post", exchange, trade(d, body.clone())).await.status,
            status,
            "{body}"
        );
    }

    let report = "/manage/v1/device-pushes";
    for (token, body, status) in [
        (manage.as_str(), json!({"auth_req_id": auth_req_id}), 200),
        (manage.as_str(), json!({"auth_req_id": "unknown"}), 404),
        (manage.as_str(), json!({"id": 1}), 400),
        ("wrong", json!({"auth_req_id": auth_req_id}), 401),
    ] {
        let req = post(&app, report).bearer_auth(token).json(&body);
        assert_eq!(call("post", report, req).await.status, status, "{body}");
    }

    for (d, status) in [(&device, 204), (&stranger, 401), (&unbound, 403)] {
        let req = app
            .http
            .delete(app.url(channel))
            .header("DPoP", d.proof(&app, "DELETE", channel));
        assert_eq!(call("delete", channel, req).await.status, status);
    }
}

/// The check itself fails on what it must catch.
#[test]
fn the_contract_check_catches_violations() {
    let json_headers = |extra: &[(&'static str, &'static str)]| {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("content-type", "application/json".parse().unwrap());
        for (k, v) in extra {
            h.insert(*k, v.parse().unwrap());
        }
        h
    };
    let no_store = [("cache-control", "no-store"), ("pragma", "no-cache")];
    let good = || Answer {
        status: 200,
        headers: json_headers(&no_store),
        body: json!({"auth_req_id": format!("019b76da80f0{}.{}", "A".repeat(22), "A".repeat(43)), "expires_in": 120, "interval": 5}),
    };
    contract().check("post", "/bc-authorize", &good());
    let mut bad: Vec<(&str, Answer)> = Vec::new();
    let mut a = good();
    a.body["expires_in"] = json!("120");
    bad.push(("wrong type", a));
    let mut a = good();
    a.body["extra"] = json!(1);
    bad.push(("undocumented member", a));
    let mut a = good();
    a.body["auth_req_id"] = json!("short");
    bad.push(("pattern", a));
    let mut a = good();
    a.status = 418;
    bad.push(("undocumented status", a));
    let mut a = good();
    a.headers = json_headers(&[("pragma", "no-cache")]);
    bad.push(("missing Cache-Control", a));
    let mut a = good();
    a.headers.insert("content-type", "text/html".parse().unwrap());
    bad.push(("content type", a));
    bad.push((
        "error outside the enum of this status",
        Answer {
            status: 400,
            headers: json_headers(&no_store),
            body: json!({"error": "slow_down", "error_description": "x"}),
        },
    ));
    bad.push((
        "$ref'd response, wrong const",
        Answer {
            status: 401,
            headers: json_headers(&no_store),
            body: json!({"error": "invalid_request", "error_description": "x"}),
        },
    ));
    for (why, answer) in bad {
        let caught = std::panic::catch_unwind(|| contract().check("post", "/bc-authorize", &answer));
        assert!(caught.is_err(), "not caught: {why}");
    }
    // unevaluatedProperties through allOf + $ref (TokenResponse).
    let tokens = Answer {
        status: 200,
        headers: json_headers(&no_store),
        body: json!({
            "access_token": "A".repeat(43), "token_type": "Bearer", "expires_in": 3600,
            "id_token": "a.b.c", "scope": "openid", "extra": true,
        }),
    };
    assert!(std::panic::catch_unwind(|| contract().check("post", "/token", &tokens)).is_err());
}
