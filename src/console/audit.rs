//! `GET /admin/audit`: the audit trail, newest first, filtered by actor,
//! action and subject, fifty to a page (paged by key: instant, then id).

use askama::Template;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::guard::SignedIn;
use super::page::{self, instant};
use crate::engine::AppState;
use crate::store::console::AuditFilter;

const PAGE: i64 = 50;

pub struct Row {
    when: String,
    actor: String,
    action: String,
    subject: String,
    detail: String,
}

#[derive(Template)]
#[template(path = "admin/audit.html")]
struct Audit<'a> {
    email: &'a str,
    csrf: &'a str,
    actor: &'a str,
    action: &'a str,
    subject: &'a str,
    export_csv: String,
    export_json: String,
    rows: Vec<Row>,
    next: Option<String>,
}

/// The filter of a query string, and the query that repeats it.
pub fn filter_of(query: &str) -> (AuditFilter, String) {
    let param = |name: &str| {
        form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.trim().to_owned())
            .filter(|v| !v.is_empty())
    };
    let filter = AuditFilter {
        actor: param("actor"),
        action: param("action"),
        subject: param("subject"),
    };
    let mut again = form_urlencoded::Serializer::new(String::new());
    for (k, v) in [
        ("actor", &filter.actor),
        ("action", &filter.action),
        ("subject", &filter.subject),
    ] {
        if let Some(v) = v {
            again.append_pair(k, v);
        }
    }
    (filter, again.finish())
}

/// `before=AT.ID` of the last row of the previous page.
pub fn before_of(query: &str) -> Option<(i64, String)> {
    let raw = form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "before")?.1;
    let (at, id) = raw.split_once('.')?;
    Some((at.parse().ok()?, id.to_owned()))
}

pub async fn list(State(state): State<AppState>, who: SignedIn, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let (filter, again) = filter_of(&query);
    let before = before_of(&query);
    let found = state
        .store
        .audit_page(&filter, before.as_ref().map(|(at, id)| (*at, id.as_str())), PAGE)
        .await;
    let found = match found {
        Ok(found) => found,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the audit trail");
            return page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot read its database now.",
            );
        }
    };
    let sep = if again.is_empty() { "" } else { "&" };
    let next = found
        .last()
        .filter(|_| found.len() as i64 == PAGE)
        .map(|last| format!("/admin/audit?{again}{sep}before={}.{}", last.at, last.id));
    let rows = found
        .into_iter()
        .map(|r| Row {
            when: instant(r.at),
            actor: r.actor,
            action: r.action,
            subject: r.subject,
            detail: r.detail.unwrap_or_default(),
        })
        .collect();
    page::render(
        StatusCode::OK,
        &Audit {
            email: who.admin.email.as_str(),
            csrf: &who.session.csrf,
            actor: filter.actor.as_deref().unwrap_or(""),
            action: filter.action.as_deref().unwrap_or(""),
            subject: filter.subject.as_deref().unwrap_or(""),
            export_csv: format!("/admin/audit/export?format=csv{sep}{again}"),
            export_json: format!("/admin/audit/export?format=json{sep}{again}"),
            rows,
            next,
        },
    )
}
