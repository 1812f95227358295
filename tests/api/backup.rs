//! `trustid backup` takes a consistent copy of the SQLite database while
//! requests are being committed; `trustid restore` refuses while a server
//! runs on the file and otherwise puts the copy in place, keeping the file
//! it replaces. On PostgreSQL both point to pg_dump.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::sync::{Arc, Mutex};

use common::*;
use trustid::domain::client::SigningAlg;

use crate::cli::{json_of, trustid};
use crate::shutdown::Server;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_under_load_holds_every_request_acknowledged_before_it_began() {
    let app = Arc::new(spawn_app().await);
    let url = app.settings.database_url.clone();
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("copy.db");
    let env = [("TRUSTID_DATABASE_URL", url.as_str())];
    if url.starts_with("postgres") {
        let out = trustid(dir.path(), &["backup", copy.to_str().unwrap()], &env);
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("pg_dump"));
        return;
    }
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("alice").await;
    let acknowledged = Arc::new(Mutex::new(Vec::<String>::new()));
    let load = {
        let (app, client, acknowledged) = (app.clone(), client.clone(), acknowledged.clone());
        tokio::spawn(async move {
            for n in 0.. {
                let shown = format!("Load {n}");
                let params = [
                    ("scope", "openid"),
                    ("login_hint", "alice"),
                    ("binding_message", shown.as_str()),
                ];
                let ack = app.backchannel(&client, &params).await;
                if ack.status != 200 {
                    break;
                }
                acknowledged
                    .lock()
                    .unwrap()
                    .push(ack.body["auth_req_id"].as_str().unwrap().to_owned());
            }
        })
    };
    while acknowledged.lock().unwrap().len() < 50 {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let before: Vec<String> = acknowledged.lock().unwrap().clone();
    let taken = tokio::task::spawn_blocking({
        let (dir, url, copy) = (dir.path().to_owned(), url.clone(), copy.clone());
        move || {
            let args = ["backup", copy.to_str().unwrap(), "--json"];
            json_of(&trustid(&dir, &args, &[("TRUSTID_DATABASE_URL", &url)]))
        }
    })
    .await
    .unwrap();
    load.abort();
    assert!(
        taken["transactions"].as_i64().unwrap() >= before.len() as i64,
        "{taken}"
    );

    use sqlx::Connection;
    let mut conn = sqlx::SqliteConnection::connect(&format!("sqlite://{}", copy.display()))
        .await
        .unwrap();
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut conn)
        .await
        .unwrap();
    assert_eq!(integrity, "ok");
    for auth_req_id in &before {
        let id = auth_req_id.split_once('.').unwrap().0;
        let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM transactions WHERE id = ?")
            .bind(id)
            .fetch_one(&mut conn)
            .await
            .unwrap();
        assert_eq!(found, 1, "{id} was acknowledged before the backup began");
    }
    let out = trustid(dir.path(), &["backup", copy.to_str().unwrap()], &env);
    assert!(!out.status.success(), "an existing file is never overwritten");
}

#[tokio::test]
async fn restore_refuses_while_a_server_runs_and_then_puts_the_copy_in_place() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    json_of(&trustid(
        dir.path(),
        &["clients", "add", "--name", "Before", "--json"],
        &[],
    ));
    let copy = dir.path().join("copy.db");
    json_of(&trustid(dir.path(), &["backup", copy.to_str().unwrap(), "--json"], &[]));
    json_of(&trustid(
        dir.path(),
        &["clients", "add", "--name", "After", "--json"],
        &[],
    ));

    let refused = trustid(dir.path(), &["restore", copy.to_str().unwrap()], &[]);
    assert!(!refused.status.success());
    let why = String::from_utf8_lossy(&refused.stderr);
    assert!(why.contains("a trustid server is running"), "{why}");
    drop(server);

    let restored = json_of(&trustid(
        dir.path(),
        &["restore", copy.to_str().unwrap(), "--json"],
        &[],
    ));
    assert_eq!(restored["transactions"], 0);
    let kept: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("t.db.before-restore-"))
        .collect();
    assert!(
        kept.iter().any(|n| !n.ends_with("-wal") && !n.ends_with("-shm")),
        "{kept:?}"
    );
    use sqlx::Connection;
    let url = format!("sqlite://{}", dir.path().join("t.db").display());
    let mut conn = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let names: Vec<String> = sqlx::query_scalar("SELECT json_extract(metadata, '$.client_name') FROM clients")
        .fetch_all(&mut conn)
        .await
        .unwrap();
    assert_eq!(names, ["Before"], "the copy's clients, not the later one");
    let not_a_backup = dir.path().join("junk.db");
    std::fs::write(&not_a_backup, b"not a database").unwrap();
    let out = trustid(dir.path(), &["restore", not_a_backup.to_str().unwrap()], &[]);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a usable trustid backup"));
}
