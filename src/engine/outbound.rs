//! The HTTP client for the URLs trustid calls on a client's behalf
//! (notification endpoints, push relays, `jwks_uri`): no redirects, bounded
//! time, and outside dev mode a resolver that drops internal addresses, so
//! that a name which passed registration cannot later resolve (DNS
//! rebinding) into the network trustid runs in. An address written in the
//! URL never reaches a resolver: callers run [`OutboundRule::check`] before
//! each call.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

use crate::domain::url::{OutboundRule, is_internal_ip};

/// A client for calls on someone's behalf under `rule`.
pub fn client(timeout: Duration, rule: &OutboundRule) -> reqwest::Result<reqwest::Client> {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout);
    if !rule.dev {
        builder = builder.dns_resolver(Arc::new(Guarded { rule: rule.clone() }));
    }
    builder.build()
}

/// Why a name was not connected to: every address it has is internal.
#[derive(Debug, thiserror::Error)]
#[error("{0} resolves only to internal addresses")]
pub struct InternalOnly(String);

/// Whether `error` is a refusal of the resolver (final: retrying reaches
/// the same addresses), not a network failure.
pub fn refused(error: &reqwest::Error) -> bool {
    let mut source = std::error::Error::source(error);
    while let Some(e) = source {
        if e.is::<InternalOnly>() {
            return true;
        }
        source = e.source();
    }
    false
}

struct Guarded {
    rule: OutboundRule,
}

impl Resolve for Guarded {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        let allowed = self.rule.allows(&host);
        Box::pin(async move {
            let found = tokio::net::lookup_host((host.as_str(), 0)).await?;
            let usable: Vec<SocketAddr> = found.filter(|a| allowed || !is_internal_ip(a.ip())).collect();
            if usable.is_empty() {
                return Err(Box::new(InternalOnly(host)) as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(usable.into_iter()) as Addrs)
        })
    }
}

/// The body of `res`, or `None` once it passes `cap` bytes (read no further:
/// a partner's huge or endless body costs at most `cap`).
pub async fn read_capped(mut res: reqwest::Response, cap: usize) -> Option<Vec<u8>> {
    let mut body = Vec::new();
    while let Some(chunk) = res.chunk().await.ok()? {
        if body.len() + chunk.len() > cap {
            return None;
        }
        body.extend_from_slice(&chunk);
    }
    Some(body)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `localhost` passes no registration, but a name that did could come
    /// to resolve like it: the resolver refuses it whatever the URL says.
    #[tokio::test]
    async fn a_name_that_resolves_inside_is_never_connected_to() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let accepted = tokio::spawn(async move { listener.accept().await.is_ok() });
        let strict = client(Duration::from_secs(2), &OutboundRule::strict()).unwrap();
        let error = strict
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .unwrap_err();
        assert!(refused(&error), "{error:?}");
        assert!(!accepted.is_finished(), "no connection was made");

        let allowed = OutboundRule {
            dev: false,
            allowed: vec!["localhost".into()],
        };
        let answer = client(Duration::from_secs(2), &allowed)
            .unwrap()
            .get(format!("http://localhost:{port}/"))
            .send();
        let _ = tokio::time::timeout(Duration::from_millis(300), answer).await;
        assert!(accepted.await.unwrap(), "an allowed host is connected to");
    }
}
