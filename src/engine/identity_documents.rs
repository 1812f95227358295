//! The executive level (seed 000 §4): a device registers its user's
//! identity document by a salted hash of the barcode; when the relying
//! party named in the registration has a verification service, the parsed
//! fields go there once and its verdict is kept. The fields are never
//! stored or logged.

use serde_json::{Value, json};

use crate::crypto::secret;
use crate::domain::device::Device;
use crate::domain::identity_document::{DocumentKind, DocumentStatus, IdentityDocument};
use crate::engine::AppState;
use crate::store::{StoreError, StoreResult};

/// A verification service's answer, at most this many bytes.
const MAX_VERDICT_BYTES: usize = 4096;

/// The user's salt, made on first use.
pub async fn salt(state: &AppState, user_id: &str) -> StoreResult<String> {
    state.store.document_salt(user_id, &secret::random_token()).await
}

/// A document to register, checked by the face.
pub struct Registration<'a> {
    pub device: &'a Device,
    pub kind: DocumentKind,
    pub hash: &'a str,
    pub parsed_fields: Option<&'a Value>,
    /// The relying party whose verification service should see the fields.
    pub client_id: Option<&'a str>,
}

#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("no such client")]
    UnknownClient,
    /// Replacing one would let whoever holds the phone swap in their own
    /// document; the relying party removes it first.
    #[error("the user has a document of this type; the relying party removes it first")]
    Exists,
    #[error(transparent)]
    Store(#[from] StoreError),
}

pub async fn register(state: &AppState, r: Registration<'_>) -> Result<IdentityDocument, Refusal> {
    let user_id = r.device.user_id.as_deref().unwrap_or_default().to_owned();
    if state.store.identity_document(&user_id, r.kind).await?.is_some() {
        return Err(Refusal::Exists);
    }
    let client = match r.client_id {
        Some(id) => Some(state.store.client(id).await?.ok_or(Refusal::UnknownClient)?),
        None => None,
    };
    let service = client
        .as_ref()
        .and_then(|c| Some((c.id.to_string(), c.metadata.identity_verification_uri.clone()?)));
    let now = state.clock.now();
    let verdict = match (service, r.parsed_fields) {
        (Some((client_id, uri)), Some(fields)) => verify(state, &uri, &user_id, r.kind, fields)
            .await
            .map(|status| (status, client_id)),
        _ => None,
    };
    let doc = IdentityDocument {
        user_id: user_id.clone(),
        kind: r.kind,
        hash: r.hash.to_owned(),
        status: verdict.as_ref().map_or(DocumentStatus::Unverified, |v| v.0),
        device_id: r.device.id.to_string(),
        verified_at: verdict.as_ref().map(|_| now),
        client_id: verdict.map(|v| v.1),
        registered_at: now,
    };
    state.store.put_identity_document(&doc).await?;
    let detail = format!("{} {}", doc.kind.as_str(), doc.status.as_str());
    let (actor, subject) = (format!("device:{}", doc.device_id), format!("user:{user_id}"));
    state
        .audit(actor, "identity_document.registered", subject, Some(detail))
        .await?;
    Ok(doc)
}

/// Sends the fields to the verification service once; its verdict, or
/// `None` when it gave none (the document stays unverified).
async fn verify(
    state: &AppState,
    uri: &str,
    user_id: &str,
    kind: DocumentKind,
    fields: &Value,
) -> Option<DocumentStatus> {
    let rule = &state.server.outbound;
    if let Err(e) = rule.check(uri) {
        tracing::warn!(uri, error = %e, "identity verification service refused");
        return None;
    }
    let http = super::outbound::client(state.delivery_timeout, rule).ok()?;
    let body = json!({"user_id": user_id, "type": kind.as_str(), "parsed_fields": fields});
    let res = match http.post(uri).json(&body).send().await {
        Ok(res) if res.status().is_success() => res,
        Ok(res) => {
            tracing::warn!(
                uri,
                status = res.status().as_u16(),
                "identity verification service failed"
            );
            return None;
        }
        Err(e) => {
            tracing::warn!(uri, error = %e.without_url(), "identity verification service unreachable");
            return None;
        }
    };
    let answer: Value = serde_json::from_slice(&super::outbound::read_capped(res, MAX_VERDICT_BYTES).await?).ok()?;
    match answer.get("status").and_then(Value::as_str) {
        Some("verified") => Some(DocumentStatus::Verified),
        Some("rejected") => Some(DocumentStatus::Rejected),
        _ => {
            tracing::warn!(uri, "identity verification service answered no verdict");
            None
        }
    }
}

/// Whether the user can approve at the executive level: a driver's licence
/// registered and not rejected.
pub async fn executive_ready(state: &AppState, user_id: &str) -> StoreResult<bool> {
    let doc = state
        .store
        .identity_document(user_id, DocumentKind::DriverLicense)
        .await?;
    Ok(doc.is_some_and(|d| d.status != DocumentStatus::Rejected))
}

/// The relying party resets the user's documents (a new licence, a
/// mistaken scan): audited; a new one can then be registered.
pub async fn remove(state: &AppState, client_id: &str, user_id: &str) -> StoreResult<u64> {
    let removed = state.store.remove_identity_documents(user_id).await?;
    if removed > 0 {
        let (actor, subject) = (format!("client:{client_id}"), format!("user:{user_id}"));
        state
            .audit(
                actor,
                "identity_document.removed",
                subject,
                Some(format!("{removed} removed")),
            )
            .await?;
    }
    Ok(removed)
}
