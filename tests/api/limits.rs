//! What `trustid serve` refuses to hold open (`src/server/listen.rs`): a
//! client trickling its request head (slowloris) is cut off after the
//! header-read timeout, a request with too many headers is refused, and the
//! server answers others meanwhile.
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
