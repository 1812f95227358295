//! The console's page of one SAML service provider: its settings edited by
//! the registration rules, its removal, and the forms' guards.

use trustid::domain::claims::Evidence;
use trustid::domain::saml_sp::{Acs, AcsBinding, EntityId, SamlSp, SamlSpSettings};
use url::Url;

use crate::common::TestApp;
use crate::console::{app_with_admin, csrf_in, get, location, post_signed};
use crate::console_saml::{add_form, audit_actions, error_at, registered, signed_in};
use crate::saml_sso::Page;

const ENTITY: &str = "https://crm.example/sp";
/// The entity ID of [`add_form`].
const PORTAL: &str = "https://portal.example/saml";

/// An SP registered by the CLI's code: two ACS endpoints, indexes 3 and 7,
/// the second the default; every attribute released.
async fn crm(app: &TestApp) -> SamlSp {
    let acs = |url: &str, index, is_default| Acs {
        url: Url::parse(url).unwrap(),
        binding: AcsBinding::HttpPost,
        index,
        is_default,
    };
    let settings = SamlSpSettings::with_acs(
        EntityId::parse(ENTITY).unwrap(),
        vec![
            acs("https://crm.example/acs", 3, false),
            acs("https://crm.example/acs2", 7, true),
        ],
    );
    trustid::engine::saml_sps::add_saml_sp(app.store(), settings, false, app.clock_now())
        .await
        .unwrap()
}

/// The edit form as the page shows it for `sp`, with `changes`.
fn edit_form<'a>(csrf: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("csrf", csrf),
        ("display_name", "CRM"),
        ("acs", "https://crm.example/acs\r\nhttps://crm.example/acs2"),
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

#[tokio::test]
async fn an_edit_changes_what_the_sp_receives_and_keeps_its_endpoints() {
    let app = app_with_admin().await;
    let sp = crm(&app).await;
    let (cookie, _) = signed_in(&app).await;
    let path = format!("/admin/saml/{}", sp.id);
    let page = get(&app, &path, Some(&cookie)).await;
    assert_eq!(page.status(), 200);
    let html = page.text().await.unwrap();
    assert!(
        html.contains(ENTITY) && html.contains("https://crm.example/acs2"),
        "{html}"
    );
    let csrf = csrf_in(&html);
    let form: Vec<_> = edit_form(&csrf, &[("all_attributes", ""), ("sign", "assertion")])
        .into_iter()
        .chain([
            ("attributes", "TRUSTID.USERID"),
            ("attributes", "TRUSTID.TRANSACTION_ID"),
        ])
        .collect();
    let res = post_signed(&app, &cookie, &path, &form).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), path);

    let stored = registered(&app, ENTITY).await.unwrap();
    assert_eq!(
        stored.settings.attributes,
        Some(vec![Evidence::UserId, Evidence::TransactionId])
    );
    assert!(!stored.releases(Evidence::DeviceId));
    assert_eq!(stored.settings.acs, sp.settings.acs, "indexes and default kept");
    assert_eq!(stored.id, sp.id);
    assert_eq!(audit_actions(&app, ENTITY).await, ["saml_sp.updated"]);
    let list = get(&app, "/admin/saml", Some(&cookie)).await.text().await.unwrap();
    assert!(list.contains("TRUSTID.USERID, TRUSTID.TRANSACTION_ID"), "{list}");
    assert!(list.contains("<td>assertion</td>"), "{list}");
    let again = get(&app, &path, Some(&cookie)).await.text().await.unwrap();
    assert!(again.contains("value=\"TRUSTID.USERID\" checked"), "{again}");
    assert!(!again.contains("value=\"TRUSTID.DEVICEID\" checked"), "{again}");

    let renumbered = edit_form(&csrf, &[("acs", "https://crm.example/new")]);
    assert_eq!(post_signed(&app, &cookie, &path, &renumbered).await.status(), 303);
    let acs = registered(&app, ENTITY).await.unwrap().settings.acs;
    assert_eq!(
        (acs.len(), acs[0].index, acs[0].is_default),
        (1, 0, true),
        "a new list is indexed in order"
    );
}

#[tokio::test]
async fn a_refused_edit_keeps_what_was_typed_and_changes_nothing() {
    let app = app_with_admin().await;
    let sp = crm(&app).await;
    let (cookie, csrf) = signed_in(&app).await;
    let path = format!("/admin/saml/{}", sp.id);
    let cases: [(&str, &str, &str, &str); 4] = [
        ("logout_url", "http://crm.example/slo", "logout_url", "https"),
        ("acs", "http://crm.example/acs", "acs", "https"),
        ("signing_cert", "not a certificate", "signing_cert", "neither a PEM"),
        ("app_id", "\u{7}", "app_id", "app id"),
    ];
    for (name, typed, member, expected) in cases {
        let res = post_signed(
            &app,
            &cookie,
            &path,
            &edit_form(&csrf, &[(name, typed), ("display_name", "Typed")]),
        )
        .await;
        assert_eq!(res.status(), 400, "{name}");
        let html = res.text().await.unwrap();
        let error = error_at(&html, member).unwrap_or_else(|| panic!("{name}: {html}"));
        assert!(error.contains(expected), "{name}: {error}");
        assert!(html.contains("value=\"Typed\""), "{name}: typed name kept");
        assert!(html.contains(ENTITY), "{name}: the page still names the SP");
    }
    assert_eq!(registered(&app, ENTITY).await.unwrap(), sp, "nothing changed");
    assert!(audit_actions(&app, ENTITY).await.is_empty());
}

#[tokio::test]
async fn a_removed_sp_is_gone_and_its_sign_ins_are_refused() {
    let app = app_with_admin().await;
    let (cookie, csrf) = signed_in(&app).await;
    let added = post_signed(
        &app,
        &cookie,
        "/admin/saml",
        &add_form(&csrf, &[("idp_initiated", "on")]),
    )
    .await;
    let page = location(&added).to_owned();
    let sso = format!("{}?sp={PORTAL}", app.url("/saml/sso"));
    // A login makes the SP's client, which a rename renames.
    app.user_with_device("alice").await;
    let login = Page::from(app.http.get(&sso).send().await.unwrap()).await;
    assert_eq!(login.status, 200);
    let named = app
        .http
        .post(login.form_action())
        .header("cookie", login.cookie.unwrap());
    let named = named.form(&[("who", "alice")]).send().await.unwrap();
    assert_eq!(named.status(), 303);
    let client_id = format!("saml:{}", registered(&app, PORTAL).await.unwrap().id);
    let client = || async { app.store().client(&client_id).await.unwrap().unwrap() };
    assert_eq!(client().await.metadata.client_name, "SAML SP Portal");
    let renamed = add_form(&csrf, &[("idp_initiated", "on"), ("display_name", "Staff portal")]);
    assert_eq!(post_signed(&app, &cookie, &page, &renamed).await.status(), 303);
    assert_eq!(client().await.metadata.client_name, "SAML SP Staff portal");
    app.clock.advance_secs(1); // the audit trail orders by the second
    let res = post_signed(&app, &cookie, &format!("{page}/remove"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin/saml");
    assert!(registered(&app, PORTAL).await.is_none());
    assert_eq!(
        audit_actions(&app, PORTAL).await,
        ["saml_sp.created", "saml_sp.updated", "saml_sp.removed"]
    );
    let kept = client().await;
    assert!(
        kept.disabled_at.is_some(),
        "its client stays, for its transactions' evidence, disabled"
    );
    let list = get(&app, "/admin/saml", Some(&cookie)).await.text().await.unwrap();
    assert!(!list.contains(PORTAL), "{list}");
    assert_eq!(get(&app, &page, Some(&cookie)).await.status(), 404);
    assert_eq!(app.http.get(&sso).send().await.unwrap().status(), 400, "unknown SP");
}

#[tokio::test]
async fn a_change_the_audit_log_cannot_record_answers_an_error_page() {
    let app = app_with_admin().await;
    let sp = crm(&app).await;
    let (cookie, csrf) = signed_in(&app).await;
    crate::console::refuse_audit_writes(&app).await;
    let path = format!("/admin/saml/{}", sp.id);
    for (path, form) in [
        ("/admin/saml".to_owned(), add_form(&csrf, &[])),
        (path.clone(), edit_form(&csrf, &[])),
        (format!("{path}/remove"), vec![("csrf", csrf.as_str())]),
    ] {
        let res = post_signed(&app, &cookie, &path, &form).await;
        assert_eq!(res.status(), 500, "{path}");
        assert!(
            res.text().await.unwrap().contains("the audit log could not record it"),
            "{path}"
        );
    }
}

#[tokio::test]
async fn sp_forms_need_the_sessions_token_and_our_origin() {
    let app = app_with_admin().await;
    let sp = crm(&app).await;
    let (cookie, csrf) = signed_in(&app).await;
    let base = format!("/admin/saml/{}", sp.id);
    let metadata = include_str!("../../src/saml/request/tests/fixtures/pysaml2_sp_metadata.xml");
    let forms: [(String, Vec<(&str, &str)>); 4] = [
        ("/admin/saml".into(), add_form(&csrf, &[])),
        (
            "/admin/saml/import".into(),
            vec![("csrf", &csrf), ("metadata", metadata)],
        ),
        (base.clone(), edit_form(&csrf, &[("display_name", "Changed")])),
        (format!("{base}/remove"), vec![("csrf", &csrf)]),
    ];
    for (path, form) in &forms {
        let without: Vec<_> = form.iter().filter(|(n, _)| *n != "csrf").cloned().collect();
        let wrong: Vec<_> = without.iter().cloned().chain([("csrf", "wrong")]).collect();
        for refused in [without, wrong] {
            assert_eq!(post_signed(&app, &cookie, path, &refused).await.status(), 403, "{path}");
        }
        let cross = app
            .http
            .post(app.url(path))
            .header("cookie", &cookie)
            .header("origin", "https://evil.example")
            .form(form)
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status(), 403, "{path}");
    }
    let all = app.store().saml_sps().await.unwrap();
    assert_eq!(all, [sp], "nothing added, changed or removed");
    assert!(audit_actions(&app, ENTITY).await.is_empty());
}

#[tokio::test]
async fn strangers_are_sent_to_sign_in_and_unknown_sps_are_404() {
    let app = app_with_admin().await;
    let sp = crm(&app).await;
    let base = format!("/admin/saml/{}", sp.id);
    assert_eq!(location(&get(&app, &base, None).await), "/admin/sign-in");
    let paths = [
        "/admin/saml".to_owned(),
        "/admin/saml/import".into(),
        base.clone(),
        format!("{base}/remove"),
    ];
    crate::console::strangers_sign_in_first(&app, &paths).await;
    let (cookie, csrf) = signed_in(&app).await;
    let unknown = get(&app, "/admin/saml/no-such-sp", Some(&cookie)).await;
    assert_eq!(unknown.status(), 404);
    assert!(unknown.text().await.unwrap().contains("no such SAML service provider"));
    for path in ["/admin/saml/no-such-sp", "/admin/saml/no-such-sp/remove"] {
        let res = post_signed(&app, &cookie, path, &edit_form(&csrf, &[])).await;
        assert_eq!(res.status(), 404, "{path}");
    }
    assert!(registered(&app, ENTITY).await.is_some());
}
