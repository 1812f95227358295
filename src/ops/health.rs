//! `GET /healthz`: the process answers. `GET /readyz`: this instance can
//! serve: its database answers within [`CHECK_TIMEOUT`] with the schema this
//! binary migrates to, its signing keys are loaded, and it is not draining.
//! Both are cheap (one small query at most) and stay out of the access log
//! (`lib.rs` mounts them outside the trace layer): a load balancer or
//! Kubernetes probes them every few seconds.

use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use crate::engine::AppState;

/// The longest `/readyz` waits for the database: a probe must not hang.
pub const CHECK_TIMEOUT: Duration = Duration::from_secs(2);

pub async fn healthz() -> Response {
    answer(StatusCode::OK, json!({"status": "ok"}))
}

pub async fn readyz(State(state): State<AppState>) -> Response {
    let database = match tokio::time::timeout(CHECK_TIMEOUT, state.store.schema()).await {
        Ok(Ok((applied, known))) if applied == known => "ok".to_owned(),
        Ok(Ok((applied, known))) => format!("schema version {applied}, this binary needs {known}"),
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "readiness: the database does not answer");
            "unreachable".to_owned()
        }
        Err(_) => format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
    };
    let keys = if state.keys.is_complete() { "ok" } else { "loading" };
    let draining = state.drain.is_draining();
    let ready = database == "ok" && keys == "ok" && !draining;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    answer(
        status,
        json!({
            "status": if ready { "ready" } else { "not_ready" },
            "checks": {"database": database, "signing_keys": keys, "draining": draining},
        }),
    )
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [(header::CACHE_CONTROL, "no-store")], Json(body)).into_response()
}
