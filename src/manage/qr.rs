//! `GET /manage/v1/qr.svg?data=...`: renders a payload (the registration's
//! `qrPayload`) as an SVG QR code. Stateless: trustid keeps only digests of
//! activation passwords, so the payload travels in the query.

use axum::extract::Query;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use qrcode::QrCode;
use qrcode::render::svg;
use serde::Deserialize;

use super::Manager;
use crate::http::api_error::ApiError;

#[derive(Deserialize)]
pub struct QrQuery {
    data: Option<String>,
}

pub async fn render(Manager(_client): Manager, Query(q): Query<QrQuery>) -> Result<Response, ApiError> {
    let data = q
        .data
        .filter(|d| !d.is_empty() && d.len() <= 1024)
        .ok_or_else(|| ApiError::bad_request("invalid_request", "data (1 to 1024 bytes) is required"))?;
    let code = QrCode::new(data.as_bytes()).map_err(|e| ApiError::bad_request("invalid_request", e.to_string()))?;
    let image = code.render::<svg::Color>().min_dimensions(200, 200).build();
    Ok((
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-store"),
        ],
        image,
    )
        .into_response())
}
