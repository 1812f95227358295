//! The console's clients: the list, adding one whose secret is shown once
//! and works at the token endpoint, editing one by the registration rules,
//! rotating its secret and disabling it; a wrong form says why, next to the
//! field, and keeps what was typed.

use trustid::domain::client::{AuthMethod, ClientMetadata, SigningAlg};
use trustid::engine::admin::ClientCredentials;

use crate::common::{Answer, TestApp, spawn_app_with};
use crate::console::{app_with_admin, csrf_in, get, location, post_signed, sign_in, with_admin};

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

/// A signed-in admin's cookie and the CSRF token of their forms.
async fn signed_in(app: &TestApp) -> (String, String) {
    let cookie = sign_in(app).await;
    let html = get(app, "/admin/clients", Some(&cookie)).await.text().await.unwrap();
    (cookie.clone(), csrf_in(&html))
}

async fn page(app: &TestApp, cookie: &str, path: &str) -> (u16, String) {
    let res = get(app, path, Some(cookie)).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

/// The edit form of a poll client as its page fills it in, with `changes`.
fn edit_form<'a>(csrf: &'a str, changes: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("csrf", csrf),
        ("client_name", "Test Bank"),
        ("backchannel_token_delivery_mode", "poll"),
        ("backchannel_client_notification_endpoint", ""),
        ("token_endpoint_auth_method", "client_secret_basic"),
        ("jwks", ""),
        ("jwks_uri", ""),
        ("backchannel_authentication_request_signing_alg", ""),
        ("id_token_signed_response_alg", "ES256"),
        ("device_routing", "all"),
        ("push_relay_uri", ""),
    ];
    for (name, value) in changes {
        form.retain(|(n, _)| n != name);
        form.push((name, value));
    }
    form
}

/// Client credentials at the token endpoint: the management grant.
async fn token(app: &TestApp, id: &str, secret: &str) -> Answer {
    let res = app
        .http
        .post(app.url("/token"))
        .basic_auth(id, Some(secret))
        .form(&[("grant_type", "client_credentials"), ("scope", "trustid:manage")])
        .send()
        .await
        .unwrap();
    Answer::from(res).await
}

async fn audit_actions(app: &TestApp, id: &str) -> Vec<String> {
    let trail = app.store().audit_of(&format!("client:{id}")).await.unwrap();
    trail.into_iter().map(|(_, _, action)| action).collect()
}

#[tokio::test]
async fn an_admin_edits_a_client_and_its_page_shows_what_was_saved() {
    let app = app_with_admin().await;
    let client = app.client(SigningAlg::ES256).await;
    let (cookie, csrf) = signed_in(&app).await;
    let path = format!("/admin/clients/{}", client.client_id);
    let listed = get(&app, "/admin/clients", Some(&cookie)).await.text().await.unwrap();
    assert!(listed.contains(&format!("href=\"{path}\"")), "{listed}");
    let (status, before) = page(&app, &cookie, &path).await;
    assert_eq!(status, 200, "{before}");
    assert!(before.contains("value=\"Test Bank\""), "{before}");
    assert!(before.contains("<dd id=\"client-state\">active</dd>"), "{before}");

    let changes = [
        ("client_name", "Test Bank (ping)"),
        ("backchannel_token_delivery_mode", "ping"),
        ("backchannel_client_notification_endpoint", "http://127.0.0.1:9/cb"),
        ("id_token_signed_response_alg", "PS256"),
        ("number_matching", "on"),
        ("backchannel_user_code_parameter", "on"),
        ("device_routing", "preferred"),
        ("push_relay_uri", "http://127.0.0.1:9/relay"),
    ];
    let res = post_signed(&app, &cookie, &path, &edit_form(&csrf, &changes)).await;
    assert_eq!(res.status(), 303, "{}", res.text().await.unwrap());
    assert_eq!(location(&res), path);

    let (_, after) = page(&app, &cookie, &path).await;
    for shown in [
        "value=\"Test Bank (ping)\"",
        "<option value=\"ping\" selected>",
        "value=\"http://127.0.0.1:9/cb\"",
        "<option value=\"preferred\" selected>",
        "name=\"number_matching\" value=\"on\" checked",
        "name=\"backchannel_user_code_parameter\" value=\"on\" checked",
    ] {
        assert!(after.contains(shown), "{shown}: {after}");
    }
    // Read at once, through the store's cache the page filled.
    let stored = app.store().client(&client.client_id).await.unwrap().unwrap();
    assert_eq!(stored.metadata.id_token_signed_response_alg, SigningAlg::PS256);
    assert!(stored.metadata.number_matching && stored.updated_at.is_some());
    let trail = app
        .store()
        .audit_of(&format!("client:{}", client.client_id))
        .await
        .unwrap();
    assert_eq!(trail.last().unwrap().2, "client.updated");
    assert_eq!(trail.last().unwrap().1, "admin:ops@bank.example");
}

#[tokio::test]
async fn a_refused_edit_comes_back_as_typed_with_the_reason_by_its_field() {
    let app = app_with_admin().await;
    let client = app.client(SigningAlg::ES256).await;
    let (cookie, csrf) = signed_in(&app).await;
    let path = format!("/admin/clients/{}", client.client_id);
    type Case<'a> = (Vec<(&'a str, &'a str)>, &'a str, &'a str, &'a str);
    let cases: Vec<Case> = vec![
        (
            vec![("backchannel_token_delivery_mode", "ping")],
            "backchannel_client_notification_endpoint",
            "<option value=\"ping\" selected>",
            "ping without an endpoint",
        ),
        (
            vec![
                ("backchannel_token_delivery_mode", "push"),
                ("backchannel_client_notification_endpoint", "http://rp.example.com/cb"),
            ],
            "backchannel_client_notification_endpoint",
            "value=\"http://rp.example.com/cb\"",
            "http to a host that is not loopback, even in dev mode",
        ),
        (
            vec![("jwks", "{not json")],
            "jwks",
            ">{not json</textarea>",
            "keys that are not JSON",
        ),
        (
            vec![
                ("token_endpoint_auth_method", "private_key_jwt"),
                ("client_name", "Renamed"),
            ],
            "token_endpoint_auth_method",
            "value=\"Renamed\"",
            "private_key_jwt without keys",
        ),
        (
            vec![("backchannel_token_delivery_mode", "carrier-pigeon")],
            "backchannel_token_delivery_mode",
            "value=\"Test Bank\"",
            "a mode not in the list",
        ),
        (
            vec![("fapi_ciba", "on")],
            "fapi_ciba",
            "name=\"fapi_ciba\" value=\"on\" checked",
            "FAPI with a secret",
        ),
        (
            vec![("client_name", " ")],
            "client_name",
            "id=\"client_name\"",
            "a blank name",
        ),
    ];
    for (changes, member, typed, why) in cases {
        let res = post_signed(&app, &cookie, &path, &edit_form(&csrf, &changes)).await;
        assert_eq!(res.status(), 400, "{why}");
        let html = res.text().await.unwrap();
        assert!(html.contains(&format!("id=\"{member}-error\"")), "{why}: {html}");
        assert!(html.contains(typed), "{why}: what was typed is kept: {html}");
    }
    let stored = app.store().client(&client.client_id).await.unwrap().unwrap();
    assert_eq!(stored.metadata, ClientMetadata::poll("Test Bank"), "nothing was saved");
    assert!(audit_actions(&app, &client.client_id).await.is_empty());
}

#[tokio::test]
async fn outside_dev_mode_an_edit_refuses_plain_http_and_internal_addresses() {
    let app = with_admin(spawn_app_with(|s| s.dev = false).await).await;
    let client = app.client(SigningAlg::ES256).await;
    let (cookie, csrf) = signed_in(&app).await;
    let path = format!("/admin/clients/{}", client.client_id);
    let ping = |endpoint| {
        vec![
            ("backchannel_token_delivery_mode", "ping"),
            ("backchannel_client_notification_endpoint", endpoint),
        ]
    };
    let cases = [
        (
            ping("http://127.0.0.1:9/cb"),
            "backchannel_client_notification_endpoint",
            "https URL",
        ),
        (
            ping("https://10.0.0.7/cb"),
            "backchannel_client_notification_endpoint",
            "internal address",
        ),
        (
            ping("https://localhost/cb"),
            "backchannel_client_notification_endpoint",
            "internal address",
        ),
        (
            vec![("jwks_uri", "https://169.254.169.254/keys")],
            "jwks_uri",
            "internal address",
        ),
        (
            vec![("push_relay_uri", "https://[::1]/push")],
            "push_relay_uri",
            "internal address",
        ),
    ];
    for (changes, member, why) in cases {
        let res = post_signed(&app, &cookie, &path, &edit_form(&csrf, &changes)).await;
        assert_eq!(res.status(), 400, "{changes:?}");
        let html = res.text().await.unwrap();
        assert!(
            html.contains(&format!("id=\"{member}-error\"")) && html.contains(why),
            "{changes:?}: {html}"
        );
    }
    let res = post_signed(
        &app,
        &cookie,
        &path,
        &edit_form(&csrf, &ping("https://rp.example.com/cb")),
    )
    .await;
    assert_eq!(res.status(), 303, "an https endpoint on a public name is saved");
}

#[tokio::test]
async fn a_rotated_secret_works_at_once_and_the_old_one_does_not() {
    let app = app_with_admin().await;
    let mut metadata = ClientMetadata::poll("Bank");
    metadata.management = true;
    let client = app.register(metadata).await;
    let id = client.client_id.to_string();
    // The old secret authenticates first, so the client sits in the cache.
    assert_eq!(token(&app, &id, client.secret()).await.status, 200);
    let (cookie, csrf) = signed_in(&app).await;
    let res = post_signed(
        &app,
        &cookie,
        &format!("/admin/clients/{id}/secret"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    let secret = between(&html, "<code id=\"client-secret\">", "</code>").to_owned();
    assert_ne!(secret, client.secret());

    token(&app, &id, client.secret())
        .await
        .assert_oauth_error(401, "invalid_client", "the old secret stops at once");
    assert_eq!(token(&app, &id, &secret).await.status, 200, "the new one works");
    let (_, again) = page(&app, &cookie, &format!("/admin/clients/{id}")).await;
    assert!(!again.contains(&secret), "shown once");
    assert_eq!(audit_actions(&app, &id).await, ["client.secret_rotated"]);

    let mut jwt_client = ClientMetadata::poll("Keys only");
    jwt_client.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
    jwt_client.jwks = Some(serde_json::json!({"keys": []}));
    let jwt_client = app.register(jwt_client).await;
    let no_secret = post_signed(
        &app,
        &cookie,
        &format!("/admin/clients/{}/secret", jwt_client.client_id),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(no_secret.status(), 409, "a private_key_jwt client has no secret");
}

#[tokio::test]
async fn a_disabled_client_gets_invalid_client_until_it_is_enabled() {
    let app = app_with_admin().await;
    let client = app.client(SigningAlg::ES256).await;
    let (manager, manage_token) = app.manager(ClientMetadata::poll("Manager")).await;
    app.user_with_device("alice").await;
    let (cookie, csrf) = signed_in(&app).await;
    let request = [
        ("scope", "openid"),
        ("login_hint", "alice"),
        ("binding_message", "Pay 5 EUR"),
    ];
    assert_eq!(app.backchannel(&client, &request).await.status, 200);

    let path = format!("/admin/clients/{}", client.client_id);
    let res = post_signed(&app, &cookie, &format!("{path}/disable"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), path);
    app.backchannel(&client, &request).await.assert_oauth_error(
        401,
        "invalid_client",
        "a disabled client cannot start a request",
    );
    let (_, shown) = page(&app, &cookie, &path).await;
    assert!(shown.contains("<dd id=\"client-state\">disabled since"), "{shown}");
    let listed = get(&app, "/admin/clients", Some(&cookie)).await.text().await.unwrap();
    assert!(listed.contains("<td class=\"client-state\">disabled</td>"), "{listed}");

    app.clock.advance_secs(1); // the audit trail orders by the second
    let res = post_signed(&app, &cookie, &format!("{path}/enable"), &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(app.backchannel(&client, &request).await.status, 200, "enabled again");
    assert_eq!(
        audit_actions(&app, &client.client_id).await,
        ["client.disabled", "client.enabled"]
    );

    // A management token issued before its client was disabled dies with it.
    let manager_id = &manager.client_id;
    let bind = |token: String| {
        let app = &app;
        async move {
            app.http
                .post(app.url("/manage/v1/bindings"))
                .bearer_auth(token)
                .json(&serde_json::json!({}))
                .send()
                .await
                .unwrap()
                .status()
                .as_u16()
        }
    };
    assert_ne!(bind(manage_token.clone()).await, 401);
    let res = post_signed(
        &app,
        &cookie,
        &format!("/admin/clients/{manager_id}/disable"),
        &[("csrf", &csrf)],
    )
    .await;
    assert_eq!(res.status(), 303);
    assert_eq!(bind(manage_token).await, 401);
}

#[tokio::test]
async fn client_forms_need_the_sessions_token_and_our_origin() {
    let app = app_with_admin().await;
    let client = app.client(SigningAlg::ES256).await;
    let (cookie, csrf) = signed_in(&app).await;
    let base = format!("/admin/clients/{}", client.client_id);
    for path in [
        base.clone(),
        format!("{base}/secret"),
        format!("{base}/disable"),
        format!("{base}/enable"),
    ] {
        let form = edit_form(&csrf, &[("client_name", "Changed")]);
        let without: Vec<_> = form.iter().filter(|(n, _)| *n != "csrf").cloned().collect();
        let wrong: Vec<_> = without.iter().cloned().chain([("csrf", "wrong")]).collect();
        for refused in [without, wrong] {
            assert_eq!(
                post_signed(&app, &cookie, &path, &refused).await.status(),
                403,
                "{path}"
            );
        }
        let cross = app
            .http
            .post(app.url(&path))
            .header("cookie", &cookie)
            .header("origin", "https://evil.example")
            .form(&form)
            .send()
            .await
            .unwrap();
        assert_eq!(cross.status(), 403, "{path}");
    }
    let stored = app.store().client(&client.client_id).await.unwrap().unwrap();
    assert!(stored.name() == "Test Bank" && !stored.is_disabled(), "nothing changed");
    let still = token(&app, &client.client_id, client.secret()).await;
    assert_ne!(
        still.error(),
        "invalid_client",
        "the secret still authenticates: {}",
        still.body
    );
    assert!(audit_actions(&app, &client.client_id).await.is_empty());
}

#[tokio::test]
async fn strangers_are_sent_to_sign_in_and_unknown_clients_are_404() {
    let app = app_with_admin().await;
    let client: ClientCredentials = app.client(SigningAlg::ES256).await;
    let base = format!("/admin/clients/{}", client.client_id);
    assert_eq!(location(&get(&app, &base, None).await), "/admin/sign-in");
    let paths = [
        base.clone(),
        format!("{base}/secret"),
        format!("{base}/disable"),
        format!("{base}/enable"),
    ];
    crate::console::strangers_sign_in_first(&app, &paths).await;
    let (cookie, csrf) = signed_in(&app).await;
    let (status, html) = page(&app, &cookie, "/admin/clients/no-such-client").await;
    assert_eq!(status, 404);
    assert!(html.contains("There is no such client."), "{html}");
    for path in ["", "/secret", "/disable", "/enable"] {
        let path = format!("/admin/clients/no-such-client{path}");
        let res = post_signed(&app, &cookie, &path, &edit_form(&csrf, &[])).await;
        assert_eq!(res.status(), 404, "{path}");
    }
}

#[tokio::test]
async fn a_change_the_audit_log_cannot_record_answers_an_error_page() {
    let app = app_with_admin().await;
    let client = app.client(SigningAlg::ES256).await;
    let (cookie, csrf) = signed_in(&app).await;
    crate::console::refuse_audit_writes(&app).await;
    let path = format!("/admin/clients/{}/disable", client.client_id);
    let res = post_signed(&app, &cookie, &path, &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 500);
    assert!(res.text().await.unwrap().contains("the audit log could not record it"));
    let path = format!("/admin/clients/{}/secret", client.client_id);
    let res = post_signed(&app, &cookie, &path, &[("csrf", &csrf)]).await;
    assert_eq!(res.status(), 500);
    assert!(
        !res.text().await.unwrap().contains("client-secret"),
        "an unaudited secret is not shown"
    );
}

#[tokio::test]
async fn a_disabled_clients_access_tokens_are_refused_at_userinfo() {
    let app = app_with_admin().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    let auth_req_id = app.start(&client, "alice", "Sign in").await;
    device.decide(&app, "approve").await;
    let issued = app.poll(&client, &auth_req_id).await;
    let token = issued.body["access_token"].as_str().unwrap().to_owned();
    let userinfo = || app.http.get(app.url("/userinfo")).bearer_auth(&token).send();
    assert_eq!(userinfo().await.unwrap().status(), 200);
    let (cookie, csrf) = signed_in(&app).await;
    let path = format!("/admin/clients/{}/disable", client.client_id);
    assert_eq!(
        post_signed(&app, &cookie, &path, &[("csrf", &csrf)]).await.status(),
        303
    );
    assert_eq!(userinfo().await.unwrap().status(), 401);
}
