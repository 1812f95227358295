//! Every request carries an id: the client's `X-Request-Id` when it is a
//! short token (letters, digits, `.`, `_`, `-`; at most 128), else a new
//! random one (128 bits). It is put in the request's headers, where the
//! log span reads it (`request_id` on every line of the request), and sent
//! back in the answer's `X-Request-Id`, so a relying party's ticket names
//! the log lines to read.
//!
//! A tower layer of its own rather than two of tower-http's (set, then
//! propagate): one header written each way per request.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::extract::Request;
use axum::http::{HeaderName, HeaderValue};
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
const MAX_LEN: usize = 128;

#[derive(Clone, Copy, Default)]
pub struct RequestIdLayer;

impl<S> Layer<S> for RequestIdLayer {
    type Service = RequestId<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestId(inner)
    }
}

#[derive(Clone)]
pub struct RequestId<S>(S);

/// The client's id when it is usable, else a new one.
fn id_for(req: &Request) -> HeaderValue {
    let given = req.headers().get(&X_REQUEST_ID).filter(|v| {
        let bytes = v.as_bytes();
        (1..=MAX_LEN).contains(&bytes.len()) && bytes.iter().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(b))
    });
    match given {
        Some(value) => value.clone(),
        None => {
            let made = format!("{:032x}", rand::random::<u128>());
            HeaderValue::from_str(&made).unwrap_or(HeaderValue::from_static("unknown"))
        }
    }
}

impl<S> Service<Request> for RequestId<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Tagged<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request) -> Self::Future {
        let id = id_for(&req);
        req.headers_mut().insert(X_REQUEST_ID, id.clone());
        Tagged {
            answer: self.0.call(req),
            id: Some(id),
        }
    }
}

pin_project! {
    pub struct Tagged<F> {
        #[pin]
        answer: F,
        id: Option<HeaderValue>,
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Tagged<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Poll::Ready(Ok(mut response)) = this.answer.poll(cx) else {
            return Poll::Pending;
        };
        if let Some(id) = this.id.take() {
            response.headers_mut().insert(X_REQUEST_ID, id);
        }
        Poll::Ready(Ok(response))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(id: Option<&str>) -> Request {
        let mut req = Request::new(axum::body::Body::empty());
        if let Some(id) = id {
            req.headers_mut()
                .insert(X_REQUEST_ID, HeaderValue::from_str(id).unwrap());
        }
        req
    }

    #[test]
    fn a_usable_id_is_kept_and_anything_else_replaced() {
        assert_eq!(id_for(&request(Some("rp-4711.a_b"))), "rp-4711.a_b");
        for bad in [None, Some("two words"), Some("a/b"), Some(&*"x".repeat(129))] {
            let made = id_for(&request(bad));
            assert_eq!(made.len(), 32, "{bad:?}");
            assert!(made.to_str().unwrap().bytes().all(|b| b.is_ascii_hexdigit()));
        }
        assert_ne!(id_for(&request(None)), id_for(&request(None)), "random");
    }
}
