//! `POST /admin/saml/import`: registers a service provider from its SAML
//! metadata, pasted into the form (read by the code `trustid saml sps
//! import` uses), then shows its page to set what the metadata cannot say:
//! attribute release, NameID format, what is signed. Metadata signatures
//! are not checked, as the CLI does not: the operator vouches for the paste.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::guard::{SignedIn, check_form, field};
use super::saml_sp::{location, refused};
use super::saml_sp_form::{FormView, SpForm};
use super::saml_sps::{Import, page_of};
use crate::domain::saml_sp_metadata::parse_sp_metadata;
use crate::engine::AppState;
use crate::engine::saml_sps::{self, Refusal};
use crate::engine::users::Actor;

pub async fn import(State(state): State<AppState>, who: SignedIn, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    let metadata = field(&body, "metadata").unwrap_or_default();
    let md = match parse_sp_metadata(metadata.trim()) {
        Ok(md) => md,
        Err(why) => return again(&state, &who, metadata, &why).await,
    };
    let actor = Actor::Admin(who.admin.email.to_string());
    match saml_sps::register(&state, &actor, md.into_settings()).await {
        Ok(sp) => Redirect::to(&location(&sp.id)).into_response(),
        Err(Refusal::Invalid(e)) => again(&state, &who, metadata, &e.message).await,
        Err(e) => refused(e),
    }
}

/// The list again, the metadata as pasted and `why` next to it.
async fn again(state: &AppState, who: &SignedIn, metadata: String, why: &str) -> Response {
    let import = Import {
        metadata,
        error: Some(format!("The metadata was not registered: {why}.")),
    };
    let view = FormView::new(SpForm::blank(), None);
    page_of(state, who, StatusCode::BAD_REQUEST, view, import).await
}
