//! A percent-encoded NUL in the path or query can match nothing trustid
//! stores (PostgreSQL text cannot hold one): refused at the door, in the
//! error format of the API the path belongs to.
//!
//! A tower layer of its own, not `axum::middleware::from_fn`: that clones
//! and boxes the rest of the route for every request (6 % of a backchannel
//! request's CPU in a profile, `bench/README.md`), and this check is
//! synchronous, so the route's own future is returned as it is.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::Uri;
use axum::response::{IntoResponse, Response};
use futures_util::future::Either;
use tower::{Layer, Service};

use crate::device_api::error::ApiError;
use crate::error::OAuthError;

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
    let path = uri.path();
    let why = "the URL contains a NUL character";
    Some(if path.starts_with("/device/") || path.starts_with("/manage/") {
        ApiError::bad_request("invalid_request", why).into_response()
    } else {
        OAuthError::invalid_request(why).into_response()
    })
}

#[cfg(test)]
mod tests {
    use super::refusal;

    #[test]
    fn only_an_encoded_nul_is_refused_in_the_format_of_its_api() {
        let status = |uri: &str| refusal(&uri.parse().unwrap()).map(|r| r.status().as_u16());
        assert_eq!(status("/token?x=%00"), Some(400));
        assert_eq!(status("/device/v1/transactions/a%00b/decision"), Some(400));
        assert_eq!(status("/token?x=%2500"), None, "an encoded percent sign, then 00");
        assert_eq!(status("/token?x=%01"), None);
        assert_eq!(status("/bc-authorize"), None);
    }
}
