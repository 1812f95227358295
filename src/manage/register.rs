//! Seed 001: `POST /manage/v1/users/register` creates the user (optionally
//! with a static password, argon2-hashed) and a registration that keeps the
//! browser CDDC fingerprint as risk evidence; it answers an activation
//! password valid for ten minutes (configurable) and the payload of the QR
//! code the device scans, also rendered as SVG at `qr_url`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Manager, audit, check_text, json_body};
use crate::crypto::secret;
use crate::domain::address::canonical_ip;
use crate::domain::admin::is_console_user;
use crate::domain::cddc::Cddc;
use crate::domain::lifecycle::{Registration, activation_qr_payload};
use crate::domain::risk::Outcome;
use crate::domain::user::{User, UserStatus};
use crate::engine::AppState;
use crate::engine::risk;
use crate::http::api_error::{ApiError, no_store};
use crate::http::paths::QR_PATH;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RegisterUser {
    object_type: Option<String>,
    #[serde(rename = "userID")]
    user_id: String,
    static_password: Option<String>,
    relationship_ref: Option<String>,
    #[serde(rename = "clientIP")]
    client_ip: Option<String>,
    #[serde(rename = "sessionID")]
    session_id: Option<String>,
    cddc: Option<Cddc>,
}

pub async fn register(
    State(state): State<AppState>,
    Manager(client): Manager,
    body: Bytes,
) -> Result<Response, ApiError> {
    let req: RegisterUser = json_body(&body)?;
    if req
        .object_type
        .as_deref()
        .is_some_and(|t| t != "AdaptiveRegisterUserInput")
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            "objectType must be AdaptiveRegisterUserInput",
        ));
    }
    check_text("userID", &req.user_id, 255)?;
    if is_console_user(&req.user_id) {
        return Err(ApiError::bad_request(
            "invalid_request",
            "userIDs beginning with `console:` are trustid's own (its admins' phones)",
        ));
    }
    if let Some(p) = &req.static_password {
        check_text("staticPassword", p, 256)?;
        if p.chars().count() < 8 {
            return Err(ApiError::bad_request(
                "invalid_request",
                "staticPassword must be at least 8 characters",
            ));
        }
    }
    let store = &state.store;
    if store
        .user(&req.user_id)
        .await?
        .is_some_and(|u| u.status != UserStatus::Removed)
    {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "user_exists",
            "a user with this userID is registered",
        ));
    }
    let static_password_hash = match req.static_password.clone() {
        Some(p) => Some(
            tokio::task::spawn_blocking(move || secret::hash_password(&p))
                .await
                .map_err(ApiError::server_error)?
                .map_err(ApiError::server_error)?,
        ),
        None => None,
    };
    let now = state.clock.now();
    let fingerprint = req.cddc.as_ref().and_then(Cddc::fingerprint);
    let user = User {
        id: req.user_id.clone().into(),
        email: None,
        phone: None,
        status: UserStatus::Active,
        failed_attempts: 0,
        user_code_hash: None,
        static_password_hash,
        created_at: now,
    };
    let address = req.client_ip.as_deref().and_then(canonical_ip);
    let verdict = risk::screen_registration(
        &state,
        &client,
        &user,
        "register",
        address.as_deref(),
        fingerprint.as_deref(),
    )
    .await?;
    if verdict != Outcome::Allow {
        return Err(refused_by_rules());
    }
    let password = secret::random_token();
    let cddc = req
        .cddc
        .and_then(|c| c.browser_cddc)
        .map(|b| serde_json::to_string(&b).unwrap_or_default());
    let registration = Registration {
        id: crate::domain::ids::random_id(),
        user_id: req.user_id.clone().into(),
        client_id: client.id.clone(),
        password_digest: secret::digest(&password),
        relationship_ref: req.relationship_ref,
        client_ip: req.client_ip,
        session_id: req.session_id,
        cddc,
        created_at: now,
        expires_at: now + state.devices.activation_password_ttl,
        activated_at: None,
        device_id: None,
        reported_at: None,
        removed_at: None,
    };
    store.create_registration(&registration, &user).await?;
    audit(
        &state,
        format!("client:{}", client.id),
        "user.registered",
        format!("user:{}", req.user_id),
        None,
    )
    .await?;
    let payload = activation_qr_payload(&state.server.issuer, "activation_password", &password);
    let qr_url = format!(
        "{}?{}",
        state.url(QR_PATH),
        form_urlencoded::Serializer::new(String::new())
            .append_pair("data", &payload)
            .finish()
    );
    let body: Value = json!({
        "userID": req.user_id,
        "registrationID": registration.id,
        "activationPassword": password,
        "expiresAt": registration.expires_at,
        "qrPayload": payload,
        "qrUrl": qr_url,
    });
    Ok(no_store(StatusCode::CREATED, Json(body)))
}

/// A registration the client's risk rules refused (the rule is named in
/// the audit trail only).
pub fn refused_by_rules() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        "registration_refused",
        "the client's risk rules refused this request",
    )
}
