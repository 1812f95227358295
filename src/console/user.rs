//! `GET /admin/users/{id}`: a user, their status and devices (key
//! thumbprint, status, preferred, push channel, failed attempts), what
//! bound or may bind a device (bindings, registrations, registration
//! tokens), their apps, and the forms that lock or unlock the user or a
//! device, prefer or remove a device, and issue an activation
//! (`user_activation.rs`).

use askama::Template;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;

use super::guard::SignedIn;
use super::page::{self, instant};
use crate::domain::ids::UserId;
use crate::engine::AppState;
use crate::engine::users::{self, Actor, Refusal};
use crate::store::console::ActivationRecord;

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
    activations: Vec<ActivationRow>,
    apps: Vec<String>,
    issued: Option<Issued>,
}

pub struct ActivationRow {
    kind: &'static str,
    client_id: String,
    created_at: String,
    expires_at: String,
    /// `used (device …)`, `removed`, `expired` or `open`.
    state: String,
}

/// A registration token just issued, shown once with its QR code.
pub struct Issued {
    pub token: String,
    pub svg: String,
    pub expires: String,
}

fn activation_rows(records: Vec<ActivationRecord>, now: i64) -> Vec<ActivationRow> {
    records
        .into_iter()
        .map(|r| {
            let state = match (r.used_at, r.removed_at) {
                (Some(at), _) => format!(
                    "used {} by {}",
                    instant(at),
                    r.device_id.as_deref().unwrap_or("a device")
                ),
                (None, Some(_)) => "removed".into(),
                (None, None) if r.expires_at <= now => "expired".into(),
                (None, None) => "open".into(),
            };
            let kind = match r.kind.as_str() {
                "binding" => "binding (activation code)",
                "registration" => "registration (activation password)",
                _ => "registration token",
            };
            ActivationRow {
                kind,
                client_id: r.client_id,
                created_at: instant(r.created_at),
                expires_at: instant(r.expires_at),
                state,
            }
        })
        .collect()
}

/// The page of user `id` (with a token just issued), or the page saying why
/// there is none.
pub async fn page_of(state: &AppState, who: &SignedIn, id: &str, issued: Option<Issued>) -> Response {
    let found = async {
        let actor = Actor::Admin(who.admin.email.to_string());
        let (user, devices) = users::devices(state, &actor, &UserId::from(id)).await?;
        let (activations, apps) = state.store.activations_of(id).await?;
        Ok::<_, Refusal>((user, devices, activations, apps))
    };
    let (user, devices, activations, apps) = match found.await {
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
        StatusCode::OK,
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
            activations: activation_rows(activations, state.clock.now()),
            apps,
            issued,
        },
    )
}

pub async fn show(State(state): State<AppState>, who: SignedIn, Path(id): Path<String>) -> Response {
    page_of(&state, &who, &id, None).await
}
