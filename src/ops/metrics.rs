//! `GET /metrics`: the engine's counters and histograms in Prometheus text
//! format, and gauges read at scrape time: the last hour's transactions by
//! state (the dashboard's cached counts) and what needs an operator's eye.

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
    if let Ok(counts) = dashboard::counts(&state).await {
        let name = "trustid_recent_transactions";
        let _ = writeln!(
            out,
            "# HELP {name} Transactions created in the last hour, by state now."
        );
        let _ = writeln!(out, "# TYPE {name} gauge");
        let hour = counts.hour;
        for (label, n) in [
            ("pending", hour.pending),
            ("approved", hour.approved),
            ("denied", hour.denied),
            ("expired", hour.expired),
        ] {
            let _ = writeln!(out, "{name}{{window=\"1h\",state=\"{label}\"}} {n}");
        }
    }
    if let Ok(health) = state.store.health(state.clock.now() - 86_400).await {
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
