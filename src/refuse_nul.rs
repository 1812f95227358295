//! A percent-encoded NUL in the path or query can match nothing trustid
//! stores (PostgreSQL text cannot hold one): refused at the door, in the
//! error format of the API the path belongs to.
//!
//! A tower layer of its own, not `axum::middleware::from_fn`, which clones
//! and boxes the rest of the route for every request: this check is
//! synchronous, so the route's own future is returned as it is.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::Uri;
use axum::response::Response;
use futures_util::future::Either;
use tower::{Layer, Service};

use crate::face::{Face, Refusal};

#[derive(Clone, Copy, Default)]
pub struct RefuseNulLayer;

impl<S> Layer<S> for RefuseNulLayer {
    type Service = RefuseNul<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RefuseNul(inner)
    }
}

#[derive(Clone)]
pub struct RefuseNul<S>(S);

impl<S> Service<Request> for RefuseNul<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Either<Ready<Result<Response, Infallible>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        match refusal(req.uri()) {
            Some(refused) => Either::Left(ready(Ok(refused))),
            None => Either::Right(self.0.call(req)),
        }
    }
}

/// The answer to a URL with an encoded NUL, or `None` to let it through.
fn refusal(uri: &Uri) -> Option<Response> {
    // "%00" has no letter: no case to fold.
    let has_nul = |s: &str| s.contains("%00");
    if !has_nul(uri.path()) && !uri.query().is_some_and(has_nul) {
        return None;
    }
    Some(Face::of(uri.path()).refuse(Refusal::InvalidRequest, "the URL contains a NUL character"))
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse;

    use super::*;
    use crate::http::api_error::ApiError;

    #[tokio::test]
    async fn only_an_encoded_nul_is_refused_in_the_format_of_its_api() {
        // OAuth's error format: `error` and `error_description`.
        let oauth = body("/token?x=%00").await.unwrap();
        assert_eq!(oauth["error"], "invalid_request");
        assert!(oauth["error_description"].is_string(), "{oauth}");
        // The device and management APIs' own schema, whatever its members.
        let schema = json_of(ApiError::bad_request("invalid_request", "x").into_response()).await;
        for path in [
            "/device/v1/transactions/a%00b/decision",
            "/manage/v1/users/a%00/devices",
        ] {
            let api = body(path).await.unwrap();
            assert_eq!(keys(&api), keys(&schema), "{path}: {api}");
            assert!(api.to_string().contains("invalid_request"), "{api}");
        }
        // The SAML face's pages: HTML.
        let page = refusal(&"/saml/sso?SAMLRequest=%00".parse().unwrap()).unwrap();
        assert_eq!(page.status(), 400);
        assert_eq!(page.headers()["content-type"], "text/html; charset=utf-8");
        let console = refusal(&"/admin/sessions/a%00/revoke".parse().unwrap()).unwrap();
        assert_eq!(console.headers()["content-type"], "text/html; charset=utf-8");
        for passes in ["/token?x=%2500", "/token?x=%01", "/bc-authorize"] {
            assert!(body(passes).await.is_none(), "{passes}");
        }
    }

    async fn body(uri: &str) -> Option<serde_json::Value> {
        let refused = refusal(&uri.parse().unwrap())?;
        assert_eq!(refused.status(), 400, "{uri}");
        Some(json_of(refused).await)
    }

    async fn json_of(response: Response) -> serde_json::Value {
        let bytes = axum::body::to_bytes(response.into_body(), 4096).await.unwrap();
        serde_json::from_slice(&bytes).unwrap()
    }

    fn keys(v: &serde_json::Value) -> Vec<String> {
        v.as_object().unwrap().keys().cloned().collect()
    }
}
