//! `GET /.well-known/openid-configuration` (OIDC Discovery §4, CIBA §4).

use axum::extract::State;
use axum::response::Response;

use crate::state::AppState;

pub async fn describe(State(state): State<AppState>) -> Response {
    super::cached_json(state.discovery_json.clone())
}
