//! `GET /admin/pending/events`: Server-Sent Events for the pending list. An
//! event `changed` is sent when the set of open requests differs from what
//! the page showed (a request arrived, was decided or expired), checked on
//! every wake-up and at least every two seconds. The stream ends after ten
//! minutes; the browser's EventSource reconnects (re-checking the session).

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};

use super::guard::SignedIn;
use super::pending::open;
use crate::engine::AppState;

const CHECK_EVERY: Duration = Duration::from_secs(2);
const STREAM_FOR: Duration = Duration::from_secs(600);

/// The ids of the open requests, as one string to compare.
async fn fingerprint(state: &AppState) -> Option<String> {
    let open = open(state).await.ok()?;
    Some(open.iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(","))
}

pub async fn events(State(state): State<AppState>, _who: SignedIn) -> Response {
    let first = fingerprint(&state).await.unwrap_or_default();
    let rx = state.wakeups.subscribe();
    let until = Instant::now() + STREAM_FOR;
    let stream = futures_util::stream::unfold((state, rx, first), move |(state, mut rx, seen)| async move {
        loop {
            if Instant::now() >= until {
                return None;
            }
            // A wake-up (a new request for some user) or the next tick.
            let _ = tokio::time::timeout(CHECK_EVERY, rx.recv()).await;
            let now = fingerprint(&state).await?;
            if now != seen {
                let event = Event::default().event("changed").data("pending");
                return Some((Ok::<_, Infallible>(event), (state, rx, now)));
            }
        }
    });
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
