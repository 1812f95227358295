//! The accept loop of `trustid serve`: axum's router over hyper, with the
//! limits `axum::serve` does not set. A new connection must send its first
//! byte, and then its request head, each within [`HEADER_READ_TIMEOUT`] (a
//! client holding connections open by sending nothing, or by trickling
//! headers, is cut off) with at most [`MAX_HEADERS`] headers; with TLS, the
//! handshake must end within the same time, and the client certificate it
//! brought (mutual TLS) goes with each request. Once draining begins, no
//! connection is accepted and open ones finish their request (idle
//! keep-alive connections close at once).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::ConnectInfo;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto::Builder;
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;

use crate::crypto::client_cert::CertificateChain;
use crate::http::client_certificate::TlsPeer;

/// Time to send a request's head (HTTP/1).
pub const HEADER_READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Headers in one request; a client library sends a dozen.
pub const MAX_HEADERS: usize = 64;
/// How often an HTTP/2 peer is pinged.
const H2_PING_EVERY: Duration = Duration::from_secs(30);

/// Serves `app` (over TLS when `tls` is given) until `drain` completes,
/// then waits for open connections.
pub async fn serve(
    listener: tokio::net::TcpListener,
    app: Router,
    tls: Option<TlsAcceptor>,
    drain: impl Future<Output = ()>,
) {
    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(HEADER_READ_TIMEOUT)
        .max_headers(MAX_HEADERS);
    // HTTP/2 only when TLS negotiates it: hyper's HTTP/2 has no header-read
    // timer, so plain connections speak HTTP/1 (no h2c); a TLS peer that
    // stops answering pings is dropped.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(H2_PING_EVERY)
        .keep_alive_timeout(HEADER_READ_TIMEOUT);
    let plain = builder.clone().http1_only();
    let graceful = GracefulShutdown::new();
    let mut drain = std::pin::pin!(drain);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                // Out of file descriptors, say: pause rather than spin.
                Err(e) => {
                    tracing::warn!(error = %e, "cannot accept a connection");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut drain => break,
        };
        let (app, builder, plain, watcher, tls) = (
            app.clone(),
            builder.clone(),
            plain.clone(),
            graceful.watcher(),
            tls.clone(),
        );
        tokio::spawn(async move {
            // hyper's header-read timer starts with a request's first byte: a
            // connection that never sends one would be held for ever.
            let mut first = [0u8; 1];
            match tokio::time::timeout(HEADER_READ_TIMEOUT, stream.peek(&mut first)).await {
                Ok(Ok(n)) if n > 0 => {}
                _ => return,
            }
            let Some(tls) = tls else {
                return serve_connection(&plain, stream, service(app, peer, None), watcher).await;
            };
            match tokio::time::timeout(HEADER_READ_TIMEOUT, tls.accept(stream)).await {
                Ok(Ok(stream)) => {
                    let chain = stream
                        .get_ref()
                        .1
                        .peer_certificates()
                        .map(|c| c.iter().map(|c| c.to_vec()).collect());
                    let client = chain.and_then(CertificateChain::new).map(|c| TlsPeer(Arc::new(c)));
                    serve_connection(&builder, stream, service(app, peer, client), watcher).await
                }
                Ok(Err(e)) => tracing::debug!(error = %e, "TLS handshake failed"),
                Err(_) => tracing::debug!("TLS handshake not finished in time"),
            }
        });
    }
    drop(listener);
    graceful.shutdown().await;
}

/// `app` for one connection: every request carries the peer's address
/// (the throttles count by it) and the client certificate of its handshake.
fn service(
    app: Router,
    peer: SocketAddr,
    client: Option<TlsPeer>,
) -> TowerToHyperService<
    impl tower::Service<
        axum::http::Request<Incoming>,
        Response = axum::response::Response,
        Error = std::convert::Infallible,
        Future: Send,
    > + Clone
    + Send
    + 'static,
> {
    TowerToHyperService::new(app.map_request(move |req: axum::http::Request<Incoming>| {
        let mut req = req.map(Body::new);
        req.extensions_mut().insert(ConnectInfo::<SocketAddr>(peer));
        if let Some(client) = &client {
            req.extensions_mut().insert(client.clone());
        }
        req
    }))
}

async fn serve_connection<I, S>(
    builder: &Builder<TokioExecutor>,
    io: I,
    service: TowerToHyperService<S>,
    watcher: hyper_util::server::graceful::Watcher,
) where
    I: AsyncRead + AsyncWrite + Unpin + Send + 'static,
    S: tower::Service<axum::http::Request<Incoming>, Response = axum::response::Response> + Clone + Send + 'static,
    S::Future: Send + 'static,
    S::Error: std::error::Error + Send + Sync + 'static,
{
    // Without upgrades (nothing here needs one): only this honours http1_only.
    let connection = builder.serve_connection(TokioIo::new(io), service);
    if let Err(e) = watcher.watch(connection.into_owned()).await {
        tracing::trace!(error = %e, "connection ended with an error");
    }
}
