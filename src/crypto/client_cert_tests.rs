#![allow(clippy::unwrap_used)]

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::BigNum;
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{BasicConstraints, ExtendedKeyUsage, SubjectAlternativeName};
use openssl::x509::{X509, X509NameBuilder};
use serde_json::json;

use super::*;

fn key() -> PKey<Private> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap();
    PKey::from_ec_key(EcKey::generate(&group).unwrap()).unwrap()
}

struct Spec<'a> {
    subject: &'a [(&'a str, &'a str)],
    days: (u32, u32),
    ca: bool,
    client_usage: bool,
}

fn certificate(spec: &Spec<'_>, key: &PKey<Private>, issuer: Option<(&X509, &PKey<Private>)>) -> X509 {
    let mut name = X509NameBuilder::new().unwrap();
    for (kind, value) in spec.subject {
        name.append_entry_by_text(kind, value).unwrap();
    }
    let name = name.build();
    let mut b = X509::builder().unwrap();
    b.set_version(2).unwrap();
    b.set_serial_number(&Asn1Integer::from_bn(&BigNum::from_u32(7).unwrap()).unwrap())
        .unwrap();
    b.set_subject_name(&name).unwrap();
    b.set_pubkey(key).unwrap();
    b.set_not_before(&Asn1Time::days_from_now(spec.days.0).unwrap())
        .unwrap();
    b.set_not_after(&Asn1Time::days_from_now(spec.days.1).unwrap()).unwrap();
    if spec.ca {
        b.append_extension(BasicConstraints::new().critical().ca().build().unwrap())
            .unwrap();
    }
    let (issuer_name, signer) = match issuer {
        Some((ca, ca_key)) => (ca.subject_name().to_owned().unwrap(), ca_key),
        None => (name.as_ref().to_owned().unwrap(), key),
    };
    b.set_issuer_name(&issuer_name).unwrap();
    if !spec.ca {
        let san = SubjectAlternativeName::new()
            .dns("rp.example.com")
            .uri("https://rp.example.com/id")
            .ip("192.0.2.7")
            .email("ops@rp.example.com")
            .build(&b.x509v3_context(issuer.map(|i| i.0.as_ref()), None))
            .unwrap();
        b.append_extension(san).unwrap();
        let mut usage = ExtendedKeyUsage::new();
        match spec.client_usage {
            true => usage.client_auth(),
            false => usage.server_auth(),
        };
        b.append_extension(usage.build().unwrap()).unwrap();
    }
    b.sign(signer, MessageDigest::sha256()).unwrap();
    b.build()
}

const RP: &[(&str, &str)] = &[("C", "SE"), ("O", "Example Bank"), ("CN", "Bank RP")];

fn leaf_spec() -> Spec<'static> {
    Spec {
        subject: RP,
        days: (0, 30),
        ca: false,
        client_usage: true,
    }
}

struct Pki {
    ca: ClientCa,
    ca_cert: X509,
    ca_key: PKey<Private>,
}

fn pki() -> Pki {
    let ca_key = key();
    let ca_spec = Spec {
        subject: &[("CN", "RP CA")],
        days: (0, 365),
        ca: true,
        client_usage: false,
    };
    let ca_cert = certificate(&ca_spec, &ca_key, None);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ca.pem");
    std::fs::write(&path, ca_cert.to_pem().unwrap()).unwrap();
    Pki {
        ca: ClientCa::load(&path).unwrap(),
        ca_cert,
        ca_key,
    }
}

fn chain(certs: &[&X509]) -> CertificateChain {
    CertificateChain::new(certs.iter().map(|c| c.to_der().unwrap()).collect()).unwrap()
}

#[test]
fn a_certificate_from_the_ca_proves_the_client_by_each_registered_name() {
    let pki = pki();
    let leaf = certificate(&leaf_spec(), &key(), Some((&pki.ca_cert, &pki.ca_key)));
    let presented = chain(&[&leaf]);
    for subject in [
        TlsSubject::Dn("CN=bank rp,O=Example Bank,C=SE"),
        TlsSubject::SanDns("RP.example.com"),
        TlsSubject::SanUri("https://rp.example.com/id"),
        TlsSubject::SanIp("192.0.2.7"),
        TlsSubject::SanEmail("ops@rp.example.com"),
    ] {
        assert_eq!(pki.ca.verify(&presented, subject), Ok(()), "{subject:?}");
    }
    for subject in [
        TlsSubject::Dn("CN=Bank RP,O=Other Bank,C=SE"),
        TlsSubject::SanDns("other.example.com"),
        TlsSubject::SanUri("https://rp.example.com/other"),
        TlsSubject::SanIp("192.0.2.8"),
        TlsSubject::SanEmail("root@rp.example.com"),
    ] {
        assert_eq!(pki.ca.verify(&presented, subject), Err(Refused::Subject), "{subject:?}");
    }
    assert_eq!(
        subject_dn(&leaf).map(|dn| dn.to_string()).as_deref(),
        Some("CN=Bank RP,O=Example Bank,C=SE")
    );
    assert_eq!(
        pki.ca.verify(&presented, TlsSubject::SanEmail("ops@RP.EXAMPLE.COM")),
        Ok(()),
        "a mail domain in any case"
    );
    assert_eq!(
        pki.ca.verify(&presented, TlsSubject::SanEmail("OPS@rp.example.com")),
        Err(Refused::Subject),
        "the local part exactly"
    );
}

#[test]
fn certificates_the_ca_did_not_issue_for_a_client_now_are_refused() {
    let pki = pki();
    let stranger = pki_stranger();
    let dn = TlsSubject::SanDns("rp.example.com");
    let expired = Spec {
        days: (0, 0),
        ..leaf_spec()
    };
    let not_yet = Spec {
        days: (2, 30),
        ..leaf_spec()
    };
    let server_only = Spec {
        client_usage: false,
        ..leaf_spec()
    };
    for (spec, issuer, why) in [
        (leaf_spec(), (&stranger.0, &stranger.1), "another CA"),
        (not_yet, (&pki.ca_cert, &pki.ca_key), "not valid yet"),
        (server_only, (&pki.ca_cert, &pki.ca_key), "issued for servers only"),
    ] {
        let leaf = certificate(&spec, &key(), Some(issuer));
        let refused = pki.ca.verify(&chain(&[&leaf]), dn);
        assert!(matches!(refused, Err(Refused::Chain(_))), "{why}: {refused:?}");
    }
    // Both bounds now: expired a moment after it is made.
    let leaf = certificate(&expired, &key(), Some((&pki.ca_cert, &pki.ca_key)));
    std::thread::sleep(std::time::Duration::from_millis(1100));
    assert!(
        matches!(pki.ca.verify(&chain(&[&leaf]), dn), Err(Refused::Chain(_))),
        "expired"
    );
    let own = key();
    let self_signed = certificate(&leaf_spec(), &own, None);
    assert!(matches!(
        pki.ca.verify(&chain(&[&self_signed]), dn),
        Err(Refused::Chain(_))
    ));
    let garbage = CertificateChain::new(vec![b"not DER".to_vec()]).unwrap();
    assert_eq!(pki.ca.verify(&garbage, dn), Err(Refused::Unreadable));
}

fn pki_stranger() -> (X509, PKey<Private>) {
    let key = key();
    let spec = Spec {
        subject: &[("CN", "RP CA")],
        days: (0, 365),
        ca: true,
        client_usage: false,
    };
    (certificate(&spec, &key, None), key)
}

#[test]
fn an_intermediate_sent_with_the_leaf_completes_the_chain() {
    let pki = pki();
    let intermediate_key = key();
    let intermediate_spec = Spec {
        subject: &[("CN", "RP issuing CA")],
        days: (0, 365),
        ca: true,
        client_usage: false,
    };
    let intermediate = certificate(&intermediate_spec, &intermediate_key, Some((&pki.ca_cert, &pki.ca_key)));
    let leaf = certificate(&leaf_spec(), &key(), Some((&intermediate, &intermediate_key)));
    let dn = TlsSubject::SanDns("rp.example.com");
    assert_eq!(pki.ca.verify(&chain(&[&leaf, &intermediate]), dn), Ok(()));
    assert!(matches!(pki.ca.verify(&chain(&[&leaf]), dn), Err(Refused::Chain(_))));
}

#[test]
fn a_self_signed_certificate_is_found_in_the_jwks_by_its_x5c() {
    let own = key();
    let leaf = certificate(&leaf_spec(), &own, None);
    let presented = chain(&[&leaf]);
    let x5c = STANDARD.encode(leaf.to_der().unwrap());
    let other = STANDARD.encode(certificate(&leaf_spec(), &key(), None).to_der().unwrap());
    assert!(presented.is_in_jwks(&json!({"keys": [{"kty": "EC", "x5c": [other]}, {"kty": "EC", "x5c": [x5c]}]})));
    assert!(!presented.is_in_jwks(&json!({"keys": [{"kty": "EC", "x5c": [other]}]})));
    assert!(!presented.is_in_jwks(&json!({"keys": [{"kty": "EC"}]})));
    assert!(!presented.is_in_jwks(&json!({"nope": 1})));
    let thumbprint = presented.thumbprint();
    assert_eq!(thumbprint.len(), 43, "base64url of 32 bytes, unpadded");
    assert_ne!(
        thumbprint,
        chain(&[&certificate(&leaf_spec(), &key(), None)]).thumbprint()
    );
}

#[test]
fn subjects_with_types_openssl_names_and_multi_valued_rdns_read_as_rfc_4514() {
    let pki = pki();
    let subject: &[(&str, &str)] = &[
        ("C", "SE"),
        ("organizationIdentifier", "PSDSE-FINA-44059"),
        ("CN", "Bank RP"),
    ];
    let spec = Spec { subject, ..leaf_spec() };
    let leaf = certificate(&spec, &key(), Some((&pki.ca_cert, &pki.ca_key)));
    let presented = chain(&[&leaf]);
    let registered = TlsSubject::Dn("CN=Bank RP,2.5.4.97=PSDSE-FINA-44059,C=SE");
    assert_eq!(pki.ca.verify(&presented, registered), Ok(()));
    assert_eq!(
        pki.ca.verify(
            &presented,
            TlsSubject::Dn("CN=Bank RP,OrganizationIdentifier=psdse-fina-44059,C=SE")
        ),
        Ok(())
    );

    // CN and UID in one RDN, built by hand (OpenSSL's builder makes one
    // RDN per attribute).
    let tlv = |tag: u8, body: &[u8]| [&[tag, u8::try_from(body.len()).unwrap()][..], body].concat();
    let pair = |oid: &[u8], value: &str| tlv(0x30, &[tlv(0x06, oid), tlv(0x0c, value.as_bytes())].concat());
    let (o, cn, uid) = (
        [0x55, 0x04, 0x0a],
        [0x55, 0x04, 0x03],
        [0x09, 0x92, 0x26, 0x89, 0x93, 0xf2, 0x2c, 0x64, 0x01, 0x01],
    );
    let der = tlv(
        0x30,
        &[
            tlv(0x31, &pair(&o, "Bank")),
            tlv(0x31, &[pair(&cn, "rp"), pair(&uid, "42")].concat()),
        ]
        .concat(),
    );
    let parsed = crate::crypto::x509_name::parse(&der).unwrap();
    assert_eq!(parsed.to_string(), "CN=rp+UID=42,O=Bank");
    assert!(parsed.matches(&DistinguishedName::parse("UID=42+CN=rp,O=Bank").unwrap()));
    assert!(!parsed.matches(&DistinguishedName::parse("UID=42,CN=rp,O=Bank").unwrap()));
}
