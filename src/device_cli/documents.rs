//! `trustid device identity-document add` and `approve --document`: the
//! executive level from the reference device. The barcode never leaves
//! the device: only its hash, salted with the user's salt from the server.

use std::path::Path;
use std::time::Duration;

use anyhow::Context;
use reqwest::Method;
use serde_json::{Value, json};

use super::client::{DeviceClient, IDENTITY_DOCUMENTS_PATH};
use crate::domain::identity_document::document_hash;

/// The salted hash of the barcode in `file`, as an executive approval carries it.
pub async fn hash_of(device: &DeviceClient, file: &Path) -> anyhow::Result<String> {
    let barcode = std::fs::read(file).with_context(|| format!("cannot read the barcode file {}", file.display()))?;
    let listed = device
        .send(Method::GET, IDENTITY_DOCUMENTS_PATH, &[], None, Duration::from_secs(30))
        .await?;
    let salt = listed["salt"]
        .as_str()
        .with_context(|| format!("the server gave no salt: {listed}"))?;
    Ok(document_hash(salt, &barcode))
}

/// Registers the driver's licence whose raw barcode is in `barcode_file`,
/// with the parsed fields (a JSON object file) for `client_id`'s
/// verification service.
pub async fn add(
    device: &DeviceClient,
    barcode_file: &Path,
    parsed_fields_file: Option<&Path>,
    client_id: Option<&str>,
) -> anyhow::Result<Value> {
    let mut body = json!({"type": "driver_license", "hash": hash_of(device, barcode_file).await?});
    if let Some(file) = parsed_fields_file {
        let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {}", file.display()))?;
        body["parsed_fields"] =
            serde_json::from_str(&text).with_context(|| format!("{} is not JSON", file.display()))?;
    }
    if let Some(id) = client_id {
        body["client_id"] = Value::from(id);
    }
    device
        .send(
            Method::POST,
            IDENTITY_DOCUMENTS_PATH,
            &[],
            Some(&body),
            Duration::from_secs(30),
        )
        .await
}
