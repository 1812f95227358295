//! https served by trustid itself: a relying party that trusts only the
//! operator's CA verifies the chain; the pair is replaced (SIGHUP, then a
//! plain file change) while a kept-alive connection goes on being served;
//! a pair that does not load is refused at start and kept out at reload.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, SubjectAlternativeName};
use openssl::x509::{X509, X509NameBuilder};

use crate::cli::trustid;

fn p256() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

/// A certificate for `cn` with `serial`, signed by `issuer` (self-signed without one).
fn certificate(cn: &str, serial: u32, key: &PKey<Private>, issuer: Option<(&X509, &PKey<Private>)>) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let serial = Asn1Integer::from_bn(&BigNum::from_u32(serial).unwrap()).unwrap();
    b.set_serial_number(&serial).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap()).unwrap();
    match issuer {
        None => {
            b.set_issuer_name(&name).unwrap();
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            b.sign(key, MessageDigest::sha256()).unwrap();
        }
        Some((ca, ca_key)) => {
            b.set_issuer_name(ca.subject_name()).unwrap();
            let san = SubjectAlternativeName::new()
                .ip("127.0.0.1")
                .dns("localhost")
                .build(&b.x509v3_context(Some(ca), None))
                .unwrap();
            b.append_extension(san).unwrap();
            b.sign(ca_key, MessageDigest::sha256()).unwrap();
        }
    }
    b.build()
}

pub(crate) struct Ca {
    cert: X509,
    key: PKey<Private>,
}

impl Ca {
    pub(crate) fn new() -> Self {
        let key = p256();
        Self {
            cert: certificate("trustid test CA", 1, &key, None),
            key,
        }
    }

    /// Writes a server pair with `serial` where the settings point (via a
    /// rename, as a careful operator would), the key unless `key` is given.
    pub(crate) fn issue(&self, dir: &Path, serial: u32, key: Option<&PKey<Private>>) -> PKey<Private> {
        let own = p256();
        let cert = certificate("127.0.0.1", serial, &own, Some((&self.cert, &self.key)));
        let key = key.unwrap_or(&own);
        for (name, pem) in [
            ("server.pem", cert.to_pem().unwrap()),
            ("server.key", key.private_key_to_pem_pkcs8().unwrap()),
        ] {
            std::fs::write(dir.join(format!("{name}.new")), pem).unwrap();
            std::fs::rename(dir.join(format!("{name}.new")), dir.join(name)).unwrap();
        }
        own
    }
}

fn tls_env(dir: &Path) -> [(String, String); 2] {
    [
        (
            "TRUSTID_TLS_CERTIFICATE".into(),
            dir.join("server.pem").display().to_string(),
        ),
        ("TRUSTID_TLS_KEY".into(), dir.join("server.key").display().to_string()),
    ]
}

struct Server {
    child: Child,
    base: String,
}

impl Server {
    fn start(dir: &Path) -> Self {
        Self::start_with(dir, &[])
    }

    fn start_with(dir: &Path, env: &[(String, String)]) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let base = format!("https://127.0.0.1:{port}");
        let mut command = Command::new(env!("CARGO_BIN_EXE_trustid"));
        for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TRUSTID_")) {
            command.env_remove(k);
        }
        let child = command
            .current_dir(dir)
            .arg("serve")
            .env("TRUSTID_LISTEN", format!("127.0.0.1:{port}"))
            .env("TRUSTID_ISSUER", &base)
            .env(
                "TRUSTID_DATABASE_URL",
                format!("sqlite://{}", dir.join("t.db").display()),
            )
            .env("TRUSTID_LOG", "warn")
            .envs(tls_env(dir))
            .envs(env.iter().cloned())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Self { child, base }
    }

    fn hangup(&self) {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-HUP", &pid]).status().unwrap().success());
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A relying party that trusts the test CA and nothing else.
fn relying_party(ca: &Ca) -> reqwest::Client {
    reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca.cert.to_pem().unwrap()).unwrap())
        .https_only(true)
        .tls_info(true)
        .build()
        .unwrap()
}

/// The serial number of the certificate `res` came with.
fn served_serial(res: &reqwest::Response) -> u32 {
    let info = res.extensions().get::<reqwest::tls::TlsInfo>().expect("TLS info");
    let cert = X509::from_der(info.peer_certificate().expect("a certificate")).unwrap();
    cert.serial_number()
        .to_bn()
        .unwrap()
        .to_dec_str()
        .unwrap()
        .parse()
        .unwrap()
}

/// The serial a new connection is served, once it is `want` (within `limit`).
async fn serves_on_a_new_connection(ca: &Ca, url: &str, want: u32, limit: Duration) {
    let started = Instant::now();
    loop {
        if let Ok(res) = relying_party(ca).get(url).send().await
            && served_serial(&res) == want
        {
            return;
        }
        assert!(
            started.elapsed() < limit,
            "certificate {want} not served within {limit:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn https_with_the_operators_certificate_reloaded_without_dropping_connections() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let first_key = ca.issue(dir.path(), 1001, None);
    let server = Server::start(dir.path());
    let health = format!("{}/healthz", server.base);
    serves_on_a_new_connection(&ca, &health, 1001, Duration::from_secs(30)).await;

    let kept = relying_party(&ca);
    let res = kept
        .get(format!("{}/.well-known/openid-configuration", server.base))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(res.version(), reqwest::Version::HTTP_2, "h2 by ALPN");
    assert!(
        res.headers().contains_key("strict-transport-security"),
        "HSTS over https"
    );
    let stranger = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .build()
        .unwrap();
    assert!(
        stranger.get(&health).send().await.is_err(),
        "a client that does not trust the CA refuses the chain"
    );

    ca.issue(dir.path(), 1002, None);
    server.hangup();
    serves_on_a_new_connection(&ca, &health, 1002, Duration::from_secs(10)).await;
    let res = kept.get(&health).send().await.unwrap();
    assert_eq!(res.status(), 200, "the kept-alive connection is still served");
    assert_eq!(served_serial(&res), 1001, "on its own handshake's certificate");

    // No signal: the watch sees the files change.
    ca.issue(dir.path(), 1003, None);
    serves_on_a_new_connection(&ca, &health, 1003, Duration::from_secs(15)).await;

    // A certificate with a key that is not its own is kept out.
    ca.issue(dir.path(), 1004, Some(&first_key));
    server.hangup();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let res = relying_party(&ca).get(&health).send().await.unwrap();
    assert_eq!(served_serial(&res), 1003, "the previous pair stays");
}

#[test]
fn a_pair_that_cannot_be_used_is_refused_at_start_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    let other = p256();
    ca.issue(dir.path(), 7, Some(&other));
    let [(cert_var, cert), (key_var, key)] = tls_env(dir.path());
    let check = |env: &[(&str, &str)]| {
        let out = trustid(dir.path(), &["check-config"], env);
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let issuer = ("TRUSTID_ISSUER", "https://id.example");
    let err = check(&[issuer, (&cert_var, &cert)]);
    assert!(err.contains("tls_key"), "{err}");
    let err = check(&[issuer, (&cert_var, &cert), (&key_var, &key)]);
    assert!(
        err.contains("invalid setting `tls_key`") && err.contains("does not go with"),
        "{err}"
    );
    let err = check(&[issuer, (&cert_var, "/nonexistent/server.pem"), (&key_var, &key)]);
    assert!(err.contains("invalid setting `tls_certificate`"), "{err}");

    ca.issue(dir.path(), 8, None);
    let out = trustid(
        dir.path(),
        &["check-config"],
        &[issuer, (&cert_var, &cert), (&key_var, &key)],
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn mutual_tls_authenticates_a_client_by_its_certificate_and_binds_its_tokens() {
    use crate::mtls::ClientPki;
    let dir = tempfile::tempdir().unwrap();
    let ca = Ca::new();
    ca.issue(dir.path(), 2001, None);
    let pki = ClientPki::new(dir.path());
    let mut env: Vec<(String, String)> = tls_env(dir.path()).into();
    env.push(("TRUSTID_MTLS".into(), "true".into()));
    env.push((
        "TRUSTID_MTLS_CA".into(),
        dir.path().join("client-ca.pem").display().to_string(),
    ));
    let env_refs: Vec<(&str, &str)> = env.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let added = crate::cli::json_of(&trustid(
        dir.path(),
        &[
            "clients",
            "add",
            "--name",
            "Bank over mTLS",
            "--auth-method",
            "tls_client_auth",
            "--tls-san-dns",
            "rp.example.com",
            "--certificate-bound-tokens",
            "--management",
            "--json",
        ],
        &env_refs,
    ));
    let client_id = added["client_id"].as_str().unwrap().to_owned();
    assert!(added.get("client_secret").is_none_or(|s| s.is_null()), "{added}");
    let server = Server::start_with(dir.path(), &env);
    serves_on_a_new_connection(&ca, &format!("{}/healthz", server.base), 2001, Duration::from_secs(30)).await;

    let (cert, key) = pki.issue("Bank RP", "rp.example.com");
    let mut pem = cert.to_pem().unwrap();
    pem.extend(key.private_key_to_pem_pkcs8().unwrap());
    let with_certificate = reqwest::Client::builder()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca.cert.to_pem().unwrap()).unwrap())
        .identity(reqwest::Identity::from_pem(&pem).unwrap())
        .build()
        .unwrap();
    let without = relying_party(&ca);
    let grant = [
        ("client_id", client_id.as_str()),
        ("grant_type", "client_credentials"),
        ("scope", "trustid:manage"),
    ];
    let token_url = format!("{}/token", server.base);
    let refused = without.post(&token_url).form(&grant).send().await.unwrap();
    assert_eq!(
        refused.status(),
        401,
        "a client without a certificate is still served, and refused"
    );
    let granted = with_certificate.post(&token_url).form(&grant).send().await.unwrap();
    assert_eq!(granted.status(), 200);
    let body: serde_json::Value = granted.json().await.unwrap();
    let token = body["access_token"].as_str().unwrap();

    let resource = format!("{}/manage/v1/users/nobody/devices", server.base);
    let bound = with_certificate.get(&resource).bearer_auth(token).send().await.unwrap();
    assert_eq!(
        bound.status(),
        404,
        "the token opens the API with its certificate (no such user)"
    );
    let stolen = without.get(&resource).bearer_auth(token).send().await.unwrap();
    assert_eq!(stolen.status(), 401, "and not without it");
}
