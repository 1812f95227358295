//! The operator's command line: clients, users, devices, transactions and
//! the audit trail listed, shown and changed through the engine's calls,
//! each change audited under `cli`; refusals are clear and change nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;

use crate::cli::{json_of, trustid};

fn run(dir: &std::path::Path, args: &[&str]) -> Value {
    json_of(&trustid(dir, args, &[]))
}

fn refused(dir: &std::path::Path, args: &[&str], why: &str) {
    let out = trustid(dir, args, &[]);
    assert!(!out.status.success(), "{args:?} succeeded");
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(said.contains(why), "{args:?}: {said}");
}

#[test]
fn clients_are_listed_shown_disabled_enabled_and_given_a_new_secret() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let made = run(d, &["clients", "add", "--name", "ACME Bank", "--json"]);
    let id = made["client_id"].as_str().unwrap();
    let listed = run(d, &["clients", "list", "--json"]);
    assert!(
        listed.as_array().unwrap().iter().any(|c| c["client_id"] == id),
        "{listed}"
    );
    let table = String::from_utf8_lossy(&trustid(d, &["clients", "list"], &[]).stdout).into_owned();
    assert!(table.starts_with("client_id") && table.contains("ACME Bank"), "{table}");
    let shown = run(d, &["clients", "show", id, "--json"]);
    assert_eq!(shown["metadata"]["client_name"], "ACME Bank");
    assert_eq!(shown["status"], "enabled");
    assert!(
        !shown.to_string().contains("secret_digest"),
        "never the secret: {shown}"
    );

    assert_eq!(run(d, &["clients", "disable", id, "--json"])["status"], "disabled");
    assert_eq!(run(d, &["clients", "show", id, "--json"])["status"], "disabled");
    assert_eq!(run(d, &["clients", "enable", id, "--json"])["status"], "enabled");
    let rotated = run(d, &["clients", "rotate-secret", id, "--json"]);
    let secret = rotated["client_secret"].as_str().unwrap();
    assert!(secret.len() >= 22 && secret != made["client_secret"].as_str().unwrap());

    let trail = run(d, &["audit", "list", "--actor", "cli", "--json"]);
    let mut actions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    // One second holds them all: their order within it is not kept.
    actions.sort_unstable();
    assert_eq!(
        actions,
        ["client.disabled", "client.enabled", "client.secret_rotated"],
        "{trail}"
    );
    refused(d, &["clients", "show", "no-such-client"], "no such client");
    refused(d, &["clients", "disable", "no-such-client"], "no such client");
}

#[test]
fn users_and_devices_are_shown_locked_and_unlocked_and_refusals_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    run(
        d,
        &[
            "users",
            "add",
            "--id",
            "alice",
            "--email",
            "alice@bank.example",
            "--json",
        ],
    );
    let shown = run(d, &["users", "show", "alice@bank.example", "--json"]);
    assert_eq!(shown["user_id"], "alice");
    assert_eq!(shown["status"], "active");
    assert_eq!(shown["devices"], serde_json::json!([]));
    assert!(!shown.to_string().contains("hash"), "never a hash: {shown}");

    assert_eq!(run(d, &["users", "lock", "alice", "--json"])["status"], "locked");
    assert_eq!(run(d, &["users", "show", "alice", "--json"])["status"], "locked");
    assert_eq!(run(d, &["users", "unlock", "alice", "--json"])["status"], "active");
    assert_eq!(
        run(d, &["devices", "list", "--user", "alice", "--json"]),
        serde_json::json!([])
    );
    refused(
        d,
        &["devices", "unlock", "--user", "alice", "--device", "nope"],
        "no such device",
    );
    refused(
        d,
        &["users", "show", "nobody@bank.example"],
        "no user with the id, e-mail or phone",
    );
    refused(d, &["users", "lock", "nobody"], "no such user");

    let trail = run(d, &["audit", "list", "--subject", "user:alice", "--json"]);
    let mut actions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    actions.sort_unstable();
    assert_eq!(actions, ["user.locked", "user.unlocked"], "{trail}");
    assert!(trail.as_array().unwrap().iter().all(|e| e["actor"] == "cli"));

    let removed = run(d, &["users", "remove", "alice", "--json"]);
    assert_eq!(removed["devices"], 0);
    refused(d, &["users", "show", "alice"], "no such user");
    assert_eq!(run(d, &["transactions", "list", "--json"]), serde_json::json!([]));
    refused(
        d,
        &["transactions", "show", "no-such-transaction"],
        "no such transaction",
    );
}
