//! trustid's SAML documents checked by real SAML software: the `xmlsec1`
//! command (the verifier most SPs call) and a pysaml2 SP
//! (`tests/saml-sp/sp.py`) configured from trustid's metadata.
//!
//! Without `xmlsec1` or the pysaml2 venv (`TRUSTID_SAML_PYTHON`, default
//! `/var/tmp/trustid-saml-venv/bin/python`) these tests skip with a reason,
//! unless `TRUSTID_REQUIRE_SAML=1` (set by `.ci/run`) makes that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod pysaml2;
mod xmlsec1;

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
use trustid::domain::saml_sp::SignedParts;
use trustid::saml::xml::assertion::{AssertionFacts, SamlAttribute, attributes};
use trustid::saml::xml::metadata::{IdpMetadata, metadata};
use trustid::saml::xml::name_id::{NameId, NameIdFormat};
use trustid::saml::xml::response::success;
use trustid::saml::xml::status::{Failure, StatusFacts, SubStatus, TopStatus, failure};
use trustid::saml::xml::{Built, logout};

pub(super) const IDP: &str = "https://idp.test/saml";
pub(super) const SP: &str = "https://sp.test/metadata";
pub(super) const ACS: &str = "https://sp.test/acs";
pub(super) const NASTY: &str = "Pay 10 EUR & <b>\"more\"</b> 'now'";

pub(super) fn required() -> bool {
    std::env::var("TRUSTID_REQUIRE_SAML").as_deref() == Ok("1")
}

pub(super) fn skip(reason: &str) -> Option<PathBuf> {
    assert!(!required(), "TRUSTID_REQUIRE_SAML=1 but {reason}");
    println!("skipped: {reason}");
    None
}

pub(super) fn xmlsec1() -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("xmlsec1"))
        .find(|p| p.is_file());
    found.or_else(|| skip("xmlsec1 is not installed (apt-get install xmlsec1)"))
}

pub(super) fn python() -> Option<PathBuf> {
    let path = std::env::var_os("TRUSTID_SAML_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/tmp/trustid-saml-venv/bin/python"));
    if path.is_file() && xmlsec1().is_some() {
        return Some(path);
    }
    skip(&format!(
        "no pysaml2 venv at {} (pip install -r tests/saml-sp/requirements.txt)",
        path.display()
    ))
}

/// The head of a status Response answering request `_req1` at the SP's ACS.
pub(super) fn status_head() -> StatusFacts<'static> {
    StatusFacts {
        idp_entity_id: IDP,
        destination: ACS,
        in_response_to: Some("_req1"),
        issue_instant: now(),
    }
}

pub(super) fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

pub(super) fn pem_of(der_b64: &str) -> String {
    let lines: Vec<&str> = der_b64
        .as_bytes()
        .chunks(64)
        .map(|c| std::str::from_utf8(c).unwrap())
        .collect();
    format!(
        "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
        lines.join("\n")
    )
}

/// trustid's side: a keys directory, its metadata and certificate on disk.
pub(super) struct Idp {
    dir: TempDir,
    pub(super) keys: SamlKeys,
}

impl Idp {
    pub(super) fn new() -> Self {
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

    pub(super) fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    pub(super) fn sp_cert(&self) -> RecipientCert {
        let pem = std::fs::read(self.path("sp-cert.pem")).unwrap();
        let der = openssl::x509::X509::from_pem(&pem).unwrap().to_der().unwrap();
        RecipientCert::from_der(&der).unwrap()
    }

    pub(super) fn response(&self, signed: SignedParts, encrypt: bool) -> Built {
        let attrs = every_attribute();
        let facts = facts(&attrs);
        let cert = encrypt.then(|| self.sp_cert());
        success(&facts, signed, self.keys.signer(), cert.as_ref()).unwrap()
    }
}

/// Every row of the claim table, with the values a decided transaction has.
pub(super) fn every_attribute() -> Vec<SamlAttribute> {
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

pub(super) fn facts(attrs: &[SamlAttribute]) -> AssertionFacts<'_> {
    AssertionFacts {
        idp_entity_id: IDP,
        sp_entity_id: SP,
        recipient: Some(ACS),
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

pub(super) fn run(cmd: &mut Command) -> Output {
    cmd.output().unwrap()
}

pub(super) fn xmlsec_verify(idp: &Idp, xml: &str, id_attr: &str, node_id: Option<&str>) -> Output {
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

pub(super) const RESPONSE_ID_ATTR: &str = "urn:oasis:names:tc:SAML:2.0:protocol:Response";
pub(super) const ASSERTION_ID_ATTR: &str = "urn:oasis:names:tc:SAML:2.0:assertion:Assertion";

/// A one-byte change inside the binding message's value.
pub(super) fn tamper(xml: &str) -> String {
    xml.replacen("Pay 10 EUR", "Pay 90 EUR", 1)
}
