//! The console's signing keys: listed with their state, rotated (published
//! first, signing later) and retired, with `trustid keys`' rules.

use crate::console::{app_with_admin, csrf_in, get, post_signed, sign_in};

/// The `kid`s of the rows in `state`.
fn kids_in(html: &str, state: &str) -> Vec<String> {
    html.split("<tr>")
        .filter(|row| row.contains(&format!("<td>{state}</td>")))
        .filter_map(|row| {
            let at = row.find("<code>")? + 6;
            Some(row[at..at + row[at..].find('<')?].to_owned())
        })
        .collect()
}

#[tokio::test]
async fn keys_are_listed_rotated_and_retired() {
    let app = app_with_admin().await;
    let cookie = sign_in(&app).await;
    let html = get(&app, "/admin/keys", Some(&cookie)).await.text().await.unwrap();
    let signing = kids_in(&html, "signing");
    assert_eq!(signing.len(), 4, "ES256, PS256, RS256 and SAML: {html}");
    let csrf = csrf_in(&html);

    for bad in ["-5", "60", "soon"] {
        let form = [("csrf", csrf.as_str()), ("use_after", bad)];
        let refused = post_signed(&app, &cookie, "/admin/keys/rotate", &form).await;
        assert_eq!(refused.status(), 400, "{bad}");
    }
    let rotated = post_signed(
        &app,
        &cookie,
        "/admin/keys/rotate",
        &[("csrf", &csrf), ("use_after", "3600")],
    )
    .await;
    assert_eq!(rotated.status(), 303);
    let html = get(&app, "/admin/keys", Some(&cookie)).await.text().await.unwrap();
    let next = kids_in(&html, "next");
    assert_eq!(next.len(), 4, "{html}");
    assert_eq!(kids_in(&html, "signing"), signing, "the old keys still sign");

    let refused = post_signed(
        &app,
        &cookie,
        "/admin/keys/retire",
        &[("csrf", &csrf), ("kid", &signing[0])],
    )
    .await;
    assert_eq!(refused.status(), 400);
    assert!(refused.text().await.unwrap().contains("rotate first"));
    let retired = post_signed(
        &app,
        &cookie,
        "/admin/keys/retire",
        &[("csrf", &csrf), ("kid", &next[0])],
    )
    .await;
    assert_eq!(retired.status(), 303);
    let html = get(&app, "/admin/keys", Some(&cookie)).await.text().await.unwrap();
    assert!(!html.contains(&next[0]));
    let forged = post_signed(
        &app,
        &cookie,
        "/admin/keys/rotate",
        &[("csrf", "x"), ("use_after", "0")],
    )
    .await;
    assert_eq!(forged.status(), 403);

    let audit = app.store().audit_of("admin:ops@bank.example").await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|(_, _, a)| a.as_str()).collect();
    assert!(
        actions.contains(&"keys.rotated") && actions.contains(&"keys.retired"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn a_key_change_the_audit_trail_cannot_record_is_an_error_page() {
    let app = app_with_admin().await;
    let cookie = sign_in(&app).await;
    let html = get(&app, "/admin/keys", Some(&cookie)).await.text().await.unwrap();
    crate::console::refuse_audit_writes(&app).await;
    let res = post_signed(
        &app,
        &cookie,
        "/admin/keys/rotate",
        &[("csrf", csrf_in(&html).as_str()), ("use_after", "3600")],
    )
    .await;
    assert_eq!(res.status(), 500);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("the audit trail could not record it")
    );
}
