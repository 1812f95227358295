//! `/admin/clients`: every client, and the form that adds one (a
//! `client_secret_basic` client; its secret is shown once, never stored).
//! The form keeps what was typed and says what was wrong.

use askama::Template;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};

use super::guard::{SignedIn, check_form, field};
use super::page;
use crate::domain::client::{ClientMetadata, DeliveryMode, SigningAlg};
use crate::engine::AppState;
use crate::engine::admin::{self, AdminError};
use crate::engine::clients::is_own_client;

pub struct Row {
    name: String,
    id: String,
    mode: &'static str,
    auth: &'static str,
    alg: &'static str,
    number_matching: bool,
    management: bool,
    disabled: bool,
    /// False for a SAML SP's client, which its SP's settings rule.
    editable: bool,
}

/// What the add form holds (typed, or the defaults).
#[derive(Default)]
pub struct AddForm {
    name: String,
    mode: String,
    endpoint: String,
    alg: String,
    number_matching: bool,
    management: bool,
}

#[derive(Template)]
#[template(path = "admin/clients.html")]
struct Clients<'a> {
    email: &'a str,
    csrf: &'a str,
    clients: Vec<Row>,
    form: AddForm,
    error: Option<&'a str>,
    /// The client just added and its secret, shown once.
    created: Option<(String, Option<String>)>,
}

async fn page_of(
    state: &AppState,
    who: &SignedIn,
    status: StatusCode,
    form: AddForm,
    error: Option<&str>,
    created: Option<(String, Option<String>)>,
) -> Response {
    let clients = match state.store.clients().await {
        Ok(all) => all,
        Err(e) => {
            tracing::error!(error = %e, "cannot list clients");
            return page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot read its database now.",
            );
        }
    };
    let clients = clients
        .into_iter()
        .map(|c| Row {
            mode: c.delivery_mode().as_str(),
            auth: c.auth_method().as_str(),
            alg: c.id_token_alg().as_str(),
            number_matching: c.metadata.number_matching,
            management: c.metadata.management,
            disabled: c.is_disabled(),
            editable: !is_own_client(&c.id),
            name: c.metadata.client_name,
            id: c.id.into_string(),
        })
        .collect();
    page::render(
        status,
        &Clients {
            email: who.admin.email.as_str(),
            csrf: &who.session.csrf,
            clients,
            form,
            error,
            created,
        },
    )
}

pub async fn list(State(state): State<AppState>, who: SignedIn) -> Response {
    let form = AddForm {
        mode: "poll".into(),
        alg: "ES256".into(),
        ..AddForm::default()
    };
    page_of(&state, &who, StatusCode::OK, form, None, None).await
}

pub async fn add(State(state): State<AppState>, who: SignedIn, headers: HeaderMap, body: Bytes) -> Response {
    if let Err(refused) = check_form(&state, &headers, &who.session, &body) {
        return refused.into_response();
    }
    let form = AddForm {
        name: field(&body, "name").unwrap_or_default().trim().to_owned(),
        mode: field(&body, "mode").unwrap_or_default(),
        endpoint: field(&body, "endpoint").unwrap_or_default().trim().to_owned(),
        alg: field(&body, "alg").unwrap_or_default(),
        number_matching: field(&body, "number_matching").is_some(),
        management: field(&body, "management").is_some(),
    };
    let (Ok(mode), Ok(alg)) = (form.mode.parse::<DeliveryMode>(), form.alg.parse::<SigningAlg>()) else {
        let why = "Choose a delivery mode and an ID token algorithm from the lists.";
        return page_of(&state, &who, StatusCode::BAD_REQUEST, form, Some(why), None).await;
    };
    let metadata = ClientMetadata {
        backchannel_token_delivery_mode: mode,
        backchannel_client_notification_endpoint: (!form.endpoint.is_empty()).then(|| form.endpoint.clone()),
        id_token_signed_response_alg: alg,
        number_matching: form.number_matching,
        management: form.management,
        ..ClientMetadata::poll(&form.name)
    };
    let now = state.clock.now();
    match admin::register_client(
        state.store.as_ref(),
        metadata,
        &state.server.outbound,
        state.server.mtls.support,
        now,
    )
    .await
    {
        Ok(created) => {
            let admin = format!("admin:{}", who.admin.email);
            let subject = format!("client:{}", created.client_id);
            if let Err(e) = state.audit(admin, "client.created", subject, None).await {
                tracing::error!(error = %e, "a client was added but not audited");
                return page::error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "The client was added, but the audit log could not record it, so its secret is not shown. \
                     Rotate its secret once the database answers.",
                );
            }
            let shown = Some((created.client_id.into_string(), created.client_secret));
            page_of(&state, &who, StatusCode::CREATED, AddForm::default(), None, shown).await
        }
        Err(AdminError::Invalid(why)) => page_of(&state, &who, StatusCode::BAD_REQUEST, form, Some(&why), None).await,
        Err(e) => {
            tracing::error!(error = %e, "cannot add a client");
            page::error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "The console cannot add a client now.",
            )
        }
    }
}
