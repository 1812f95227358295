//! What `trustid serve` refuses to hold open (`src/server/listen.rs`): a
//! client trickling its request head (slowloris) is cut off after the
//! header-read timeout, a request with too many headers is refused, and the
//! server answers others meanwhile; a request not complete within
//! `request_timeout` is answered 503 in its face's format.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::shutdown::Server;

#[tokio::test]
async fn a_slow_request_head_is_cut_off_and_others_are_served_meanwhile() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut slow = TcpStream::connect(&addr).await.unwrap();
    slow.write_all(b"GET /jwks HTTP/1.1\r\nHost: trustid\r\n")
        .await
        .unwrap();
    let started = Instant::now();
    // Trickle a header line every second: never a whole head.
    let trickle = async {
        let mut read = [0u8; 1024];
        loop {
            tokio::select! {
                n = slow.read(&mut read) => return n.unwrap_or(0),
                () = tokio::time::sleep(Duration::from_secs(1)) => {
                    if slow.write_all(b"X-Slow: 1\r\n").await.is_err() {
                        return 0;
                    }
                }
            }
        }
    };
    let answered = async {
        tokio::time::sleep(Duration::from_secs(2)).await;
        reqwest::get(server.url("/jwks")).await.unwrap().status()
    };
    let (_, status) = tokio::join!(tokio::time::timeout(Duration::from_secs(20), trickle), answered);
    assert_eq!(status, 200, "served while the slow client trickles");
    let cut = started.elapsed();
    assert!(
        cut >= Duration::from_secs(9) && cut < Duration::from_secs(15),
        "cut off after the 10 s header-read timeout, not {cut:?}"
    );
}

#[tokio::test]
async fn a_connection_that_sends_nothing_is_closed_after_the_header_read_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut silent = TcpStream::connect(&addr).await.unwrap();
    let opened = Instant::now();
    let mut read = [0u8; 16];
    let closed = tokio::time::timeout(Duration::from_secs(20), silent.read(&mut read)).await;
    assert!(
        matches!(closed, Ok(Ok(0)) | Ok(Err(_))),
        "closed by the server, not left open: {closed:?}"
    );
    assert!(opened.elapsed() >= Duration::from_secs(9), "after the 10 s timeout");
    assert_eq!(reqwest::get(server.url("/jwks")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn an_idle_keep_alive_connection_is_closed_after_the_header_read_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let addr = server.base.trim_start_matches("http://").to_owned();
    let mut kept = TcpStream::connect(&addr).await.unwrap();
    kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: trustid\r\n\r\n")
        .await
        .unwrap();
    let mut answer = [0u8; 512];
    let n = kept.read(&mut answer).await.unwrap();
    assert!(answer[..n].starts_with(b"HTTP/1.1 200"), "served first");
    let answered = Instant::now();
    let mut rest = [0u8; 512];
    // The rest of the first answer may still come; then the close.
    let closed = tokio::time::timeout(Duration::from_secs(20), async {
        loop {
            match kept.read(&mut rest).await {
                Ok(0) | Err(_) => return,
                Ok(_) => continue,
            }
        }
    })
    .await;
    assert!(closed.is_ok(), "closed by the server while idle, not left open");
    assert!(answered.elapsed() >= Duration::from_secs(9), "after the 10 s timeout");
}

#[tokio::test]
async fn plain_http_is_http1_only() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let h2c = reqwest::Client::builder().http2_prior_knowledge().build().unwrap();
    assert!(
        h2c.get(server.url("/jwks")).send().await.is_err(),
        "no HTTP/2 without TLS (its connections have no header-read timer)"
    );
    assert_eq!(reqwest::get(server.url("/jwks")).await.unwrap().status(), 200);
}

#[tokio::test]
async fn too_many_headers_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path()).await;
    let mut request = reqwest::Client::new().get(server.url("/jwks"));
    for i in 0..100 {
        request = request.header(format!("x-h{i}"), "1");
    }
    let refused = request.send().await;
    // hyper answers 431, or closes the connection: either way not served.
    assert!(refused.map(|r| r.status() == 431).unwrap_or(true));
    assert_eq!(reqwest::get(server.url("/jwks")).await.unwrap().status(), 200);
}

/// Sends a request head promising a body it never sends, and reads the answer.
async fn never_finished(app: &crate::common::TestApp, path: &str, headers: &str) -> String {
    let addr = app.base.trim_start_matches("http://").to_owned();
    let mut stream = TcpStream::connect(&addr).await.unwrap();
    let head = format!("POST {path} HTTP/1.1\r\nHost: trustid\r\n{headers}Content-Length: 1000\r\n\r\nx=");
    stream.write_all(head.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let mut chunk = [0u8; 4096];
    // Until the connection closes, or a while after the answer began (hyper
    // may keep it open to read the rest of the body): far beyond the 1 s
    // timeout set below.
    let mut bound = Duration::from_secs(20);
    while let Ok(Ok(n)) = tokio::time::timeout(bound, stream.read(&mut chunk)).await {
        if n == 0 {
            break;
        }
        answer.extend_from_slice(&chunk[..n]);
        bound = Duration::from_secs(1);
    }
    String::from_utf8_lossy(&answer).into_owned()
}

#[tokio::test]
async fn a_request_not_complete_in_time_is_answered_503_in_its_faces_format() {
    let app = crate::common::spawn_app_with(|s| s.request_timeout = 1).await;
    let form = "Content-Type: application/x-www-form-urlencoded\r\n";
    let oauth = never_finished(&app, "/token", form).await;
    assert!(oauth.starts_with("HTTP/1.1 503"), "{oauth}");
    assert!(oauth.contains(r#""error":"temporarily_unavailable""#), "{oauth}");
    assert!(oauth.to_ascii_lowercase().contains("retry-after: 1"), "{oauth}");
    let (_, token) = app
        .manager(trustid::domain::client::ClientMetadata::poll("Bank backend"))
        .await;
    let authorized = format!("Content-Type: application/json\r\nAuthorization: Bearer {token}\r\n");
    let api = never_finished(&app, "/manage/v1/users/register", &authorized).await;
    assert!(api.starts_with("HTTP/1.1 503"), "{api}");
    assert!(api.contains("temporarily_unavailable"), "{api}");
    assert!(
        api.to_ascii_lowercase().contains("content-type: application/json"),
        "{api}"
    );
    let console = never_finished(&app, "/admin/sign-in", form).await;
    assert!(console.starts_with("HTTP/1.1 503"), "{console}");
    assert!(
        console.to_ascii_lowercase().contains("content-type: text/html"),
        "{console}"
    );
    // Long-polls are outside the timeout: their handlers bound the wait.
    let device = app.user_with_device("alice").await;
    let res = app
        .http
        .get(app.url("/device/v1/inbox?wait=2"))
        .header("DPoP", device.proof(&app, "GET", "/device/v1/inbox"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200, "a 2 s long-poll outlives the 1 s request timeout");
}
