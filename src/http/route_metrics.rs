//! Counts every answer by route template and status and times it to the
//! response head (`engine::metrics::routes`). Inside the trace layer, so
//! the request timeout's 503s are counted; the probes are not.

use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;

use crate::engine::AppState;
use crate::engine::metrics::routes::UNMATCHED;

pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().cloned();
    let started = Instant::now();
    let res = next.run(req).await;
    let route = route.as_ref().map_or(UNMATCHED, MatchedPath::as_str);
    state
        .metrics
        .routes
        .record(route, res.status().as_u16(), started.elapsed().as_secs_f64());
    res
}
