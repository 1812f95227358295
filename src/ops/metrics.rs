//! `GET /metrics`: the engine's counters and histograms in Prometheus text
//! format, and gauges read from the database (at most every 10 s, however
//! often it is asked): the last hour's transactions by context, delivery
//! mode and state, and what needs an operator's eye.

use std::fmt::Write;

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;

use crate::engine::{AppState, dashboard};
use crate::http::paths::METRICS_PATH;

/// What `metrics_listen` serves: `/metrics` alone.
pub fn router(state: AppState) -> Router {
    Router::new().route(METRICS_PATH, get(scrape)).with_state(state)
}

pub async fn scrape(State(state): State<AppState>) -> impl IntoResponse {
    let mut out = state.metrics.render();
    // A database that does not answer leaves these out; the counters stand.
    if let Ok(scraped) = dashboard::scraped(&state).await {
        let name = "trustid_recent_transactions";
        let _ = writeln!(
            out,
            "# HELP {name} Transactions created in the last hour, by context, delivery mode and state now."
        );
        let _ = writeln!(out, "# TYPE {name} gauge");
        for mix in &scraped.hour {
            let _ = writeln!(
                out,
                "{name}{{window=\"1h\",context=\"{}\",delivery=\"{}\",state=\"{}\"}} {}",
                mix.context, mix.delivery, mix.phase, mix.count
            );
        }
        let health = scraped.health;
        for (name, help, n) in [
            (
                "trustid_deliveries_retrying",
                "Notifications owed after a failed attempt.",
                health.deliveries_retrying,
            ),
            (
                "trustid_device_pushes_retrying",
                "Device pushes owed after a failed attempt.",
                health.pushes_retrying,
            ),
            ("trustid_users_locked", "Users locked now.", health.users_locked),
            ("trustid_devices_locked", "Devices locked now.", health.devices_locked),
        ] {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {n}");
        }
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}
