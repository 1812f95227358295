//! Seed 002: `POST /manage/v1/actions` tracks what a user is about to do;
//! the calling client's rules answer ALLOW, CHALLENGE_REQUIRED (the user's
//! devices are asked, as for a CIBA request) or BLOCK, with a token to
//! validate the outcome at `/manage/v1/actions/validate`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};

use super::{Manager, check_text, json_body, not_found};
use crate::domain::address::canonical_ip;
use crate::domain::cddc::Cddc;
use crate::domain::ids::UserId;
use crate::engine::AppState;
use crate::engine::actions::{self, Refusal, Track};
use crate::http::api_error::{ApiError, no_store};

/// Custom data a rule may read, at most this many bytes of JSON.
const MAX_CUSTOM_DATA: usize = 4096;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TrackAction {
    user_id: String,
    action: String,
    custom_data: Option<Value>,
    client_ip: Option<String>,
    cddc: Option<Cddc>,
    /// The device the action is done on.
    device_id: Option<String>,
    /// What the user's device shows when challenged.
    display_text: Option<String>,
}

pub async fn track(State(state): State<AppState>, Manager(client): Manager, body: Bytes) -> Result<Response, ApiError> {
    let req: TrackAction = json_body(&body)?;
    check_text("user_id", &req.user_id, 255)?;
    check_action(&req.action)?;
    if let Some(data) = &req.custom_data
        && (!data.is_object() || data.to_string().len() > MAX_CUSTOM_DATA)
    {
        return Err(ApiError::bad_request(
            "invalid_request",
            format!("custom_data must be a JSON object of at most {MAX_CUSTOM_DATA} bytes"),
        ));
    }
    let address = match req.client_ip.as_deref() {
        Some(ip) => Some(
            canonical_ip(ip)
                .ok_or_else(|| ApiError::bad_request("invalid_request", "client_ip must be an IP address"))?,
        ),
        None => None,
    };
    let fingerprint = req.cddc.as_ref().and_then(Cddc::fingerprint);
    let user_id = UserId::from(req.user_id.as_str());
    let tracked = actions::track(
        &state,
        Track {
            client: &client,
            user_id: &user_id,
            action: &req.action,
            custom_data: req.custom_data.as_ref(),
            address: address.as_deref(),
            fingerprint: fingerprint.as_deref(),
            device_id: req.device_id.as_deref(),
            display_text: req.display_text.as_deref(),
        },
    )
    .await
    .map_err(refusal)?;
    Ok(no_store(
        StatusCode::OK,
        Json(json!({
            "state": tracked.outcome.as_str(),
            "token": tracked.token,
            "rule": tracked.rule,
            "transaction_id": tracked.transaction_id,
            "expires_at": tracked.expires_at,
        })),
    ))
}

/// An action name: 1 to 64 letters, digits, `_`, `-`, `.` or `:`.
pub fn check_action(action: &str) -> Result<(), ApiError> {
    let ok = (1..=64).contains(&action.len())
        && action
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.:".contains(&b));
    match ok {
        true => Ok(()),
        false => Err(ApiError::bad_request(
            "invalid_request",
            "action must be 1 to 64 letters, digits, `_`, `-`, `.` or `:`",
        )),
    }
}

fn refusal(e: Refusal) -> ApiError {
    match e {
        Refusal::UnknownUser => not_found("user"),
        Refusal::UnknownDevice => not_found("active device of this user"),
        Refusal::InvalidText(why) => ApiError::bad_request("invalid_request", why),
        Refusal::UserLocked => ApiError::new(StatusCode::FORBIDDEN, "user_locked", "the user is locked"),
        Refusal::NoActiveDevice => ApiError::new(
            StatusCode::CONFLICT,
            "no_active_device",
            "the rules require a challenge, and the user has no active device to verify with",
        ),
        Refusal::NoIdentityDocument => ApiError::new(
            StatusCode::CONFLICT,
            "no_identity_document",
            "the rules require an executive challenge, and the user has registered no identity document",
        ),
        Refusal::RateLimited(_) => ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "too many challenges for this user or client in the last minute",
        ),
        Refusal::Store(e) => e.into(),
        Refusal::Internal(why) => ApiError::server_error(why),
    }
}
