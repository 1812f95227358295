//! The two scripts the SAML pages load from trustid itself (their CSP
//! allows no inline script): the wait page's poll, and the Response
//! form's submit. Each page works without them.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub const WAIT_SCRIPT_PATH: &str = "/saml/assets/wait.js";
pub const POST_SCRIPT_PATH: &str = "/saml/assets/post.js";

/// Asks the state URL every second; reloads once the login is decided.
const WAIT_JS: &str = r#""use strict";
(function () {
  var el = document.getElementById("saml-wait");
  if (!el) { return; }
  var url = el.getAttribute("data-state");
  function ask() {
    fetch(url, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) { return r.ok ? r.json() : { decided: true }; })
      .then(function (s) { if (s.decided) { location.reload(); } else { setTimeout(ask, 1000); } })
      .catch(function () { setTimeout(ask, 3000); });
  }
  setTimeout(ask, 1000);
})();
"#;

/// Submits the Response form once the page has loaded.
const POST_JS: &str = r#""use strict";
document.addEventListener("DOMContentLoaded", function () {
  var form = document.getElementById("saml-post");
  if (form) { form.submit(); }
});
"#;

pub async fn serve(Path(name): Path<String>) -> Response {
    let body = match name.as_str() {
        "wait.js" => WAIT_JS,
        "post.js" => POST_JS,
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/javascript; charset=utf-8"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}
