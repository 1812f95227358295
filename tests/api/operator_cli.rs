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

#[test]
fn clients_are_updated_as_registration_checks_them_and_removed_when_nothing_names_them() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let made = run(d, &["clients", "add", "--name", "ACME Bank", "--json"]);
    let id = made["client_id"].as_str().unwrap();
    let endpoint = "https://rp.example.com/cb";
    let args = [
        "clients",
        "update",
        id,
        "--name",
        "ACME",
        "--delivery-mode",
        "ping",
        "--notification-endpoint",
        endpoint,
        "--json",
    ];
    let updated = run(d, &args);
    assert_eq!(updated["metadata"]["client_name"], "ACME");
    let shown = run(d, &["clients", "show", id, "--json"]);
    assert_eq!(shown["metadata"]["backchannel_token_delivery_mode"], "ping");
    assert_eq!(shown["metadata"]["backchannel_client_notification_endpoint"], endpoint);

    // A file's members, `null` removing one; then what registration refuses.
    let file = d.join("change.json");
    std::fs::write(&file, r#"{"backchannel_user_code_parameter": true}"#).unwrap();
    let path = file.to_str().unwrap();
    let updated = run(d, &["clients", "update", id, "--metadata", path, "--json"]);
    assert_eq!(updated["metadata"]["backchannel_user_code_parameter"], true);
    std::fs::write(&file, r#"{"backchannel_client_notification_endpoint": null}"#).unwrap();
    refused(d, &["clients", "update", id, "--metadata", path], "notification");
    std::fs::write(&file, r#"{"backchannel_token_delivery_mode": "carrier pigeon"}"#).unwrap();
    refused(d, &["clients", "update", id, "--metadata", path], "invalid metadata");
    std::fs::write(&file, "[1, 2]").unwrap();
    refused(d, &["clients", "update", id, "--metadata", path], "JSON object");
    let internal = [
        "clients",
        "update",
        id,
        "--notification-endpoint",
        "https://10.0.0.5/cb",
    ];
    refused(d, &internal, "must not name an internal address");
    let shown = run(d, &["clients", "show", id, "--json"]);
    assert_eq!(shown["metadata"]["client_name"], "ACME", "refusals changed nothing");
    assert_eq!(shown["metadata"]["backchannel_client_notification_endpoint"], endpoint);
    refused(d, &["clients", "update", "console", "--name", "x"], "trustid's own");
    refused(d, &["clients", "update", "nobody", "--name", "x"], "no such client");

    // Added by mistake, never used: removed, with an audit entry.
    assert_eq!(run(d, &["clients", "remove", id, "--json"])["removed"], true);
    refused(d, &["clients", "show", id], "no such client");
    refused(d, &["clients", "remove", id], "no such client");
    refused(d, &["clients", "remove", "console"], "trustid's own");
    let trail = run(d, &["audit", "list", "--actor", "cli", "--json"]);
    let actions: Vec<&str> = trail
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions.iter().filter(|a| **a == "client.updated").count(),
        2,
        "{actions:?}"
    );
    assert!(actions.contains(&"client.removed"), "{actions:?}");
}

#[tokio::test]
async fn a_client_named_by_a_transaction_is_kept_and_a_device_is_shown() {
    use trustid::domain::client::SigningAlg;
    let app = crate::common::spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    app.start(&client, "alice", "Log in").await;
    let dir = tempfile::tempdir().unwrap();
    let env = [("TRUSTID_DATABASE_URL", app.settings.database_url.as_str())];
    let out = trustid(dir.path(), &["clients", "remove", &client.client_id], &env);
    assert!(!out.status.success());
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(
        said.contains("1 transactions") && said.contains("disable it instead"),
        "{said}"
    );
    let shown = json_of(&trustid(
        dir.path(),
        &["clients", "show", &client.client_id, "--json"],
        &env,
    ));
    assert_eq!(shown["client_id"], client.client_id.as_str());

    let shown = json_of(&trustid(dir.path(), &["devices", "show", &device.id(), "--json"], &env));
    assert_eq!(shown["user_id"], "alice");
    assert_eq!(shown["status"], "active");
    // The list's SQL on this run's backend (the tests above use SQLite files).
    let listed = json_of(&trustid(
        dir.path(),
        &["users", "list", "--search", "ALI", "--json"],
        &env,
    ));
    assert_eq!(listed[0]["user_id"], "alice", "{listed}");
    let out = trustid(dir.path(), &["devices", "show", "no-such-device"], &env);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no such device"));
}

#[test]
fn users_are_listed_newest_first_by_status_and_by_part_of_an_id_email_or_phone() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    for (id, contact) in [
        ("alice", "--email=Alice@Bank.example"),
        ("bob", "--phone=+15551234567"),
        ("carol_1", "--email=c@x.example"),
    ] {
        run(d, &["users", "add", "--id", id, contact, "--json"]);
    }
    run(d, &["users", "lock", "carol_1", "--json"]);
    let ids = |args: &[&str]| -> Vec<String> {
        let mut all = vec!["users", "list", "--json"];
        all.extend_from_slice(args);
        let listed = run(d, &all);
        listed
            .as_array()
            .unwrap()
            .iter()
            .map(|u| u["user_id"].as_str().unwrap().to_owned())
            .collect()
    };
    let mut all = ids(&[]);
    all.sort_unstable();
    assert_eq!(all, ["alice", "bob", "carol_1"]);
    assert_eq!(ids(&["--search", "bank.EXAMPLE"]), ["alice"], "any case, e-mail");
    assert_eq!(ids(&["--search", "5551234"]), ["bob"], "phone");
    assert_eq!(ids(&["--status", "locked"]), ["carol_1"]);
    assert_eq!(
        ids(&["--search", "l_1"]),
        ["carol_1"],
        "`_` is a character, not a wildcard"
    );
    assert_eq!(ids(&["--search", "%"]), Vec::<String>::new(), "nor is `%`");
    assert_eq!(ids(&["--limit", "1"]).len(), 1);
    run(d, &["users", "remove", "bob", "--json"]);
    assert!(!ids(&[]).contains(&"bob".to_owned()), "removed users only when asked");
    assert_eq!(ids(&["--status", "removed"]), ["bob"]);
    let table = String::from_utf8_lossy(&trustid(d, &["users", "list"], &[]).stdout).into_owned();
    assert!(
        table.starts_with("user_id") && table.contains("Alice@Bank.example"),
        "{table}"
    );
    refused(d, &["users", "list", "--status", "asleep"], "--status");
    refused(d, &["users", "list", "--limit", "0"], "--limit");
}
