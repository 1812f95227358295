//! `GET /admin/pending/events`: Server-Sent Events for the pending list. An
//! event `changed` is sent when the set of open requests differs from what
//! the page showed (`?seen=`, its fingerprint) or the stream last saw (a
//! request arrived, was decided or expired), checked
//! every two seconds whatever the load. The stream ends when its session
//! does (signed out, revoked, disabled) and after ten minutes; the
//! browser's EventSource then reconnects through the session check.

use std::convert::Infallible;
use std::time::{Duration, Instant};

use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;

use super::guard::{SignedIn, cookie};
use super::pending::{self, open};
use crate::engine::AppState;
use crate::engine::admin_sessions::still_live;

const CHECK_EVERY: Duration = Duration::from_secs(2);
const STREAM_FOR: Duration = Duration::from_secs(600);

/// The fingerprint of the open requests now.
async fn fingerprint(state: &AppState) -> Option<String> {
    Some(pending::fingerprint(&open(state).await.ok()?))
}

pub async fn events(
    State(state): State<AppState>,
    _who: SignedIn,
    headers: HeaderMap,
    RawQuery(query): RawQuery,
) -> Response {
    let secret = cookie(&state, &headers).unwrap_or_default();
    let shown = form_urlencoded::parse(query.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "seen")
        .map(|(_, v)| v.into_owned());
    let first = match shown {
        Some(seen) => seen,
        None => fingerprint(&state).await.unwrap_or_default(),
    };
    let until = Instant::now() + STREAM_FOR;
    let drained = state.drain.started();
    let stream = futures_util::stream::unfold((state, secret, first), move |(state, secret, seen)| async move {
        loop {
            tokio::time::sleep(CHECK_EVERY).await;
            if Instant::now() >= until || !still_live(&state, &secret).await {
                return None;
            }
            let now = fingerprint(&state).await?;
            if now != seen {
                let event = Event::default().event("changed").data("pending");
                return Some((Ok::<_, Infallible>(event), (state, secret, now)));
            }
        }
    });
    let stream = stream.take_until(drained);
    let mut response = Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}
