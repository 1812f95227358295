//! `trustid saml sps add|list|remove|import` as an operator uses them: what
//! is registered, and every refusal a message, a non-zero exit and nothing
//! stored.

use std::path::{Path, PathBuf};

use openssl::ec::{EcGroup, EcKey};
use openssl::nid::Nid;
use openssl::pkey::PKey;
use serde_json::Value;

use crate::cli::{json_of, trustid};

/// The SP metadata pysaml2 7.5.5 wrote, and its certificate.
fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("src/saml/request/tests/fixtures")
        .join(name)
}

fn listed(dir: &Path) -> Vec<Value> {
    json_of(&trustid(dir, &["saml", "sps", "list", "--json"], &[]))
        .as_array()
        .unwrap()
        .clone()
}

/// A self-signed certificate over a P-256 key: fit to sign, not to encrypt.
fn ec_cert_file(dir: &Path) -> PathBuf {
    let key =
        PKey::from_ec_key(EcKey::generate(&EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap()).unwrap();
    let mut name = openssl::x509::X509NameBuilder::new().unwrap();
    name.append_entry_by_text("CN", "sp").unwrap();
    let name = name.build();
    let mut b = openssl::x509::X509::builder().unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_issuer_name(&name).unwrap();
    b.set_pubkey(&key).unwrap();
    b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
        .unwrap();
    b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(1).unwrap())
        .unwrap();
    b.sign(&key, openssl::hash::MessageDigest::sha256()).unwrap();
    let file = dir.join("ec.pem");
    std::fs::write(&file, b.build().to_pem().unwrap()).unwrap();
    file
}

#[test]
fn saml_sps_add_list_and_remove_an_sp() {
    let dir = tempfile::tempdir().unwrap();
    let cert = fixture("pysaml2_sp_cert.pem");
    let cert = cert.to_str().unwrap();
    let args = [
        "saml",
        "sps",
        "add",
        "--entity-id",
        "https://portal.example.com/sp",
        "--acs",
        "https://portal.example.com/acs",
        "--acs",
        "https://portal.example.com/acs2",
        "--name",
        "Portal",
        "--signing-cert",
        cert,
        "--encryption-cert",
        cert,
        "--name-id-format",
        "emailAddress",
        "--attributes",
        "TRUSTID.USERID,TRUSTID.DEVICEID",
        "--sign",
        "both",
        "--idp-initiated",
        "--relay-state",
        "/home",
        "--app-id",
        "bank",
        "--json",
    ];
    let sp = json_of(&trustid(dir.path(), &args, &[]));
    assert_eq!(sp["entity_id"], "https://portal.example.com/sp");
    assert_eq!(sp["display_name"], "Portal");
    assert_eq!(sp["acs"][1]["url"], "https://portal.example.com/acs2");
    assert_eq!(sp["acs"][1]["index"], 1);
    assert_eq!(sp["acs"][0]["is_default"], true);
    assert!(sp["signing_cert"].as_str().unwrap().starts_with("MII"));
    assert_eq!(sp["encryption_cert"], sp["signing_cert"]);
    assert_eq!(sp["name_id_format"], "emailAddress");
    assert_eq!(
        sp["attributes"],
        serde_json::json!(["TRUSTID.USERID", "TRUSTID.DEVICEID"])
    );
    assert_eq!(sp["sign"], "both");
    assert_eq!(
        (sp["idp_initiated"].as_bool(), sp["default_relay_state"].as_str()),
        (Some(true), Some("/home"))
    );
    assert_eq!(sp["app_id"], "bank");
    assert_eq!(sp["id"].as_str().unwrap().len(), 22);

    let plain = trustid(
        dir.path(),
        &[
            "saml",
            "sps",
            "add",
            "--entity-id",
            "urn:sp:b",
            "--acs",
            "https://b.example.com/acs",
        ],
        &[],
    );
    assert!(String::from_utf8_lossy(&plain.stdout).contains("SAML SP urn:sp:b registered"));
    let all = listed(dir.path());
    assert_eq!(all.len(), 2);
    assert_eq!(all[0], sp, "list shows what add stored");
    assert_eq!(all[1]["sign"], "response", "the default");
    let table = String::from_utf8_lossy(&trustid(dir.path(), &["saml", "sps", "list"], &[]).stdout).into_owned();
    assert!(
        table
            .lines()
            .any(|l| l.starts_with("urn:sp:b\turn:sp:b\thttps://b.example.com/acs\tno\tresponse\tpersistent")),
        "{table}"
    );

    let removed = trustid(dir.path(), &["saml", "sps", "remove", "urn:sp:b"], &[]);
    assert!(removed.status.success());
    assert_eq!(listed(dir.path()).len(), 1);
}

#[test]
fn saml_sps_import_reads_sp_metadata_and_takes_overrides() {
    let dir = tempfile::tempdir().unwrap();
    let metadata = fixture("pysaml2_sp_metadata.xml");
    let metadata = metadata.to_str().unwrap();
    let sp = json_of(&trustid(
        dir.path(),
        &["saml", "sps", "import", metadata, "--json"],
        &[],
    ));
    assert_eq!(sp["entity_id"], "https://sp.example.com/metadata");
    assert_eq!(sp["display_name"], "Example Portal");
    assert_eq!(sp["acs"][0]["url"], "https://sp.example.com/acs");
    let cert = std::fs::read_to_string(fixture("pysaml2_sp_cert.pem")).unwrap();
    let b64: String = cert.lines().filter(|l| !l.starts_with("-----")).collect();
    assert_eq!(sp["signing_cert"], b64.as_str());
    assert_eq!(sp["encryption_cert"], b64.as_str());

    let args = [
        "saml",
        "sps",
        "import",
        metadata,
        "--entity-id",
        "urn:sp:copy",
        "--name",
        "Copy",
        "--acs",
        "http://127.0.0.1:9/acs",
        "--sign",
        "assertion",
        "--json",
    ];
    let copy = json_of(&trustid(dir.path(), &args, &[("TRUSTID_DEV", "true")]));
    assert_eq!(
        (
            &copy["entity_id"],
            &copy["display_name"],
            &copy["acs"][0]["url"],
            &copy["sign"]
        ),
        (
            &"urn:sp:copy".into(),
            &"Copy".into(),
            &"http://127.0.0.1:9/acs".into(),
            &"assertion".into()
        )
    );
    assert_eq!(
        copy["acs"].as_array().unwrap().len(),
        1,
        "--acs replaces the metadata's"
    );
    assert_eq!(listed(dir.path()).len(), 2);
}

/// `saml sps add --entity-id urn:sp:x` and `extra`.
fn add<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["saml", "sps", "add", "--entity-id", "urn:sp:x"];
    v.extend_from_slice(extra);
    v
}

/// As [`add`], with a valid ACS.
fn with_acs<'a>(extra: &[&'a str]) -> Vec<&'a str> {
    add(&[&["--acs", "https://sp.example.com/acs"], extra].concat())
}

#[test]
fn saml_sps_refuse_bad_input_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let garbage = d.join("garbage.pem");
    std::fs::write(&garbage, "not a certificate").unwrap();
    let ec = ec_cert_file(d);
    let idp = d.join("idp.xml");
    std::fs::write(
        &idp,
        r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example.com"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>"#,
    )
    .unwrap();
    let doctype = d.join("doctype.xml");
    let pysaml2 = std::fs::read_to_string(fixture("pysaml2_sp_metadata.xml")).unwrap();
    std::fs::write(&doctype, format!("<!DOCTYPE x>{pysaml2}")).unwrap();
    let (garbage, ec, idp, doctype) = (
        garbage.to_str().unwrap(),
        ec.to_str().unwrap(),
        idp.to_str().unwrap(),
        doctype.to_str().unwrap(),
    );
    let long = "x".repeat(81);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (add(&[]), "at least one --acs"),
        (add(&["--acs", "http://sp.example.com/acs"]), "https"),
        (add(&["--acs", "http://127.0.0.1:9/acs"]), "https"),
        (add(&["--acs", "not a url"]), "not a URL"),
        (
            vec![
                "saml",
                "sps",
                "add",
                "--entity-id",
                "a b",
                "--acs",
                "https://sp.example.com/acs",
            ],
            "--entity-id",
        ),
        (
            with_acs(&["--attributes", "TRUSTID.USERID,TRUSTID.NOPE"]),
            "unknown attribute `TRUSTID.NOPE`",
        ),
        (with_acs(&["--name-id-format", "email"]), "unknown NameID format"),
        (with_acs(&["--sign", "everything"]), "unknown signed part"),
        (with_acs(&["--relay-state", "/home"]), "--idp-initiated"),
        (
            with_acs(&["--idp-initiated", "--relay-state", long.as_str()]),
            "RelayState",
        ),
        (with_acs(&["--signing-cert", "/nonexistent/cert.pem"]), "cannot read"),
        (with_acs(&["--signing-cert", garbage]), "the certificate"),
        (with_acs(&["--encryption-cert", ec]), "RSA key"),
        (with_acs(&["--app-id", ""]), "app id"),
        (with_acs(&["--name", " "]), "display name"),
        (vec!["saml", "sps", "import", "/nonexistent/md.xml"], "cannot read"),
        (vec!["saml", "sps", "import", idp], "no SPSSODescriptor"),
        (vec!["saml", "sps", "import", doctype], "DOCTYPE"),
        (
            vec!["saml", "sps", "remove", "urn:sp:none"],
            "no SP with entity ID `urn:sp:none`",
        ),
    ];
    for (args, message) in cases {
        let out = trustid(d, &args, &[]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{args:?}");
        assert!(stderr.contains(message), "{args:?}: {stderr}");
        assert!(listed(d).is_empty(), "{args:?} stored nothing");
    }
    // A taken entity ID: the second add is refused, the first stays as it was.
    assert!(trustid(d, &with_acs(&["--name", "First"]), &[]).status.success());
    let dup = trustid(d, &with_acs(&["--name", "Second"]), &[]);
    assert!(!dup.status.success());
    assert!(String::from_utf8_lossy(&dup.stderr).contains("already registered"));
    let all = listed(d);
    assert_eq!((all.len(), &all[0]["display_name"]), (1, &"First".into()));
}
