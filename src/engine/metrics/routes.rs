//! Requests by route (the path template, never the path: ids would make a
//! series per user) and status, and their latency up to the response head.
//! One short lock per request; the set of series is bounded by the routes
//! and the statuses they answer.

use std::collections::{BTreeMap, HashMap};
use std::fmt::Write;
use std::sync::Mutex;

use super::histogram::Histogram;

/// Latency bounds in seconds: a backchannel request takes ~1 ms, a
/// long-poll up to 30 s.
const BOUNDS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

/// What requests that matched no route are counted under.
pub const UNMATCHED: &str = "unmatched";

#[derive(Clone)]
struct Route {
    statuses: BTreeMap<u16, u64>,
    latency: Histogram,
}

#[derive(Default)]
pub struct Routes(Mutex<HashMap<Box<str>, Route>>);

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Routes")
    }
}

impl Routes {
    pub fn record(&self, route: &str, status: u16, seconds: f64) {
        let Ok(mut routes) = self.0.lock() else {
            return;
        };
        let entry = match routes.get_mut(route) {
            Some(entry) => entry,
            None => routes.entry(route.into()).or_insert_with(|| Route {
                statuses: BTreeMap::new(),
                latency: Histogram::new(BOUNDS),
            }),
        };
        *entry.statuses.entry(status).or_default() += 1;
        entry.latency.observe(seconds);
    }

    pub fn render(&self, out: &mut String) {
        // Copied out, so that rendering never holds up a request.
        let mut routes: Vec<(String, Route)> = match self.0.lock() {
            Ok(routes) => routes.iter().map(|(name, r)| (label(name), r.clone())).collect(),
            Err(_) => return,
        };
        routes.sort_by(|a, b| a.0.cmp(&b.0));
        let _ = writeln!(
            out,
            "# HELP trustid_http_requests_total Requests answered, by route template and status."
        );
        let _ = writeln!(out, "# TYPE trustid_http_requests_total counter");
        for (route, Route { statuses, .. }) in &routes {
            for (status, n) in statuses {
                let _ = writeln!(
                    out,
                    "trustid_http_requests_total{{route=\"{route}\",status=\"{status}\"}} {n}"
                );
            }
        }
        let name = "trustid_http_request_duration_seconds";
        let _ = writeln!(out, "# HELP {name} Time to the response head, by route template.");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for (route, Route { latency, .. }) in &routes {
            latency.render(out, name, &format!("route=\"{route}\""));
        }
    }
}

/// A route template as a label: `{id}` written `:id`, since simple
/// scrapers end a label set at the first `}` whatever the quotes say.
fn label(template: &str) -> String {
    escape(&template.replace('{', ":").replace('}', ""))
}

/// A label value as the text format wants it.
pub fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}
