//! The console's page of a client's adaptive rules (issue 22): listed in
//! evaluation order, added from JSON (a refused rule comes back as typed
//! with the reason), removed; each change audited under the admin.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::console::{app_with_admin, csrf_in, get, location, post_signed, sign_in};
use trustid::domain::client::ClientMetadata;

#[tokio::test]
async fn an_admin_adds_and_removes_a_clients_rules_and_bad_ones_come_back_with_the_reason() {
    let app = app_with_admin().await;
    let cookie = sign_in(&app).await;
    let client = app.register(ClientMetadata::poll("Bank")).await;
    let path = format!("/admin/clients/{}/rules", client.client_id);
    let page = get(&app, &path, Some(&cookie)).await.text().await.unwrap();
    assert!(page.contains("No rules"), "{page}");
    let client_page = get(&app, &format!("/admin/clients/{}", client.client_id), Some(&cookie)).await;
    assert!(
        client_page.text().await.unwrap().contains(&path),
        "the client's page links to its rules"
    );
    let csrf = csrf_in(&page);

    let rule = r#"{"name": "big payments", "outcome": "CHALLENGE_REQUIRED", "conditions": [{"type": "custom_data", "field": "amount", "op": "gt", "value": 1000}]}"#;
    let added = post_signed(
        &app,
        &cookie,
        &path,
        &[("csrf", &csrf), ("rule", rule), ("position", "5")],
    )
    .await;
    assert_eq!((added.status().as_u16(), location(&added)), (303, path.as_str()));
    let page = get(&app, &path, Some(&cookie)).await.text().await.unwrap();
    assert!(
        page.contains("big payments") && page.contains("CHALLENGE_REQUIRED"),
        "{page}"
    );

    for (typed, position, why) in [
        ("{not json", "", "not valid JSON"),
        (r#"{"name": "", "outcome": "BLOCK"}"#, "", "name must be"),
        (r#"{"name": "x", "outcome": "BLOCK"}"#, "first", "position must be"),
    ] {
        let refused = post_signed(
            &app,
            &cookie,
            &path,
            &[("csrf", &csrf), ("rule", typed), ("position", position)],
        )
        .await;
        assert_eq!(refused.status(), 400, "{why}");
        let html = refused.text().await.unwrap();
        assert!(html.contains(why), "{why}: {html}");
        assert!(html.contains("id=\"rule-error\""), "{html}");
    }
    let forged = post_signed(&app, &cookie, &path, &[("csrf", "forged"), ("rule", rule)]).await;
    assert_eq!(forged.status(), 403, "the session's token is required");

    let stored = app.store().risk_rules(client.client_id.as_str()).await.unwrap();
    assert_eq!(stored.len(), 1, "nothing refused was stored");
    let remove = format!("{path}/{}/remove", stored[0].id);
    let removed = post_signed(&app, &cookie, &remove, &[("csrf", &csrf)]).await;
    assert_eq!(removed.status(), 303);
    assert!(
        app.store()
            .risk_rules(client.client_id.as_str())
            .await
            .unwrap()
            .is_empty()
    );
    assert_eq!(
        post_signed(&app, &cookie, &remove, &[("csrf", &csrf)]).await.status(),
        404
    );
    let trail = app
        .store()
        .audit_of(&format!("client:{}", client.client_id))
        .await
        .unwrap();
    let by_admin: Vec<&str> = trail
        .iter()
        .filter(|(_, actor, _)| actor.starts_with("admin:"))
        .map(|(_, _, action)| action.as_str())
        .collect();
    assert_eq!(by_admin, ["risk_rule.added", "risk_rule.removed"]);
    assert_eq!(
        get(&app, "/admin/clients/nobody/rules", Some(&cookie)).await.status(),
        404
    );
}
