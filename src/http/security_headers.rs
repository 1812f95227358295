//! The security headers every answer carries unless its face set its own
//! (the console's and the SAML pages' CSP allow their own scripts and
//! forms): no sniffing, no framing, no referrer, no content from anywhere
//! for a JSON or SVG answer opened as a document, and HSTS when the issuer
//! is https (a browser ignores it over http, and behind a TLS proxy it sees
//! https). One middleware inserts them all: a layer per header cost the
//! trivial route a fifth of its rate (bench/README.md).

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::Response;

const DEFAULTS: [(HeaderName, HeaderValue); 4] = [
    (header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff")),
    (header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY")),
    (header::REFERRER_POLICY, HeaderValue::from_static("no-referrer")),
    (
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; frame-ancestors 'none'; base-uri 'none'"),
    ),
];
const HSTS: HeaderValue = HeaderValue::from_static("max-age=31536000; includeSubDomains");

pub fn add<S: Clone + Send + Sync + 'static>(router: Router<S>, https: bool) -> Router<S> {
    router.layer(axum::middleware::map_response(
        move |mut response: Response| async move {
            let headers = response.headers_mut();
            for (name, value) in DEFAULTS {
                headers.entry(name).or_insert(value);
            }
            if https {
                headers.entry(header::STRICT_TRANSPORT_SECURITY).or_insert(HSTS);
            }
            response
        },
    ))
}
