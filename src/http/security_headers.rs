//! The security headers every answer carries unless its face set its own
//! (the console's and the SAML pages' CSP allow their own scripts and
//! forms): no sniffing, no framing, no referrer, no content from anywhere
//! for a JSON or SVG answer opened as a document, and HSTS when the issuer
//! is https (a browser ignores it over http, and behind a TLS proxy it sees
//! https).

use axum::Router;
use axum::http::{HeaderName, HeaderValue, header};
use tower_http::set_header::SetResponseHeaderLayer;

pub fn add<S: Clone + Send + Sync + 'static>(router: Router<S>, https: bool) -> Router<S> {
    let defaults = [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (header::REFERRER_POLICY, "no-referrer"),
        (
            header::CONTENT_SECURITY_POLICY,
            "default-src 'none'; frame-ancestors 'none'; base-uri 'none'",
        ),
    ];
    let mut router = defaults.into_iter().fold(router, |router, (name, value)| {
        router.layer(SetResponseHeaderLayer::if_not_present(
            name,
            HeaderValue::from_static(value),
        ))
    });
    if https {
        let hsts: HeaderName = header::STRICT_TRANSPORT_SECURITY;
        router = router.layer(SetResponseHeaderLayer::if_not_present(
            hsts,
            HeaderValue::from_static("max-age=31536000; includeSubDomains"),
        ));
    }
    router
}
