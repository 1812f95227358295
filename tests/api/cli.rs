//! The `trustid` binary as a newcomer and a script use it: `serve` on a fresh
//! directory, `clients add`, `users add`, `devices bind`, and start-up
//! refusing a bad setting by name.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

pub(crate) fn trustid(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_trustid"));
    cmd.current_dir(dir).args(args);
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TRUSTID_")) {
        cmd.env_remove(k);
    }
    cmd.env(
        "TRUSTID_DATABASE_URL",
        format!("sqlite://{}", dir.join("t.db").display()),
    );
    cmd.envs(env.iter().copied());
    cmd.output().unwrap()
}

pub(crate) fn json_of(out: &Output) -> Value {
    assert!(out.status.success(), "stderr: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn clients_add_prints_the_secret_once_and_stores_only_its_digest() {
    let dir = tempfile::tempdir().unwrap();
    let out = trustid(
        dir.path(),
        &[
            "clients",
            "add",
            "--name",
            "ACME Bank",
            "--id-token-alg",
            "RS256",
            "--json",
        ],
        &[],
    );
    let created = json_of(&out);
    let secret = created["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 43);
    assert_eq!(created["client_name"], "ACME Bank");
    assert_eq!(created["backchannel_token_delivery_mode"], "poll");
    assert_eq!(created["token_endpoint_auth_method"], "client_secret_basic");
    assert_eq!(created["id_token_signed_response_alg"], "RS256");
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap();
        assert!(
            !bytes.windows(secret.len()).any(|w| w == secret.as_bytes()),
            "secret never stored"
        );
    }
    let text = trustid(dir.path(), &["clients", "add", "--name", "Shop"], &[]);
    assert!(String::from_utf8_lossy(&text.stdout).contains("client_secret:"));
}

#[test]
fn clients_add_refuses_what_does_not_work() {
    let dir = tempfile::tempdir().unwrap();
    let cases: [(&[&str], &str); 8] = [
        (
            &["clients", "add", "--name", "X", "--delivery-mode", "push"],
            "notification_endpoint is required",
        ),
        (
            &[
                "clients",
                "add",
                "--name",
                "X",
                "--delivery-mode",
                "ping",
                "--notification-endpoint",
                "http://rp.example.com/cb",
            ],
            "https",
        ),
        (
            &["clients", "add", "--name", "X", "--auth-method", "private_key_jwt"],
            "jwks",
        ),
        (&["clients", "add", "--name", "X", "--fapi"], "FAPI"),
        (
            &["clients", "add", "--name", "X", "--delivery-mode", "carrier-pigeon"],
            "unknown delivery mode",
        ),
        (&["clients", "add", "--name", " "], "client_name"),
        (
            &[
                "clients",
                "add",
                "--name",
                "X",
                "--push-relay-uri",
                "http://relay.example.com/push",
            ],
            "push_relay_uri",
        ),
        (
            &["clients", "add", "--name", "X", "--device-routing", "some"],
            "unknown device routing",
        ),
    ];
    for (args, message) in cases {
        let out = trustid(dir.path(), args, &[]);
        assert!(!out.status.success(), "{args:?}");
        assert!(
            String::from_utf8_lossy(&out.stderr).contains(message),
            "{args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// Outside dev mode no URL trustid calls on a client's behalf may name an
/// internal address, unless `outbound_allow` names that host.
#[test]
fn clients_add_refuses_internal_addresses_outside_dev_mode_unless_allowed() {
    let dir = tempfile::tempdir().unwrap();
    let strict = [("TRUSTID_ISSUER", "https://idp.example.com")];
    let ping = |url: &'static str| {
        [
            "clients",
            "add",
            "--name",
            "X",
            "--delivery-mode",
            "ping",
            "--notification-endpoint",
            url,
        ]
    };
    for url in [
        "https://169.254.169.254/latest",
        "https://127.0.0.1/cb",
        "https://10.0.0.5/cb",
        "https://[::1]/cb",
        "https://localhost/cb",
        "https://100.64.1.1/cb",
        "https://[fd12::1]/cb",
    ] {
        let out = trustid(dir.path(), &ping(url), &strict);
        assert!(!out.status.success(), "{url}");
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(said.contains("internal address"), "{url}: {said}");
    }
    for args in [
        &[
            "clients",
            "add",
            "--name",
            "X",
            "--auth-method",
            "private_key_jwt",
            "--jwks-uri",
            "https://192.168.1.9/jwks",
        ][..],
        &[
            "clients",
            "add",
            "--name",
            "X",
            "--push-relay-uri",
            "https://172.16.0.1/push",
        ][..],
    ] {
        let out = trustid(dir.path(), args, &strict);
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("internal address"),
            "{args:?}"
        );
    }
    let allowed = [
        ("TRUSTID_ISSUER", "https://idp.example.com"),
        ("TRUSTID_OUTBOUND_ALLOW", "10.0.0.5"),
    ];
    let created = json_of(&trustid(
        dir.path(),
        &[&ping("https://10.0.0.5/cb")[..], &["--json"]].concat(),
        &allowed,
    ));
    assert_eq!(
        created["backchannel_client_notification_endpoint"],
        "https://10.0.0.5/cb"
    );
    let other = trustid(dir.path(), &ping("https://10.0.0.6/cb"), &allowed);
    assert!(!other.status.success(), "only the host allowed");
}

#[test]
fn clients_add_sets_the_push_relay_and_the_device_routing() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "clients",
        "add",
        "--name",
        "Relay Bank",
        "--push-relay-uri",
        "https://relay.example.com/push",
        "--device-routing",
        "preferred",
        "--json",
    ];
    let created = json_of(&trustid(dir.path(), &args, &[]));
    assert_eq!(created["push_relay_uri"], "https://relay.example.com/push");
    assert_eq!(created["device_routing"], "preferred");
}

#[test]
fn apps_relay_sets_and_clears_a_clients_app_relay_and_refuses_an_unknown_client() {
    let dir = tempfile::tempdir().unwrap();
    let client = json_of(&trustid(
        dir.path(),
        &["clients", "add", "--name", "Shop", "--json"],
        &[],
    ));
    let client_id = client["client_id"].as_str().unwrap();
    let uri = "https://relay.example.com/shop";
    let set = json_of(&trustid(
        dir.path(),
        &[
            "apps", "relay", "--client", client_id, "--app", "shop", "--uri", uri, "--json",
        ],
        &[],
    ));
    assert_eq!(
        set,
        serde_json::json!({"client_id": client_id, "app_id": "shop", "push_relay_uri": uri})
    );
    let unknown = trustid(
        dir.path(),
        &["apps", "relay", "--client", "nobody", "--app", "shop", "--uri", uri],
        &[],
    );
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("no client `nobody`"));
    let bad = trustid(
        dir.path(),
        &[
            "apps",
            "relay",
            "--client",
            client_id,
            "--app",
            "shop",
            "--uri",
            "http://relay.example.com/",
        ],
        &[],
    );
    assert!(!bad.status.success());
    assert!(String::from_utf8_lossy(&bad.stderr).contains("push relay URI"));
    let clear = ["apps", "relay", "--client", client_id, "--app", "shop", "--clear"];
    let cleared = trustid(dir.path(), &clear, &[]);
    assert!(cleared.status.success(), "{}", String::from_utf8_lossy(&cleared.stderr));
    assert!(String::from_utf8_lossy(&cleared.stdout).contains("the client's is used"));
    let again = trustid(dir.path(), &clear, &[]);
    assert!(!again.status.success(), "nothing left to clear");
    assert!(String::from_utf8_lossy(&again.stderr).contains("has no push relay"));
    let neither = trustid(
        dir.path(),
        &["apps", "relay", "--client", client_id, "--app", "shop"],
        &[],
    );
    assert!(!neither.status.success(), "--uri or --clear is required");
    assert!(
        String::from_utf8_lossy(&neither.stderr).contains("--uri"),
        "{}",
        String::from_utf8_lossy(&neither.stderr)
    );
    let no_client = trustid(dir.path(), &["apps", "relay", "--app", "shop", "--uri", uri], &[]);
    assert!(!no_client.status.success(), "--client is required");
    assert!(
        String::from_utf8_lossy(&no_client.stderr).contains("--client"),
        "{}",
        String::from_utf8_lossy(&no_client.stderr)
    );
}

#[test]
fn users_and_bindings_answer_in_json_and_refuse_unknowns() {
    let dir = tempfile::tempdir().unwrap();
    let out = trustid(
        dir.path(),
        &[
            "users",
            "add",
            "--id",
            "u-42",
            "--email",
            "u42@example.com",
            "--app",
            "bank",
            "--app",
            "wallet",
            "--json",
        ],
        &[],
    );
    let user = json_of(&out);
    assert_eq!(user["user_id"], "u-42");
    assert_eq!(user["status"], "active");
    assert_eq!(user["apps"], serde_json::json!(["bank", "wallet"]));
    let again = trustid(dir.path(), &["users", "add", "--id", "u-42"], &[]);
    assert!(!again.status.success(), "duplicate user id");
    let bind = trustid(
        dir.path(),
        &["devices", "bind", "--device", "nope", "--user", "u-42", "--json"],
        &[],
    );
    assert!(!bind.status.success());
    assert!(String::from_utf8_lossy(&bind.stderr).contains("no device"));
}

/// Every setting an operator may have written, by the name of the TOML key
/// (`TRUSTID_<NAME>` in the environment), with a valid value that is not its
/// default. Renaming one breaks deployments: this list must only grow.
const SETTINGS: [(&str, &str); 48] = [
    ("issuer", "https://idp.example.com"),
    ("listen", "127.0.0.1:9"),
    ("database_url", "<db>"),
    ("sqlite_synchronous", "normal"),
    ("keys_dir", "<dir>/keys"),
    ("dev", "true"),
    ("access_token_ttl", "61"),
    ("id_token_ttl", "62"),
    ("poll_interval", "3"),
    ("request_expiry", "120"),
    ("max_request_expiry", "600"),
    ("challenge_ttl", "63"),
    ("device_clock_skew", "64"),
    ("refresh_token_ttl", "65"),
    ("id_token_hint_grace", "66"),
    ("user_requests_per_minute", "7"),
    ("client_requests_per_minute", "8"),
    ("delivery_timeout", "9"),
    ("shutdown_grace", "7"),
    ("outbound_allow", "relay.internal, 10.0.0.5"),
    ("client_auth_failures_per_address", "50"),
    ("request_timeout", "45"),
    (
        "registration_access_token",
        "an-initial-access-token-of-32-chars-at-least",
    ),
    ("device_lockout_threshold", "4"),
    ("user_lockout_threshold", "0"),
    ("activation_code_ttl", "67"),
    ("activation_password_ttl", "68"),
    ("registration_token_ttl", "69"),
    ("management_token_ttl", "70"),
    ("fcm_service_account", "<dir>/service-account.json"),
    ("fcm_base_url", "https://fcm.example.com"),
    ("apns_key_file", "<dir>/AuthKey.p8"),
    ("apns_key_id", "ABC123DEFG"),
    ("apns_team_id", "DEF123GHIJ"),
    ("apns_topic", "com.example.bank"),
    ("apns_base_url", "https://apns.example.com"),
    ("saml_entity_id", "urn:example:idp"),
    ("admin_second_factor", "true"),
    ("trusted_proxies", "10.0.0.0/8"),
    ("tls_certificate", "<dir>/server.pem"),
    ("tls_key", "<dir>/server.key"),
    ("mtls", "true"),
    ("mtls_ca", "<dir>/client-ca.pem"),
    ("mtls_certificate_header", "client-cert"),
    ("mtls_proxies", "10.0.0.1"),
    ("metrics_listen", "127.0.0.1:9"),
    ("log", "warn,trustid::engine=info"),
    ("log_format", "json"),
];

#[test]
fn every_setting_keeps_its_name_in_the_file_and_in_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let base = dir.path().display().to_string();
    let db = format!("sqlite://{base}/t.db");
    let key = josekit::jwk::alg::ec::EcKeyPair::generate(josekit::jwk::alg::ec::EcCurve::P256).unwrap();
    std::fs::write(dir.path().join("AuthKey.p8"), key.to_pem_private_key()).unwrap();
    let rsa = josekit::jwk::alg::rsa::RsaKeyPair::generate(2048).unwrap();
    let account = serde_json::json!({
        "type": "service_account", "project_id": "p", "private_key_id": "k",
        "private_key": String::from_utf8(rsa.to_pem_private_key()).unwrap(),
        "client_email": "push@p.iam.gserviceaccount.com", "token_uri": "https://oauth2.example.com/token",
    });
    std::fs::write(dir.path().join("service-account.json"), account.to_string()).unwrap();
    crate::tls::Ca::new().issue(dir.path(), 1, None);
    crate::mtls::ClientPki::new(dir.path());
    let value = |v: &str| v.replace("<db>", &db).replace("<dir>", &base);

    // The struct's own names: a setting renamed or dropped fails here.
    let defaults = serde_json::to_value(trustid::config::Settings::default()).unwrap();
    let mut names: Vec<&str> = defaults.as_object().unwrap().keys().map(String::as_str).collect();
    let mut listed: Vec<&str> = SETTINGS.iter().map(|(n, _)| *n).collect();
    names.sort_unstable();
    listed.sort_unstable();
    assert_eq!(names, listed);

    // Each as a variable: all accepted together...
    let vars: Vec<(String, String)> = SETTINGS
        .iter()
        .map(|(n, v)| (format!("TRUSTID_{}", n.to_uppercase()), value(v)))
        .collect();
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let out = trustid(dir.path(), &["migrate"], &env);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    // ...and each one read: an invalid value of it stops start-up. Free text
    // cannot be invalid: an APNs part left out breaks the set it belongs to,
    // and TRUSTID_KEYS_DIR is read by `keys list` in its own test.
    for (var, _) in vars.iter().filter(|(k, _)| k != "TRUSTID_KEYS_DIR") {
        let free_text = ["TRUSTID_APNS_KEY_ID", "TRUSTID_APNS_TEAM_ID", "TRUSTID_APNS_TOPIC"].contains(&var.as_str());
        let bad: Vec<(&str, &str)> = env
            .iter()
            .filter(|(k, _)| !(free_text && k == var))
            .map(|&(k, v)| if k == var { (k, "not valid: -1 [") } else { (k, v) })
            .collect();
        let out = trustid(dir.path(), &["migrate"], &bad);
        assert!(!out.status.success(), "{var} was not read");
    }

    // Each as a key of the TOML file.
    let toml: String = SETTINGS
        .iter()
        .map(|(n, v)| match *v {
            "true" | "false" => format!("{n} = {v}\n"),
            v if v.parse::<i64>().is_ok() => format!("{n} = {v}\n"),
            v => format!("{n} = {:?}\n", value(v)),
        })
        .collect();
    std::fs::write(dir.path().join("trustid.toml"), toml).unwrap();
    let out = trustid(dir.path(), &["migrate"], &[("TRUSTID_DATABASE_URL", &db)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[test]
fn an_invalid_setting_stops_start_up_and_names_it() {
    let dir = tempfile::tempdir().unwrap();
    let cases = [
        ("TRUSTID_POLL_INTERVAL", "0", "poll_interval"),
        ("TRUSTID_ISSUER", "http://idp.example.com", "issuer"),
        ("TRUSTID_LISTEN", "nowhere", "listen"),
        ("TRUSTID_ACCESS_TOKEN_TTL", "soon", "access_token_ttl"),
        ("TRUSTID_SQLITE_SYNCHRONOUS", "sometimes", "sqlite_synchronous"),
    ];
    for (var, value, name) in cases {
        let out = trustid(dir.path(), &["migrate"], &[(var, value)]);
        assert!(!out.status.success(), "{var}={value}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.to_lowercase().contains(name), "{var}: {stderr}");
    }
    std::fs::write(
        dir.path().join("trustid.toml"),
        "poll_interval = 7\nrequest_expiry = -1\n",
    )
    .unwrap();
    let out = trustid(dir.path(), &["migrate"], &[]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("request_expiry"),
        "TOML values are validated too"
    );
}

#[test]
fn serve_creates_the_database_and_keys_on_first_start() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let issuer = format!("http://{listen}");
    let mut command = Command::new(env!("CARGO_BIN_EXE_trustid"));
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TRUSTID_")) {
        command.env_remove(k);
    }
    let mut child = command
        .current_dir(dir.path())
        .arg("serve")
        .env("TRUSTID_LISTEN", &listen)
        .env("TRUSTID_ISSUER", &issuer)
        .env("TRUSTID_DATABASE_URL", "sqlite://trustid.db")
        .env("TRUSTID_KEYS_DIR", "keys")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let started = Instant::now();
    let discovery = loop {
        let body = std::net::TcpStream::connect(&listen).ok().and_then(|mut s| {
            use std::io::{Read, Write};
            s.write_all(b"GET /.well-known/openid-configuration HTTP/1.0\r\n\r\n")
                .ok()?;
            let mut text = String::new();
            s.read_to_string(&mut text).ok()?;
            Some(text)
        });
        if let Some(text) = body.filter(|t| t.starts_with("HTTP/1.0 200")) {
            break text;
        }
        assert!(started.elapsed() < Duration::from_secs(20), "server did not come up");
        std::thread::sleep(Duration::from_millis(50));
    };
    // The RSA keys are generated after the listener is up; /jwks waits for them.
    let jwks = {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(&listen).unwrap();
        s.write_all(b"GET /jwks HTTP/1.0\r\n\r\n").unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        text
    };
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(discovery.contains(&format!("\"issuer\":\"{issuer}\"")));
    assert!(jwks.starts_with("HTTP/1.0 200"), "{jwks}");
    for alg in ["ES256", "RS256", "PS256"] {
        assert!(
            jwks.contains(&format!("\"alg\":\"{alg}\"")),
            "{alg} published on first start"
        );
    }
    for file in [
        "trustid.db",
        "keys/es256.pem",
        "keys/rs256.pem",
        "keys/ps256.pem",
        "keys/saml.pem",
    ] {
        assert!(dir.path().join(file).exists(), "{file} created");
    }
}

#[test]
fn keys_can_be_listed_rotated_and_retired_from_the_command_line() {
    let dir = tempfile::tempdir().unwrap();
    let keys_dir = dir.path().join("keys").display().to_string();
    let env = [("TRUSTID_KEYS_DIR", keys_dir.as_str())];
    let listed = json_of(&trustid(dir.path(), &["keys", "list", "--json"], &env));
    assert_eq!(
        listed.as_array().unwrap().len(),
        4,
        "a first key per algorithm, and the SAML key"
    );
    let rotated = json_of(&trustid(
        dir.path(),
        &["keys", "rotate", "--use-after", "0", "--json"],
        &env,
    ));
    let files = rotated.as_array().unwrap();
    assert_eq!(files.len(), 8);
    let old = files
        .iter()
        .find(|f| f["alg"] == "ES256" && f["signing"] == false)
        .unwrap();
    let current = files
        .iter()
        .find(|f| f["alg"] == "ES256" && f["signing"] == true)
        .unwrap();
    let refused = trustid(
        dir.path(),
        &["keys", "retire", "--kid", current["kid"].as_str().unwrap()],
        &env,
    );
    assert!(!refused.status.success(), "the signing key stays");
    let retired = trustid(
        dir.path(),
        &["keys", "retire", "--kid", old["kid"].as_str().unwrap()],
        &env,
    );
    assert!(retired.status.success(), "{}", String::from_utf8_lossy(&retired.stderr));
    // The SAML key follows the same rules.
    let saml = |signing: bool| {
        files
            .iter()
            .find(|f| f["alg"] == "SAML-RS256" && f["signing"] == signing)
            .unwrap()["kid"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    let refused = trustid(dir.path(), &["keys", "retire", "--kid", &saml(true)], &env);
    assert!(!refused.status.success(), "the signing SAML key stays");
    let retired = trustid(dir.path(), &["keys", "retire", "--kid", &saml(false)], &env);
    assert!(retired.status.success(), "{}", String::from_utf8_lossy(&retired.stderr));
    assert_eq!(
        json_of(&trustid(dir.path(), &["keys", "list", "--json"], &env))
            .as_array()
            .unwrap()
            .len(),
        6
    );
}

/// Each engine section reads the setting of its own name: values that all
/// differ, so two fields swapped in `Settings::engine` are caught.
#[test]
fn the_engine_sections_take_each_setting_by_its_name() {
    let s = trustid::config::Settings {
        issuer: "https://idp.example.com".into(),
        dev: true,
        access_token_ttl: 61,
        id_token_ttl: 62,
        refresh_token_ttl: 63,
        management_token_ttl: 64,
        id_token_hint_grace: 65,
        poll_interval: 3,
        request_expiry: 66,
        max_request_expiry: 67,
        user_requests_per_minute: 4,
        client_requests_per_minute: 5,
        challenge_ttl: 68,
        device_clock_skew: 69,
        activation_code_ttl: 70,
        activation_password_ttl: 71,
        registration_token_ttl: 72,
        device_lockout_threshold: 0,
        user_lockout_threshold: 6,
        delivery_timeout: 9,
        fcm_base_url: "https://fcm.example.com".into(),
        apns_base_url: "https://apns.example.com".into(),
        ..trustid::config::Settings::default()
    };
    let e = s.engine();
    assert_eq!(
        (e.server.issuer.as_str(), e.server.dev),
        ("https://idp.example.com", true)
    );
    let t = e.tokens;
    assert_eq!(
        (
            t.access_ttl,
            t.id_ttl,
            t.refresh_ttl,
            t.management_ttl,
            t.id_token_hint_grace
        ),
        (61, 62, 63, 64, 65)
    );
    let r = e.requests;
    assert_eq!(
        (
            r.poll_interval,
            r.default_expiry,
            r.max_expiry,
            r.user_per_minute,
            r.client_per_minute
        ),
        (3, 66, 67, 4, 5)
    );
    let d = e.devices;
    assert_eq!(
        (
            d.challenge_ttl,
            d.clock_skew,
            d.activation_code_ttl,
            d.activation_password_ttl,
            d.registration_token_ttl
        ),
        (68, 69, 70, 71, 72)
    );
    // 0 means never: a count no one reaches.
    assert_eq!((e.lockout.device_threshold, e.lockout.user_threshold), (i64::MAX, 6));
    assert_eq!(e.delivery_timeout, Duration::from_secs(9));
    assert_eq!(e.push.fcm_base_url, "https://fcm.example.com");
    assert_eq!(e.push.apns_base_url, "https://apns.example.com");
    assert!(e.push.apns.is_none() && e.push.fcm_service_account.is_none());
    assert!(e.registration_access_token.is_none());
}
