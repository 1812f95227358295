//! `GET /admin/transactions`: every transaction, newest first, filtered by
//! status, type, client, user and device, fifty to a page, paged by key.

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::guard::SignedIn;
use super::page::{self, instant};
use crate::domain::ids;
use crate::domain::transaction::{Phase, Transaction};
use crate::engine::AppState;
use crate::store::console::TransactionFilter;

const PAGE: i64 = 50;
/// How many transactions one filtered page looks at, at most: no index
/// serves a filter by user, device or status on SQLite (each would cost
/// every backchannel request's write), so a page scans a bounded range of
/// the primary key and offers to search further back.
const SCAN: i64 = 20_000;
const STATUSES: [(&str, &str); 6] = [
    ("", "any"),
    ("pending", "pending"),
    ("expired", "expired"),
    ("approved", "approved"),
    ("denied", "denied"),
    ("consumed", "tokens issued"),
];
const TYPES: [(&str, &str); 4] = [
    ("", "any"),
    ("authentication", "authentication"),
    ("provisioning", "provisioning"),
    ("saml", "SAML"),
];

pub struct Row {
    pub id: String,
    pub created_at: String,
    pub phase: &'static str,
    pub context: &'static str,
    pub client_id: String,
    pub user_id: String,
    pub display_text: String,
}

#[derive(Template)]
#[template(path = "admin/transactions.html")]
struct List<'a> {
    email: &'a str,
    csrf: &'a str,
    statuses: &'a [(&'a str, &'a str)],
    types: &'a [(&'a str, &'a str)],
    filter_status: &'a str,
    filter_type: &'a str,
    filter_client: &'a str,
    filter_user: &'a str,
    filter_device: &'a str,
    filter_from: &'a str,
    filter_to: &'a str,
    rows: Vec<Row>,
    next: Option<String>,
    /// Not a full page, but older transactions remain unsearched: how far
    /// back this page looked.
    searched_to: Option<String>,
    scan: i64,
}

pub fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Pending => "pending",
        Phase::Expired => "expired",
        Phase::Approved => "approved",
        Phase::Denied => "denied",
        Phase::Consumed => "consumed",
    }
}

/// The Unix time of 00:00 UTC of a `YYYY-MM-DD` day; `None` for no date.
fn day_start(text: &str) -> Result<Option<i64>, ()> {
    if text.is_empty() {
        return Ok(None);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let day = time::Date::parse(text, &format).map_err(|_| ())?;
    Ok(Some(day.midnight().assume_utc().unix_timestamp()))
}

fn row(t: Transaction, now: i64) -> Row {
    Row {
        phase: phase_name(t.phase(now)),
        context: t.context.as_str(),
        created_at: instant(t.created_at),
        id: t.id.into_string(),
        client_id: t.client_id.into_string(),
        user_id: t.user_id.into_string(),
        display_text: t.display_text,
    }
}

pub async fn list(State(state): State<AppState>, who: SignedIn, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .unwrap_or_default()
    };
    let (status, kind) = (param("status"), param("type"));
    if !STATUSES.iter().any(|(v, _)| *v == status) || !TYPES.iter().any(|(v, _)| *v == kind) {
        return page::error(StatusCode::BAD_REQUEST, "There is no such status or type to filter by.");
    }
    let (client, user, device, before) = (param("client"), param("user"), param("device"), param("before"));
    let (from, to) = (param("from"), param("to"));
    // Days in UTC: `from` includes its day, `to` includes its whole day too.
    let (Ok(since), Ok(until)) = (day_start(&from), day_start(&to).map(|d| d.map(|t| t + 86_400))) else {
        return page::error(StatusCode::BAD_REQUEST, "Dates are written YYYY-MM-DD.");
    };
    let some = |v: &str| (!v.is_empty()).then(|| v.to_owned());
    let filter = TransactionFilter {
        phase: some(&status),
        client_id: some(&client),
        user_id: some(&user),
        device_id: some(&device),
        context: some(&kind),
        since,
        until,
    };
    let now = state.clock.now();
    let filtered = [&status, &kind, &client, &user, &device].iter().any(|v| !v.is_empty());
    let found = state
        .store
        .transactions_page(&filter, some(&before).as_deref(), now, PAGE, filtered.then_some(SCAN))
        .await;
    let found = match found {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "cannot list transactions");
            return page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot read its database now.",
            );
        }
    };
    let searched_to = found
        .resume
        .as_deref()
        .filter(|_| (found.rows.len() as i64) < PAGE)
        .and_then(ids::time_of)
        .map(|ms| instant(ms / 1000));
    let next = found.resume.as_deref().map(|resume| {
        let mut q = form_urlencoded::Serializer::new(String::new());
        for (k, v) in [
            ("status", &status),
            ("type", &kind),
            ("client", &client),
            ("user", &user),
            ("device", &device),
            ("from", &from),
            ("to", &to),
        ] {
            if !v.is_empty() {
                q.append_pair(k, v);
            }
        }
        format!("/admin/transactions?{}", q.append_pair("before", resume).finish())
    });
    let rows: Vec<Row> = found.rows.into_iter().map(|t| row(t, now)).collect();
    page::render(
        StatusCode::OK,
        &List {
            email: who.admin.email.as_str(),
            csrf: &who.session.csrf,
            statuses: &STATUSES,
            types: &TYPES,
            filter_status: &status,
            filter_type: &kind,
            filter_client: &client,
            filter_user: &user,
            filter_device: &device,
            filter_from: &from,
            filter_to: &to,
            rows,
            next,
            searched_to,
            scan: SCAN,
        },
    )
}
