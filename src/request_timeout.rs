//! A request must be answered within `request_timeout`: a client trickling
//! its body, or a handler stuck behind something slow, does not hold a task
//! and a connection for ever. Past the time the handler's future is dropped
//! (a database transaction in it rolls back) and the client gets 503
//! `temporarily_unavailable` in its face's format. The time runs until the
//! response head: an event stream's body is not cut; long-poll routes are
//! left outside this layer, their handlers bound their own waits.
//!
//! A tower layer of its own rather than `from_fn` (which boxes the route per
//! request): the future below wraps the route's with one timer.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use axum::extract::Request;
use axum::response::Response;
use pin_project_lite::pin_project;
use tokio::time::Sleep;
use tower::{Layer, Service};

use crate::face::{Face, Refusal};

#[derive(Clone, Copy)]
pub struct RequestTimeoutLayer(pub Duration);

impl<S> Layer<S> for RequestTimeoutLayer {
    type Service = RequestTimeout<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequestTimeout { inner, limit: self.0 }
    }
}

#[derive(Clone)]
pub struct RequestTimeout<S> {
    inner: S,
    limit: Duration,
}

impl<S> Service<Request> for RequestTimeout<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Timed<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let face = Face::of(req.uri().path());
        Timed {
            answer: self.inner.call(req),
            deadline: tokio::time::sleep(self.limit),
            face,
            limit: self.limit,
        }
    }
}

pin_project! {
    pub struct Timed<F> {
        #[pin]
        answer: F,
        #[pin]
        deadline: Sleep,
        face: Face,
        limit: Duration,
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Timed<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(answer) = this.answer.poll(cx) {
            return Poll::Ready(answer);
        }
        if this.deadline.poll(cx).is_ready() {
            tracing::warn!(seconds = this.limit.as_secs(), "request timed out");
            let why = format!("the request was not complete within {} s", this.limit.as_secs());
            return Poll::Ready(Ok(this.face.refuse(Refusal::Unavailable, &why)));
        }
        Poll::Pending
    }
}
