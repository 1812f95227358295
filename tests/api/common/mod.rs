//! Black-box test harness: a real trustid on 127.0.0.1:0 with a fresh SQLite
//! file, keys in a temp dir and a clock the test moves; a test device that
//! holds real P-256 keys and speaks the device API over HTTP.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

pub mod push;
pub mod receiver;

use std::sync::Arc;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use rand::RngCore;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tempfile::TempDir;

use trustid::clock::{Clock, ManualClock};
use trustid::config::Settings;
use trustid::crypto::keys::SigningKeys;
use trustid::domain::client::{AuthMethod, ClientMetadata, SigningAlg};
use trustid::engine::admin::{self, ClientCredentials, NewUser};
use trustid::server::build_state;
use trustid::{AppState, router, store};

pub const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

pub struct TestApp {
    /// The issuer (shared by every instance of one deployment).
    pub base: String,
    /// Where this instance listens.
    pub addr: String,
    pub http: reqwest::Client,
    pub clock: ManualClock,
    pub state: AppState,
    /// The settings it was started with.
    pub settings: Settings,
    _dir: TempDir,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts trustid with default settings changed by `adjust`.
pub async fn spawn_app_with(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let app = spawn_app_without_worker(adjust).await;
    let _workers = trustid::engine::delivery::spawn_worker(app.state.clone());
    app
}

/// Starts trustid without its delivery worker: notifications stay owed.
pub async fn spawn_app_without_worker(adjust: impl FnOnce(&mut Settings)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mut settings = Settings {
        issuer: base.clone(),
        listen: listener.local_addr().unwrap().to_string(),
        database_url: test_database_url(&dir).await,
        keys_dir: dir.path().join("keys"),
        dev: true,
        // Most tests send many requests for one user; the caps have their own tests.
        user_requests_per_minute: 10_000,
        ..Settings::default()
    };
    adjust(&mut settings);
    settings.validate().unwrap();
    let store = store::open(&settings.database_url, settings.sqlite_synchronous)
        .await
        .unwrap();
    let keys = SigningKeys::load_or_generate(&settings.keys_dir).unwrap();
    let clock = ManualClock::starting_now();
    let state = build_state(&settings, store, keys, Arc::new(clock.clone()));
    let app = router(state.clone());
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    TestApp {
        addr: base.clone(),
        base,
        http,
        clock,
        state,
        settings,
        _dir: dir,
    }
}

/// A fresh database for one test: a SQLite file in `dir`, or, when
/// `TRUSTID_TEST_DATABASE_URL` names a PostgreSQL server, a new database on it.
pub async fn test_database_url(dir: &TempDir) -> String {
    use sqlx::Connection;
    let Ok(server) = std::env::var("TRUSTID_TEST_DATABASE_URL") else {
        return format!("sqlite://{}", dir.path().join("trustid.db").display());
    };
    let name = format!("trustid_t_{}", new_jti().to_lowercase().replace(['-', '_'], ""));
    let mut admin = sqlx::PgConnection::connect(&server)
        .await
        .expect("TRUSTID_TEST_DATABASE_URL reachable");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&mut admin)
        .await
        .unwrap();
    let mut url = url::Url::parse(&server).unwrap();
    url.set_path(&format!("/{name}"));
    url.to_string()
}

/// The answer to one request: status, headers and the JSON body.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Answer {
    pub async fn from(res: reqwest::Response) -> Self {
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        let text = res.text().await.unwrap();
        let body = serde_json::from_str(&text).unwrap_or(Value::String(text));
        Self { status, headers, body }
    }

    pub fn error(&self) -> &str {
        self.body["error"].as_str().unwrap_or("<none>")
    }

    /// Asserts an OAuth error with exactly `error` and `error_description`.
    pub fn assert_oauth_error(&self, status: u16, error: &str, why: &str) {
        assert_eq!((self.status, self.error()), (status, error), "{why}: {}", self.body);
        let keys: Vec<&String> = self.body.as_object().unwrap().keys().collect();
        assert_eq!(
            keys.len(),
            2,
            "{why}: body holds only error and error_description: {}",
            self.body
        );
        assert!(self.body["error_description"].is_string(), "{why}");
        assert_eq!(self.header("cache-control"), Some("no-store"), "{why}");
        assert!(
            self.header("content-type")
                .unwrap_or("")
                .starts_with("application/json"),
            "{why}"
        );
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

impl TestApp {
    /// Another trustid process on the same database and keys, with its own
    /// store, memory and delivery worker (a restart, or a second instance).
    pub async fn second_instance(&self) -> TestApp {
        let settings = self.settings.clone();
        let store = store::open(&settings.database_url, settings.sqlite_synchronous)
            .await
            .unwrap();
        let keys = SigningKeys::load_or_generate(&settings.keys_dir).unwrap();
        let state = build_state(&settings, store, keys, Arc::new(self.clock.clone()));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = format!("http://{}", listener.local_addr().unwrap());
        let app = router(state.clone());
        tokio::spawn(async move {
            axum::serve(
                listener,
                app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
            )
            .await
            .unwrap();
        });
        let _workers = trustid::engine::delivery::spawn_worker(state.clone());
        TestApp {
            base: self.base.clone(),
            addr,
            http: self.http.clone(),
            clock: self.clock.clone(),
            state,
            settings,
            _dir: tempfile::tempdir().unwrap(),
        }
    }

    /// Where to send a request to this instance.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.addr, path)
    }

    /// The URL under the issuer, as clients and devices name endpoints.
    pub fn issuer_url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    pub fn store(&self) -> &dyn store::Store {
        self.state.store.as_ref()
    }

    pub async fn client(&self, alg: SigningAlg) -> ClientCredentials {
        self.client_with(AuthMethod::ClientSecretBasic, alg).await
    }

    pub async fn client_with(&self, auth_method: AuthMethod, alg: SigningAlg) -> ClientCredentials {
        let mut metadata = ClientMetadata::poll("Test Bank");
        metadata.token_endpoint_auth_method = auth_method;
        metadata.id_token_signed_response_alg = alg;
        self.register(metadata).await
    }

    /// Registers a client exactly as `trustid clients add` would.
    pub async fn register(&self, metadata: ClientMetadata) -> ClientCredentials {
        admin::register_client(
            self.store(),
            metadata,
            &trustid::domain::url::OutboundRule::dev(),
            self.state.server.mtls.support,
            self.clock.now(),
        )
        .await
        .unwrap()
    }

    /// Registers `metadata` as a management client (scope `trustid:manage`)
    /// and returns it with an access token from the client_credentials grant.
    pub async fn manager(&self, mut metadata: ClientMetadata) -> (ClientCredentials, String) {
        metadata.management = true;
        let client = self.register(metadata).await;
        let res = self
            .http
            .post(self.url("/token"))
            .basic_auth(&client.client_id, Some(client.secret()))
            .form(&[("grant_type", "client_credentials"), ("scope", "trustid:manage")])
            .send()
            .await
            .unwrap();
        let answer = Answer::from(res).await;
        assert_eq!(answer.status, 200, "{}", answer.body);
        let token = answer.body["access_token"].as_str().unwrap().to_owned();
        (client, token)
    }

    /// The Prometheus text at `/metrics`.
    pub async fn metrics(&self) -> String {
        let res = self.http.get(self.url("/metrics")).send().await.unwrap();
        res.text().await.unwrap()
    }

    /// Waits (at most 15 s) until `/metrics` holds `line`: a worker counts
    /// an outcome after the receiver has seen the request, not before.
    pub async fn wait_for_metric(&self, line: &str) -> bool {
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(15);
        while tokio::time::Instant::now() < deadline {
            if self.metrics().await.contains(line) {
                return true;
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
        false
    }

    /// The JWK Set trustid publishes.
    pub async fn jwks(&self) -> Value {
        let res = self.http.get(self.url("/jwks")).send().await.unwrap();
        res.json().await.unwrap()
    }

    pub async fn user(&self, id: &str, apps: &[&str]) {
        let new = NewUser {
            id: id.into(),
            email: Some(format!("{id}@example.com")),
            phone: Some(phone_of(id)),
            locked: false,
            apps: apps.iter().map(|a| a.to_string()).collect(),
            user_code: None,
        };
        admin::create_user(self.store(), new, self.clock.now()).await.unwrap();
    }

    /// A device registered over HTTP and bound to `user`.
    pub async fn device_for(&self, user: &str) -> TestDevice {
        let device = TestDevice::new();
        let reg = device.register(self).await;
        assert_eq!(reg.status, 201, "{}", reg.body);
        admin::bind_device(self.store(), &device.id().into(), &user.into())
            .await
            .unwrap();
        device
    }

    /// A user with one bound device, ready to authenticate.
    pub async fn user_with_device(&self, id: &str) -> TestDevice {
        self.user(id, &[]).await;
        self.device_for(id).await
    }

    pub async fn backchannel(&self, client: &ClientCredentials, params: &[(&str, &str)]) -> Answer {
        let res = self
            .http
            .post(self.url("/bc-authorize"))
            .basic_auth(&client.client_id, Some(client.secret()))
            .form(params)
            .send()
            .await
            .unwrap();
        Answer::from(res).await
    }

    /// Starts a transaction for `user` and returns its `auth_req_id`.
    pub async fn start(&self, client: &ClientCredentials, user: &str, message: &str) -> String {
        let ack = self
            .backchannel(
                client,
                &[("scope", "openid"), ("login_hint", user), ("binding_message", message)],
            )
            .await;
        assert_eq!(ack.status, 200, "{}", ack.body);
        ack.body["auth_req_id"].as_str().unwrap().to_owned()
    }

    pub async fn poll(&self, client: &ClientCredentials, auth_req_id: &str) -> Answer {
        let res = self
            .http
            .post(self.url("/token"))
            .basic_auth(&client.client_id, Some(client.secret()))
            .form(&[("grant_type", CIBA_GRANT), ("auth_req_id", auth_req_id)])
            .send()
            .await
            .unwrap();
        Answer::from(res).await
    }
}

/// A phone: a device key that proves requests, an auth key that signs decisions.
pub struct TestDevice {
    pub device_key: SigningKey,
    pub auth_key: SigningKey,
}

pub fn random_key() -> SigningKey {
    loop {
        let mut bytes = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        if let Ok(key) = SigningKey::from_slice(&bytes) {
            return key;
        }
    }
}

pub fn public_jwk(key: &SigningKey) -> Value {
    let point = key.verifying_key().to_sec1_point(false);
    let bytes = point.as_bytes();
    json!({
        "kty": "EC",
        "crv": "P-256",
        "x": URL_SAFE_NO_PAD.encode(&bytes[1..33]),
        "y": URL_SAFE_NO_PAD.encode(&bytes[33..65]),
    })
}

/// A compact ES256 JWS made with p256 (an implementation independent of the server's).
pub fn sign_jws(key: &SigningKey, header: &Value, payload: &Value) -> String {
    let input = format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(payload.to_string())
    );
    let sig: Signature = key.sign(input.as_bytes());
    format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig.to_bytes()))
}

pub fn sha256_b64(text: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(text.as_bytes()))
}

fn random_jti() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl TestDevice {
    pub fn new() -> Self {
        Self {
            device_key: random_key(),
            auth_key: random_key(),
        }
    }

    /// RFC 7638 thumbprint of the device key: the id trustid gives the device.
    pub fn id(&self) -> String {
        let jwk = public_jwk(&self.device_key);
        sha256_b64(&format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            jwk["x"].as_str().unwrap(),
            jwk["y"].as_str().unwrap()
        ))
    }

    pub fn proof(&self, app: &TestApp, method: &str, path: &str) -> String {
        let header = json!({"typ": "dpop+jwt", "alg": "ES256", "jwk": public_jwk(&self.device_key)});
        let payload = json!({"htm": method, "htu": app.issuer_url(path), "iat": app.clock.now(), "jti": random_jti()});
        sign_jws(&self.device_key, &header, &payload)
    }

    pub async fn register(&self, app: &TestApp) -> Answer {
        let res = app
            .http
            .post(app.url("/device/v1/devices"))
            .header("DPoP", self.proof(app, "POST", "/device/v1/devices"))
            .json(&json!({"auth_key": public_jwk(&self.auth_key)}))
            .send()
            .await
            .unwrap();
        Answer::from(res).await
    }

    pub async fn inbox(&self, app: &TestApp) -> Answer {
        let res = app
            .http
            .get(app.url("/device/v1/inbox"))
            .header("DPoP", self.proof(app, "GET", "/device/v1/inbox"))
            .send()
            .await
            .unwrap();
        Answer::from(res).await
    }

    /// The single pending item of the inbox.
    pub async fn only_item(&self, app: &TestApp) -> Value {
        let inbox = self.inbox(app).await;
        assert_eq!(inbox.status, 200, "{}", inbox.body);
        assert_eq!(inbox.header("cache-control"), Some("no-store"), "nonces are not cached");
        let items = inbox.body["transactions"].as_array().unwrap();
        assert_eq!(items.len(), 1, "{}", inbox.body);
        items[0].clone()
    }

    /// A decision JWS over `item` as the device would sign it.
    pub fn decision_jws(&self, item: &Value, decision: &str, app: &TestApp) -> String {
        self.decision_jws_typing(item, decision, app, None)
    }

    /// As [`Self::decision_jws`], with the number the user typed (number matching).
    pub fn decision_jws_typing(&self, item: &Value, decision: &str, app: &TestApp, number: Option<&str>) -> String {
        let mut payload = json!({
            "txn": item["transaction_id"],
            "nonce": item["nonce"],
            "decision": decision,
            "bm_hash": sha256_b64(item["binding_message"].as_str().unwrap()),
            "iat": app.clock.now(),
        });
        if let Some(n) = number {
            payload["number"] = json!(n);
        }
        sign_jws(
            &self.auth_key,
            &json!({"typ": "trustid-decision+jwt", "alg": "ES256"}),
            &payload,
        )
    }

    pub async fn send_decision(&self, app: &TestApp, txn_id: &str, jws: &str) -> Answer {
        let path = format!("/device/v1/transactions/{txn_id}/decision");
        let res = app
            .http
            .post(app.url(&path))
            .header("DPoP", self.proof(app, "POST", &path))
            .json(&json!({"decision_jws": jws}))
            .send()
            .await
            .unwrap();
        Answer::from(res).await
    }

    /// Fetches the inbox and approves its single item, typing `number`.
    pub async fn approve_typing(&self, app: &TestApp, number: &str) -> Answer {
        let item = self.only_item(app).await;
        let jws = self.decision_jws_typing(&item, "approve", app, Some(number));
        self.send_decision(app, item["transaction_id"].as_str().unwrap(), &jws)
            .await
    }

    /// Fetches the inbox and decides its single item.
    pub async fn decide(&self, app: &TestApp, decision: &str) -> Answer {
        let item = self.only_item(app).await;
        let jws = self.decision_jws(&item, decision, app);
        self.send_decision(app, item["transaction_id"].as_str().unwrap(), &jws)
            .await
    }
}

/// Decodes a JWT's payload without checking it (tests check signatures elsewhere).
pub fn jwt_payload(jwt: &str) -> Value {
    let part = jwt.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// Decodes a JWT's header.
pub fn jwt_header(jwt: &str) -> Value {
    let part = jwt.split('.').next().unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// The `alg` of a JWT's header.
pub fn jwt_header_alg(jwt: &str) -> String {
    jwt_header(jwt)["alg"].as_str().unwrap().to_owned()
}

/// One row of an invalid-input table: (form, status, error, why).
pub type FormCase<'a> = (Vec<(&'a str, &'a str)>, u16, &'a str, &'a str);

/// A client's P-256 signing key with its `kid`, for private_key_jwt and
/// signed requests.
pub struct ClientKey {
    pub key: SigningKey,
    pub kid: String,
}

impl ClientKey {
    pub fn new(kid: &str) -> Self {
        Self {
            key: random_key(),
            kid: kid.to_owned(),
        }
    }

    pub fn jwks(&self) -> Value {
        let mut jwk = public_jwk(&self.key);
        jwk["kid"] = Value::from(self.kid.clone());
        jwk["use"] = Value::from("sig");
        json!({"keys": [jwk]})
    }

    pub fn sign(&self, claims: &Value) -> String {
        self.sign_typed(claims, None)
    }

    pub fn sign_typed(&self, claims: &Value, typ: Option<&str>) -> String {
        let mut header = json!({"alg": "ES256", "kid": self.kid});
        if let Some(typ) = typ {
            header["typ"] = Value::from(typ);
        }
        sign_jws(&self.key, &header, claims)
    }

    /// An RFC 7523 client assertion for `client_id` with audience `aud`.
    pub fn assertion(&self, client_id: &str, aud: &str, now: i64) -> String {
        self.sign(&json!({
            "iss": client_id, "sub": client_id, "aud": aud,
            "iat": now, "exp": now + 60, "jti": random_jti(),
        }))
    }
}

pub fn new_jti() -> String {
    random_jti()
}

/// The phone number the harness gives user `id` (unique per id).
pub fn phone_of(id: &str) -> String {
    let digest = Sha256::digest(id.as_bytes());
    format!(
        "+41{:09}",
        u64::from_be_bytes(digest[..8].try_into().unwrap()) % 1_000_000_000
    )
}

impl TestApp {
    /// The test clock's "now", in seconds.
    pub fn clock_now(&self) -> i64 {
        self.clock.now()
    }
}
