//! The SAML face's HTML: the who-are-you form, the wait page, the form that
//! posts the Response to the SP, and error pages. Every value is escaped;
//! pages run no inline script (CSP `script-src 'self'`), so a page works
//! with the two small scripts of [`super::assets`] or without any.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

/// `&`, `<`, `>`, `"` and `'` escaped: safe in text and quoted attributes.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A page: its status, the `form-action` its CSP allows, and its body.
pub struct Page {
    pub status: StatusCode,
    pub title: &'static str,
    /// Body HTML, already escaped where it holds values.
    pub body: String,
    /// Where forms may post: `'self'`, or the one ACS of the Response form.
    pub form_action: String,
    /// Seconds after which the page reloads itself without a script.
    pub refresh: Option<u32>,
    pub script: Option<&'static str>,
    /// Headers set besides the security ones (a cookie).
    pub set_cookie: Option<String>,
}

impl Page {
    pub fn new(status: StatusCode, title: &'static str, body: String) -> Self {
        Self {
            status,
            title,
            body,
            form_action: "'self'".into(),
            refresh: None,
            script: None,
            set_cookie: None,
        }
    }

    /// An error page: what went wrong, and that nothing was sent to the SP.
    pub fn error(status: StatusCode, why: &str) -> Self {
        let body = format!(
            "<h1>Sign-in refused</h1><p>{}</p><p>Nothing was sent to the service you came from. \
             Go back to it and start again.</p>",
            escape(why)
        );
        Self::new(status, "Sign-in refused", body)
    }
}

impl IntoResponse for Page {
    fn into_response(self) -> Response {
        let script = self
            .script
            .map(|s| format!("<script src=\"{}\" defer></script>", escape(s)))
            .unwrap_or_default();
        let refresh = self
            .refresh
            .map(|s| format!("<noscript><meta http-equiv=\"refresh\" content=\"{s}\"></noscript>"))
            .unwrap_or_default();
        let html = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>{} · trustid</title>{}{}</head><body><main>{}</main></body></html>",
            self.title, refresh, script, self.body
        );
        let csp = format!(
            "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; \
             form-action {}; frame-ancestors 'none'; base-uri 'none'",
            self.form_action
        );
        let mut response = (self.status, html).into_response();
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/html; charset=utf-8"),
        );
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
        headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
        headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
        match HeaderValue::from_str(&csp) {
            Ok(v) => {
                headers.insert(header::CONTENT_SECURITY_POLICY, v);
            }
            // An ACS URL with bytes no header may carry: no form may post.
            Err(_) => {
                headers.insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static("default-src 'none'; form-action 'none'"),
                );
            }
        }
        if let Some(cookie) = self.set_cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
            headers.insert(header::SET_COOKIE, cookie);
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_the_five_characters() {
        assert_eq!(
            escape(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }
}
