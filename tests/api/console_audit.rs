//! The console's audit log: filters, pages by key, and the CSV and JSON
//! exports of what matches.

use serde_json::Value;
use trustid::domain::lifecycle::AuditEntry;

use crate::console::{app_with_admin, get, location, sign_in};

#[tokio::test]
async fn the_audit_log_filters_pages_and_exports() {
    let app = app_with_admin().await;
    assert_eq!(location(&get(&app, "/admin/audit", None).await), "/admin/sign-in");
    let cookie = sign_in(&app).await;
    let at = app.clock_now();
    for i in 0..55 {
        let entry = AuditEntry {
            // One instant for all: the page key's tie-break on the id is what pages.
            at,
            actor: "cli".into(),
            action: "user.locked",
            subject: format!("user:u{i}"),
            detail: Some("say \"why\"".into()),
        };
        app.store().audit(&entry).await.unwrap();
    }
    let html = get(&app, "/admin/audit?action=user.locked", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(html.matches("<td>user.locked</td>").count(), 50, "{html}");
    assert!(!html.contains("admin.signed_in"));
    let marker = "id=\"next-page\" href=\"";
    let at = html.find(marker).unwrap() + marker.len();
    let next = html[at..at + html[at..].find('"').unwrap()].replace("&#38;", "&");
    let older = get(&app, &next, Some(&cookie)).await.text().await.unwrap();
    assert_eq!(older.matches("<td>user.locked</td>").count(), 5, "{older}");
    // Newest first, in the order written even within one second.
    assert!(html.contains("user:u54") && !html.contains("user:u4<"), "{html}");
    let written: Vec<usize> = (0..5).map(|i| older.find(&format!("user:u{i}<")).unwrap()).collect();
    assert!(written.windows(2).all(|w| w[0] > w[1]), "u4 above u0: {older}");
    assert!(!older.contains("next-page"));
    // Every entry once, across the two pages.
    for i in 0..55 {
        let shown = format!("<td>user:u{i}</td>");
        assert_eq!(html.matches(&shown).count() + older.matches(&shown).count(), 1, "u{i}");
    }

    let signed_in = get(&app, "/admin/audit?action=admin.signed_in", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(signed_in.matches("<td>admin.signed_in</td>").count(), 1);

    let csv = get(&app, "/admin/audit/export?format=csv&action=user.locked", Some(&cookie)).await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("trustid-audit.csv")
    );
    let csv = csv.text().await.unwrap();
    assert_eq!(csv.lines().count(), 56, "a header and 55 rows");
    assert!(csv.contains("\"say \"\"why\"\"\""), "{csv}");
    let json: Value = get(&app, "/admin/audit/export?format=json&subject=user:u7", Some(&cookie))
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 1);
    assert_eq!(json[0]["subject"], "user:u7");
    assert_eq!(
        get(&app, "/admin/audit/export?format=xml", Some(&cookie))
            .await
            .status(),
        400
    );
    // The export itself is in the trail.
    let exported = get(&app, "/admin/audit?action=audit.exported", Some(&cookie))
        .await
        .text()
        .await
        .unwrap();
    assert_eq!(exported.matches("<td>audit.exported</td>").count(), 2);
}

#[tokio::test]
async fn no_export_leaves_unrecorded() {
    let app = app_with_admin().await;
    let cookie = sign_in(&app).await;
    crate::console::refuse_audit_writes(&app).await;
    let res = get(&app, "/admin/audit/export?format=csv", Some(&cookie)).await;
    assert_eq!(res.status(), 500);
    assert!(res.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    assert!(res.text().await.unwrap().contains("cannot record this export"));
}
