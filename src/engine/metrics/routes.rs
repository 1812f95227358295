//! Requests by route (the path template, never the path: ids would make a
//! series per user) and status, and their latency up to the response head.
//! The routes the router serves are registered once at start-up and counted
//! with atomics, without a lock on the request path; a template that was
//! not registered goes to a locked map. The set of series is bounded by the
//! routes and [`STATUSES`].

use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};

use super::histogram::Histogram;

/// Latency bounds in seconds: a backchannel request takes ~1 ms, a
/// long-poll up to 30 s.
const BOUNDS: [f64; 14] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0, 30.0,
];

/// The statuses trustid answers, each counted apart; any other is `other`.
const STATUSES: [u16; 24] = [
    200, 201, 202, 204, 301, 302, 303, 304, 400, 401, 403, 404, 405, 406, 409, 410, 413, 415, 422, 429, 431, 500, 502,
    503,
];

/// What requests that matched no route are counted under.
pub const UNMATCHED: &str = "unmatched";

#[derive(Default)]
struct Route {
    statuses: [AtomicU64; STATUSES.len() + 1],
    /// Per latency bucket, the last above every bound.
    buckets: [AtomicU64; BOUNDS.len() + 1],
    micros: AtomicU64,
}

impl Route {
    fn record(&self, status: u16, seconds: f64) {
        let slot = STATUSES.iter().position(|s| *s == status).unwrap_or(STATUSES.len());
        self.statuses[slot].fetch_add(1, Ordering::Relaxed);
        let bucket = BOUNDS.iter().position(|le| seconds <= *le).unwrap_or(BOUNDS.len());
        self.buckets[bucket].fetch_add(1, Ordering::Relaxed);
        // Whole microseconds: 584,000 years of them fit.
        self.micros.fetch_add((seconds * 1e6) as u64, Ordering::Relaxed);
    }
}

#[derive(Default)]
pub struct Routes {
    registered: OnceLock<HashMap<&'static str, Route>>,
    others: Mutex<HashMap<Box<str>, Route>>,
}

impl std::fmt::Debug for Routes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Routes")
    }
}

impl Routes {
    /// The router's templates (once; later calls change nothing).
    pub fn register(&self, templates: &[&'static str]) {
        let routes = templates.iter().chain([&UNMATCHED]).map(|t| (*t, Route::default()));
        let _ = self.registered.set(routes.collect());
    }

    pub fn record(&self, route: &str, status: u16, seconds: f64) {
        if let Some(known) = self.registered.get().and_then(|r| r.get(route)) {
            return known.record(status, seconds);
        }
        if let Ok(mut others) = self.others.lock() {
            others.entry(route.into()).or_default().record(status, seconds);
        }
    }

    pub fn render(&self, out: &mut String) {
        let mut rows: Vec<Row> = Vec::new();
        let mut add = |template: &str, route: &Route| {
            let statuses: Vec<(String, u64)> = route
                .statuses
                .iter()
                .enumerate()
                .map(|(i, n)| {
                    (
                        STATUSES.get(i).map_or("other".to_owned(), u16::to_string),
                        n.load(Ordering::Relaxed),
                    )
                })
                .filter(|(_, n)| *n > 0)
                .collect();
            if statuses.is_empty() {
                return;
            }
            let counts = route.buckets.iter().map(|n| n.load(Ordering::Relaxed)).collect();
            let sum = route.micros.load(Ordering::Relaxed) as f64 / 1e6;
            rows.push(Row {
                route: label(template),
                statuses,
                latency: Histogram::from_counts(&BOUNDS, counts, sum),
            });
        };
        for (template, route) in self.registered.get().into_iter().flatten() {
            add(template, route);
        }
        if let Ok(others) = self.others.lock() {
            for (template, route) in others.iter() {
                add(template, route);
            }
        }
        rows.sort_by(|a, b| a.route.cmp(&b.route));
        let name = "trustid_http_requests_total";
        let _ = writeln!(out, "# HELP {name} Requests answered, by route template and status.");
        let _ = writeln!(out, "# TYPE {name} counter");
        for Row { route, statuses, .. } in &rows {
            for (status, n) in statuses {
                let _ = writeln!(out, "{name}{{route=\"{route}\",status=\"{status}\"}} {n}");
            }
        }
        let name = "trustid_http_request_duration_seconds";
        let _ = writeln!(out, "# HELP {name} Time to the response head, by route template.");
        let _ = writeln!(out, "# TYPE {name} histogram");
        for Row { route, latency, .. } in &rows {
            latency.render(out, name, &format!("route=\"{route}\""));
        }
    }
}

/// One route's series, copied out for rendering.
struct Row {
    route: String,
    statuses: Vec<(String, u64)>,
    latency: Histogram,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registered_and_other_routes_are_counted_by_status_and_latency() {
        let routes = Routes::default();
        routes.register(&["/token", "/device/v1/transactions/{id}/decision"]);
        routes.record("/token", 400, 0.0004);
        routes.record("/token", 200, 0.002);
        routes.record("/token", 299, 0.002);
        routes.record("/not/registered", 200, 40.0);
        let mut out = String::new();
        routes.render(&mut out);
        for line in [
            "trustid_http_requests_total{route=\"/token\",status=\"400\"} 1",
            "trustid_http_requests_total{route=\"/token\",status=\"other\"} 1",
            "trustid_http_requests_total{route=\"/not/registered\",status=\"200\"} 1",
            "trustid_http_request_duration_seconds_bucket{route=\"/token\",le=\"0.0005\"} 1",
            "trustid_http_request_duration_seconds_bucket{route=\"/token\",le=\"0.0025\"} 3",
            "trustid_http_request_duration_seconds_bucket{route=\"/not/registered\",le=\"30\"} 0",
            "trustid_http_request_duration_seconds_bucket{route=\"/not/registered\",le=\"+Inf\"} 1",
        ] {
            assert!(out.lines().any(|l| l == line), "{line} in\n{out}");
        }
        assert!(!out.contains("decision"), "a route never asked is not shown");
    }
}
