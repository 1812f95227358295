//! `trustid migrate-data`: every table of a database that served a flow
//! moves to a new one (SQLite to SQLite, and in the PostgreSQL run on to
//! PostgreSQL), and a server on the copy goes on where the first stopped;
//! a target holding data, a database a server is running on, and the same
//! database twice are refused with nothing changed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use serde_json::Value;
use trustid::domain::client::SigningAlg;

use crate::cli::{json_of, trustid};
use crate::common::*;

fn migrate(dir: &std::path::Path, from: &str, to: &str) -> std::process::Output {
    trustid(
        dir,
        &["migrate-data", "--to", to, "--json"],
        &[("TRUSTID_DATABASE_URL", from), ("TRUSTID_DEV", "true")],
    )
}

#[tokio::test]
async fn every_table_moves_and_a_server_on_the_copy_goes_on() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    let device = app.user_with_device("alice").await;
    let auth_req_id = app.start(&client, "alice", "Log in").await;
    assert!(device.decide(&app, "approve").await.status < 300);
    assert_eq!(app.poll(&client, &auth_req_id).await.status, 200);

    let dir = tempfile::tempdir().unwrap();
    let sqlite = format!("sqlite://{}", dir.path().join("moved.db").display());
    let copied = json_of(&migrate(dir.path(), &app.settings.database_url, &sqlite));
    for (table, at_least) in [
        ("clients", 1),
        ("users", 1),
        ("devices", 1),
        ("transactions", 1),
        ("access_tokens", 1),
    ] {
        let rows = copied[table].as_u64().unwrap_or_else(|| panic!("{table} in {copied}"));
        assert!(rows >= at_least, "{table}: {rows}");
    }
    // In the PostgreSQL run, on to a new PostgreSQL database.
    let target = match std::env::var("TRUSTID_TEST_DATABASE_URL") {
        Ok(_) => {
            let postgres = test_database_url(&dir).await;
            let again = json_of(&migrate(dir.path(), &sqlite, &postgres));
            assert_eq!(again, copied, "the same rows, table by table");
            postgres
        }
        Err(_) => sqlite,
    };

    let moved = spawn_app_with(|s| s.database_url = target.clone()).await;
    moved
        .poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "invalid_grant", "redeemed before the move");
    let next = moved.start(&client, "alice", "After the move").await;
    assert!(device.decide(&moved, "approve").await.status < 300);
    let tokens = moved.poll(&client, &next).await;
    assert_eq!(tokens.status, 200, "{}", tokens.body);
}

#[tokio::test]
async fn a_target_with_data_a_served_database_or_the_same_one_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let url = |name: &str| format!("sqlite://{}", dir.path().join(name).display());
    let (from, to) = (url("from.db"), url("to.db"));
    for db in [&from, &to] {
        let added = trustid(
            dir.path(),
            &["clients", "add", "--name", "Bank", "--json"],
            &[("TRUSTID_DATABASE_URL", db)],
        );
        assert!(added.status.success());
    }
    let refusal = |out: std::process::Output| {
        assert!(!out.status.success());
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    let err = refusal(migrate(dir.path(), &from, &to));
    assert!(err.contains("the target is not empty"), "{err}");
    let listed = json_of(&trustid(
        dir.path(),
        &["clients", "list", "--json"],
        &[("TRUSTID_DATABASE_URL", &to)],
    ));
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "nothing was added: {listed}");

    let err = refusal(migrate(dir.path(), &from, &from));
    assert!(err.contains("the same database"), "{err}");

    let served = dir.path().join("served");
    std::fs::create_dir(&served).unwrap();
    let server = crate::shutdown::Server::start(&served).await;
    let running = format!("sqlite://{}", served.join("t.db").display());
    let err = refusal(migrate(dir.path(), &running, &url("new.db")));
    assert!(err.contains("a trustid server is running"), "{err}");
    drop(server);
    let copied: Value = json_of(&migrate(dir.path(), &running, &url("new.db")));
    assert!(copied["clients"].is_u64(), "once stopped, it copies: {copied}");
}
