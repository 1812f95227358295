//! `GET /admin/pending`: every open request with its client, user, type,
//! the text its devices show, and the time left; live (see `pending_events`).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::guard::SignedIn;
use super::page;
use crate::domain::transaction::Transaction;
use crate::engine::AppState;
use crate::store::console::TransactionFilter;

/// The most open requests listed.
pub const MAX_LISTED: i64 = 200;

pub struct Row {
    id: String,
    client_id: String,
    user_id: String,
    context: &'static str,
    display_text: String,
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
    let filter = TransactionFilter {
        phase: Some("pending".into()),
        ..TransactionFilter::default()
    };
    state
        .store
        .transactions_page(&filter, None, state.clock.now(), MAX_LISTED)
        .await
}

pub async fn list(State(state): State<AppState>, who: SignedIn) -> Response {
    let now = state.clock.now();
    let (rows, seen) = match open(&state).await {
        Ok(open) => {
            let seen = fingerprint(&open);
            let rows = open
                .into_iter()
                .map(|t| Row {
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
