//! Who signs in from where, behind a reverse proxy: only a proxy named in
//! `trusted_proxies` is believed about the client (`X-Forwarded-For`), the
//! per-address throttle counts that client (an IPv6 one by its /64), and
//! the session list shows it.

use trustid::engine::admins;

use crate::common::{TestApp, spawn_app_with};
use crate::console::{EMAIL, PASSWORD, cookie_of, get, location};

async fn sign_in_from(app: &TestApp, forwarded_for: &str) -> reqwest::Response {
    app.http
        .post(app.url("/admin/sign-in"))
        .header("origin", &app.base)
        .header("x-forwarded-for", forwarded_for)
        .form(&[("email", EMAIL), ("password", PASSWORD)])
        .send()
        .await
        .unwrap()
}

/// Twenty failures of other accounts from `key`: the address throttle's limit.
async fn exhaust(app: &TestApp, key: &str) {
    for i in 0..20 {
        let email = format!("guess{i}@bank.example");
        app.store()
            .record_sign_in_failure(&email, key, app.clock_now())
            .await
            .unwrap();
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_client_is_throttled_and_shown() {
    // The test's requests come from 127.0.0.1: the proxy.
    let app = spawn_app_with(|s| s.trusted_proxies = "127.0.0.1, 10.0.0.0/8".into()).await;
    admins::create_admin(app.store(), EMAIL, PASSWORD.into(), app.clock_now())
        .await
        .unwrap();
    exhaust(&app, "203.0.113.9").await;
    exhaust(&app, "2001:db8:1:2::/64").await;
    assert_eq!(sign_in_from(&app, "203.0.113.9").await.status(), 429);
    assert_eq!(
        sign_in_from(&app, "198.51.100.1, 203.0.113.9, 10.0.0.5").await.status(),
        429,
        "past the inner proxy"
    );
    assert_eq!(
        sign_in_from(&app, "2001:db8:1:2:ffff::77").await.status(),
        429,
        "the same /64"
    );
    let other = sign_in_from(&app, "203.0.113.9, 203.0.113.10").await;
    assert_eq!(other.status(), 303, "the client is the rightmost untrusted hop");
    let cookie = cookie_of(&other);
    let sessions = get(&app, "/admin/sessions", Some(&cookie)).await.text().await.unwrap();
    assert!(sessions.contains("<td>203.0.113.10</td>"), "{sessions}");
}

#[tokio::test]
async fn without_trusted_proxies_a_forwarded_header_is_not_believed() {
    let app = spawn_app_with(|_| {}).await;
    admins::create_admin(app.store(), EMAIL, PASSWORD.into(), app.clock_now())
        .await
        .unwrap();
    exhaust(&app, "127.0.0.1").await;
    assert_eq!(
        sign_in_from(&app, "203.0.113.10").await.status(),
        429,
        "the peer is the client"
    );
    assert_eq!(location(&get(&app, "/admin", None).await), "/admin/sign-in");
}
