//! `/healthz` and `/readyz`: the process answers; the instance is ready
//! while its database answers with the schema this binary knows, and not
//! once it drains. On PostgreSQL the database is reached through a TCP
//! proxy this test cuts and restores: readiness fails, then recovers by
//! itself.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

async fn probe(app: &TestApp, path: &str) -> (u16, Value) {
    let res = app.http.get(app.url(path)).send().await.unwrap();
    assert_eq!(res.headers()["cache-control"], "no-store");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap())
}

/// Probes `/readyz` until it answers `status` (bounded), and returns the body.
async fn ready_becomes(app: &TestApp, status: u16) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (now, body) = probe(app, "/readyz").await;
        if now == status {
            return body;
        }
        assert!(Instant::now() < deadline, "/readyz stayed {now}: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn ready_while_the_schema_is_the_binarys_and_not_once_draining() {
    let app = spawn_app().await;
    assert_eq!(
        probe(&app, "/healthz").await,
        (200, serde_json::json!({"status": "ok"}))
    );
    let (status, body) = probe(&app, "/readyz").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ready");
    assert_eq!(body["checks"]["database"], "ok");
    assert_eq!(body["checks"]["signing_keys"], "ok");

    // A newer binary migrated the database: this one is not ready for it.
    let url = &app.settings.database_url;
    let newer = "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time) \
                 VALUES (99990101000000, 'from a newer binary', TRUE, x'00', 0)";
    let newer = if url.starts_with("postgres") {
        newer.replace("x'00'", "'\\x00'::bytea")
    } else {
        newer.into()
    };
    execute(url, &newer).await;
    let body = ready_becomes(&app, 503).await;
    assert_eq!(body["status"], "not_ready");
    assert!(
        body["checks"]["database"]
            .as_str()
            .unwrap()
            .starts_with("schema version 99990101000000"),
        "{body}"
    );
    execute(url, "DELETE FROM _sqlx_migrations WHERE version = 99990101000000").await;
    ready_becomes(&app, 200).await;

    app.state.drain.start();
    let body = ready_becomes(&app, 503).await;
    assert_eq!(body["checks"]["draining"], true);
    assert_eq!(probe(&app, "/healthz").await.0, 200, "alive while draining");
}

pub(crate) async fn execute(url: &str, sql: &str) {
    use sqlx::Connection;
    if url.starts_with("postgres") {
        let mut conn = sqlx::PgConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    } else {
        let mut conn = sqlx::SqliteConnection::connect(url).await.unwrap();
        sqlx::query(sql).execute(&mut conn).await.unwrap();
    }
}

/// A TCP proxy to `upstream` whose connections are all dropped, and new
/// ones refused, while `cut` is true.
async fn proxy(upstream: String, cut: watch::Receiver<bool>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            if *cut.borrow() {
                continue;
            }
            let (upstream, mut cut) = (upstream.clone(), cut.clone());
            tokio::spawn(async move {
                let Ok(mut outbound) = TcpStream::connect(&upstream).await else {
                    return;
                };
                tokio::select! {
                    _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound) => {}
                    _ = cut.wait_for(|c| *c) => {}
                }
            });
        }
    });
    addr
}

#[tokio::test]
async fn on_postgresql_readiness_fails_while_the_database_is_unreachable_and_recovers() {
    let Ok(server) = std::env::var("TRUSTID_TEST_DATABASE_URL") else {
        return; // SQLite is a file: the schema check above covers it.
    };
    let upstream = url::Url::parse(&server).unwrap();
    let upstream = format!("{}:{}", upstream.host_str().unwrap(), upstream.port().unwrap_or(5432));
    let (cut, watched) = watch::channel(false);
    let through = proxy(upstream, watched).await;
    let app = spawn_app_with(|s| {
        let mut url = url::Url::parse(&s.database_url).unwrap();
        let (host, port) = through.split_once(':').unwrap();
        url.set_host(Some(host)).unwrap();
        url.set_port(Some(port.parse().unwrap())).unwrap();
        s.database_url = url.to_string();
    })
    .await;
    ready_becomes(&app, 200).await;
    cut.send(true).unwrap();
    let body = ready_becomes(&app, 503).await;
    assert_ne!(body["checks"]["database"], "ok", "{body}");
    assert_eq!(probe(&app, "/healthz").await.0, 200, "alive meanwhile");
    cut.send(false).unwrap();
    ready_becomes(&app, 200).await;
}
