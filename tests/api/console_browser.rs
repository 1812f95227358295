//! The console in a real browser: headless Chromium (Selenium, Debian's
//! chromium-driver; `tests/console/browser.py`) signs in with the password
//! and the admin's phone, sees the dashboard's figures change without a
//! reload, adds a client, finds a user, reads a transaction's evidence,
//! watches a new request appear on the pending page by itself and leave it
//! once the test's device approves it, opens its timeline, rotates a key,
//! exports the audit log and signs out. A screenshot of each page, light
//! and dark, is left under the target directory (`console-screenshots/`)
//! for a person to look at.
//! Skips without Chromium unless `TRUSTID_REQUIRE_BROWSER=1`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;
use trustid::domain::client::SigningAlg;
use trustid::engine::admin::ClientCredentials;

use crate::common::{TestApp, TestDevice};
use crate::console::app_with_admin;
use crate::console_phone::{bind_phone, password};
use crate::saml_browser::browser_python;

fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("console-screenshots")
}

/// What the script asked for, by the `ready` lines it printed.
async fn answer(app: &TestApp, client: &ClientCredentials, alice: &TestDevice, phone: &TestDevice, ready: &Value) {
    match ready["ready"].as_str().unwrap_or_default() {
        "phone" => {
            let number = ready["number"].as_str().unwrap();
            assert_eq!(phone.approve_typing(app, number).await.status, 200);
        }
        "dashboard" => {
            app.start(client, "alice", "Dashboard: 1 EUR").await;
        }
        "pending" => {
            app.start(client, "alice", "Live: pay 5 EUR").await;
        }
        "approve" => {
            let inbox = alice.inbox(app).await;
            let items = inbox.body["transactions"].as_array().unwrap();
            let item = items
                .iter()
                .find(|i| i["transaction_id"] == ready["transaction"])
                .unwrap_or_else(|| panic!("{ready} in {}", inbox.body));
            let jws = alice.decision_jws(item, "approve", app);
            let txn = item["transaction_id"].as_str().unwrap();
            assert_eq!(alice.send_decision(app, txn, &jws).await.status, 200);
        }
        other => panic!("browser.py asked for {other}"),
    }
}

#[tokio::test]
async fn chromium_walks_an_operators_day_through_the_console() {
    let Some(python) = browser_python() else { return };
    let app = app_with_admin().await;
    let (cookie, _) = password(&app).await;
    let phone = bind_phone(&app, &cookie).await;
    let client = app.client(SigningAlg::ES256).await;
    let alice = app.user_with_device("alice").await;
    app.start(&client, "alice", "Pay 10 EUR to Bob").await;
    let txn = alice.only_item(&app).await["transaction_id"]
        .as_str()
        .unwrap()
        .to_owned();
    alice.decide(&app, "approve").await;

    let shots = shots_dir();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/console/browser.py");
    let mut child = Command::new(python)
        .arg(script)
        .args(["--base", app.base.as_str(), "--email", "ops@bank.example"])
        .args(["--password", "-", "--transaction", txn.as_str()])
        .arg("--shots")
        .arg(&shots)
        .args(["--live", "Live: pay 5 EUR"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"correct horse battery staple\n")
        .unwrap();
    // Each `ready` line is answered here; the last line is the report.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut last = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Ok(ready) = serde_json::from_str::<Value>(&line)
                && ready.get("ready").is_some()
            {
                let _ = tx.send(ready);
            }
            last = line;
        }
        last
    });
    while let Ok(Some(ready)) = tokio::time::timeout(std::time::Duration::from_secs(180), rx.recv()).await {
        answer(&app, &client, &alice, &phone, &ready).await;
    }
    let last = tokio::task::spawn_blocking(move || reader.join().unwrap())
        .await
        .unwrap();
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let report: Value = serde_json::from_str(&last)
        .unwrap_or_else(|_| panic!("browser.py: {last} {}", String::from_utf8_lossy(&out.stderr)));
    assert_eq!(report["ok"], true, "{report}");
    let step = |name: &str| {
        let found = report["steps"].as_array().unwrap().iter().find(|s| s["name"] == name);
        found.unwrap_or_else(|| panic!("no step {name}: {report}")).clone()
    };
    let text = |name: &str| step(name)["text"].as_str().unwrap().to_owned();
    let url = |name: &str| step(name)["url"].as_str().unwrap().to_owned();
    assert!(url("sign-in").ends_with("/admin/sign-in"), "{report}");
    assert!(
        text("phone-wait").contains("Type this number on your phone"),
        "{report}"
    );
    assert!(url("dashboard").ends_with("/admin") && text("dashboard").contains("ops@bank.example"));
    // The same dashboard, its figures refreshed in place (no reload).
    assert!(text("dashboard-live").contains("Pending 1 1"), "{report}");
    assert!(text("client-added").contains("Browser Bank"), "{report}");
    assert!(
        text("user").contains("alice") && text("user").contains("Activations"),
        "{report}"
    );
    assert!(text("transactions").contains("Pay 10 EUR to Bob"), "{report}");
    assert!(text("transaction").contains("TRUSTID.USERID") && text("transaction").contains(&txn));
    assert!(text("transaction").contains("Approved on device"), "{report}");
    assert!(
        text("pending").contains("Live: pay 5 EUR"),
        "it appeared by itself: {report}"
    );
    assert!(
        !text("pending-after").contains("Live: pay 5 EUR"),
        "and left by itself: {report}"
    );
    assert!(text("timeline").contains("Approved on device"), "{report}");
    assert!(text("timeline").contains("Live: pay 5 EUR"), "{report}");
    assert!(text("keys").contains("Signing keys"), "{report}");
    assert!(text("audit").contains("keys.rotated"), "{report}");
    let export = &report["export"];
    assert_eq!(export["status"], 200, "{report}");
    assert!(export["type"].as_str().unwrap().starts_with("text/csv"), "{report}");
    let csv = export["body"].as_str().unwrap();
    assert!(csv.contains("keys.rotated") && csv.contains("client.created"), "{csv}");
    assert!(text("phone").contains(&phone.id()), "{report}");
    assert!(url("signed-out").ends_with("/admin/sign-in"), "{report}");
    for shot in report["shots"].as_array().unwrap() {
        let file = PathBuf::from(shot.as_str().unwrap());
        assert!(std::fs::metadata(&file).unwrap().len() > 1000, "{}", file.display());
    }
    assert_eq!(report["shots"].as_array().unwrap().len(), 24);
    // trustid's pages raise no CSP report or script error.
    for message in report["console"].as_array().unwrap() {
        let m = message.as_str().unwrap();
        assert!(!m.contains(app.base.as_str()) || m.contains("favicon"), "{m}");
    }
}
