//! The executive level (seed 000 §4) from the device: `GET
//! /device/v1/identity-documents` gives the user's hashing salt and their
//! documents' status; `POST` registers a document by the salted hash of
//! its barcode (`document_hash` in `domain::identity_document`), with the
//! parsed fields for the relying party's verification service, if any.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::proof::Proven;
use crate::domain::identity_document::{DocumentKind, IdentityDocument, check_hash};
use crate::engine::AppState;
use crate::engine::identity_documents::{self, Refusal, Registration};
use crate::http::api_error::{ApiError, no_store};

/// Parsed fields sent on, at most this many bytes of JSON.
const MAX_FIELDS: usize = 8192;

pub async fn list(State(state): State<AppState>, proven: Proven) -> Result<Response, ApiError> {
    let device = proven.active_device(&state).await?;
    let user_id = device.user_id.as_deref().unwrap_or_default();
    let salt = identity_documents::salt(&state, user_id).await?;
    let documents = state.store.identity_documents(user_id).await?;
    let documents: Vec<Value> = documents.iter().map(IdentityDocument::shown).collect();
    Ok(no_store(
        StatusCode::OK,
        Json(json!({"salt": salt, "documents": documents})),
    ))
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Register {
    #[serde(rename = "type")]
    kind: String,
    hash: String,
    parsed_fields: Option<Value>,
    client_id: Option<String>,
}

pub async fn register(State(state): State<AppState>, proven: Proven, body: Bytes) -> Result<Response, ApiError> {
    let device = proven.active_device(&state).await?;
    crate::http::api_error::reject_nul(&body)?;
    let invalid = |why: String| ApiError::bad_request("invalid_request", why);
    let req: Register = serde_json::from_slice(&body).map_err(|e| {
        invalid(format!(
            "body must be {{\"type\": \"driver_license\", \"hash\", \"parsed_fields\"?, \"client_id\"?}}: {e}"
        ))
    })?;
    let kind: DocumentKind = req.kind.parse().map_err(invalid)?;
    check_hash(&req.hash).map_err(|e| invalid(e.into()))?;
    if let Some(fields) = &req.parsed_fields
        && (!fields.is_object() || fields.to_string().len() > MAX_FIELDS)
    {
        return Err(invalid(format!(
            "parsed_fields must be a JSON object of at most {MAX_FIELDS} bytes"
        )));
    }
    let registration = Registration {
        device: &device,
        kind,
        hash: &req.hash,
        parsed_fields: req.parsed_fields.as_ref(),
        client_id: req.client_id.as_deref(),
    };
    let doc = identity_documents::register(&state, registration)
        .await
        .map_err(|e| match e {
            Refusal::UnknownClient => ApiError::new(StatusCode::NOT_FOUND, "not_found", "no such client"),
            Refusal::Exists => ApiError::new(
                StatusCode::CONFLICT,
                "document_exists",
                "the user has a document of this type; the relying party removes it first",
            ),
            Refusal::Store(e) => e.into(),
        })?;
    Ok(no_store(StatusCode::CREATED, Json(doc.shown())))
}
