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
use crate::store::batch_sizes::BOUNDS;

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
    database(&state, &mut out);
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

/// The pool's connections, and on SQLite the rows per group commit.
fn database(state: &AppState, out: &mut String) {
    let pool = state.store.pool_use();
    let name = "trustid_db_pool_connections";
    let _ = writeln!(out, "# HELP {name} Database connections of this instance, by state.");
    let _ = writeln!(out, "# TYPE {name} gauge");
    let _ = writeln!(out, "{name}{{state=\"busy\"}} {}", pool.open.saturating_sub(pool.idle));
    let _ = writeln!(out, "{name}{{state=\"idle\"}} {}", pool.idle);
    let name = "trustid_db_pool_max_connections";
    let _ = writeln!(out, "# HELP {name} The most connections the pool opens.");
    let _ = writeln!(out, "# TYPE {name} gauge\n{name} {}", pool.max);
    let Some(batches) = state.store.commit_batches() else {
        return;
    };
    let name = "trustid_sqlite_commit_rows";
    let _ = writeln!(
        out,
        "# HELP {name} Writes per group commit (backchannel requests, proofs, challenges, decisions, redemptions)."
    );
    let _ = writeln!(out, "# TYPE {name} histogram");
    let mut commits = 0;
    for (le, n) in BOUNDS.iter().zip(batches.commits) {
        commits += n;
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {commits}");
    }
    let _ = writeln!(out, "{name}_bucket{{le=\"+Inf\"}} {commits}");
    let _ = writeln!(out, "{name}_sum {}\n{name}_count {commits}", batches.rows);
}
