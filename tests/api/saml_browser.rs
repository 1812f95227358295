//! SAML Web SSO in a real browser: headless Chromium, driven by Selenium
//! (`tests/saml-sp/browser.py`), follows a test SP's login link to trustid,
//! names the user, shows the number that the test device then types when it
//! approves, and lands on the SP's page once trustid's form has posted the
//! Response. Once with
//! JavaScript (the wait page's script reloads it, the form submits itself),
//! once without (the meta refresh moves the wait page on, the user clicks
//! "Continue to ...").
//!
//! The test SP is a real HTTP server on 127.0.0.1: `GET /login` redirects
//! with a pysaml2 AuthnRequest (HTTP-Redirect binding), `POST /acs` has
//! pysaml2 check the posted Response and shows what it read.
//!
//! Needs Debian's `chromium` and `chromium-driver` and `selenium` in the
//! pysaml2 venv (`tests/saml-sp/requirements.txt`); without them these tests
//! skip, unless `TRUSTID_REQUIRE_BROWSER=1` (set by `.ci/run`) makes that a
//! failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use serde_json::Value;
use tokio::sync::mpsc;
use trustid::domain::saml_sp::SignedParts;

use crate::common::{TestApp, TestDevice};
use crate::saml_sso::Sso;

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
/// How long browser.py waits for the SP's page (the whole login).
const BROWSER_TIMEOUT_SECS: u64 = 90;

/// Chromium, chromedriver, and the venv's python with selenium; `None` means skip.
pub(crate) fn browser_python() -> Option<PathBuf> {
    let Some(python) = crate::saml_xml::python() else {
        return skip("no pysaml2 venv or no xmlsec1 (see tests/api/saml_xml)");
    };
    for bin in [CHROMIUM, CHROMEDRIVER] {
        if !Path::new(bin).is_file() {
            return skip(&format!("no {bin} (apt-get install chromium chromium-driver)"));
        }
    }
    let selenium = Command::new(&python).args(["-c", "import selenium"]).output();
    if !selenium.is_ok_and(|out| out.status.success()) {
        return skip(&format!(
            "{} cannot import selenium (pip install -r tests/saml-sp/requirements.txt)",
            python.display()
        ));
    }
    Some(python)
}

fn skip(reason: &str) -> Option<PathBuf> {
    assert!(
        std::env::var("TRUSTID_REQUIRE_BROWSER").as_deref() != Ok("1"),
        "TRUSTID_REQUIRE_BROWSER=1 but {reason}"
    );
    println!("skipped: {reason}");
    None
}

/// The service provider: trustid with this SP registered, and the ID of the
/// AuthnRequest it sent last (the Response must answer it).
struct TestSp {
    sso: Sso,
    request_id: Mutex<Option<String>>,
}

impl TestSp {
    /// Listens on 127.0.0.1; returns the SP and its base URL.
    async fn start() -> Option<(Arc<Self>, String)> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let sso = Sso::with_acs(&format!("{base}/acs"), |_, _| {}).await?;
        let sp = Arc::new(Self {
            sso,
            request_id: Mutex::new(None),
        });
        let routes = Router::new()
            .route("/login", get(login))
            .route("/acs", post(acs))
            .with_state(Arc::clone(&sp));
        tokio::spawn(async move { axum::serve(listener, routes).await.unwrap() });
        Some((sp, base))
    }
}

/// A fresh AuthnRequest from pysaml2, over the HTTP-Redirect binding.
async fn login(State(sp): State<Arc<TestSp>>) -> Response {
    let maker = Arc::clone(&sp);
    let out = tokio::task::spawn_blocking(move || maker.sso.authn("redirect", false))
        .await
        .unwrap();
    *sp.request_id.lock().unwrap() = Some(out.request_id);
    Redirect::to(&out.url).into_response()
}

/// pysaml2 reads the posted Response; the page lists what it read.
async fn acs(State(sp): State<Arc<TestSp>>, Form(form): Form<HashMap<String, String>>) -> Response {
    let request_id = sp.request_id.lock().unwrap().clone();
    let response = form.get("SAMLResponse").cloned().unwrap_or_default();
    let reader = Arc::clone(&sp);
    let parsed = tokio::task::spawn_blocking(move || {
        reader
            .sso
            .parse(&response, request_id.as_deref(), SignedParts::Response)
    })
    .await
    .unwrap();
    let parsed = match parsed {
        Ok(parsed) => parsed,
        Err(why) => {
            let page = format!("<h1>Refused</h1><pre>{}</pre>", escape(&why));
            return (StatusCode::BAD_REQUEST, Html(page)).into_response();
        }
    };
    let mut items = String::new();
    for (name, values) in parsed["attributes"].as_object().unwrap() {
        for value in values.as_array().unwrap() {
            let value = value.as_str().unwrap_or_default();
            items.push_str(&format!("<li>{}={}</li>", escape(name), escape(value)));
        }
    }
    let relay = form.get("RelayState").map(String::as_str).unwrap_or("(none)");
    Html(format!(
        "<!doctype html><title>SP</title><h1>Signed in</h1><p>NameID={}</p><ul>{items}</ul><p>RelayState={}</p>",
        escape(parsed["name_id"].as_str().unwrap_or_default()),
        escape(relay)
    ))
    .into_response()
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// A running `browser.py`: its stdout as lines, all of stderr. Ended
/// (SIGTERM, so that it quits Chromium) if dropped while it runs.
struct Browser {
    child: Child,
    lines: mpsc::UnboundedReceiver<String>,
    stderr: Option<JoinHandle<String>>,
}

impl Browser {
    fn spawn(python: &Path, start: &str, javascript: bool) -> Self {
        let mut cmd = Command::new(python);
        cmd.arg(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/saml-sp/browser.py"))
            .args(["--start", start, "--user", "alice", "--expect-text", "Signed in"])
            .args(["--javascript", if javascript { "on" } else { "off" }])
            .args(["--timeout", &BROWSER_TIMEOUT_SECS.to_string()]);
        if !javascript {
            cmd.arg("--click-continue");
        }
        let mut child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = mpsc::unbounded_channel();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut pipe = child.stderr.take().unwrap();
        let stderr = std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        });
        Self {
            child,
            lines,
            stderr: Some(stderr),
        }
    }

    /// The number the wait page shows, as soon as the browser sees it.
    async fn number(&mut self) -> String {
        let deadline = Duration::from_secs(BROWSER_TIMEOUT_SECS);
        let line = tokio::time::timeout(deadline, self.lines.recv()).await;
        let Ok(Some(line)) = line else {
            let (status, report, stderr) = self.finish().await;
            panic!("browser.py ({status:?}) never showed a number to type: {stderr}\n{report:#}");
        };
        let event: Value = serde_json::from_str(&line).unwrap();
        match event["number"].as_str() {
            Some(number) => number.to_owned(),
            None => panic!("browser.py ended before the number: {event:#}"),
        }
    }

    /// Waits for the end: the exit status, the report (its last line), stderr.
    async fn finish(&mut self) -> (ExitStatus, Value, String) {
        // browser.py gives up by itself after its timeout.
        let deadline = Instant::now() + Duration::from_secs(BROWSER_TIMEOUT_SECS + 60);
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(Instant::now() < deadline, "browser.py did not end");
            tokio::time::sleep(Duration::from_millis(100)).await;
        };
        let mut last = String::new();
        while let Some(line) = self.lines.recv().await {
            last = line;
        }
        let stderr = self.stderr.take().unwrap().join().unwrap();
        let report = serde_json::from_str(&last).unwrap_or(Value::String(last));
        (status, report, stderr)
    }

    fn running(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        if !self.running() {
            return;
        }
        let _ = Command::new("kill").arg(self.child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while self.running() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(100));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The user reads the number off the browser's wait page and approves on
/// the device, typing it.
async fn approve_typing_the_number(app: &TestApp, device: &TestDevice, browser: &mut Browser) {
    let number = browser.number().await;
    let item = device.only_item(app).await;
    assert_eq!(item["transaction_type"], "saml");
    let jws = device.decision_jws_typing(&item, "approve", app, Some(&number));
    let answer = device
        .send_decision(app, item["transaction_id"].as_str().unwrap(), &jws)
        .await;
    assert_eq!(answer.status, 200, "{}", answer.body);
}

/// SP → trustid → wait page → device approves → Response posted → the
/// SP's page shows what pysaml2 read.
async fn sign_in_with_chromium(javascript: bool) {
    let Some(python) = browser_python() else { return };
    let Some((sp, base)) = TestSp::start().await else {
        return;
    };
    let app = &sp.sso.app;
    let device = app.user_with_device("alice").await;
    let mut browser = Browser::spawn(&python, &format!("{base}/login"), javascript);
    approve_typing_the_number(app, &device, &mut browser).await;
    let (status, report, stderr) = browser.finish().await;
    assert!(status.success(), "browser.py failed: {stderr}\n{report:#}");
    println!("{report:#}");

    let text = report["text"].as_str().unwrap();
    for want in [
        "Signed in",
        "TRUSTID.USERID=alice",
        "TRUSTID.TRANSACTION_TYPE=saml",
        "TRUST.AUTHENTICATION_STATUS=approved",
        "TRUST.BINDING_MESSAGE=Sign in to Intranet & <Portal>",
        "RelayState=rs-1",
    ] {
        assert!(text.contains(want), "the SP's page lacks {want:?}:\n{text}");
    }
    let pages: Vec<(&str, &str)> = report["pages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| (p["method"].as_str().unwrap(), p["url"].as_str().unwrap()))
        .collect();
    let acs = format!("{base}/acs");
    assert_eq!(
        pages.first(),
        Some(&("GET", format!("{base}/login").as_str())),
        "{pages:#?}"
    );
    assert_eq!(pages.last(), Some(&("POST", acs.as_str())), "{pages:#?}");
    assert_eq!(report["url"], acs.as_str());
    let waits = pages.iter().filter(|(_, url)| url.contains("/saml/wait/")).count();
    assert!(waits >= 2, "the wait page did not move on by itself: {pages:#?}");
    // Without scripts only the button posts the form; with them, nobody clicks.
    assert_eq!(report["clicked"], !javascript, "{report:#}");
    // No script error, failed load or CSP violation on trustid's pages.
    let console: Vec<&str> = report["console"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .filter(|m| m.contains(app.base.as_str()) || m.contains("Content Security Policy"))
        .collect();
    assert!(
        console.is_empty(),
        "trustid's pages in Chromium's console: {console:#?}"
    );
}

#[tokio::test]
async fn chromium_with_javascript_signs_in_at_the_sp() {
    sign_in_with_chromium(true).await;
}

#[tokio::test]
async fn chromium_without_javascript_signs_in_by_refresh_and_button() {
    sign_in_with_chromium(false).await;
}
