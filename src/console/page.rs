//! Rendering a console page: the template, and the headers every page
//! carries (no caching, no framing, no inline script, forms to trustid only).

use askama::Template;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `template` as an HTML page with the console's security headers.
pub fn render(status: StatusCode, template: &impl Template) -> Response {
    let html = match template.render() {
        Ok(html) => html,
        Err(e) => {
            tracing::error!(error = %e, "a console template failed");
            return (StatusCode::INTERNAL_SERVER_ERROR, "the page could not be rendered").into_response();
        }
    };
    let mut response = (status, html).into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'self'; img-src 'self'; script-src 'self'; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
        ),
    );
    response
}

#[derive(Template)]
#[template(path = "admin/error.html")]
struct ErrorPage<'a> {
    message: &'a str,
}

/// The page for a database that failed under a request; `what` says in the
/// log what the console was doing.
pub fn unavailable(e: &dyn std::fmt::Display, what: &str) -> Response {
    tracing::error!(error = %e, "{what}");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The console cannot reach its database now.",
    )
}

/// The page for a change that was made but that the audit trail could not
/// record (the operator must know before changing anything else).
pub fn unaudited(e: &dyn std::fmt::Display, what: &str) -> Response {
    tracing::error!(error = %e, "{what} was made but not audited");
    error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "The change was made, but the audit log could not record it. Check the database before changing anything else.",
    )
}

/// A refusal as a page of its own.
pub fn error(status: StatusCode, message: &str) -> Response {
    render(status, &ErrorPage { message })
}

/// A Unix time as the console shows it (RFC 3339, UTC).
pub fn instant(t: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(t)
        .ok()
        .and_then(|t| t.format(&time::format_description::well_known::Rfc3339).ok())
        .unwrap_or_default()
}

/// Unix milliseconds as the console shows them (RFC 3339, UTC, to the ms).
pub fn instant_ms(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).ok();
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.and_then(|t| t.format(format).ok()).unwrap_or_default()
}

/// `payload` as an SVG QR code (what trustid's device app scans); empty if
/// it cannot be drawn (too long), which the page then shows without.
pub fn qr_svg(payload: &str) -> String {
    match qrcode::QrCode::new(payload.as_bytes()) {
        Ok(code) => code
            .render::<qrcode::render::svg::Color>()
            .min_dimensions(200, 200)
            .build(),
        Err(e) => {
            tracing::error!(error = %e, "cannot draw a QR code");
            String::new()
        }
    }
}

/// A value percent-encoded for one path segment.
pub fn path_segment(segment: &str) -> String {
    form_urlencoded::byte_serialize(segment.as_bytes())
        .collect::<String>()
        .replace('+', "%20")
}
