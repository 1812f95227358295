//! `GET /device/v1/inbox`: the pending requests of the device's user, each
//! with a fresh single-use challenge to sign into the decision. The answer's
//! `ETag` names the set of requests listed; with `?wait=N` (at most 30 s) and
//! `If-None-Match: <that tag>` the call waits until the set changes (a request
//! arrives or is withdrawn) and answers `304` if it did not; without the
//! header an empty inbox waits for a request to arrive. `GET /device/v1/inbox/stream` is the same
//! list as Server-Sent Events, sent again whenever it changes (a request
//! arrives, or another device decided one). Neither polls the database in
//! a loop: both wait on the wake-up hub (PostgreSQL NOTIFY across instances).

use std::convert::Infallible;
use std::time::Duration;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde_json::{Value, json};

use super::proof::Proven;
use crate::crypto::secret;
use crate::domain::challenge::Challenge;
use crate::domain::device::Device;
use crate::domain::identity_document::EXECUTIVE_ACR;
use crate::engine::AppState;
use crate::engine::waits::{PER_DEVICE, Slot, TOTAL};
use crate::engine::wakeup::inbox_topic;
use crate::http::api_error::{ApiError, no_store};
use crate::store::InboxItem;

/// Longest `wait` a device may ask for (CIBA-style long polling stays ≤ 30 s).
const MAX_WAIT_SECS: u64 = 30;

/// The items as the device sees them, each with a fresh single-use challenge
/// for this device (the inbox, and a push token's exchange).
pub async fn with_challenges(state: &AppState, device: &Device, items: &[InboxItem]) -> Result<Vec<Value>, ApiError> {
    let now = state.clock.now();
    let challenges: Vec<Challenge> = items
        .iter()
        .map(|item| Challenge {
            nonce: secret::random_token(),
            transaction_id: item.transaction.id.clone(),
            device_id: device.id.clone(),
            expires_at: item.transaction.expires_at.min(now + state.devices.challenge_ttl),
            used_at: None,
            created_at: Some(now),
        })
        .collect();
    state.store.insert_challenges(&challenges).await?;
    Ok(items
        .iter()
        .zip(&challenges)
        .map(|(item, challenge)| {
            let t = &item.transaction;
            json!({
                "transaction_id": t.id,
                "client_name": item.client_name,
                "binding_message": t.display_text,
                "transaction_type": t.context.as_str(),
                "app_id": t.app_id,
                "scope": t.scope,
                "created_at": t.created_at,
                "expires_at": t.expires_at,
                "nonce": challenge.nonce,
                "nonce_expires_at": challenge.expires_at,
                "number_matching": t.match_number.is_some(),
                // Executive level: approving needs the scanned document's hash.
                "document_required": (t.acr.as_deref() == Some(EXECUTIVE_ACR)).then_some("driver_license"),
            })
        })
        .collect())
}

/// One of the device's capped open waits (`engine::waits`), or 429.
fn open_wait(state: &AppState, device: &Device) -> Result<Slot, ApiError> {
    state.open_waits.open(device.id.as_str()).ok_or_else(|| {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_waits",
            format!("a device holds at most {PER_DEVICE} long-polls and streams at once (and the server {TOTAL})"),
        )
    })
}

fn parse_wait(query: Option<&str>) -> Result<u64, ApiError> {
    let mut wait = 0;
    for (k, v) in form_urlencoded::parse(query.unwrap_or_default().as_bytes()) {
        if k == "wait" {
            wait = v
                .parse::<u64>()
                .ok()
                .filter(|w| *w <= MAX_WAIT_SECS)
                .ok_or_else(|| ApiError::bad_request("invalid_request", "wait must be 0 to 30 seconds"))?;
        }
    }
    Ok(wait)
}

pub async fn list(
    State(state): State<AppState>,
    proven: Proven,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let wait = parse_wait(query.as_deref())?;
    // Without a tag, the device waits for an empty inbox to fill (the tag of no requests).
    let known = match headers.get(header::IF_NONE_MATCH) {
        Some(value) => value.to_str().unwrap_or_default().trim().to_owned(),
        None => etag(std::iter::empty()),
    };
    let device = proven.active_device(&state).await?;
    let _slot = match wait {
        0 => None,
        _ => Some(open_wait(&state, &device)?),
    };
    let user_id = device.user_id.clone().unwrap_or_default();
    let topic = inbox_topic(&user_id);
    // Subscribe before reading, so a change in between still wakes us.
    let mut rx = state.wakeups.subscribe();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(wait);
    let items = loop {
        // Reading mints no nonces: a wait that ends unchanged writes nothing.
        let items = state.store.pending_for_user(&user_id, state.clock.now()).await?;
        let current = etag(items.iter().map(|i| i.transaction.id.as_str()));
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        if wait == 0 || current != known {
            break items;
        }
        if left.is_zero() || !state.wait_for(&mut rx, &topic, left).await {
            if headers.contains_key(header::IF_NONE_MATCH) {
                return Ok(not_modified(&current));
            }
            break items;
        }
    };
    let tag = etag(items.iter().map(|i| i.transaction.id.as_str()));
    let listed = with_challenges(&state, &device, &items).await?;
    let mut res = no_store(StatusCode::OK, Json(json!({"transactions": listed})));
    if let Ok(value) = HeaderValue::from_str(&tag) {
        res.headers_mut().insert(header::ETAG, value);
    }
    Ok(res)
}

/// A strong entity tag naming the set of listed requests (not their nonces,
/// which are fresh on every read).
fn etag<'a>(ids: impl Iterator<Item = &'a str>) -> String {
    format!("\"{}\"", &secret::digest(&ids.collect::<Vec<_>>().join(" "))[..22])
}

fn not_modified(tag: &str) -> Response {
    let mut res = StatusCode::NOT_MODIFIED.into_response();
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    if let Ok(value) = HeaderValue::from_str(tag) {
        headers.insert(header::ETAG, value);
    }
    res
}

/// `GET /device/v1/inbox/stream`: the proof is checked once, at connect.
pub async fn stream(State(state): State<AppState>, proven: Proven) -> Result<Response, ApiError> {
    let device = proven.active_device(&state).await?;
    let slot = open_wait(&state, &device)?;
    let topic = inbox_topic(&device.user_id.clone().unwrap_or_default());
    let rx = state.wakeups.subscribe();
    let first = changed(&state, &device, None).await?;
    let drained = state.drain.started();
    // The slot lives in the stream's state: freed when the stream ends.
    let events = futures_util::stream::unfold(
        (state, device, topic, rx, first, String::new(), slot),
        |(state, device, topic, mut rx, mut next, sent, slot)| async move {
            while next.is_none() {
                // Wait for a change; a lagging receiver just re-reads.
                match rx.recv().await {
                    Ok(t) if t == topic => {}
                    Ok(_) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
                // The device may have been locked or removed meanwhile.
                match state.store.device(&device.id).await {
                    Ok(Some(d)) if d.status == crate::domain::device::DeviceStatus::Active => {}
                    _ => return None,
                }
                // Wake-ups may repeat (locally and through NOTIFY): send changes only.
                next = changed(&state, &device, Some(&sent)).await.ok()?;
            }
            let (inbox, tag) = next?;
            let event = Event::default().event("inbox").data(inbox.to_string());
            Some((Ok::<_, Infallible>(event), (state, device, topic, rx, None, tag, slot)))
        },
    );
    // Draining ends the stream as a closed connection would: the device reconnects elsewhere.
    let events = events.take_until(drained);
    let mut res = Sse::new(events)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response();
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

/// The inbox with fresh challenges and its tag, unless its set of requests
/// still has the tag `sent`: challenges are single-use rows, minted only for
/// an inbox that will be sent.
async fn changed(state: &AppState, device: &Device, sent: Option<&str>) -> Result<Option<(Value, String)>, ApiError> {
    let user_id = device.user_id.as_deref().unwrap_or_default();
    let items = state.store.pending_for_user(user_id, state.clock.now()).await?;
    let tag = etag(items.iter().map(|i| i.transaction.id.as_str()));
    if sent == Some(tag.as_str()) {
        return Ok(None);
    }
    let inbox = json!({"transactions": with_challenges(state, device, &items).await?});
    Ok(Some((inbox, tag)))
}
