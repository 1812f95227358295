//! `/admin/saml`: the SAML service providers trustid answers, with what
//! each receives and how, and the forms that add one: field by field
//! (`POST` here) or from its metadata (`saml_sp_import.rs`). A refused form
//! comes back as typed, the reason next to its field.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::guard::{SignedIn, check_form};
use super::page;
use super::saml_sp::{location, refused};
use super::saml_sp_form::{FormView, SpForm};
use crate::domain::saml_sp::SamlSp;
use crate::engine::AppState;
use crate::engine::saml_sps::{self, Refusal};
use crate::engine::users::Actor;

pub struct Row {
    id: String,
    name: String,
    entity_id: String,
    acs: String,
    name_id: &'static str,
    sign: &'static str,
    signed_requests: bool,
    encrypted: bool,
    idp_initiated: bool,
    attributes: String,
}

impl From<SamlSp> for Row {
    fn from(sp: SamlSp) -> Self {
        let s = sp.settings;
        Row {
            id: sp.id,
            acs: s.acs.iter().map(|a| a.url.as_str()).collect::<Vec<_>>().join(" "),
            name_id: s.name_id_format.as_str(),
            sign: s.sign.as_str(),
            signed_requests: s.signing_cert.is_some(),
            encrypted: s.encryption_cert.is_some(),
            idp_initiated: s.idp_initiated,
            attributes: match &s.attributes {
                None => "all".into(),
                Some(list) => list.iter().map(|e| e.saml_name()).collect::<Vec<_>>().join(", "),
            },
            entity_id: s.entity_id.to_string(),
            name: s.display_name,
        }
    }
}

/// The metadata form as sent, and why it was refused.
#[derive(Default)]
pub struct Import {
    pub metadata: String,
    pub error: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/saml_sps.html")]
struct Sps<'a> {
    email: &'a str,
    csrf: &'a str,
    sps: Vec<Row>,
    view: FormView,
    import: Import,
}

/// The list with the add forms showing `view` and `import`.
pub async fn page_of(state: &AppState, who: &SignedIn, status: StatusCode, view: FormView, import: Import) -> Response {
    let sps = match state.store.saml_sps().await {
        Ok(sps) => sps,
        Err(e) => {
            tracing::error!(error = %e, "cannot list SAML SPs");
            return page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot read its database now.",
            );
        }
    };
    page::render(
        status,
        &Sps {
            email: who.admin.email.as_str(),
            csrf: &who.session.csrf,
            sps: sps.into_iter().map(Row::from).collect(),
            view,
            import,
        },
    )
}

pub async fn list(State(state): State<AppState>, who: SignedIn) -> Response {
    let view = FormView::new(SpForm::blank(), None);
    page_of(&state, &who, StatusCode::OK, view, Import::default()).await
}

pub async fn add(State(state): State<AppState>, who: SignedIn, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    let form = SpForm::posted(&body);
    let result = match form.settings(None) {
        Ok(settings) => saml_sps::register(&state, &Actor::Admin(who.admin.email.to_string()), settings).await,
        Err(e) => Err(Refusal::Invalid(e)),
    };
    match result {
        Ok(sp) => Redirect::to(&location(&sp.id)).into_response(),
        Err(Refusal::Invalid(e)) => {
            let view = FormView::new(form, Some(e));
            page_of(&state, &who, StatusCode::BAD_REQUEST, view, Import::default()).await
        }
        Err(e) => refused(e),
    }
}
