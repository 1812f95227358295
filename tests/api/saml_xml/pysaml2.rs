//! A real pysaml2 SP (`tests/saml-sp/sp.py`) against trustid's documents,
//! and trustid's verifier against the SP's signed AuthnRequests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;

/// Runs the pysaml2 SP's `parse` on `xml`; `Ok(json)` or `Err(stderr)`.
fn sp_parse(idp: &Idp, xml: &str, entity_id: &str, want: SignedParts) -> Result<Value, String> {
    sp_parse_for(idp, xml, entity_id, want, Some("_req1"))
}

/// As [`sp_parse`]; `request: None` is an SP that allows unsolicited Responses.
fn sp_parse_for(
    idp: &Idp,
    xml: &str,
    entity_id: &str,
    want: SignedParts,
    request: Option<&str>,
) -> Result<Value, String> {
    let file = idp.path("response.b64");
    std::fs::write(&file, STANDARD.encode(xml)).unwrap();
    let (response, assertions) = match want {
        SignedParts::Response => ("yes", "no"),
        SignedParts::Assertion => ("no", "yes"),
        SignedParts::Both => ("yes", "yes"),
    };
    let out = run(Command::new(python().unwrap())
        .arg(sp_script())
        .arg("parse")
        .arg("--idp-metadata")
        .arg(idp.path("idp.xml"))
        .args(["--entity-id", entity_id, "--acs", ACS])
        .args(request.map(|r| ["--in-response-to", r]).into_iter().flatten())
        .arg("--key")
        .arg(idp.path("sp-key.pem"))
        .arg("--cert")
        .arg(idp.path("sp-cert.pem"))
        .arg("--response-file")
        .arg(&file)
        .args([
            "--want-response-signed",
            response,
            "--want-assertions-signed",
            assertions,
        ]));
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
    for signed in [SignedParts::Response, SignedParts::Assertion, SignedParts::Both] {
        let built = idp.response(signed, false);
        let parsed = sp_parse(&idp, &built.xml, SP, signed).unwrap_or_else(|e| panic!("{signed:?}: {e}"));
        assert_every_attribute(&parsed);
    }
}

#[test]
fn pysaml2_accepts_an_idp_initiated_response_only_where_unsolicited_ones_are_allowed() {
    if python().is_none() {
        return;
    }
    let idp = Idp::new();
    let attrs = every_attribute();
    let unsolicited = AssertionFacts {
        in_response_to: None,
        ..facts(&attrs)
    };
    let built = success(&unsolicited, SignedParts::Response, idp.keys.signer(), None).unwrap();
    let parsed = sp_parse_for(&idp, &built.xml, SP, SignedParts::Response, None).unwrap();
    assert_every_attribute(&parsed);
    let err = sp_parse(&idp, &built.xml, SP, SignedParts::Response).unwrap_err();
    assert!(
        err.contains("refused: UnsolicitedResponse"),
        "an SP waiting for _req1 takes no unsolicited Response: {err}"
    );
}

#[test]
fn pysaml2_decrypts_an_encrypted_assertion() {
    if python().is_none() {
        return;
    }
    let idp = Idp::new();
    for signed in [SignedParts::Response, SignedParts::Both] {
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
    let built = idp.response(SignedParts::Response, false);
    sp_parse(&idp, &built.xml, SP, SignedParts::Response).expect("the untouched response is accepted");
    let err = sp_parse(&idp, &tamper(&built.xml), SP, SignedParts::Response).unwrap_err();
    assert!(err.contains("refused: SignatureError"), "{err}");
    let err = sp_parse(
        &idp,
        &built.xml,
        "https://other-sp.test/metadata",
        SignedParts::Response,
    )
    .unwrap_err();
    assert!(err.contains("AudienceRestrictions conditions not satisfied"), "{err}");
    let head = status_head();
    let denied = Failure {
        top: TopStatus::Responder,
        second: SubStatus::RequestDenied,
        message: None,
    };
    let failed = failure(&head, &denied, idp.keys.signer()).unwrap();
    let err = sp_parse(&idp, &failed.xml, SP, SignedParts::Response).unwrap_err();
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
            let xml =
                String::from_utf8(STANDARD.decode(made["form"]["SAMLRequest"].as_str().unwrap()).unwrap()).unwrap();
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
                    let other =
                        TrustedCert::from_der(&STANDARD.decode(&idp.keys.published_certs()[0]).unwrap()).unwrap();
                    assert_eq!(
                        verify(&xml, &other),
                        Err(XmlDsigError::BadSignature),
                        "only the SP's certificate"
                    );
                }
            }
        }
    }
}
