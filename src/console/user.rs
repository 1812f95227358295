//! `GET /admin/users/{id}`: a user, their status and devices (key
//! thumbprint, status, preferred, push channel, failed attempts), with the
//! forms that lock or unlock them and prefer or remove a device.

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::guard::SignedIn;
use super::page::{self, instant};
use crate::domain::ids::UserId;
use crate::engine::AppState;
use crate::engine::users::{self, Refusal};

pub struct DeviceRow {
    id: String,
    status: &'static str,
    preferred: bool,
    push: &'static str,
    failed_attempts: i64,
    created_at: String,
}

#[derive(Template)]
#[template(path = "admin/user.html")]
struct UserPage<'a> {
    email: &'a str,
    csrf: &'a str,
    id: &'a str,
    status: &'static str,
    user_email: String,
    phone: String,
    failed_attempts: i64,
    created_at: String,
    devices: Vec<DeviceRow>,
}

/// The page of user `id`, or the page saying why there is none.
async fn page_of(state: &AppState, who: &SignedIn, id: &str, status: StatusCode) -> Response {
    let (user, devices) = match users::devices(state, &UserId::from(id)).await {
        Ok(found) => found,
        Err(Refusal::UnknownUser) => return page::error(StatusCode::NOT_FOUND, "There is no such user."),
        Err(e) => {
            tracing::error!(error = %e, "cannot read a user");
            return page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot read its database now.",
            );
        }
    };
    let devices = devices
        .into_iter()
        .map(|d| DeviceRow {
            status: d.status.as_str(),
            preferred: d.preferred,
            push: d.push.as_ref().map_or("inbox only", |(channel, _)| channel.as_str()),
            failed_attempts: d.failed_attempts,
            created_at: instant(d.created_at),
            id: d.id.into_string(),
        })
        .collect();
    page::render(
        status,
        &UserPage {
            email: who.admin.email.as_str(),
            csrf: &who.session.csrf,
            id,
            status: user.status.as_str(),
            user_email: user.email.unwrap_or_default(),
            phone: user.phone.unwrap_or_default(),
            failed_attempts: user.failed_attempts,
            created_at: instant(user.created_at),
            devices,
        },
    )
}

pub async fn show(State(state): State<AppState>, who: SignedIn, Path(id): Path<String>) -> Response {
    page_of(&state, &who, &id, StatusCode::OK).await
}
