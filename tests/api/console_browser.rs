//! The console in a real browser: headless Chromium (Selenium, Debian's
//! chromium-driver; `tests/console/browser.py`) signs in, opens the
//! dashboard, the transactions and one transaction's evidence, and signs
//! out; on the way it sees the dashboard's figures change without a
//! reload and a new request appear on the pending page by itself. A
//! screenshot of each page, light and dark, is left under the
//! target directory (`console-screenshots/`) for a person to look at.
//! Skips without Chromium unless `TRUSTID_REQUIRE_BROWSER=1`.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Command, Stdio};

use serde_json::Value;
use trustid::domain::client::SigningAlg;

use crate::console::app_with_admin;
use crate::saml_browser::browser_python;

fn shots_dir() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target"));
    target.join("console-screenshots")
}

#[tokio::test]
async fn chromium_signs_in_and_reads_a_transactions_evidence() {
    let Some(python) = browser_python() else { return };
    let app = app_with_admin().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    app.start(&client, "alice", "Pay 10 EUR to Bob").await;
    let txn = device.only_item(&app).await["transaction_id"]
        .as_str()
        .unwrap()
        .to_owned();
    device.decide(&app, "approve").await;

    let shots = shots_dir();
    let args: Vec<String> = [
        "--base",
        app.base.as_str(),
        "--email",
        "ops@bank.example",
        "--password",
        "-",
        "--transaction",
        txn.as_str(),
    ]
    .map(str::to_owned)
    .to_vec();
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/console/browser.py");
    let mut child = Command::new(python)
        .arg(script)
        .args(args)
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
    // The script says when the pending page is open; then a request arrives.
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut last = String::new();
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if line.contains("\"ready\"") {
                let _ = tx.send(());
            }
            last = line;
        }
        last
    });
    // First the dashboard, then the pending page, each waits for a request.
    let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
    for text in ["Dashboard: 1 EUR", "Live: pay 5 EUR"] {
        let rx = rx.clone();
        let ready =
            tokio::task::spawn_blocking(move || rx.lock().unwrap().recv_timeout(std::time::Duration::from_secs(120)))
                .await
                .unwrap();
        if ready.is_ok() {
            app.start(&client, "alice", text).await;
        }
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
    let steps = report["steps"].as_array().unwrap();
    let text = |i: usize| steps[i]["text"].as_str().unwrap().to_owned();
    assert!(
        steps[0]["url"].as_str().unwrap().ends_with("/admin/sign-in"),
        "{report}"
    );
    assert!(
        text(1).contains("Dashboard") && text(1).contains("ops@bank.example"),
        "{report}"
    );
    assert!(steps[1]["url"].as_str().unwrap().ends_with("/admin"), "{report}");
    // The same dashboard, its figures refreshed in place (no reload).
    assert!(steps[2]["url"].as_str().unwrap().ends_with("/admin"), "{report}");
    assert!(text(2).contains("Pending 1 1"), "{report}");
    assert!(text(3).contains("Pay 10 EUR to Bob"), "{report}");
    assert!(text(4).contains("TRUSTID.USERID") && text(4).contains(&txn), "{report}");
    assert!(text(5).contains("Live: pay 5 EUR"), "it appeared by itself: {report}");
    assert!(
        steps[6]["url"].as_str().unwrap().ends_with("/admin/sign-in"),
        "signed out: {report}"
    );
    for shot in report["shots"].as_array().unwrap() {
        let file = PathBuf::from(shot.as_str().unwrap());
        assert!(std::fs::metadata(&file).unwrap().len() > 1000, "{}", file.display());
    }
    assert_eq!(report["shots"].as_array().unwrap().len(), 10);
    // trustid's pages raise no CSP report or script error.
    for message in report["console"].as_array().unwrap() {
        let m = message.as_str().unwrap();
        assert!(!m.contains(app.base.as_str()) || m.contains("favicon"), "{m}");
    }
}
