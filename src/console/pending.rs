//! `GET /admin/pending`: every open request with its client, user, type,
//! the text its devices show, the devices pushed and the time left; live
//! (see `pending_events`); each with a cancel button.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::guard::SignedIn;
use super::page;
use crate::domain::transaction::Transaction;
use crate::engine::AppState;
use crate::store::console::TransactionFilter;
use crate::store::timeline::PushedRecord;

/// The most open requests listed.
pub const MAX_LISTED: i64 = 200;

pub struct Row {
    id: String,
    client_id: String,
    user_id: String,
    context: &'static str,
    display_text: String,
    /// The devices pushed, each with how its push stands.
    pushed: String,
    expires_at: i64,
    left: i64,
}

#[derive(Template)]
#[template(path = "admin/pending.html")]
struct Pending<'a> {
    email: &'a str,
    csrf: &'a str,
    rows: Vec<Row>,
    /// The fingerprint of what this page shows: the event stream compares
    /// with it, so a request that arrives before the stream connects counts.
    seen: String,
}

/// The open requests' ids as one short value (SHA-256, base64url).
pub fn fingerprint(open: &[Transaction]) -> String {
    let ids: Vec<&str> = open.iter().map(|t| t.id.as_str()).collect();
    crate::crypto::secret::digest(&ids.join(","))
}

/// The open requests, newest first.
pub async fn open(state: &AppState) -> Result<Vec<Transaction>, crate::store::StoreError> {
    // No open request is older than the longest expiry: the bound keeps
    // the query (every live page's, every two seconds) a range of ids.
    let filter = TransactionFilter {
        phase: Some("pending".into()),
        since: Some(state.clock.now() - state.requests.max_expiry),
        ..TransactionFilter::default()
    };
    state
        .store
        .transactions_page(&filter, None, state.clock.now(), MAX_LISTED, None)
        .await
        .map(|page| page.rows)
}

/// `d1 (sent), d2 (pending)`, or a dash when no device has a push channel.
fn pushed(pushes: &[PushedRecord], id: &str) -> String {
    let of: Vec<String> = pushes
        .iter()
        .filter(|p| p.transaction_id == id)
        .map(|p| format!("{} ({})", p.device_id, p.state))
        .collect();
    if of.is_empty() { "—".into() } else { of.join(", ") }
}

pub async fn list(State(state): State<AppState>, who: SignedIn) -> Response {
    let now = state.clock.now();
    let listed = async {
        let open = open(&state).await?;
        let ids: Vec<&str> = open.iter().map(|t| t.id.as_str()).collect();
        let pushes = state.store.pushes_of(&ids).await?;
        Ok::<_, crate::store::StoreError>((open, pushes))
    };
    let (rows, seen) = match listed.await {
        Ok((open, pushes)) => {
            let seen = fingerprint(&open);
            let rows = open
                .into_iter()
                .map(|t| Row {
                    pushed: pushed(&pushes, t.id.as_str()),
                    left: t.expires_at - now,
                    expires_at: t.expires_at,
                    context: t.context.as_str(),
                    id: t.id.into_string(),
                    client_id: t.client_id.into_string(),
                    user_id: t.user_id.into_string(),
                    display_text: t.display_text,
                })
                .collect();
            (rows, seen)
        }
        Err(e) => {
            tracing::error!(error = %e, "cannot list pending requests");
            return page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot read its database now.",
            );
        }
    };
    page::render(
        StatusCode::OK,
        &Pending {
            email: who.admin.email.as_str(),
            csrf: &who.session.csrf,
            rows,
            seen,
        },
    )
}
