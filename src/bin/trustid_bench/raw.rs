//! The throughput phases' HTTP client: one HTTP/1.1 keep-alive connection
//! per closed-loop worker, driven by hyper directly, with the request line,
//! headers and bodies prepared before the clock starts.
//!
//! On a two-core machine the load generator shares the cores with the server
//! it measures: whatever it spends per request is taken from the server.
//! reqwest (pool lookup, URL handling, header maps, timeouts per request) cost
//! this bench about 32 µs of CPU per backchannel request; a connection per
//! worker about 20 (figures in `bench/README.md`). The flows'
//! backchannel and token calls use it too; set-up and the device calls keep
//! reqwest.

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
/// As long as reqwest was given before: a stalled answer is an error, not a hung phase.
const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// One connection per worker, opened on first use and again after an error.
pub struct Raw {
    /// Where to connect, and what every URL given must name.
    host_name: String,
    port: u16,
    /// The ports of a server's instances: worker `w` connects to
    /// `ports[(w + shift) % len]`, naming `port` in every request.
    ports: Vec<u16>,
    shift: usize,
    /// The `Host` header.
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
        Self::spread(url, workers, &[], 0)
    }

    /// A client for `url` whose workers connect to the instances listening
    /// on `ports` of the same host (all answer for `url`'s issuer), worker
    /// `w` to instance `w + shift`; no ports: `url`'s own.
    pub fn spread(url: &reqwest::Url, workers: usize, ports: &[u16], shift: usize) -> anyhow::Result<Arc<Self>> {
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
            host_name: host.to_owned(),
            port,
            ports: if ports.is_empty() { vec![port] } else { ports.to_vec() },
            shift,
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
        // Compared per request: no allocation here.
        let same = url.scheme() == "http"
            && url.host_str() == Some(self.host_name.as_str())
            && url.port_or_known_default() == Some(self.port);
        anyhow::ensure!(same, "{url} is not on {}:{}", self.host_name, self.port);
        Ok(&url[url::Position::BeforePath..])
    }

    fn port_of(&self, worker: usize) -> u16 {
        self.ports[(worker + self.shift) % self.ports.len()]
    }

    async fn send(&self, worker: usize, req: Request<Full<Bytes>>) -> anyhow::Result<Answer> {
        let slot = self.conns.get(worker).context("no connection slot for this worker")?;
        let mut conn = slot.lock().await;
        match tokio::time::timeout(TIMEOUT, self.exchange(worker, &mut conn, req)).await {
            Ok(Ok(answer)) => Ok(answer),
            Ok(Err(e)) => {
                // A broken connection is not reused; the next call opens another.
                *conn = None;
                Err(e)
            }
            Err(_) => {
                // The answer may still come: the connection cannot be reused.
                *conn = None;
                anyhow::bail!("no answer within {} s", TIMEOUT.as_secs())
            }
        }
    }

    /// One request on the worker's connection. A request the connection
    /// never took (the server closed it while idle) goes once more on a new
    /// one, as reqwest's pool does; a request that was sent is never repeated.
    async fn exchange(
        &self,
        worker: usize,
        conn: &mut Option<SendRequest<Full<Bytes>>>,
        req: Request<Full<Bytes>>,
    ) -> anyhow::Result<Answer> {
        let mut req = Some(req);
        for _ in 0..2 {
            let sender = match conn.as_mut() {
                Some(s) if !s.is_closed() => s,
                _ => conn.insert(self.connect(worker).await?),
            };
            if sender.ready().await.is_err() {
                *conn = None;
                continue;
            }
            let Some(this) = req.take() else { break };
            match sender.try_send_request(this).await {
                Ok(res) => {
                    let status = res.status().as_u16();
                    let body = res.into_body().collect().await?.to_bytes();
                    return Ok(Answer { status, body });
                }
                Err(mut e) => match e.take_message() {
                    Some(unsent) => {
                        req = Some(unsent);
                        *conn = None;
                    }
                    None => return Err(e.into_error().into()),
                },
            }
        }
        anyhow::bail!("the connection closed twice before the request could be sent")
    }

    async fn connect(&self, worker: usize) -> anyhow::Result<SendRequest<Full<Bytes>>> {
        let stream = tokio::net::TcpStream::connect((
            // An IPv6 literal comes bracketed from the URL.
            self.host_name.trim_start_matches('[').trim_end_matches(']'),
            self.port_of(worker),
        ))
        .await?;
        stream.set_nodelay(true)?;
        let (sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream)).await?;
        tokio::spawn(async move {
            let _ = conn.await;
        });
        Ok(sender)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_urls_on_the_clients_host_and_port_are_sent() {
        let url = |s: &str| reqwest::Url::parse(s).unwrap();
        let raw = Raw::new(&url("http://127.0.0.1:8080/.well-known/openid-configuration"), 1).unwrap();
        assert_eq!(raw.host, "127.0.0.1:8080");
        assert_eq!(raw.path(&url("http://127.0.0.1:8080/token?x=1")).unwrap(), "/token?x=1");
        for other in [
            "http://127.0.0.1:8081/token",
            "http://localhost:8080/token",
            "https://127.0.0.1:8080/token",
        ] {
            assert!(raw.path(&url(other)).is_err(), "{other}");
        }
        // The default port is left out of Host, as a browser would.
        let default = Raw::new(&url("http://127.0.0.1/x"), 1).unwrap();
        assert_eq!(default.host, "127.0.0.1");
        assert!(default.path(&url("http://127.0.0.1:80/y")).is_ok());
        assert!(Raw::new(&url("https://127.0.0.1/x"), 1).is_err(), "plain HTTP only");
    }

    #[test]
    fn workers_are_spread_over_the_instances_and_name_the_issuer() {
        let issuer = reqwest::Url::parse("http://127.0.0.1:8080/token").unwrap();
        let raw = Raw::spread(&issuer, 4, &[8080, 9090], 0).unwrap();
        let ports: Vec<u16> = (0..4).map(|w| raw.port_of(w)).collect();
        assert_eq!(ports, [8080, 9090, 8080, 9090]);
        assert_eq!(raw.host, "127.0.0.1:8080", "every instance is asked as the issuer");
        let rival = Raw::spread(&issuer, 4, &[8080, 9090], 1).unwrap();
        assert!((0..4).all(|w| rival.port_of(w) != raw.port_of(w)), "the other instance");
        assert_eq!(Raw::new(&issuer, 2).unwrap().port_of(1), 8080);
    }
}
