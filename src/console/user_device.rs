//! `POST /admin/users/{id}/devices/{device}` (`action` = `prefer`, `lock`,
//! `unlock` or `remove`): one of a user's devices, as the signed-in admin
//! (audited).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::guard::{SignedIn, check_form, field};
use super::page::{self, path_segment};
use crate::domain::ids::{DeviceId, UserId};
use crate::engine::AppState;
use crate::engine::users::{self, Actor, Refusal};

pub async fn act(
    State(state): State<AppState>,
    who: SignedIn,
    Path((id, device)): Path<(String, String)>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    let actor = Actor::Admin(who.admin.email.to_string());
    let (user, device) = (UserId::from(id.as_str()), DeviceId::from(device));
    let done = match field(&body, "action").as_deref() {
        Some("prefer") => users::prefer_device(&state, &actor, &user, &device).await,
        Some("remove") => users::remove_device(&state, &actor, &user, &device).await,
        Some("lock") => users::set_device_locked(&state, &actor, &user, &device, true).await,
        Some("unlock") => users::set_device_locked(&state, &actor, &user, &device, false).await,
        _ => {
            return page::error(
                StatusCode::BAD_REQUEST,
                "A device is preferred, locked, unlocked or removed.",
            );
        }
    };
    match done {
        Ok(()) => Redirect::to(&format!("/admin/users/{}", path_segment(&id))).into_response(),
        Err(Refusal::UnknownUser) => page::error(StatusCode::NOT_FOUND, "There is no such user."),
        Err(Refusal::UnknownDevice | Refusal::NoActiveDevice) => page::error(
            StatusCode::NOT_FOUND,
            "This user has no such device, or it is not in a state that allows this.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot change a device");
            page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot change this device now.",
            )
        }
    }
}
