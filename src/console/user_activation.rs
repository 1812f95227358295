//! `POST /admin/users/{id}/activation`: a registration token (seed 002) for
//! the user, on behalf of the console, shown once with the QR code the
//! device app scans to add a device. trustid keeps only digests of
//! activation credentials, so an earlier one cannot be shown again: this
//! issues a new one instead.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::guard::{SignedIn, check_form};
use super::page::{self, instant, qr_svg};
use super::user::{Issued, page_of};
use crate::domain::ids::UserId;
use crate::domain::lifecycle::activation_qr_payload;
use crate::engine::AppState;
use crate::engine::admin_second_factor::console_client;
use crate::engine::users::{self, Actor, Refusal};

pub async fn issue(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    let actor = Actor::Admin(who.admin.email.to_string());
    let issued = async {
        let client = console_client(&state)
            .await
            .map_err(|e| Refusal::Internal(e.to_string()))?;
        users::registration_token(&state, &actor, &UserId::from(id.as_str()), &client.id).await
    };
    match issued.await {
        Ok((token, expires_at)) => {
            let issued = Issued {
                svg: qr_svg(&activation_qr_payload(
                    &state.server.issuer,
                    "registration_token",
                    &token,
                )),
                token,
                expires: instant(expires_at),
            };
            page_of(&state, &who, &id, Some(issued)).await
        }
        Err(Refusal::UnknownUser) => page::error(StatusCode::NOT_FOUND, "There is no such user."),
        Err(Refusal::UserLocked) => page::error(
            StatusCode::CONFLICT,
            "This user is locked: unlock them before adding a device.",
        ),
        Err(e) => {
            tracing::error!(error = %e, "cannot issue a registration token");
            page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot issue an activation now.",
            )
        }
    }
}
