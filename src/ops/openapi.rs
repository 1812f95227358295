//! `GET /openapi.yaml`: the API contract, served so tools can load it.

use axum::http::header;
use axum::response::IntoResponse;

const SPEC: &str = include_str!("../../openapi.yaml");

pub async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/yaml")], SPEC)
}
