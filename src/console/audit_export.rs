//! `GET /admin/audit/export?format=csv|json`: the audit entries matching the
//! list's filters, newest first, at most 10,000, as a download. CSV cells
//! that a spreadsheet would run as a formula are quoted as text.

use axum::extract::{RawQuery, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::audit::filter_of;
use super::guard::SignedIn;
use super::page;
use crate::engine::AppState;
use crate::store::console::AuditRecord;

const MAX_ROWS: i64 = 10_000;

/// A CSV field: quoted, quotes doubled, and a leading `= + - @` (a formula
/// to a spreadsheet) preceded by `'`.
fn cell(value: &str) -> String {
    let guarded = if value.starts_with(['=', '+', '-', '@', '\t', '\r']) {
        format!("'{value}")
    } else {
        value.to_owned()
    };
    format!("\"{}\"", guarded.replace('"', "\"\""))
}

fn csv(rows: &[AuditRecord]) -> String {
    let mut out = String::from("at,actor,action,subject,detail\n");
    for r in rows {
        let fields = [
            r.at.to_string(),
            r.actor.clone(),
            r.action.clone(),
            r.subject.clone(),
            r.detail.clone().unwrap_or_default(),
        ];
        out.push_str(&fields.iter().map(|f| cell(f)).collect::<Vec<_>>().join(","));
        out.push('\n');
    }
    out
}

pub async fn export(State(state): State<AppState>, who: SignedIn, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    let format = form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == "format")
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default();
    let (filter, _) = filter_of(&query);
    let rows = match state.store.audit_page(&filter, None, MAX_ROWS).await {
        Ok(rows) => rows,
        Err(e) => {
            tracing::error!(error = %e, "cannot read the audit trail");
            return page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot read its database now.",
            );
        }
    };
    let (body, content_type, ext) = match format.as_str() {
        "csv" => (csv(&rows), "text/csv; charset=utf-8", "csv"),
        "json" => match serde_json::to_string_pretty(&rows) {
            Ok(json) => (json, "application/json", "json"),
            Err(e) => return page::error(StatusCode::INTERNAL_SERVER_ERROR, &e.to_string()),
        },
        _ => return page::error(StatusCode::BAD_REQUEST, "Export as csv or json."),
    };
    let who = format!("admin:{}", who.admin.email);
    if let Err(e) = state
        .audit(
            who.clone(),
            "audit.exported",
            who,
            Some(format!("{} rows as {ext}", rows.len())),
        )
        .await
    {
        // No export leaves unrecorded.
        tracing::error!(error = %e, "cannot audit an export");
        return page::error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The console cannot record this export in the audit trail now.",
        );
    }
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let disposition = format!("attachment; filename=\"trustid-audit.{ext}\"");
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cells_are_quoted_and_formulas_defused() {
        assert_eq!(cell("plain"), "\"plain\"");
        assert_eq!(cell("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(cell("=HYPERLINK(\"x\")"), "\"'=HYPERLINK(\"\"x\"\")\"");
        assert_eq!(cell("-1"), "\"'-1\"");
    }
}
