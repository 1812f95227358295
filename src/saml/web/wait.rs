//! `/saml/wait/{id}`: the page a browser waits on while the user decides on
//! the device. Without scripts it refreshes itself (meta refresh); with
//! them, a small local script asks `/saml/wait/{id}/state` and reloads once
//! the login is decided. A decided login is answered here, once: the page
//! becomes the form that posts the Response to the SP.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::answer::{Destination, internal, success_page};
use super::cookie;
use super::login::{answer_failure, answered_page, refusal_page, sp_of, who_page};
use super::page::{Page, escape};
use crate::domain::saml_login::SamlLogin;
use crate::engine::AppState;
use crate::engine::saml_login::{self, Failure, Outcome};
use crate::http::paths::SAML_WAIT_PATH;
use crate::saml::xml::status::SubStatus;

/// Seconds between the script-less page's refreshes.
const REFRESH: u32 = 3;

pub async fn wait(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let login = match find(&state, &id, &headers).await {
        Ok(login) => login,
        Err(page) => return page.into_response(),
    };
    if login.answered_at.is_some() {
        return answered_page().into_response();
    }
    let sp = match sp_of(&state, &login).await {
        Ok(sp) => sp,
        Err(page) => return page.into_response(),
    };
    if login.transaction_id.is_none() {
        return who_page(&state, &login, &sp, None, StatusCode::OK).into_response();
    }
    let outcome = match saml_login::outcome(&state, &login).await {
        Ok(outcome) => outcome,
        Err(e) => return internal(&e).into_response(),
    };
    match outcome {
        Outcome::Waiting { match_number } => {
            waiting_page(&state, &login, &sp.settings.display_name, match_number.as_deref()).into_response()
        }
        Outcome::Failed(failure) => {
            let (second, message) = match failure {
                Failure::Denied => (SubStatus::RequestDenied, "the user denied the sign-in on their device"),
                Failure::Expired => (SubStatus::AuthnFailed, "the user did not answer in time"),
                Failure::Locked => (SubStatus::AuthnFailed, "the user is locked"),
            };
            answer_failure(&state, &login, &sp, second, message, None).await
        }
        Outcome::Approved(approved) => {
            let (transaction, user) = *approved;
            match saml_login::claim_answer(&state, &login).await {
                Ok(true) => {}
                Ok(false) => return answered_page().into_response(),
                Err(e) => return internal(&e).into_response(),
            }
            let to = Destination {
                sp: &sp,
                acs_url: &login.acs_url,
                in_response_to: login.request_id.as_deref(),
                relay_state: login.relay_state.as_deref(),
            };
            tracing::info!(transaction_id = %transaction.id, sp = %sp.entity_id(), "SAML login approved");
            success_page(&state, &to, &transaction, &user).await.into_response()
        }
    }
}

/// `{"decided": bool}` for the wait page's script: true once reloading the
/// page would answer the login (or show why it cannot be).
pub async fn state(State(state): State<AppState>, Path(id): Path<String>, headers: HeaderMap) -> Response {
    let login = match find(&state, &id, &headers).await {
        Ok(login) => login,
        Err(page) => return page.into_response(),
    };
    let decided = match saml_login::outcome(&state, &login).await {
        Ok(Outcome::Waiting { .. }) => login.answered_at.is_some(),
        Ok(_) => true,
        Err(e) => return internal(&e).into_response(),
    };
    let mut response = Json(json!({ "decided": decided })).into_response();
    response.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    response
}

async fn find(state: &AppState, id: &str, headers: &HeaderMap) -> Result<SamlLogin, Page> {
    let secret = cookie::read(headers, id);
    saml_login::find(state, id, secret.as_deref())
        .await
        .map_err(|e| refusal_page(&e))
}

fn waiting_page(state: &AppState, login: &SamlLogin, sp_name: &str, number: Option<&str>) -> Page {
    let here = super::login_url(state, SAML_WAIT_PATH, &login.id);
    let number = number
        .map(|n| {
            format!(
                "<p>When your phone asks, type <strong id=\"saml-number\">{}</strong>.</p>",
                escape(n)
            )
        })
        .unwrap_or_default();
    let body = format!(
        "<h1>Check your phone</h1><p>Approve the sign-in to {name} on your device.</p>{number}\
         <p id=\"saml-wait\" data-state=\"{state_url}\">This page moves on by itself once you have answered.</p>\
         <p><a href=\"{here}\">I have answered</a></p>",
        name = escape(sp_name),
        state_url = escape(&format!("{here}/state")),
        here = escape(&here),
    );
    let mut page = Page::new(StatusCode::OK, "Waiting for your phone", body);
    page.refresh = Some(REFRESH);
    page.script = Some(super::assets::WAIT_SCRIPT_PATH);
    page
}
