//! Mutual TLS (RFC 8705) behind a proxy: the client certificate arrives in
//! `mtls_certificate_header` from a trusted proxy (this test's loopback
//! peer), as nginx or Envoy would pass it. `tls_client_auth` against the
//! operator's CA, `self_signed_tls_client_auth` against the client's JWKS,
//! access and management tokens bound to the certificate (`cnf.x5t#S256`)
//! and refused at `/userinfo` and the management API with another one.
//! `tls.rs`'s last test does the same through trustid's own TLS handshake.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, SubjectAlternativeName};
use openssl::x509::{X509, X509NameBuilder};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::common::{Answer, TestApp, spawn_app, spawn_app_with};
use trustid::domain::client::{AuthMethod, ClientMetadata};

pub(crate) const HEADER: &str = "client-cert";

pub(crate) fn p256() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

/// A certificate for subject `cn` with a SAN DNS name `dns`: a CA's
/// (self-signed) when `issuer` is `None` and `ca`, a client's otherwise.
pub(crate) fn certificate(cn: &str, dns: &str, key: &PKey<Private>, issuer: Option<(&X509, &PKey<Private>)>) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    name.append_entry_by_text("O", "Example Bank").unwrap();
    name.append_entry_by_text("CN", cn).unwrap();
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    let serial = BigNum::from_u32(rand_serial()).unwrap();
    b.set_serial_number(&Asn1Integer::from_bn(&serial).unwrap()).unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(0).unwrap()).unwrap();
    b.set_not_after(&Asn1Time::days_from_now(30).unwrap()).unwrap();
    match issuer {
        Some((ca, ca_key)) => {
            b.set_issuer_name(ca.subject_name()).unwrap();
            let san = SubjectAlternativeName::new()
                .dns(dns)
                .build(&b.x509v3_context(Some(ca.as_ref()), None))
                .unwrap();
            b.append_extension(san).unwrap();
            b.append_extension(ExtendedKeyUsage::new().client_auth().build().unwrap())
                .unwrap();
            b.sign(ca_key, MessageDigest::sha256()).unwrap();
        }
        None => {
            b.set_issuer_name(&name).unwrap();
            b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
                .unwrap();
            b.sign(key, MessageDigest::sha256()).unwrap();
        }
    }
    b.build()
}

fn rand_serial() -> u32 {
    u32::from_be_bytes(rand::random::<[u8; 4]>()) >> 1
}

/// The operator's client CA, written where `mtls_ca` points.
pub(crate) struct ClientPki {
    pub(crate) cert: X509,
    key: PKey<Private>,
}

impl ClientPki {
    pub(crate) fn new(dir: &Path) -> Self {
        let key = p256();
        let cert = certificate("Client CA", "", &key, None);
        std::fs::write(dir.join("client-ca.pem"), cert.to_pem().unwrap()).unwrap();
        Self { cert, key }
    }

    /// A client certificate and its key.
    pub(crate) fn issue(&self, cn: &str, dns: &str) -> (X509, PKey<Private>) {
        let key = p256();
        (certificate(cn, dns, &key, Some((&self.cert, &self.key))), key)
    }
}

pub(crate) fn header_value(cert: &X509) -> String {
    format!(":{}:", STANDARD.encode(cert.to_der().unwrap()))
}

pub(crate) fn thumbprint(cert: &X509) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(cert.to_der().unwrap()))
}

/// An app behind a proxy at 127.0.0.1 that passes client certificates.
pub(crate) async fn mtls_app(ca_dir: &Path) -> TestApp {
    let ca = ca_dir.join("client-ca.pem");
    spawn_app_with(|s| {
        s.mtls = true;
        s.mtls_ca = Some(ca);
        s.mtls_certificate_header = Some("Client-Cert".into());
        s.mtls_proxies = "127.0.0.1".into();
    })
    .await
}

pub(crate) async fn post(app: &TestApp, path: &str, cert: Option<&X509>, form: &[(&str, &str)]) -> Answer {
    let mut req = app.http.post(app.url(path)).form(form);
    if let Some(cert) = cert {
        req = req.header(HEADER, header_value(cert));
    }
    Answer::from(req.send().await.unwrap()).await
}

pub(crate) async fn get_bearer(app: &TestApp, path: &str, token: &str, cert: Option<&X509>) -> Answer {
    let mut req = app.http.get(app.url(path)).bearer_auth(token);
    if let Some(cert) = cert {
        req = req.header(HEADER, header_value(cert));
    }
    Answer::from(req.send().await.unwrap()).await
}

pub(crate) fn tls_client(dns: &str, bound: bool) -> ClientMetadata {
    ClientMetadata {
        token_endpoint_auth_method: AuthMethod::TlsClientAuth,
        tls_client_auth_san_dns: Some(dns.into()),
        tls_client_certificate_bound_access_tokens: bound,
        ..ClientMetadata::poll("Bank over mTLS")
    }
}

#[tokio::test]
async fn discovery_offers_the_certificate_methods_and_aliases_only_with_mtls() {
    let dir = tempfile::tempdir().unwrap();
    ClientPki::new(dir.path());
    let app = mtls_app(dir.path()).await;
    let d: Value = app
        .http
        .get(app.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let methods = d["token_endpoint_auth_methods_supported"].as_array().unwrap();
    for method in ["tls_client_auth", "self_signed_tls_client_auth", "private_key_jwt"] {
        assert!(methods.contains(&json!(method)), "{method} in {methods:?}");
    }
    assert_eq!(d["tls_client_certificate_bound_access_tokens"], true);
    let aliases = &d["mtls_endpoint_aliases"];
    for (endpoint, path) in [
        ("token_endpoint", "/token"),
        ("backchannel_authentication_endpoint", "/bc-authorize"),
        ("userinfo_endpoint", "/userinfo"),
        ("introspection_endpoint", "/introspect"),
        ("revocation_endpoint", "/revoke"),
    ] {
        assert_eq!(aliases[endpoint], app.issuer_url(path), "{endpoint}");
    }

    let plain = spawn_app().await;
    let d: Value = plain
        .http
        .get(plain.url("/.well-known/openid-configuration"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let methods = d["token_endpoint_auth_methods_supported"].as_array().unwrap();
    assert!(
        !methods.iter().any(|m| m.as_str().unwrap().contains("tls")),
        "{methods:?}"
    );
    assert!(d.get("mtls_endpoint_aliases").is_none());
    assert!(d.get("tls_client_certificate_bound_access_tokens").is_none());
}

#[tokio::test]
async fn certificates_that_do_not_prove_the_client_are_invalid_client() {
    let dir = tempfile::tempdir().unwrap();
    let pki = ClientPki::new(dir.path());
    let app = mtls_app(dir.path()).await;
    let client = app.register(tls_client("rp.example.com", false)).await;
    let id = client.client_id.as_str();
    let device = app.user_with_device("bob").await;
    let request = [("client_id", id), ("scope", "openid"), ("login_hint", "bob")];

    let (other_name, _) = pki.issue("Bank RP", "impostor.example.com");
    let stranger_dir = tempfile::tempdir().unwrap();
    let (stranger, _) = ClientPki::new(stranger_dir.path()).issue("Bank RP", "rp.example.com");
    let cases = [
        (None, "present the client's TLS certificate"),
        (Some(&other_name), "not the one registered"),
        (Some(&stranger), "does not chain to the trusted CA"),
    ];
    for (cert, why) in cases {
        let refused = post(&app, "/bc-authorize", cert, &request).await;
        refused.assert_oauth_error(401, "invalid_client", why);
        assert!(
            refused.body["error_description"].as_str().unwrap().contains(why),
            "{}",
            refused.body
        );
    }
    // Bytes that are not a certificate are read and refused; a header that
    // does not decode counts as no certificate.
    for (value, why) in [
        (":bm90IGEgY2VydGlmaWNhdGU=:", "the certificate cannot be read"),
        (":not base64!:", "present the client's TLS certificate"),
    ] {
        let res = app
            .http
            .post(app.url("/bc-authorize"))
            .header(HEADER, value)
            .form(&request)
            .send()
            .await
            .unwrap();
        let refused = Answer::from(res).await;
        refused.assert_oauth_error(401, "invalid_client", why);
        assert!(
            refused.body["error_description"].as_str().unwrap().contains(why),
            "{}",
            refused.body
        );
    }

    // A secret client sending only its id still needs its secret.
    let secret_client = app.register(ClientMetadata::poll("Secret bank")).await;
    let (own, _) = pki.issue("Bank RP", "rp.example.com");
    let only_id = [
        ("client_id", secret_client.client_id.as_str()),
        ("scope", "openid"),
        ("login_hint", "bob"),
    ];
    let refused = post(&app, "/bc-authorize", Some(&own), &only_id).await;
    refused.assert_oauth_error(401, "invalid_client", "a certificate does not stand in for a secret");
    let inbox = device.inbox(&app).await;
    assert_eq!(
        inbox.body["transactions"],
        json!([]),
        "nothing reached the phone: {}",
        inbox.body
    );
}

#[tokio::test]
async fn the_header_is_believed_only_from_a_trusted_proxy() {
    let dir = tempfile::tempdir().unwrap();
    let pki = ClientPki::new(dir.path());
    let ca = dir.path().join("client-ca.pem");
    // The test's requests come from 127.0.0.1, which is not the proxy here.
    let app = spawn_app_with(|s| {
        s.mtls = true;
        s.mtls_ca = Some(ca);
        s.mtls_certificate_header = Some(HEADER.into());
        s.mtls_proxies = "192.0.2.1".into();
        // Trusted for X-Forwarded-For, which says nothing about certificates.
        s.trusted_proxies = "127.0.0.1".into();
    })
    .await;
    let client = app.register(tls_client("rp.example.com", false)).await;
    app.user("carol", &[]).await;
    let (own, _) = pki.issue("Bank RP", "rp.example.com");
    let request = [
        ("client_id", client.client_id.as_str()),
        ("scope", "openid"),
        ("login_hint", "carol"),
    ];
    let refused = post(&app, "/bc-authorize", Some(&own), &request).await;
    refused.assert_oauth_error(401, "invalid_client", "a header from a stranger is ignored");
}

#[tokio::test]
async fn registration_offers_the_certificate_methods_only_where_the_server_has_mtls() {
    let dir = tempfile::tempdir().unwrap();
    ClientPki::new(dir.path());
    let token = "r".repeat(40);
    let with = {
        let ca = dir.path().join("client-ca.pem");
        let token = token.clone();
        spawn_app_with(move |s| {
            s.mtls = true;
            s.mtls_ca = Some(ca);
            s.mtls_certificate_header = Some(HEADER.into());
            s.mtls_proxies = "127.0.0.1".into();
            s.registration_access_token = Some(token);
        })
        .await
    };
    let without = spawn_app_with(|s| s.registration_access_token = Some(token.clone())).await;
    let body = json!({
        "client_name": "Registered over mTLS",
        "backchannel_token_delivery_mode": "poll",
        "token_endpoint_auth_method": "tls_client_auth",
        "tls_client_auth_subject_dn": "CN=Bank RP,O=Example Bank",
        "tls_client_certificate_bound_access_tokens": true,
    });
    let register = |app: &TestApp| {
        app.http
            .post(app.url("/register"))
            .bearer_auth(&token)
            .json(&body)
            .send()
    };
    let created = Answer::from(register(&with).await.unwrap()).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["token_endpoint_auth_method"], "tls_client_auth");
    assert_eq!(created.body["tls_client_auth_subject_dn"], "CN=Bank RP,O=Example Bank");
    assert_eq!(created.body["tls_client_certificate_bound_access_tokens"], true);
    assert!(created.body.get("client_secret").is_none());
    let refused = Answer::from(register(&without).await.unwrap()).await;
    refused.assert_oauth_error(400, "invalid_client_metadata", "no mtls on this server");
    assert!(
        refused.body["error_description"].as_str().unwrap().contains("mtls"),
        "{}",
        refused.body
    );
}

#[test]
fn mtls_settings_that_cannot_work_are_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    ClientPki::new(dir.path());
    let ca = dir.path().join("client-ca.pem").display().to_string();
    let junk = dir.path().join("junk.pem");
    std::fs::write(&junk, "not a certificate").unwrap();
    let junk = junk.display().to_string();
    crate::tls::Ca::new().issue(dir.path(), 1, None);
    let server_pem = dir.path().join("server.pem").display().to_string();
    let server_key = dir.path().join("server.key").display().to_string();
    let cases: [(&[(&str, &str)], &str); 9] = [
        (
            &[("TRUSTID_MTLS_PROXIES", "10.0.0.1")],
            "invalid setting `mtls_proxies`",
        ),
        (
            &[
                ("TRUSTID_MTLS", "true"),
                ("TRUSTID_TLS_CERTIFICATE", &server_pem),
                ("TRUSTID_TLS_KEY", &server_key),
                ("TRUSTID_MTLS_PROXIES", "10.0.0.1"),
            ],
            "invalid setting `mtls_proxies`: only means something with mtls_certificate_header",
        ),
        (
            &[
                ("TRUSTID_MTLS", "true"),
                ("TRUSTID_MTLS_CERTIFICATE_HEADER", HEADER),
                ("TRUSTID_MTLS_PROXIES", "10.0.0.1/99"),
            ],
            "invalid setting `mtls_proxies`",
        ),
        (&[("TRUSTID_MTLS", "true")], "invalid setting `mtls`"),
        (&[("TRUSTID_MTLS_CA", &ca)], "invalid setting `mtls_ca`"),
        (
            &[("TRUSTID_MTLS_CERTIFICATE_HEADER", HEADER)],
            "invalid setting `mtls_certificate_header`",
        ),
        (
            &[("TRUSTID_MTLS", "true"), ("TRUSTID_MTLS_CERTIFICATE_HEADER", HEADER)],
            "invalid setting `mtls_certificate_header`: is believed only from mtls_proxies",
        ),
        (
            &[
                ("TRUSTID_MTLS", "true"),
                ("TRUSTID_MTLS_CERTIFICATE_HEADER", "bad header"),
                ("TRUSTID_MTLS_PROXIES", "10.0.0.1"),
            ],
            "invalid setting `mtls_certificate_header`: must be an HTTP header name",
        ),
        (
            &[
                ("TRUSTID_MTLS", "true"),
                ("TRUSTID_MTLS_CERTIFICATE_HEADER", HEADER),
                ("TRUSTID_MTLS_PROXIES", "10.0.0.1"),
                ("TRUSTID_MTLS_CA", &junk),
            ],
            "invalid setting `mtls_ca`",
        ),
    ];
    for (env, want) in cases {
        let out = crate::cli::trustid(dir.path(), &["check-config"], env);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && err.contains(want), "{env:?}: {err}");
    }
    let good = [
        ("TRUSTID_MTLS", "true"),
        ("TRUSTID_MTLS_CERTIFICATE_HEADER", HEADER),
        ("TRUSTID_MTLS_PROXIES", "10.0.0.1"),
        ("TRUSTID_MTLS_CA", ca.as_str()),
    ];
    let out = crate::cli::trustid(dir.path(), &["check-config"], &good);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
}

#[tokio::test]
async fn tls_client_auth_without_a_ca_is_refused_at_authentication() {
    use trustid::domain::client::Client;
    let dir = tempfile::tempdir().unwrap();
    let pki = ClientPki::new(dir.path());
    // Certificates come in, but no mtls_ca: only self-signed clients can register.
    let app = spawn_app_with(|s| {
        s.mtls = true;
        s.mtls_certificate_header = Some(HEADER.into());
        s.mtls_proxies = "127.0.0.1".into();
    })
    .await;
    // A client registered while the server had a CA.
    let client = Client {
        id: "pki-client".into(),
        secret_digest: None,
        metadata: tls_client("rp.example.com", false),
        created_at: app.clock_now(),
        updated_at: None,
        disabled_at: None,
    };
    app.store().insert_client(&client).await.unwrap();
    app.user("fay", &[]).await;
    let (own, _) = pki.issue("Bank RP", "rp.example.com");
    let request = [("client_id", "pki-client"), ("scope", "openid"), ("login_hint", "fay")];
    let refused = post(&app, "/bc-authorize", Some(&own), &request).await;
    refused.assert_oauth_error(401, "invalid_client", "no mtls_ca");
    assert!(
        refused.body["error_description"].as_str().unwrap().contains("mtls_ca"),
        "{}",
        refused.body
    );
}
