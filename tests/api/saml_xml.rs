//! trustid's SAML documents checked by real SAML software: the `xmlsec1`
//! command (the verifier most SPs call) and a pysaml2 SP
//! (`tests/saml-sp/sp.py`) configured from trustid's metadata.
//!
//! Without `xmlsec1` or the pysaml2 venv (`TRUSTID_SAML_PYTHON`, default
//! `/var/tmp/trustid-saml-venv/bin/python`) these tests skip with a reason,
//! unless `TRUSTID_REQUIRE_SAML=1` (set by `.ci/run`) makes that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use tempfile::TempDir;
use trustid::crypto::saml_keys::{SamlKeys, generate_pem};
use trustid::crypto::xmldsig::{TrustedCert, XmlDsigError, verify};
use trustid::crypto::xmlenc::RecipientCert;
use trustid::domain::claims::{Evidence, TABLE};
use trustid::saml::xml::assertion::{AssertionFacts, SamlAttribute, attributes};
use trustid::saml::xml::metadata::{IdpMetadata, metadata};
use trustid::saml::xml::name_id::{NameId, NameIdFormat};
use trustid::saml::xml::response::{Signed, success};
use trustid::saml::xml::status::{Failure, StatusFacts, SubStatus, TopStatus, failure};
use trustid::saml::xml::{Built, logout};

const IDP: &str = "https://idp.test/saml";
const SP: &str = "https://sp.test/metadata";
const ACS: &str = "https://sp.test/acs";
const NASTY: &str = "Pay 10 EUR & <b>\"more\"</b> 'now'";

fn required() -> bool {
    std::env::var("TRUSTID_REQUIRE_SAML").as_deref() == Ok("1")
}

fn skip(reason: &str) -> Option<PathBuf> {
    assert!(!required(), "TRUSTID_REQUIRE_SAML=1 but {reason}");
    println!("skipped: {reason}");
    None
}

fn xmlsec1() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("xmlsec1"))
        .find(|p| p.is_file());
    found.or_else(|| skip("xmlsec1 is not installed (apt-get install xmlsec1)"))
}

fn python() -> Option<PathBuf> {
    let path = std::env::var_os("TRUSTID_SAML_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/trustid-saml-venv/bin/python"));
    if path.is_file() && xmlsec1().is_some() {
        return Some(path);
    }
    skip(&format!("no pysaml2 venv at {} (pip install -r tests/saml-sp/requirements.txt)", path.display()))
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn pem_of(der_b64: &str) -> String {
    let lines: Vec<&str> = der_b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

/// trustid's side: a keys directory, its metadata and certificate on disk.
struct Idp {
    dir: TempDir,
    keys: SamlKeys,
}

impl Idp {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let keys = SamlKeys::load(dir.path(), now(), true).unwrap().unwrap();
        let xml = metadata(&IdpMetadata {
            entity_id: IDP,
            sso_url: "https://idp.test/saml/sso",
            slo_url: "https://idp.test/saml/slo",
            signing_certs: keys.published_certs(),
        });
        std::fs::write(dir.path().join("idp.xml"), xml).unwrap();
        std::fs::write(dir.path().join("idp-cert.pem"), pem_of(&keys.published_certs()[0])).unwrap();
        // The SP's own key and certificate, as separate files.
        let sp = String::from_utf8(generate_pem(now()).unwrap()).unwrap();
        let at = sp.find("-----BEGIN CERTIFICATE").unwrap();
        std::fs::write(dir.path().join("sp-key.pem"), &sp[..at]).unwrap();
        std::fs::write(dir.path().join("sp-cert.pem"), &sp[at..]).unwrap();
        Self { dir, keys }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn sp_cert(&self) -> RecipientCert {
        let pem = std::fs::read(self.path("sp-cert.pem")).unwrap();
        let der = openssl::x509::X509::from_pem(&pem).unwrap().to_der().unwrap();
        RecipientCert::from_der(&der).unwrap()
    }

    fn response(&self, signed: Signed, encrypt: bool) -> Built {
        let attrs = every_attribute();
        let facts = facts(&attrs);
        let cert = encrypt.then(|| self.sp_cert());
        success(&facts, signed, self.keys.signer(), cert.as_ref()).unwrap()
    }
}

/// Every row of the claim table, with the values a decided transaction has.
fn every_attribute() -> Vec<SamlAttribute> {
    let evidence: Vec<(Evidence, Value)> = TABLE
        .iter()
        .map(|(e, _, _)| {
            let value = match e {
                Evidence::BindingMessage => json!(NASTY),
                Evidence::TransactionStartTime => json!(1_796_000_000),
                Evidence::TransactionEndTime => json!(1_796_000_042),
                Evidence::DeviceFailedAttempt | Evidence::UserFailedAttempts => json!(1),
                other => json!(format!("{other:?}-value")),
            };
            (*e, value)
        })
        .collect();
    attributes(&evidence).unwrap()
}

fn facts(attrs: &[SamlAttribute]) -> AssertionFacts<'_> {
    AssertionFacts {
        idp_entity_id: IDP,
        sp_entity_id: SP,
        recipient: ACS,
        in_response_to: Some("_req1"),
        name_id: NameId {
            format: NameIdFormat::Persistent,
            value: "pairwise-abc",
        },
        issue_instant: now(),
        lifetime: 300,
        authn_instant: now(),
        session_index: "_session1",
        attributes: attrs,
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

fn xmlsec_verify(idp: &Idp, xml: &str, id_attr: &str, node_id: Option<&str>) -> Output {
    let file = idp.path("signed.xml");
    std::fs::write(&file, xml).unwrap();
    let mut cmd = Command::new(xmlsec1().unwrap());
    cmd.arg("--verify")
        .arg("--pubkey-cert-pem")
        .arg(idp.path("idp-cert.pem"))
        .arg("--id-attr:ID")
        .arg(id_attr)
        .args(["--enabled-reference-uris", "empty,same-doc"]);
    if let Some(id) = node_id {
        cmd.arg("--node-id").arg(id);
    }
    run(cmd.arg(&file))
}

const RESPONSE_ID_ATTR: &str = "urn:oasis:names:tc:SAML:2.0:protocol:Response";
const ASSERTION_ID_ATTR: &str = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion";

/// A one-byte change inside the binding message's value.
fn tamper(xml: &str) -> String {
    xml.replacen("Pay 10 EUR", "Pay 90 EUR", 1)
}

#[test]
fn xmlsec1_verifies_the_response_and_the_assertion_signatures_and_refuses_a_tamper() {
    if xmlsec1().is_none() {
        return;
    }
    let idp = Idp::new();
    let both = idp.response(Signed::Both, false);
    let assertion_id = both.assertion_id.clone().unwrap();
    let ok = xmlsec_verify(&idp, &both.xml, RESPONSE_ID_ATTR, None);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let ok = xmlsec_verify(&idp, &both.xml, ASSERTION_ID_ATTR, Some(&assertion_id));
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let bad = tamper(&both.xml);
    assert_ne!(bad, both.xml);
    assert!(!xmlsec_verify(&idp, &bad, RESPONSE_ID_ATTR, None).status.success());
    assert!(!xmlsec_verify(&idp, &bad, ASSERTION_ID_ATTR, Some(&assertion_id)).status.success());
}

#[test]
fn xmlsec1_verifies_the_failure_and_logout_responses() {
    if xmlsec1().is_none() {
        return;
    }
    let idp = Idp::new();
    let head = StatusFacts {
        idp_entity_id: IDP,
        destination: ACS,
        in_response_to: Some("_req1"),
        issue_instant: now(),
    };
    let denied = Failure {
        top: TopStatus::Responder,
        second: SubStatus::AuthnFailed,
        message: Some(NASTY),
    };
    let failed = failure(&head, &denied, idp.keys.signer()).unwrap();
    assert!(!failed.xml.contains("Assertion"), "a failure carries no assertion");
    assert!(failed.xml.contains("urn:oasis:names:tc:SAML:2.0:status:AuthnFailed"));
    let ok = xmlsec_verify(&idp, &failed.xml, RESPONSE_ID_ATTR, None);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    let out = logout::logout_response_post(&head, idp.keys.signer()).unwrap();
    let ok = xmlsec_verify(&idp, &out.xml, "urn:oasis:names:tc:SAML:2.0:protocol:LogoutResponse", None);
    assert!(ok.status.success(), "{}", String::from_utf8_lossy(&ok.stderr));
    assert!(!xmlsec_verify(&idp, &tamper(&failed.xml.replace("AuthnFailed", "AuthnFailee")), RESPONSE_ID_ATTR, None).status.success());
}

/// Runs the pysaml2 SP's `parse` on `xml`; `Ok(json)` or `Err(stderr)`.
fn sp_parse(idp: &Idp, xml: &str, entity_id: &str, want: Signed) -> Result<Value, String> {
    let file = idp.path("response.b64");
    std::fs::write(&file, STANDARD.encode(xml)).unwrap();
    let (response, assertions) = match want {
        Signed::Response => ("yes", "no"),
        Signed::Assertion => ("no", "yes"),
        Signed::Both => ("yes", "yes"),
    };
    let out = run(Command::new(python().unwrap())
        .arg(sp_script())
        .arg("parse")
        .arg("--idp-metadata")
        .arg(idp.path("idp.xml"))
        .args(["--entity-id", entity_id, "--acs", ACS, "--in-response-to", "_req1"])
        .arg("--key")
        .arg(idp.path("sp-key.pem"))
        .arg("--cert")
        .arg(idp.path("sp-cert.pem"))
        .arg("--response-file")
        .arg(&file)
        .args(["--want-response-signed", response, "--want-assertions-signed", assertions]));
    if out.status.success() {
        Ok(serde_json::from_slice(&out.stdout).unwrap())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

fn sp_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/saml-sp/sp.py")
}

fn assert_every_attribute(parsed: &Value) {
    for a in every_attribute() {
        assert_eq!(parsed["attributes"][a.name], json!([a.value]), "{}: {parsed}", a.name);
    }
    assert_eq!(parsed["attributes"]["TRUST.BINDING_MESSAGE"], json!([NASTY]));
    assert_eq!(
        parsed["attributes"]["TRUSTID.TRANSACTION_START_TIME"],
        json!(["2026-11-30T00:53:20Z"])
    );
    assert_eq!(parsed["name_id"], "pairwise-abc");
    assert_eq!(parsed["issuer"], IDP);
}

#[test]
fn pysaml2_accepts_each_signing_choice_and_reads_every_attribute_back() {
    if python().is_none() {
        return;
    }
    let idp = Idp::new();
    for signed in [Signed::Response, Signed::Assertion, Signed::Both] {
        let built = idp.response(signed, false);
        let parsed = sp_parse(&idp, &built.xml, SP, signed).unwrap_or_else(|e| panic!("{signed:?}: {e}"));
        assert_every_attribute(&parsed);
    }
}

#[test]
fn pysaml2_decrypts_an_encrypted_assertion() {
    if python().is_none() {
        return;
    }
    let idp = Idp::new();
    for signed in [Signed::Response, Signed::Both] {
        let built = idp.response(signed, true);
        assert!(built.xml.contains("EncryptedAssertion") && !built.xml.contains("Pay 10"));
        let parsed = sp_parse(&idp, &built.xml, SP, signed).unwrap_or_else(|e| panic!("{signed:?}: {e}"));
        assert_every_attribute(&parsed);
    }
}

#[test]
fn pysaml2_refuses_a_tamper_a_wrong_audience_and_a_failure() {
    if python().is_none() {
        return;
    }
    let idp = Idp::new();
    let built = idp.response(Signed::Response, false);
    sp_parse(&idp, &built.xml, SP, Signed::Response).expect("the untouched response is accepted");
    let err = sp_parse(&idp, &tamper(&built.xml), SP, Signed::Response).unwrap_err();
    assert!(err.contains("refused: SignatureError"), "{err}");
    let err = sp_parse(&idp, &built.xml, "https://other-sp.test/metadata", Signed::Response).unwrap_err();
    assert!(err.contains("AudienceRestrictions conditions not satisfied"), "{err}");
    let head = StatusFacts {
        idp_entity_id: IDP,
        destination: ACS,
        in_response_to: Some("_req1"),
        issue_instant: now(),
    };
    let denied = Failure {
        top: TopStatus::Responder,
        second: SubStatus::RequestDenied,
        message: None,
    };
    let failed = failure(&head, &denied, idp.keys.signer()).unwrap();
    let err = sp_parse(&idp, &failed.xml, SP, Signed::Response).unwrap_err();
    assert!(err.contains("refused: StatusRequestDenied"), "{err}");
}

#[test]
fn pysaml2_builds_authn_requests_for_both_bindings_and_its_signatures_verify_here() {
    if python().is_none() {
        return;
    }
    let idp = Idp::new();
    let sp_cert = {
        let pem = std::fs::read(idp.path("sp-cert.pem")).unwrap();
        openssl::x509::X509::from_pem(&pem).unwrap().to_der().unwrap()
    };
    let cases = [
        ("redirect", false, "sha256"),
        ("redirect", true, "sha256"),
        ("post", false, "sha256"),
        ("post", true, "sha256"),
        ("post", true, "sha1"),
    ];
    for (binding, sign, alg) in cases {
        let mut cmd = Command::new(python().unwrap());
        cmd.arg(sp_script())
            .arg("authn")
            .arg("--idp-metadata")
            .arg(idp.path("idp.xml"))
            .args(["--entity-id", SP, "--acs", ACS, "--binding", binding, "--sig-alg", alg])
            .arg("--key")
            .arg(idp.path("sp-key.pem"))
            .arg("--cert")
            .arg(idp.path("sp-cert.pem"));
        if sign {
            cmd.arg("--sign");
        }
        let out = run(&mut cmd);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let made: Value = serde_json::from_slice(&out.stdout).unwrap();
        let id = made["request_id"].as_str().unwrap();
        assert!(id.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'), "{id}");
        let url = made["url"].as_str().unwrap();
        assert!(url.starts_with("https://idp.test/saml/sso"), "{url}");
        if binding == "redirect" {
            assert!(url.contains("SAMLRequest=") && url.contains("RelayState=rs-1"), "{url}");
            assert_eq!(url.contains("Signature="), sign, "{url}");
        } else {
            let xml = String::from_utf8(STANDARD.decode(made["form"]["SAMLRequest"].as_str().unwrap()).unwrap()).unwrap();
            assert!(xml.contains(id), "{xml}");
            let trusted = TrustedCert::from_der(&sp_cert).unwrap();
            match (sign, alg) {
                (false, _) => assert_eq!(verify(&xml, &trusted), Err(XmlDsigError::Unsigned)),
                (true, "sha1") => assert_eq!(
                    verify(&xml, &trusted),
                    Err(XmlDsigError::Profile("signature algorithm not allowed")),
                    "pysaml2's RSA-SHA1 default is refused"
                ),
                (true, _) => {
                    // A real SP's enveloped signature passes trustid's verifier.
                    let signed = verify(&xml, &trusted).unwrap();
                    assert_eq!(signed.id, id);
                    assert_eq!(signed.name, "AuthnRequest");
                    let other = TrustedCert::from_der(&STANDARD.decode(&idp.keys.published_certs()[0]).unwrap()).unwrap();
                    assert_eq!(verify(&xml, &other), Err(XmlDsigError::BadSignature), "only the SP's certificate");
                }
            }
        }
    }
}
