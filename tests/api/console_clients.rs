//! The console's clients: the list, and adding one whose secret is shown
//! once and works at the token endpoint; a wrong form says why and keeps
//! what was typed.

use crate::console::{app_with_admin, csrf_in, get, location, post_signed, sign_in};

async fn add(app: &crate::common::TestApp, cookie: &str, form: &[(&str, &str)]) -> (u16, String) {
    let res = post_signed(app, cookie, "/admin/clients", form).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html.find(start).unwrap() + start.len();
    &html[at..at + html[at..].find(end).unwrap()]
}

#[tokio::test]
async fn an_admin_adds_a_client_and_its_secret_works() {
    let app = app_with_admin().await;
    assert_eq!(location(&get(&app, "/admin/clients", None).await), "/admin/sign-in");
    let cookie = sign_in(&app).await;
    let html = get(&app, "/admin/clients", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("No client yet"), "{html}");
    let csrf = csrf_in(&html);

    let (status, wrong) = add(
        &app,
        &cookie,
        &[("csrf", &csrf), ("name", "Shop"), ("mode", "ping"), ("alg", "ES256")],
    )
    .await;
    assert_eq!(status, 400);
    assert!(wrong.contains("class=\"error\""), "{wrong}");
    assert!(wrong.contains("value=\"Shop\""), "what was typed is kept: {wrong}");
    let (status, _) = add(
        &app,
        &cookie,
        &[
            ("csrf", &csrf),
            ("name", "Shop"),
            ("mode", "carrier-pigeon"),
            ("alg", "ES256"),
        ],
    )
    .await;
    assert_eq!(status, 400);

    let form = [
        ("csrf", csrf.as_str()),
        ("name", "Bank & Co"),
        ("mode", "poll"),
        ("alg", "PS256"),
        ("management", "on"),
    ];
    let (status, created) = add(&app, &cookie, &form).await;
    assert_eq!(status, 201, "{created}");
    let id = between(&created, "Client <code>", "</code>").to_owned();
    let secret = between(&created, "<code id=\"client-secret\">", "</code>").to_owned();
    assert!(created.contains("Bank &#38; Co"), "{created}");
    let token = app
        .http
        .post(app.url("/token"))
        .basic_auth(&id, Some(&secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "trustid:manage")])
        .send()
        .await
        .unwrap();
    assert_eq!(token.status(), 200, "the secret shown once works");
    let listed = get(&app, "/admin/clients", Some(&cookie)).await.text().await.unwrap();
    assert!(
        listed.contains(&id) && !listed.contains(&secret),
        "listed, secret not shown again"
    );
    let audit = app.store().audit_of(&format!("client:{id}")).await.unwrap();
    assert_eq!(audit[0].2, "client.created");
}
