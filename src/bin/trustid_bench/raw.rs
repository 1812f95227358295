//! The throughput phases' HTTP client: one HTTP/1.1 keep-alive connection
//! per closed-loop worker, driven by hyper directly, with the request line,
//! headers and bodies prepared before the clock starts.
//!
//! On a two-core machine the load generator shares the cores with the server
//! it measures: whatever it spends per request is taken from the server.
//! reqwest (pool lookup, URL handling, header maps, timeouts per request) cost
//! this bench about 45 µs of CPU per backchannel request; a connection per
//! worker costs a fraction of that (figures in `bench/README.md`). Set-up and
//! the flow phases keep reqwest: they measure latency, not the ceiling.

use std::sync::Arc;

use anyhow::Context;
use axum::body::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1::SendRequest;
use hyper::header::{AUTHORIZATION, CONTENT_TYPE, HOST, HeaderValue};
use hyper::{Method, Request};
use hyper_util::rt::TokioIo;
use tokio::sync::Mutex;

const FORM: &str = "application/x-www-form-urlencoded";

/// One connection per worker, opened on first use and again after an error.
pub struct Raw {
    /// host:port, to connect to and to check URLs against.
    addr: String,
    host: HeaderValue,
    conns: Vec<Mutex<Option<SendRequest<Full<Bytes>>>>>,
}

/// What came back: the status and the whole body.
pub struct Answer {
    pub status: u16,
    pub body: Bytes,
}

impl Raw {
    /// A client for `url`'s host and port (plain HTTP: the bench is loopback only).
    pub fn new(url: &reqwest::Url, workers: usize) -> anyhow::Result<Arc<Self>> {
        anyhow::ensure!(
            url.scheme() == "http",
            "the throughput phases speak plain HTTP, not {url}"
        );
        let host = url.host_str().context("no host")?;
        let port = url.port_or_known_default().context("no port")?;
        let authority = match url.port() {
            Some(p) => format!("{host}:{p}"),
            None => host.to_owned(),
        };
        Ok(Arc::new(Self {
            addr: format!("{host}:{port}"),
            host: HeaderValue::from_str(&authority)?,
            conns: (0..workers).map(|_| Mutex::new(None)).collect(),
        }))
    }

    /// GET `url`, which must be on this client's host and port.
    pub async fn get(&self, worker: usize, url: &reqwest::Url) -> anyhow::Result<Answer> {
        let req = Request::get(self.path(url)?)
            .header(HOST, self.host.clone())
            .body(Full::default())?;
        self.send(worker, req).await
    }

    /// POST a form to `url` (on this client's host and port) with an
    /// Authorization header.
    pub async fn post_form(
        &self,
        worker: usize,
        url: &reqwest::Url,
        auth: &HeaderValue,
        body: Bytes,
    ) -> anyhow::Result<Answer> {
        let req = Request::builder()
            .method(Method::POST)
            .uri(self.path(url)?)
            .header(HOST, self.host.clone())
            .header(AUTHORIZATION, auth.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static(FORM))
            .body(Full::new(body))?;
        self.send(worker, req).await
    }

    /// The request target of `url`, refusing another server's URL (one
    /// connection per worker serves every endpoint).
    fn path<'u>(&self, url: &'u reqwest::Url) -> anyhow::Result<&'u str> {
        let same = url.scheme() == "http"
            && url
                .host_str()
                .zip(url.port_or_known_default())
                .map(|(h, p)| format!("{h}:{p}"))
                == Some(self.addr.clone());
        anyhow::ensure!(same, "{url} is not on {}", self.addr);
        Ok(&url[url::Position::BeforePath..])
    }

    async fn send(&self, worker: usize, req: Request<Full<Bytes>>) -> anyhow::Result<Answer> {
        let slot = self.conns.get(worker).context("no connection slot for this worker")?;
        let mut conn = slot.lock().await;
        let sender = match conn.as_mut() {
            Some(s) if !s.is_closed() => s,
            _ => conn.insert(self.connect().await?),
        };
        sender.ready().await?;
        let answer = async {
            let res = sender.send_request(req).await?;
            let status = res.status().as_u16();
            let body = res.into_body().collect().await?.to_bytes();
            anyhow::Ok(Answer { status, body })
        }
        .await;
        if answer.is_err() {
            // A broken connection is not reused; the next call opens another.
            *conn = None;
        }
        answer
    }

    async fn connect(&self) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let stream = tokio::net::TcpStream::connect(&self.addr).await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }
}
