//! `GET /jwks`: the public halves of trustid's signing keys.

use axum::extract::State;
use axum::response::Response;

use crate::engine::AppState;

pub async fn publish(State(state): State<AppState>) -> Response {
    super::cached_json(state.keys.ready_jwks_json().await)
}
