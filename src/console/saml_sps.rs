//! `GET /admin/saml`: the SAML service providers trustid answers, with what
//! each receives and how (registered with `trustid saml sps`).

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;

use super::guard::SignedIn;
use super::page;
use crate::engine::AppState;

pub struct Row {
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

#[derive(Template)]
#[template(path = "admin/saml_sps.html")]
struct Sps<'a> {
    email: &'a str,
    csrf: &'a str,
    sps: Vec<Row>,
}

pub async fn list(State(state): State<AppState>, who: SignedIn) -> Response {
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
    let sps = sps
        .into_iter()
        .map(|sp| {
            let s = sp.settings;
            Row {
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
        })
        .collect();
    page::render(
        StatusCode::OK,
        &Sps {
            email: who.admin.email.as_str(),
            csrf: &who.session.csrf,
            sps,
        },
    )
}
