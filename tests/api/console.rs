//! The console's sign-in and sessions over HTTP: redirects for strangers,
//! the cookie's attributes, a new session at every sign-in (no fixation),
//! CSRF tokens and same-origin checks on every form, slowed guessing,
//! idle and absolute timeouts, sign-out and revocation.

use reqwest::Response;
use trustid::domain::admin::{ABSOLUTE_TIMEOUT, IDLE_TIMEOUT};
use trustid::engine::admins;

use crate::common::{TestApp, spawn_app};

pub(crate) const EMAIL: &str = "ops@bank.example";
pub(crate) const PASSWORD: &str = "correct horse battery staple";

pub(crate) async fn app_with_admin() -> TestApp {
    with_admin(spawn_app().await).await
}

/// `app` with the admin [`sign_in`] signs in as.
pub(crate) async fn with_admin(app: TestApp) -> TestApp {
    admins::create_admin(app.store(), EMAIL, PASSWORD.into(), app.clock_now())
        .await
        .unwrap();
    app
}

/// A same-origin form POST (as the console's own pages send it).
pub(crate) async fn post(app: &TestApp, path: &str, cookie: Option<&str>, form: &[(&str, &str)]) -> Response {
    let mut req = app.http.post(app.url(path)).header("origin", &app.base).form(form);
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

pub(crate) async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> Response {
    let mut req = app.http.get(app.url(path));
    if let Some(c) = cookie {
        req = req.header("cookie", c);
    }
    req.send().await.unwrap()
}

pub(crate) fn location(res: &Response) -> &str {
    res.headers()["location"].to_str().unwrap()
}

/// Signs in; the cookie (`name=value`) the browser then holds.
pub(crate) async fn sign_in(app: &TestApp) -> String {
    let res = post(app, "/admin/sign-in", None, &[("email", EMAIL), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), 303);
    assert_eq!(location(&res), "/admin");
    let set = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set.contains(attr), "{set}");
    }
    set.split(';').next().unwrap().to_owned()
}

/// The session cookie (`name=value`) a response sets.
pub(crate) fn cookie_of(res: &Response) -> String {
    let set = res.headers()["set-cookie"].to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// Every form at `paths` answers a stranger (no session) with the way to sign in.
pub(crate) async fn strangers_sign_in_first(app: &TestApp, paths: &[String]) {
    for path in paths {
        let res = app
            .http
            .post(app.url(path))
            .header("origin", &app.base)
            .form(&[("csrf", "x")])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(location(&res), "/admin/sign-in", "{path}");
    }
}

/// The CSRF token a page's forms carry.
pub(crate) fn csrf_in(html: &str) -> String {
    let at = html.find("name=\"csrf\" value=\"").unwrap() + 19;
    html[at..at + html[at..].find('"').unwrap()].to_owned()
}

/// The CSRF token of the dashboard's forms.
async fn csrf_of(app: &TestApp, cookie: &str) -> String {
    csrf_in(&get(app, "/admin", Some(cookie)).await.text().await.unwrap())
}

/// A same-origin form POST of the signed-in browser holding `cookie`.
pub(crate) async fn post_signed(app: &TestApp, cookie: &str, path: &str, form: &[(&str, &str)]) -> Response {
    post(app, path, Some(cookie), form).await
}

#[tokio::test]
async fn strangers_are_sent_to_sign_in_and_pages_cannot_be_framed() {
    let app = app_with_admin().await;
    for path in ["/admin", "/admin/sessions"] {
        let res = get(&app, path, None).await;
        assert_eq!(res.status(), 303, "{path}");
        assert_eq!(location(&res), "/admin/sign-in");
    }
    let res = get(&app, "/admin", Some("trustid_admin=forged")).await;
    assert_eq!(location(&res), "/admin/sign-in");
    let page = get(&app, "/admin/sign-in", None).await;
    assert_eq!(page.status(), 200);
    assert_eq!(page.headers()["x-frame-options"], "DENY");
    let csp = page.headers()["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"),
        "{csp}"
    );
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("<form method=\"post\" action=\"/admin/sign-in\"")
    );
    let css = get(&app, "/admin/assets/console.css", None).await;
    assert_eq!(css.headers()["content-type"], "text/css; charset=utf-8");
    assert_eq!(get(&app, "/admin/assets/x.js", None).await.status(), 404);
}

#[tokio::test]
async fn a_sign_in_starts_a_new_session_and_shows_the_dashboard() {
    let app = app_with_admin().await;
    // A cookie planted before sign-in is replaced, never promoted.
    let planted = "trustid_admin=planted-by-someone-else";
    let res = post(
        &app,
        "/admin/sign-in",
        Some(planted),
        &[("email", "OPS@bank.example"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(res.status(), 303);
    let cookie = cookie_of(&res);
    assert_ne!(cookie, planted);
    assert_eq!(location(&get(&app, "/admin", Some(planted)).await), "/admin/sign-in");

    let client = app.client(trustid::domain::client::SigningAlg::ES256).await;
    app.user_with_device("alice").await;
    app.start(&client, "alice", "Pay 10 EUR").await;
    let dashboard = get(&app, "/admin", Some(&cookie)).await;
    assert_eq!(dashboard.status(), 200);
    let html = dashboard.text().await.unwrap();
    assert!(html.contains(EMAIL), "{html}");
    assert!(html.contains("<td id=\"pending-hour\">1</td>"), "{html}");
    assert!(html.contains("<td id=\"users-locked\">0</td>"), "{html}");
    let admin = trustid::engine::users::Actor::Admin("test".into());
    let locked = trustid::domain::user::UserStatus::Locked;
    trustid::engine::users::set_status(&app.state, &admin, &"alice".into(), locked)
        .await
        .unwrap();
    let html = get(&app, "/admin", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("<td id=\"users-locked\">1</td>"), "{html}");
    // Signed in already: the form moves on.
    assert_eq!(location(&get(&app, "/admin/sign-in", Some(&cookie)).await), "/admin");
}

#[tokio::test]
async fn wrong_credentials_are_one_answer_and_guessing_is_slowed() {
    let app = app_with_admin().await;
    let unknown = post(
        &app,
        "/admin/sign-in",
        None,
        &[("email", "nobody@bank.example"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(unknown.status(), 401);
    let unknown = unknown.text().await.unwrap();
    assert!(unknown.contains("The e-mail or the password is wrong."));
    assert!(
        unknown.contains("value=\"nobody@bank.example\""),
        "what was typed is kept"
    );
    let wrong = post(
        &app,
        "/admin/sign-in",
        None,
        &[("email", EMAIL), ("password", "not the password")],
    )
    .await;
    assert_eq!(wrong.status(), 401);
    for _ in 0..4 {
        post(
            &app,
            "/admin/sign-in",
            None,
            &[("email", EMAIL), ("password", "still wrong!")],
        )
        .await;
    }
    // Five failures for this account: even the right password waits.
    let slowed = post(
        &app,
        "/admin/sign-in",
        None,
        &[("email", EMAIL), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(slowed.status(), 429);
    let audit = app.store().audit_of(&format!("admin:{EMAIL}")).await.unwrap();
    let failures = audit.iter().filter(|(_, _, a)| a == "admin.sign_in_failed").count();
    assert_eq!(failures, 5);
    app.clock.advance_secs(16 * 60);
    sign_in(&app).await;

    let signed_in = sign_in(&app).await;
    admins::disable(app.store(), EMAIL, app.clock_now()).await.unwrap();
    assert_eq!(location(&get(&app, "/admin", Some(&signed_in)).await), "/admin/sign-in");
    let disabled = post(
        &app,
        "/admin/sign-in",
        None,
        &[("email", EMAIL), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(disabled.status(), 401);
}

#[tokio::test]
async fn forms_need_the_sessions_token_and_our_origin() {
    let app = app_with_admin().await;
    let cookie = sign_in(&app).await;
    let token = csrf_of(&app, &cookie).await;
    for form in [vec![], vec![("csrf", "wrong")]] {
        let res = post(&app, "/admin/sign-out", Some(&cookie), &form).await;
        assert_eq!(res.status(), 403);
    }
    let cross = app
        .http
        .post(app.url("/admin/sign-out"))
        .header("cookie", &cookie)
        .header("origin", "https://evil.example")
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(cross.status(), 403);
    let no_origin = app
        .http
        .post(app.url("/admin/sign-in"))
        .form(&[("email", EMAIL), ("password", PASSWORD)])
        .send()
        .await
        .unwrap();
    assert_eq!(no_origin.status(), 403);
    let fetch_site = app
        .http
        .post(app.url("/admin/sign-out"))
        .header("cookie", &cookie)
        .header("sec-fetch-site", "same-origin")
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(fetch_site.status(), 303);
    assert!(
        fetch_site.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Max-Age=0")
    );
    assert_eq!(location(&get(&app, "/admin", Some(&cookie)).await), "/admin/sign-in");
}

#[tokio::test]
async fn an_admin_sees_and_revokes_their_own_sessions() {
    let app = app_with_admin().await;
    let laptop = sign_in(&app).await;
    let phone = sign_in(&app).await;
    let html = get(&app, "/admin/sessions", Some(&laptop)).await.text().await.unwrap();
    assert_eq!(html.matches("<tr>").count(), 3, "a header and two sessions: {html}");
    assert!(html.contains("this one"));
    let at = html.find("/admin/sessions/").unwrap() + 16;
    let other = &html[at..at + html[at..].find('/').unwrap()];
    let token = csrf_of(&app, &laptop).await;
    let revoked = post(
        &app,
        &format!("/admin/sessions/{other}/revoke"),
        Some(&laptop),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(revoked.status(), 303);
    assert_eq!(location(&get(&app, "/admin", Some(&phone)).await), "/admin/sign-in");
    assert_eq!(get(&app, "/admin", Some(&laptop)).await.status(), 200);
    let again = post(
        &app,
        &format!("/admin/sessions/{other}/revoke"),
        Some(&laptop),
        &[("csrf", &token)],
    )
    .await;
    assert_eq!(again.status(), 404);
}

#[tokio::test]
async fn sessions_end_when_idle_too_old_or_the_password_changes() {
    let app = app_with_admin().await;
    let idle = sign_in(&app).await;
    app.clock.advance_secs(IDLE_TIMEOUT + 1);
    assert_eq!(location(&get(&app, "/admin", Some(&idle)).await), "/admin/sign-in");

    let busy = sign_in(&app).await;
    let mut used = 0;
    while used + IDLE_TIMEOUT / 2 < ABSOLUTE_TIMEOUT {
        app.clock.advance_secs(IDLE_TIMEOUT / 2);
        used += IDLE_TIMEOUT / 2;
        assert_eq!(get(&app, "/admin", Some(&busy)).await.status(), 200, "after {used} s");
    }
    app.clock.advance_secs(IDLE_TIMEOUT / 2);
    assert_eq!(location(&get(&app, "/admin", Some(&busy)).await), "/admin/sign-in");

    // Ended sessions are forgotten a day later.
    app.clock.advance_secs(86_400 + ABSOLUTE_TIMEOUT);
    assert!(trustid::engine::admin_sessions::prune(&app.state).await >= 2);
    let before = sign_in(&app).await;
    admins::set_password(app.store(), EMAIL, "a brand new password".into(), app.clock_now())
        .await
        .unwrap();
    assert_eq!(location(&get(&app, "/admin", Some(&before)).await), "/admin/sign-in");
}

/// Guesses sent all at once are counted as if one after another: five are
/// checked, the rest wait.
#[tokio::test]
async fn parallel_guesses_do_not_pass_the_throttle() {
    let app = app_with_admin().await;
    let guesses = (0..12).map(|i| {
        let app = &app;
        async move {
            let password = format!("wrong guess number {i}");
            post(
                app,
                "/admin/sign-in",
                None,
                &[("email", EMAIL), ("password", &password)],
            )
            .await
            .status()
            .as_u16()
        }
    });
    let mut statuses = futures_util::future::join_all(guesses).await;
    statuses.sort_unstable();
    assert_eq!(statuses, [401, 401, 401, 401, 401, 429, 429, 429, 429, 429, 429, 429]);
    let audit = app.store().audit_of(&format!("admin:{EMAIL}")).await.unwrap();
    assert_eq!(audit.iter().filter(|(_, _, a)| a == "admin.sign_in_failed").count(), 5);
}

/// An unknown e-mail and a wrong password get the same page (but for what
/// was typed).
#[tokio::test]
async fn an_unknown_email_and_a_wrong_password_read_the_same() {
    let app = app_with_admin().await;
    let answer = |email: &'static str, password: &'static str| {
        let app = &app;
        async move {
            let res = post(app, "/admin/sign-in", None, &[("email", email), ("password", password)]).await;
            (res.status().as_u16(), res.text().await.unwrap().replace(email, "EMAIL"))
        }
    };
    let unknown = answer("nobody@bank.example", PASSWORD).await;
    let wrong = answer(EMAIL, "not the password at all").await;
    assert_eq!(unknown, wrong);
}

/// From now on every audit write fails (the database refuses the insert)
/// while reads still work: for the paths that must not act unrecorded.
pub(crate) async fn refuse_audit_writes(app: &TestApp) {
    use sqlx::Connection;
    let url = &app.settings.database_url;
    if url.starts_with("sqlite") {
        let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
        let trigger = "CREATE TRIGGER no_audit BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'no audit'); END";
        sqlx::query(trigger).execute(&mut db).await.unwrap();
    } else {
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        for sql in [
            "CREATE FUNCTION no_audit() RETURNS trigger AS $$ BEGIN RAISE EXCEPTION 'no audit'; END $$ LANGUAGE plpgsql",
            "CREATE TRIGGER no_audit BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION no_audit()",
        ] {
            sqlx::query(sql).execute(&mut db).await.unwrap();
        }
    }
}
