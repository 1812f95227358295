//! The console's SAML service providers: the list, adding one by hand or
//! from its metadata by the registration rules of `trustid saml sps`,
//! editing and removing one, each audited.

use trustid::domain::saml_sp::{EntityId, SamlSp, SamlSpSettings, SignedParts};
use url::Url;

use crate::common::{TestApp, spawn_app_with};
use crate::console::{app_with_admin, csrf_in, get, location, post_signed, sign_in, with_admin};
use crate::saml_sso::Page;

const ENTITY: &str = "https://portal.example/saml";
const PYSAML2: &str = include_str!("../../src/saml/request/tests/fixtures/pysaml2_sp_metadata.xml");

/// A signed-in cookie and the CSRF token of the SAML page's forms.
pub(crate) async fn signed_in(app: &TestApp) -> (String, String) {
    let cookie = sign_in(app).await;
    let html = get(app, "/admin/saml", Some(&cookie)).await.text().await.unwrap();
    (cookie.clone(), csrf_in(&html))
}

/// A fresh RSA certificate, as PEM.
fn certificate(app: &TestApp) -> String {
    let pem = String::from_utf8(trustid::crypto::saml_keys::generate_pem(app.clock_now()).unwrap()).unwrap();
    pem[pem.find("-----BEGIN CERTIFICATE").unwrap()..].to_owned()
}

/// The add form: an SP at [`ENTITY`] with a loopback ACS, with `changes`.
pub(crate) fn add_form<'a>(csrf: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("csrf", csrf),
        ("entity_id", ENTITY),
        ("display_name", "Portal"),
        ("acs", "http://127.0.0.1:1/acs"),
        ("name_id_format", "persistent"),
        ("sign", "response"),
        ("all_attributes", "on"),
    ];
    for (name, value) in changes {
        form.retain(|(n, _)| n != name);
        if !value.is_empty() {
            form.push((name, value));
        }
    }
    form
}

pub(crate) async fn audit_actions(app: &TestApp, entity_id: &str) -> Vec<String> {
    let trail = app.store().audit_of(&format!("saml_sp:{entity_id}")).await.unwrap();
    trail.into_iter().map(|(_, _, action)| action).collect()
}

pub(crate) async fn registered(app: &TestApp, entity_id: &str) -> Option<SamlSp> {
    app.store().saml_sp(entity_id).await.unwrap()
}

#[tokio::test]
async fn the_sps_are_listed_with_what_they_receive() {
    let app = app_with_admin().await;
    assert_eq!(location(&get(&app, "/admin/saml", None).await), "/admin/sign-in");
    let cookie = sign_in(&app).await;
    let empty = get(&app, "/admin/saml", Some(&cookie)).await.text().await.unwrap();
    assert!(empty.contains("No service provider yet"), "{empty}");
    let mut settings = SamlSpSettings::new(
        EntityId::parse("https://portal.example/saml").unwrap(),
        Url::parse("https://portal.example/acs").unwrap(),
    );
    settings.display_name = "Portal <intranet>".into();
    settings.sign = SignedParts::Both;
    settings.attributes = Some(vec![trustid::domain::claims::Evidence::UserId]);
    trustid::engine::saml_sps::add_saml_sp(app.store(), settings, false, app.clock_now())
        .await
        .unwrap();
    let html = get(&app, "/admin/saml", Some(&cookie)).await.text().await.unwrap();
    for shown in [
        "https://portal.example/saml",
        "https://portal.example/acs",
        "Portal &#60;intranet&#62;",
        "TRUSTID.USERID",
        "<td>both</td>",
    ] {
        assert!(html.contains(shown), "{shown}: {html}");
    }
}

/// Added by hand, the SP is listed, audited, and a sign-in started at
/// trustid for it reaches the page asking who is signing in, and past it.
#[tokio::test]
async fn an_sp_added_by_form_is_listed_and_takes_a_sign_in() {
    let app = app_with_admin().await;
    let (cookie, csrf) = signed_in(&app).await;
    let cert = certificate(&app);
    let form = add_form(
        &csrf,
        &[
            ("display_name", "Intranet"),
            ("signing_cert", &cert),
            ("name_id_format", "transient"),
            ("sign", "both"),
            ("all_attributes", ""),
            ("idp_initiated", "on"),
        ],
    );
    let form: Vec<_> = form
        .into_iter()
        .chain([
            ("attributes", "TRUSTID.USERID"),
            ("attributes", "TRUST.AUTHENTICATION_METHOD"),
        ])
        .collect();
    let res = post_signed(&app, &cookie, "/admin/saml", &form).await;
    assert_eq!(res.status(), 303);
    let sp = registered(&app, ENTITY).await.expect("registered");
    assert_eq!(location(&res), format!("/admin/saml/{}", sp.id));
    let s = &sp.settings;
    assert!(s.signing_cert.is_some() && s.idp_initiated && s.sign == SignedParts::Both);
    assert_eq!(audit_actions(&app, ENTITY).await, ["saml_sp.created"]);
    let list = get(&app, "/admin/saml", Some(&cookie)).await.text().await.unwrap();
    for shown in [
        ENTITY,
        "Intranet",
        "transient",
        "TRUSTID.USERID, TRUST.AUTHENTICATION_METHOD",
    ] {
        assert!(list.contains(shown), "{shown}: {list}");
    }

    assert_eq!(
        app.http.get(app.url("/saml/metadata")).send().await.unwrap().status(),
        200
    );
    let _device = app.user_with_device("alice").await;
    let sso = format!("{}?sp={ENTITY}", app.url("/saml/sso"));
    let who = Page::from(app.http.get(&sso).send().await.unwrap()).await;
    assert_eq!(who.status, 200, "{}", who.html);
    let started = app
        .http
        .post(who.form_action())
        .header("cookie", who.cookie.clone().unwrap())
        .form(&[("who", "alice")])
        .send()
        .await
        .unwrap();
    let status = started.status();
    assert_eq!(
        status,
        303,
        "a transaction started for the SP: {}",
        started.text().await.unwrap()
    );
}

#[tokio::test]
async fn an_sp_is_added_from_its_pasted_metadata() {
    let app = app_with_admin().await;
    let (cookie, csrf) = signed_in(&app).await;
    let form = [("csrf", csrf.as_str()), ("metadata", PYSAML2)];
    let res = post_signed(&app, &cookie, "/admin/saml/import", &form).await;
    assert_eq!(res.status(), 303);
    let sp = registered(&app, "https://sp.example.com/metadata")
        .await
        .expect("registered");
    assert_eq!(location(&res), format!("/admin/saml/{}", sp.id));
    assert_eq!(sp.settings.display_name, "Example Portal");
    assert_eq!(sp.settings.acs[0].url.as_str(), "https://sp.example.com/acs");
    assert!(sp.requires_signed_requests(), "its signing certificate was taken");
    assert_eq!(
        audit_actions(&app, "https://sp.example.com/metadata").await,
        ["saml_sp.created"]
    );
    let page = get(&app, location(&res), Some(&cookie)).await.text().await.unwrap();
    assert!(page.contains("-----BEGIN CERTIFICATE-----"), "{page}");

    let again = post_signed(&app, &cookie, "/admin/saml/import", &form).await;
    assert_eq!(again.status(), 400);
    assert!(again.text().await.unwrap().contains("already registered"));
}

#[tokio::test]
async fn refused_metadata_comes_back_as_pasted_with_the_reason() {
    let app = app_with_admin().await;
    let (cookie, csrf) = signed_in(&app).await;
    let idp_only = r#"<md:EntityDescriptor xmlns:md="urn:oasis:names:tc:SAML:2.0:metadata" entityID="https://idp.example"><md:IDPSSODescriptor protocolSupportEnumeration="urn:oasis:names:tc:SAML:2.0:protocol"/></md:EntityDescriptor>"#;
    let http_acs = PYSAML2.replace("https://sp.example.com/acs", "http://sp.example.com/acs");
    let cases = [
        ("<md:EntityDescriptor", "not well-formed XML", "cut short"),
        (idp_only, "no SPSSODescriptor", "an IdP's metadata"),
        (
            "<!DOCTYPE x [<!ENTITY a \"b\">]><x/>",
            "DOCTYPE",
            "entities are refused",
        ),
        (&http_acs, "must be an https URL", "registration rules apply"),
    ];
    for (metadata, expected, why) in cases {
        let res = post_signed(
            &app,
            &cookie,
            "/admin/saml/import",
            &[("csrf", &csrf), ("metadata", metadata)],
        )
        .await;
        assert_eq!(res.status(), 400, "{why}");
        let html = res.text().await.unwrap();
        let error = &html[html.find("id=\"metadata-error\"").expect(why)..];
        assert!(error[..error.find("</p>").unwrap()].contains(expected), "{why}: {html}");
        let kept = askama_escaped(&metadata[..20]);
        assert!(html.contains(&kept), "{why}: the paste is kept: {html}");
    }
    assert!(app.store().saml_sps().await.unwrap().is_empty());
}

/// `text` as the templates escape it.
pub(crate) fn askama_escaped(text: &str) -> String {
    text.replace('&', "&#38;")
        .replace('<', "&#60;")
        .replace('>', "&#62;")
        .replace('"', "&#34;")
        .replace('\'', "&#39;")
}

/// The text of the error shown next to field `member`.
pub(crate) fn error_at<'a>(html: &'a str, member: &str) -> Option<&'a str> {
    let at = html.find(&format!("id=\"{member}-error\">"))?;
    let rest = &html[at..];
    Some(&rest[rest.find('>')? + 1..rest.find("</p>")?])
}

#[tokio::test]
async fn a_refused_form_says_why_next_to_its_field_and_keeps_what_was_typed() {
    let app = app_with_admin().await;
    let (cookie, csrf) = signed_in(&app).await;
    let ec_cert = {
        use openssl::{ec, nid::Nid, pkey::PKey};
        let key = PKey::from_ec_key(
            ec::EcKey::generate(&ec::EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).unwrap()).unwrap(),
        )
        .unwrap();
        let mut name = openssl::x509::X509NameBuilder::new().unwrap();
        name.append_entry_by_text("CN", "sp").unwrap();
        let name = name.build();
        let mut b = openssl::x509::X509::builder().unwrap();
        b.set_version(2).unwrap();
        b.set_not_before(&openssl::asn1::Asn1Time::days_from_now(0).unwrap())
            .unwrap();
        b.set_not_after(&openssl::asn1::Asn1Time::days_from_now(30).unwrap())
            .unwrap();
        b.set_subject_name(&name).unwrap();
        b.set_issuer_name(&name).unwrap();
        b.set_pubkey(&key).unwrap();
        b.sign(&key, openssl::hash::MessageDigest::sha256()).unwrap();
        String::from_utf8(b.build().to_pem().unwrap()).unwrap()
    };
    // (field, typed, field refused, reason, why)
    let cases: [(&str, &str, &str, &str, &str); 8] = [
        ("entity_id", "", "entity_id", "1 to 1024", "no entity ID"),
        (
            "acs",
            "http://sp.example/acs",
            "acs",
            "must be an https URL",
            "http ACS off loopback",
        ),
        ("acs", "not a url", "acs", "is not a URL", "ACS not a URL"),
        (
            "signing_cert",
            "-----BEGIN CERTIFICATE-----\nAAAA",
            "signing_cert",
            "no END line",
            "cut PEM",
        ),
        (
            "encryption_cert",
            &ec_cert,
            "encryption_cert",
            "RSA key",
            "EC cannot take RSA-OAEP",
        ),
        (
            "all_attributes",
            "",
            "attributes",
            "tick the attributes",
            "nothing released",
        ),
        (
            "default_relay_state",
            "/home",
            "default_relay_state",
            "needs IdP-initiated",
            "relay state alone",
        ),
        ("sign", "everything", "sign", "from the list", "not a choice"),
    ];
    for (name, typed, member, expected, why) in cases {
        let changes = [(name, typed), ("display_name", "Kept <name>")];
        let res = post_signed(&app, &cookie, "/admin/saml", &add_form(&csrf, &changes)).await;
        assert_eq!(res.status(), 400, "{why}");
        let html = res.text().await.unwrap();
        let error = error_at(&html, member).unwrap_or_else(|| panic!("{why}: no {member} error: {html}"));
        assert!(error.contains(expected), "{why}: {error}");
        assert!(html.contains("value=\"Kept &#60;name&#62;\""), "{why}: typed name kept");
        // A choice off the list cannot be shown again; typed text is.
        if member != "sign" {
            assert!(html.contains(&askama_escaped(typed.trim())), "{why}: typed value kept");
        }
    }
    assert!(app.store().saml_sps().await.unwrap().is_empty(), "nothing stored");

    let first = post_signed(&app, &cookie, "/admin/saml", &add_form(&csrf, &[])).await;
    assert_eq!(first.status(), 303);
    let taken = post_signed(
        &app,
        &cookie,
        "/admin/saml",
        &add_form(&csrf, &[("display_name", "Twin")]),
    )
    .await;
    assert_eq!(taken.status(), 400, "a taken entity ID is the form's fault");
    let html = taken.text().await.unwrap();
    assert!(
        error_at(&html, "entity_id").unwrap().contains("already registered"),
        "{html}"
    );
    assert_eq!(app.store().saml_sps().await.unwrap().len(), 1);
}

/// Outside dev mode an ACS must be https, loopback or not.
#[tokio::test]
async fn outside_dev_mode_an_http_acs_is_refused() {
    let app = with_admin(spawn_app_with(|s| s.dev = false).await).await;
    let (cookie, csrf) = signed_in(&app).await;
    let res = post_signed(&app, &cookie, "/admin/saml", &add_form(&csrf, &[])).await;
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(error_at(&html, "acs").unwrap().contains("https"), "{html}");
    assert!(html.contains("http://127.0.0.1:1/acs"), "typed ACS kept");
    let https = add_form(&csrf, &[("acs", "https://portal.example/acs")]);
    assert_eq!(post_signed(&app, &cookie, "/admin/saml", &https).await.status(), 303);
}
