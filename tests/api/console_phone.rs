//! The console's second factor: an admin binds a phone with trustid's own
//! device API, then each sign-in waits for that phone's approval (number
//! matching on); where every admin must have one, a session opened by
//! password alone reaches nothing but the page that binds one.

use serde_json::json;
use trustid::domain::client::ClientMetadata;
use trustid::engine::admins;

use crate::common::{TestApp, TestDevice, spawn_app_with};
use crate::console::{EMAIL, PASSWORD, cookie_of, csrf_in, get, location, post, post_signed};

async fn app(required: bool) -> TestApp {
    let app = spawn_app_with(|s| s.admin_second_factor = required).await;
    admins::create_admin(app.store(), EMAIL, PASSWORD.into(), app.clock_now())
        .await
        .unwrap();
    app
}

/// Signs in with the password: the cookie, and where the browser goes next.
pub(crate) async fn password(app: &TestApp) -> (String, String) {
    let res = post(app, "/admin/sign-in", None, &[("email", EMAIL), ("password", PASSWORD)]).await;
    assert_eq!(res.status(), 303);
    let cookie = cookie_of(&res);
    (cookie, location(&res).to_owned())
}

async fn html(app: &TestApp, path: &str, cookie: &str) -> (u16, String) {
    let res = get(app, path, Some(cookie)).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

fn between<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let at = html.find(start).unwrap_or_else(|| panic!("{start} in {html}")) + start.len();
    &html[at..at + html[at..].find(end).unwrap()]
}

/// Binds a new phone to the admin signed in with `cookie`, through the
/// device API's activation with the registration token the page shows.
pub(crate) async fn bind_phone(app: &TestApp, cookie: &str) -> TestDevice {
    let (_, page) = html(app, "/admin/phone", cookie).await;
    let csrf = csrf_in(&page);
    assert_eq!(
        post_signed(app, cookie, "/admin/phone", &[]).await.status(),
        403,
        "no token, no binding"
    );
    let shown = post_signed(app, cookie, "/admin/phone", &[("csrf", csrf.as_str())]).await;
    let status = shown.status();
    let body = shown.text().await.unwrap();
    assert_eq!(status, 200, "{body}");
    let shown = body;
    assert!(shown.contains("<svg"), "a QR code: {shown}");
    let token = between(&shown, "id=\"registration-token\">", "<").to_owned();
    let device = TestDevice::new();
    assert_eq!(device.register(app).await.status, 201);
    let res = app
        .http
        .post(app.url("/device/v1/activate"))
        .header("DPoP", device.proof(app, "POST", "/device/v1/activate"))
        .json(&json!({"registration_token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "{}", res.text().await.unwrap());
    device
}

/// Signs in with the password and the phone: the full session's cookie.
async fn sign_in_with_phone(app: &TestApp, phone: &TestDevice) -> String {
    let (waiting, next) = password(app).await;
    assert_eq!(next, "/admin/sign-in/phone");
    let (status, page) = html(app, &next, &waiting).await;
    assert_eq!(status, 200);
    assert!(page.contains("http-equiv=\"refresh\""), "{page}");
    let number = between(&page, "id=\"match-number\" class=\"match-number\">", "<").to_owned();
    assert_eq!(phone.approve_typing(app, &number).await.status, 200);
    let done = get(app, &next, Some(&waiting)).await;
    assert_eq!(done.status(), 303);
    assert_eq!(location(&done), "/admin");
    let cookie = cookie_of(&done);
    assert_ne!(cookie, waiting, "a new session once approved");
    assert_eq!(
        location(&get(app, "/admin", Some(&waiting)).await),
        "/admin/sign-in",
        "the waiting one ended"
    );
    cookie
}

#[tokio::test]
async fn a_bound_phone_must_approve_each_sign_in_with_the_number_shown() {
    let app = app(false).await;
    let (cookie, next) = password(&app).await;
    assert_eq!(next, "/admin", "no phone yet: the password is enough");
    let (_, page) = html(&app, "/admin/phone", &cookie).await;
    assert!(page.contains("id=\"no-phone\""), "{page}");
    let phone = bind_phone(&app, &cookie).await;
    let (_, page) = html(&app, "/admin/phone", &cookie).await;
    assert!(page.contains(&phone.id()), "the phone is listed: {page}");

    // Now a sign-in waits for it: the waiting cookie opens nothing.
    let (waiting, next) = password(&app).await;
    assert_eq!(next, "/admin/sign-in/phone");
    assert_eq!(
        location(&get(&app, "/admin", Some(&waiting)).await),
        "/admin/sign-in/phone"
    );
    assert_eq!(
        location(&get(&app, "/admin/phone", Some(&waiting)).await),
        "/admin/sign-in/phone"
    );
    let (_, page) = html(&app, "/admin/sign-in/phone", &waiting).await;
    let number = between(&page, "id=\"match-number\" class=\"match-number\">", "<").to_owned();
    let wrong = if number == "00" { "01" } else { "00" };
    let refused = phone.approve_typing(&app, wrong).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert_eq!(refused.body["error"], "number_mismatch");
    assert_eq!(
        get(&app, "/admin/sign-in/phone", Some(&waiting)).await.status(),
        200,
        "still waiting"
    );
    assert_eq!(phone.approve_typing(&app, &number).await.status, 200);
    let done = get(&app, "/admin/sign-in/phone", Some(&waiting)).await;
    assert_eq!(location(&done), "/admin");
    let full = cookie_of(&done);
    assert_eq!(get(&app, "/admin", Some(&full)).await.status(), 200);
    let (_, audit) = html(&app, "/admin/audit?action=admin.signed_in", &full).await;
    assert!(audit.contains(&format!("approved on device {}", phone.id())), "{audit}");

    // The approval was used once; a denial ends the sign-in.
    let (denied, _) = password(&app).await;
    assert_eq!(phone.decide(&app, "deny").await.status, 200);
    let (status, page) = html(&app, "/admin/sign-in/phone", &denied).await;
    assert_eq!(status, 403);
    assert!(page.contains("denied on your phone"), "{page}");
    assert_eq!(location(&get(&app, "/admin", Some(&denied)).await), "/admin/sign-in");

    // Not answered in time.
    let (late, _) = password(&app).await;
    app.clock.advance_secs(121);
    let (status, page) = html(&app, "/admin/sign-in/phone", &late).await;
    assert_eq!(status, 403);
    assert!(page.contains("not answered in time"), "{page}");
}

#[tokio::test]
async fn where_a_phone_is_required_a_password_alone_only_binds_one() {
    let app = app(true).await;
    let (cookie, next) = password(&app).await;
    assert_eq!(next, "/admin");
    for page in ["/admin", "/admin/transactions", "/admin/clients", "/admin/audit"] {
        assert_eq!(
            location(&get(&app, page, Some(&cookie)).await),
            "/admin/phone",
            "{page}"
        );
    }
    let (_, page) = html(&app, "/admin/phone", &cookie).await;
    assert!(page.contains("id=\"required\""), "{page}");
    let csrf = csrf_in(&page);
    let refused = post_signed(&app, &cookie, "/admin/keys/rotate", &[("csrf", csrf.as_str())]).await;
    assert_eq!(location(&refused), "/admin/phone", "a form is refused too");
    let phone = bind_phone(&app, &cookie).await;
    assert_eq!(
        location(&get(&app, "/admin", Some(&cookie)).await),
        "/admin/phone",
        "still this session"
    );
    let out = post_signed(&app, &cookie, "/admin/sign-out", &[("csrf", csrf.as_str())]).await;
    assert_eq!(location(&out), "/admin/sign-in");

    let full = sign_in_with_phone(&app, &phone).await;
    assert_eq!(get(&app, "/admin/transactions", Some(&full)).await.status(), 200);
    let (_, page) = html(&app, "/admin/phone", &full).await;
    assert!(!page.contains("id=\"required\""), "{page}");

    // The phone is lost: an operator forgets it; sessions end, and a
    // password-only session can again only bind a new one.
    assert_eq!(
        admins::forget_phones(app.store(), EMAIL, app.clock_now())
            .await
            .unwrap(),
        1
    );
    assert_eq!(location(&get(&app, "/admin", Some(&full)).await), "/admin/sign-in");
    let (cookie, next) = password(&app).await;
    assert_eq!(next, "/admin");
    assert_eq!(location(&get(&app, "/admin", Some(&cookie)).await), "/admin/phone");
    assert_eq!(phone.inbox(&app).await.status, 403, "the lost phone is removed");
}

#[tokio::test]
async fn a_waiting_sign_in_can_be_cancelled_and_a_user_id_of_the_console_is_reserved() {
    let app = app(false).await;
    let (cookie, _) = password(&app).await;
    let phone = bind_phone(&app, &cookie).await;
    let (waiting, _) = password(&app).await;
    let (_, page) = html(&app, "/admin/sign-in/phone", &waiting).await;
    let out = post_signed(&app, &waiting, "/admin/sign-out", &[("csrf", csrf_in(&page).as_str())]).await;
    assert_eq!(location(&out), "/admin/sign-in");
    assert_eq!(
        location(&get(&app, "/admin/sign-in/phone", Some(&waiting)).await),
        "/admin/sign-in"
    );
    let full = sign_in_with_phone(&app, &phone).await;
    assert_eq!(get(&app, "/admin", Some(&full)).await.status(), 200);

    let (_, token) = app.manager(ClientMetadata::poll("Bank")).await;
    let taken = app
        .http
        .post(app.url("/manage/v1/users/register"))
        .bearer_auth(&token)
        .json(&json!({"userID": "console:guess"}))
        .send()
        .await
        .unwrap();
    assert_eq!(taken.status(), 400);
}

/// Whoever holds the password cannot get past a phone by having it locked
/// (wrong numbers, "not me"): the sign-in is refused, not let through. A
/// session opened by password alone before the phone was bound opens
/// nothing once it is, and cannot bind another phone.
#[tokio::test]
async fn a_locked_phone_refuses_sign_in_and_a_password_only_session_cannot_bind() {
    let app = app(false).await;
    let (early, _) = password(&app).await;
    let (cookie, _) = password(&app).await;
    let phone = bind_phone(&app, &cookie).await;
    for stale in [&early, &cookie] {
        assert_eq!(location(&get(&app, "/admin", Some(stale)).await), "/admin/phone");
    }
    let (_, page) = html(&app, "/admin/phone", &early).await;
    assert!(page.contains("id=\"password-only\""), "{page}");
    let bind = post_signed(&app, &early, "/admin/phone", &[("csrf", csrf_in(&page).as_str())]).await;
    assert_eq!(bind.status(), 403, "a stolen password adds no phone");

    let admin = app.store().admin_by_email(EMAIL).await.unwrap().unwrap();
    let user = admin.device_user_id.unwrap();
    assert!(app.store().set_device_locked(&user, &phone.id(), true).await.unwrap());
    let refused = post(
        &app,
        "/admin/sign-in",
        None,
        &[("email", EMAIL), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(refused.status(), 503);
    assert!(refused.headers().get("set-cookie").is_none(), "no session at all");
}

/// The users holding admins' phones are the console's alone: a relying
/// party cannot list, lock or add devices to them, nor send them requests.
#[tokio::test]
async fn a_relying_party_cannot_reach_an_admins_phone() {
    let app = app(false).await;
    let (cookie, _) = password(&app).await;
    bind_phone(&app, &cookie).await;
    let user = app
        .store()
        .admin_by_email(EMAIL)
        .await
        .unwrap()
        .unwrap()
        .device_user_id
        .unwrap();
    let (client, token) = app.manager(ClientMetadata::poll("Bank")).await;
    for (method, path) in [
        ("GET", format!("/manage/v1/users/{user}/devices")),
        ("POST", format!("/manage/v1/users/{user}/registration-tokens")),
        ("POST", format!("/manage/v1/users/{user}/lock")),
    ] {
        let req = app
            .http
            .request(method.parse().unwrap(), app.url(&path))
            .bearer_auth(&token);
        let res = req.send().await.unwrap();
        assert_eq!(res.status(), 404, "{method} {path}");
    }
    let asked = app
        .backchannel(&client, &[("scope", "openid"), ("login_hint", user.as_str())])
        .await;
    assert_ne!(asked.status, 200, "{}", asked.body);
}
