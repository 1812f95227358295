//! `GET /admin/keys`: the JWT and SAML signing keys with their `kid`,
//! algorithm, when they sign from, and state (next, signing, or published
//! only), with the forms that rotate and retire them.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::guard::SignedIn;
use super::page::{self, instant};
use crate::engine::AppState;

pub struct KeyRow {
    alg: &'static str,
    kid: String,
    not_before: String,
    state: &'static str,
}

#[derive(Template)]
#[template(path = "admin/keys.html")]
struct Keys<'a> {
    email: &'a str,
    csrf: &'a str,
    keys: Vec<KeyRow>,
    message: Option<&'a str>,
}

/// The keys page, with `message` (a refusal) above the table.
pub async fn page_with(state: &AppState, who: &SignedIn, status: StatusCode, message: Option<&str>) -> Response {
    let now = state.clock.now();
    let keys = state.keys.ready().await;
    let keys = keys
        .files()
        .iter()
        .map(|k| KeyRow {
            alg: k.alg,
            kid: k.kid.clone(),
            not_before: instant(k.not_before),
            state: if k.signing {
                "signing"
            } else if k.not_before > now {
                "next"
            } else {
                "published only"
            },
        })
        .collect();
    page::render(
        status,
        &Keys {
            email: who.admin.email.as_str(),
            csrf: &who.session.csrf,
            keys,
            message,
        },
    )
}

pub async fn list(State(state): State<AppState>, who: SignedIn) -> Response {
    page_with(&state, &who, StatusCode::OK, None).await
}
