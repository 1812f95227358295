//! Counts every answer by route template and status and times it to the
//! response head (`engine::metrics::routes`). Inside the trace layer, so
//! the request timeout's 503s are counted; the probes are not.
//!
//! A tower layer of its own rather than `from_fn` (which boxes the route's
//! future per request): the future below wraps the route's and records
//! when it is ready.

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use axum::extract::{MatchedPath, Request};
use axum::response::Response;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

use crate::engine::AppState;
use crate::engine::metrics::routes::UNMATCHED;

#[derive(Clone)]
pub struct RouteMetricsLayer(AppState);

impl RouteMetricsLayer {
    /// Registers every route template, so that counting takes no lock.
    pub fn new(state: AppState) -> Self {
        state.metrics.routes.register(&crate::http::paths::ALL_PATHS);
        Self(state)
    }
}

impl<S> Layer<S> for RouteMetricsLayer {
    type Service = RouteMetrics<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RouteMetrics {
            inner,
            state: self.0.clone(),
        }
    }
}

#[derive(Clone)]
pub struct RouteMetrics<S> {
    inner: S,
    state: AppState,
}

impl<S> Service<Request> for RouteMetrics<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Counted<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let route = req.extensions().get::<MatchedPath>().cloned();
        Counted {
            answer: self.inner.call(req),
            route,
            started: Instant::now(),
            state: self.state.clone(),
        }
    }
}

pin_project! {
    pub struct Counted<F> {
        #[pin]
        answer: F,
        route: Option<MatchedPath>,
        started: Instant,
        state: AppState,
    }
}

impl<F: Future<Output = Result<Response, Infallible>>> Future for Counted<F> {
    type Output = Result<Response, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let Poll::Ready(Ok(res)) = this.answer.poll(cx) else {
            return Poll::Pending;
        };
        let route = this.route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
        let seconds = this.started.elapsed().as_secs_f64();
        this.state.metrics.routes.record(route, res.status().as_u16(), seconds);
        Poll::Ready(Ok(res))
    }
}
