//! `GET /admin/saml/{id}`: a service provider's settings in a form (its
//! entity ID fixed), with the form that removes it; `POST` saves the form by
//! the registration rules. A refused form comes back as typed, the reason
//! next to its field.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::guard::{SignedIn, check_form};
use super::page::{self, instant, path_segment};
use super::saml_sp_form::{FormView, SpForm};
use crate::domain::saml_sp::SamlSp;
use crate::engine::AppState;
use crate::engine::saml_sps::{self, Refusal};
use crate::engine::users::Actor;

#[derive(Template)]
#[template(path = "admin/saml_sp.html")]
struct SpPage<'a> {
    email: &'a str,
    csrf: &'a str,
    id: &'a str,
    entity_id: &'a str,
    created_at: String,
    view: FormView,
}

fn page_of(who: &SignedIn, sp: &SamlSp, status: StatusCode, view: FormView) -> Response {
    page::render(
        status,
        &SpPage {
            email: who.admin.email.as_str(),
            csrf: &who.session.csrf,
            id: &sp.id,
            entity_id: sp.entity_id().as_str(),
            created_at: instant(sp.created_at),
            view,
        },
    )
}

/// The page for a refused change that is not the form's fault.
pub fn refused(e: Refusal) -> Response {
    match e {
        Refusal::UnknownSp => page::error(StatusCode::NOT_FOUND, "There is no such SAML service provider."),
        Refusal::Invalid(e) => page::error(StatusCode::BAD_REQUEST, &e.message),
        Refusal::Unaudited(e) => page::unaudited(&e, "a SAML SP change"),
        Refusal::Store(e) => page::unavailable(&e, "cannot read or change a SAML SP"),
    }
}

/// Where an SP's page is.
pub fn location(id: &str) -> String {
    format!("/admin/saml/{}", path_segment(id))
}

pub async fn show(State(state): State<AppState>, who: SignedIn, Path(id): Path<String>) -> Response {
    match saml_sps::find(&state, &id).await {
        Ok(sp) => page_of(&who, &sp, StatusCode::OK, FormView::new(SpForm::of(&sp.settings), None)),
        Err(e) => refused(e),
    }
}

pub async fn save(
    State(state): State<AppState>,
    who: SignedIn,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    let sp = match saml_sps::find(&state, &id).await {
        Ok(sp) => sp,
        Err(e) => return refused(e),
    };
    let form = SpForm::posted(&body);
    let result = match form.settings(Some(&sp.settings)) {
        Ok(settings) => saml_sps::update(&state, &Actor::Admin(who.admin.email.to_string()), &id, settings).await,
        Err(e) => Err(Refusal::Invalid(e)),
    };
    match result {
        Ok(()) => Redirect::to(&location(&id)).into_response(),
        Err(Refusal::Invalid(e)) => {
            let form = SpForm {
                entity_id: sp.entity_id().to_string(),
                ..form
            };
            page_of(&who, &sp, StatusCode::BAD_REQUEST, FormView::new(form, Some(e)))
        }
        Err(e) => refused(e),
    }
}
