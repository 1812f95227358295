//! `GET /admin/clients/{id}`: a client's settings in a form, with its
//! state and the forms that rotate its secret and disable or enable it;
//! `POST` saves the form by the registration rules. A refused form comes
//! back as typed, the reason next to its field.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::client_form::{EditForm, FIELDS};
use super::guard::{SignedIn, check_form};
use super::page::{self, instant, path_segment};
use crate::domain::client::{AuthMethod, Client, DeliveryMode, MetadataError, SigningAlg};
use crate::domain::ids::ClientId;
use crate::domain::push::DeviceRouting;
use crate::engine::AppState;
use crate::engine::clients::{self, Refusal};
use crate::engine::users::Actor;

#[derive(Template)]
#[template(path = "admin/client.html")]
struct ClientPage<'a> {
    email: &'a str,
    csrf: &'a str,
    id: &'a str,
    created_at: String,
    updated_at: Option<String>,
    disabled_at: Option<String>,
    uses_secret: bool,
    /// False for a client switched to a secret method that has none yet.
    has_secret: bool,
    form: EditForm,
    error: Option<MetadataError>,
    /// A secret just rotated, shown this once.
    new_secret: Option<String>,
    modes: Vec<&'static str>,
    auth_methods: Vec<&'static str>,
    algs: Vec<&'static str>,
    routings: Vec<&'static str>,
}

impl ClientPage<'_> {
    /// The refusal to show next to field `member`.
    fn error_at(&self, member: &str) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|e| e.member == member)
            .map(|e| e.message.as_str())
    }

    /// A refusal about a member the form has no field for.
    fn error_above(&self) -> Option<&str> {
        self.error
            .as_ref()
            .filter(|e| !FIELDS.contains(&e.member))
            .map(|e| e.message.as_str())
    }
}

/// What the page shows besides the stored client.
#[derive(Default)]
pub struct Shown {
    pub form: Option<EditForm>,
    pub error: Option<MetadataError>,
    pub new_secret: Option<String>,
}

/// The page of `client`: the form as stored unless `shown` has one.
pub fn page_of(who: &SignedIn, client: &Client, status: StatusCode, shown: Shown) -> Response {
    let m = &client.metadata;
    page::render(
        status,
        &ClientPage {
            email: who.admin.email.as_str(),
            csrf: &who.session.csrf,
            id: client.id.as_str(),
            created_at: instant(client.created_at),
            updated_at: client.updated_at.map(instant),
            disabled_at: client.disabled_at.map(instant),
            uses_secret: m.token_endpoint_auth_method.uses_secret(),
            has_secret: client.secret_digest.is_some(),
            form: shown.form.unwrap_or_else(|| EditForm::of(m)),
            error: shown.error,
            new_secret: shown.new_secret,
            modes: DeliveryMode::SUPPORTED.iter().map(|m| m.as_str()).collect(),
            auth_methods: AuthMethod::ALL.iter().map(|a| a.as_str()).collect(),
            algs: SigningAlg::ALL.iter().map(|a| a.as_str()).collect(),
            routings: [DeviceRouting::All, DeviceRouting::Preferred]
                .iter()
                .map(|r| r.as_str())
                .collect(),
        },
    )
}

/// The page for a refused change that is not the form's fault.
pub fn refused(e: Refusal) -> Response {
    match e {
        Refusal::UnknownClient => page::error(StatusCode::NOT_FOUND, "There is no such client."),
        Refusal::OwnClient => page::error(
            StatusCode::CONFLICT,
            "This client is trustid's own: a SAML service provider's (change the provider under SAML) or the console's.",
        ),
        Refusal::NoSecret => page::error(
            StatusCode::CONFLICT,
            "This client authenticates with private_key_jwt: it has no secret to rotate.",
        ),
        Refusal::Named(_) => page::error(StatusCode::CONFLICT, &e.to_string()),
        Refusal::Unaudited(e) => page::unaudited(&e, "a client change"),
        Refusal::Invalid(e) => page::error(StatusCode::BAD_REQUEST, &e.message),
        Refusal::Store(e) => page::unavailable(&e, "cannot read or change a client"),
    }
}

/// Where a client's page is.
pub fn location(id: &str) -> String {
    format!("/admin/clients/{}", path_segment(id))
}

pub async fn show(State(state): State<AppState>, who: SignedIn, Path(id): Path<String>) -> Response {
    match clients::changeable(&state, &ClientId::from(id.as_str())).await {
        Ok(client) => page_of(&who, &client, StatusCode::OK, Shown::default()),
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
    let id = ClientId::from(id.as_str());
    let client = match clients::changeable(&state, &id).await {
        Ok(client) => client,
        Err(e) => return refused(e),
    };
    let form = EditForm::posted(&body);
    let result = match form.metadata(&client.metadata) {
        Ok(metadata) => clients::update(&state, &Actor::Admin(who.admin.email.to_string()), &id, &metadata).await,
        Err(e) => Err(Refusal::Invalid(e)),
    };
    match result {
        Ok(()) => Redirect::to(&location(&id)).into_response(),
        Err(Refusal::Invalid(error)) => {
            let shown = Shown {
                form: Some(form),
                error: Some(error),
                new_secret: None,
            };
            page_of(&who, &client, StatusCode::BAD_REQUEST, shown)
        }
        Err(e) => refused(e),
    }
}
