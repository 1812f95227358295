//! The console's stylesheet and its one script, served by trustid itself
//! (no CDN: the console works offline and under a CSP without inline
//! styles or scripts). Light and dark by `prefers-color-scheme`; narrow
//! screens stack the tables' cells.

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

const CONSOLE_CSS: &str = r#":root { color-scheme: light dark; --fg: #1b1f24; --bg: #fafbfc; --muted: #5b6470; --line: #d6dbe1; --accent: #0b5cad; --error: #b3261e; }
@media (prefers-color-scheme: dark) { :root { --fg: #e6e9ee; --bg: #14171b; --muted: #9aa4b0; --line: #2c3138; --accent: #6ea8ff; --error: #ff8a80; } }
* { box-sizing: border-box; }
body { margin: 0; font: 16px/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
header { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; padding: .75rem 1rem; border-bottom: 1px solid var(--line); }
header nav { display: flex; flex-wrap: wrap; gap: 1rem; align-items: center; margin-left: auto; }
a { color: var(--accent); }
.brand { font-weight: 600; text-decoration: none; }
main { max-width: 60rem; margin: 0 auto; padding: 1rem; }
.card { display: grid; gap: .5rem; max-width: 24rem; }
input, textarea, button { font: inherit; padding: .4rem .6rem; border: 1px solid var(--line); border-radius: 4px; background: transparent; color: inherit; }
button { cursor: pointer; background: var(--accent); color: var(--bg); border-color: var(--accent); }
form.inline { display: inline; }
table { border-collapse: collapse; width: 100%; }
th, td { text-align: left; padding: .4rem .6rem; border-bottom: 1px solid var(--line); }
.error { color: var(--error); }
textarea { font-family: ui-monospace, monospace; min-height: 6rem; }
h1, td, dd { overflow-wrap: anywhere; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: .25rem 1rem; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
form.filters { display: flex; flex-wrap: wrap; gap: .5rem 1rem; align-items: end; margin-bottom: 1rem; }
select { font: inherit; padding: .3rem; background: transparent; color: inherit; border: 1px solid var(--line); border-radius: 4px; }
.hint, .empty, .who { color: var(--muted); }
.match-number { font-size: 2rem; letter-spacing: .1em; }
.qr svg { max-width: 16rem; height: auto; background: #fff; padding: .5rem; }
button.danger { background: var(--error); border-color: var(--error); }
ol.timeline { list-style: none; padding: 0; border-left: 2px solid var(--line); }
ol.timeline li { padding: .2rem 0 .2rem .8rem; }
ol.timeline li.ok { border-left: 3px solid #2e7d32; margin-left: -2px; }
ol.timeline li.bad { border-left: 3px solid var(--error); margin-left: -2px; }
ol.timeline time { color: var(--muted); font-variant-numeric: tabular-nums; margin-right: .5rem; }
@media (max-width: 40rem) { table, thead, tbody, tr, th, td { display: block; } thead { display: none; } }
"#;

/// The live parts: time left counts down; the pending list reloads when the
/// server's event stream says the set of open requests changed; the
/// dashboard's figures are fetched again every few seconds, without a reload.
const CONSOLE_JS: &str = r#""use strict";
(function () {
  function tick() {
    var now = Date.now() / 1000;
    document.querySelectorAll(".countdown").forEach(function (cell) {
      var left = Math.max(0, Math.round(Number(cell.getAttribute("data-expires")) - now));
      cell.textContent = left > 0 ? left + " s" : "expired";
    });
  }
  setInterval(tick, 1000);
  // The dashboard's figures, fetched again and swapped in place.
  var refreshed = document.getElementById("refreshed");
  if (refreshed) {
    setInterval(function () {
      fetch(location.href, { credentials: "same-origin", cache: "no-store" })
        .then(function (r) { return r.ok ? r.text() : null; })
        .then(function (html) {
          if (!html) { return; }
          var fresh = new DOMParser().parseFromString(html, "text/html").getElementById("refreshed");
          if (fresh) { refreshed.innerHTML = fresh.innerHTML; }
        })
        .catch(function () {});
    }, 1000 * Number(refreshed.getAttribute("data-refresh")));
  }
  var live = document.getElementById("live");
  if (live && window.EventSource) {
    var events = new EventSource(live.getAttribute("data-events"));
    events.addEventListener("changed", function () { location.reload(); });
  }
})();
"#;

pub async fn serve(Path(name): Path<String>) -> Response {
    let (body, content_type) = match name.as_str() {
        "console.css" => (CONSOLE_CSS, "text/css; charset=utf-8"),
        "console.js" => (CONSOLE_JS, "text/javascript; charset=utf-8"),
        _ => return (StatusCode::NOT_FOUND, "no such asset").into_response(),
    };
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=3600"));
    headers.insert("x-content-type-options", HeaderValue::from_static("nosniff"));
    response
}
