//! The console's users: find one by id, e-mail or phone; lock and unlock;
//! prefer and remove a device. Every change is the signed-in admin's, in
//! the audit trail, and needs the form's token.

use crate::common::phone_of;
use crate::console::{app_with_admin, csrf_in, get, location, post_signed, sign_in};

#[tokio::test]
async fn an_admin_finds_a_user_and_manages_their_devices() {
    let app = app_with_admin().await;
    let cookie = sign_in(&app).await;
    let first = app.user_with_device("dana").await;
    let second = app.device_for("dana").await;
    for q in ["dana", "dana@example.com", phone_of("dana").as_str()] {
        let html = get(&app, &format!("/admin/users?q={}", urlencode(q)), Some(&cookie))
            .await
            .text()
            .await
            .unwrap();
        assert!(html.contains("id=\"found\" href=\"/admin/users/dana\""), "{q}: {html}");
    }
    let none = get(&app, "/admin/users?q=nobody", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(none.contains("No user is known by"), "{none}");

    let html = get(&app, "/admin/users/dana", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains(&first.id()) && html.contains(&second.id()), "{html}");
    let csrf = csrf_in(&html);
    let locked = post_signed(
        &app,
        &cookie,
        "/admin/users/dana/status",
        &[("csrf", &csrf), ("status", "locked")],
    )
    .await;
    assert_eq!(locked.status(), 303);
    let html = get(&app, "/admin/users/dana", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert!(html.contains("<dd id=\"user-status\">locked</dd>"), "{html}");
    let forged = post_signed(
        &app,
        &cookie,
        "/admin/users/dana/status",
        &[("csrf", "forged"), ("status", "active")],
    )
    .await;
    assert_eq!(forged.status(), 403);
    let bad = post_signed(
        &app,
        &cookie,
        "/admin/users/dana/status",
        &[("csrf", &csrf), ("status", "sleepy")],
    )
    .await;
    assert_eq!(bad.status(), 400);
    post_signed(
        &app,
        &cookie,
        "/admin/users/dana/status",
        &[("csrf", &csrf), ("status", "active")],
    )
    .await;

    let path = format!("/admin/users/dana/devices/{}", second.id());
    let preferred = post_signed(&app, &cookie, &path, &[("csrf", &csrf), ("action", "prefer")]).await;
    assert_eq!(preferred.status(), 303);
    let removed = post_signed(&app, &cookie, &path, &[("csrf", &csrf), ("action", "remove")]).await;
    assert_eq!(removed.status(), 303);
    let again = post_signed(&app, &cookie, &path, &[("csrf", &csrf), ("action", "remove")]).await;
    assert_eq!(again.status(), 404);
    // An id with the characters a URL reserves is reached through its link.
    app.user("a/b?c#d e", &[]).await;
    let found = get(
        &app,
        &format!("/admin/users?q={}", urlencode("a/b?c#d e")),
        Some(&cookie),
    )
    .await
    .text()
    .await
    .unwrap();
    let marker = "id=\"found\" href=\"";
    let at = found.find(marker).unwrap() + marker.len();
    let link = &found[at..at + found[at..].find('"').unwrap()];
    assert_eq!(link, "/admin/users/a%2Fb%3Fc%23d%20e");
    let odd = get(&app, link, Some(&cookie)).await;
    assert_eq!(odd.status(), 200);
    assert!(
        odd.text()
            .await
            .unwrap()
            .contains("action=\"/admin/users/a%2Fb%3Fc%23d%20e/status\"")
    );
    let missing = get(&app, "/admin/users/nobody", Some(&cookie)).await;
    assert_eq!(missing.status(), 404);
    assert_eq!(location(&get(&app, "/admin/users/dana", None).await), "/admin/sign-in");

    let audit = app.store().audit_of("user:dana").await.unwrap();
    // Entries of one second have no order between them (the trail's id is random).
    let mut by_admin: Vec<&str> = audit
        .iter()
        .filter(|(_, actor, _)| actor == "admin:ops@bank.example")
        .map(|(_, _, action)| action.as_str())
        .collect();
    by_admin.sort_unstable();
    assert_eq!(
        by_admin,
        ["device.preferred", "device.removed", "user.locked", "user.unlocked"]
    );
}

fn urlencode(v: &str) -> String {
    form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// A device locked and unlocked from the console; an activation issued
/// there (a registration token with its QR code) adds a device through the
/// device API, and the user's page then lists it among their activations.
#[tokio::test]
async fn an_admin_locks_a_device_and_issues_an_activation_a_phone_uses() {
    let app = app_with_admin().await;
    let cookie = sign_in(&app).await;
    let device = app.user_with_device("eve").await;
    let html = get(&app, "/admin/users/eve", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("This user is associated with no app"), "{html}");
    assert!(html.contains("Nothing has bound a device"), "{html}");
    let csrf = csrf_in(&html);
    let path = format!("/admin/users/eve/devices/{}", urlencode(&device.id()));
    let locked = post_signed(&app, &cookie, &path, &[("csrf", csrf.as_str()), ("action", "lock")]).await;
    assert_eq!(location(&locked), "/admin/users/eve");
    assert_eq!(device.inbox(&app).await.status, 403, "a locked device is refused");
    let again = post_signed(&app, &cookie, &path, &[("csrf", csrf.as_str()), ("action", "lock")]).await;
    assert_eq!(again.status(), 404, "only an active device locks");
    let unlocked = post_signed(&app, &cookie, &path, &[("csrf", csrf.as_str()), ("action", "unlock")]).await;
    assert_eq!(location(&unlocked), "/admin/users/eve");
    assert_eq!(device.inbox(&app).await.status, 200);

    let issue = "/admin/users/eve/activation";
    assert_eq!(
        post_signed(&app, &cookie, issue, &[]).await.status(),
        403,
        "no token, no activation"
    );
    let res = post_signed(&app, &cookie, issue, &[("csrf", csrf.as_str())]).await;
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["cache-control"], "no-store");
    let html = res.text().await.unwrap();
    assert!(html.contains("<svg"), "a QR code: {html}");
    let at = html.find("id=\"registration-token\">").unwrap() + 24;
    let token = &html[at..at + html[at..].find('<').unwrap()];
    let phone = crate::common::TestDevice::new();
    assert_eq!(phone.register(&app).await.status, 201);
    let activated = app
        .http
        .post(app.url("/device/v1/activate"))
        .header("DPoP", phone.proof(&app, "POST", "/device/v1/activate"))
        .json(&serde_json::json!({"registration_token": token}))
        .send()
        .await
        .unwrap();
    assert_eq!(activated.status(), 200);
    let html = get(&app, "/admin/users/eve", Some(&cookie)).await.text().await.unwrap();
    assert!(html.contains("<td>registration token</td><td>console</td>"), "{html}");
    assert!(html.contains("used 20"), "the token is listed as used: {html}");
    assert!(
        html.contains(&format!("<code>{}</code>", phone.id())),
        "the new device: {html}"
    );
    let unknown = post_signed(
        &app,
        &cookie,
        "/admin/users/nobody/activation",
        &[("csrf", csrf.as_str())],
    )
    .await;
    assert_eq!(unknown.status(), 404);
    let status = post_signed(
        &app,
        &cookie,
        "/admin/users/eve/status",
        &[("csrf", csrf.as_str()), ("status", "locked")],
    )
    .await;
    assert_eq!(location(&status), "/admin/users/eve");
    let refused = post_signed(&app, &cookie, issue, &[("csrf", csrf.as_str())]).await;
    assert_eq!(refused.status(), 409, "a locked user gets no activation");

    app.user("gus", &["bank-app"]).await;
    let html = get(&app, "/admin/users/gus", Some(&cookie)).await.text().await.unwrap();
    assert!(
        html.contains("<ul id=\"apps\"><li><code>bank-app</code></li></ul>"),
        "{html}"
    );
}
