//! Where a request comes from: the peer's address, or behind a trusted proxy
//! the client it forwarded. The console's sign-in throttle and the client
//! authentication throttle count failures by it.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;

use crate::domain::address::{forwarded_for, throttle_key};
use crate::engine::AppState;

/// Where the request comes from: the peer's address when the server was
/// started with connection info (`trustid serve` is), or behind a proxy in
/// `trusted_proxies` the client it forwarded (`Forwarded`, or without it
/// `X-Forwarded-For`); with the
/// key the sign-in throttle counts by (an IPv6 client's /64). `unknown`
/// without connection info.
pub struct ClientAddress {
    pub address: String,
    pub throttle_key: String,
}

impl FromRequestParts<AppState> for ClientAddress {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let Some(peer) = parts
            .extensions
            .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
            .map(|c| c.0.ip())
        else {
            let unknown = "unknown".to_owned();
            return Ok(ClientAddress {
                address: unknown.clone(),
                throttle_key: unknown,
            });
        };
        // RFC 7239's header when the proxy sends it, else the older one.
        let standard = parts.headers.get_all("forwarded");
        let forwarded: Vec<&str> = match standard.iter().next() {
            Some(_) => forwarded_for(standard.iter().filter_map(|v| v.to_str().ok())),
            None => parts
                .headers
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .collect(),
        };
        let client = state.server.trusted_proxies.client(peer, &forwarded);
        Ok(ClientAddress {
            address: client.to_string(),
            throttle_key: throttle_key(client),
        })
    }
}
