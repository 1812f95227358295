//! The README's quick start, run as written: the shell block under
//! "## Quick start" is executed by bash against the `trustid` binary this
//! build made, in a fresh directory. Only two lines are swapped: the release
//! build (the test uses the binary cargo built for it) and the URL (a free
//! port instead of 8080). It needs `curl` and `jq`, as the README says;
//! without them it is skipped, unless `TRUSTID_REQUIRE_WALKTHROUGH=1`
//! (set by `.ci/run`, which installs them) makes that a failure.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

const BUILD_LINE: &str = r#"cargo build --release && export PATH="$PWD/target/release:$PATH""#;
const URL_LINE: &str = "URL=http://127.0.0.1:8080";

/// The fenced `sh` block that follows the quick-start heading.
fn quick_start(readme: &str) -> String {
    let section = readme
        .split("\n## ")
        .find(|s| s.starts_with("Quick start"))
        .expect("README.md has a \"## Quick start\" section");
    let start = section.find("```sh\n").expect("the quick start has a ```sh block") + 6;
    let len = section[start..].find("\n```").expect("the block is closed");
    section[start..start + len].to_owned()
}

fn has(tool: &str) -> bool {
    Command::new(tool)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

#[test]
fn the_readme_quick_start_authenticates_alice_as_written() {
    if !(has("curl") && has("jq")) {
        assert_ne!(
            std::env::var("TRUSTID_REQUIRE_WALKTHROUGH").as_deref(),
            Ok("1"),
            "TRUSTID_REQUIRE_WALKTHROUGH=1 but curl or jq is missing"
        );
        println!("skipped: the quick start needs curl and jq");
        return;
    }
    let readme = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let block = quick_start(&readme);
    assert!(block.contains(BUILD_LINE), "the quick start builds first:\n{block}");
    assert!(block.contains(URL_LINE), "the quick start names its URL:\n{block}");

    let bin_dir = Path::new(env!("CARGO_BIN_EXE_trustid")).parent().unwrap();
    let port = free_port();
    let url = format!("http://127.0.0.1:{port}");
    let script = block
        .replace(BUILD_LINE, &format!("export PATH=\"{}:$PATH\"", bin_dir.display()))
        .replace(URL_LINE, &format!("URL={url}"));
    // Stop on the first failing command, and never leave a server behind.
    let script = format!("set -euo pipefail\ntrap 'kill $(jobs -p) 2>/dev/null || true' EXIT\n{script}\n");

    let dir = tempfile::tempdir().unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg("-c").arg(&script).current_dir(dir.path());
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("TRUSTID_")) {
        cmd.env_remove(k);
    }
    cmd.env("TRUSTID_LISTEN", format!("127.0.0.1:{port}"))
        .env("TRUSTID_ISSUER", &url)
        .env("TRUSTID_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().unwrap();
    let deadline = Instant::now() + Duration::from_secs(60);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("the quick start did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let log = std::fs::read_to_string(dir.path().join("trustid.log")).unwrap_or_default();
    assert!(
        out.status.success(),
        "the quick start failed\nstdout:\n{stdout}\nstderr:\n{stderr}\nserver log:\n{log}"
    );

    // The inbox showed the request before it was approved...
    assert!(
        stdout.contains("Pay 10 EUR to Bob") && stdout.contains("My bank"),
        "{stdout}"
    );
    // ...the ID token's claims were printed, one JSON object...
    let claims_start = stdout.find("\n{\n").map(|i| i + 1).expect("the claims are printed");
    let claims: Value = serde_json::Deserializer::from_str(&stdout[claims_start..])
        .into_iter()
        .next()
        .expect("a JSON object")
        .unwrap();
    assert_eq!(claims["iss"], Value::from(url));
    assert_eq!(claims["trustid.userid"], "alice");
    assert_eq!(claims["trustid.binding_message"], "Pay 10 EUR to Bob");
    assert_eq!(claims["trustid.transaction_type"], "authentication");
    assert!(
        claims["trustid.deviceid"].as_str().is_some_and(|d| !d.is_empty()),
        "{claims}"
    );
    assert!(
        dir.path().join("trustid-device.json").exists(),
        "the device kept its keys"
    );
    // ...then the executive approval's acr and the challenged action's states.
    let lines: Vec<&str> = stdout.lines().collect();
    for expected in ["\"urn:trustid:acr:executive\"", "CHALLENGE_REQUIRED"] {
        assert!(lines.contains(&expected), "{expected} in\n{stdout}");
    }
    assert_eq!(lines.last(), Some(&"CHALLENGE_SUCCEEDED"), "{stdout}");
}
