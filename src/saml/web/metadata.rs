//! `GET /saml/metadata`: the IdP's EntityDescriptor, with every SAML
//! signing certificate that is current or next.

use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

use super::{idp_entity_id, saml_of};
use crate::engine::AppState;
use crate::http::paths::{SAML_SLO_PATH, SAML_SSO_PATH};
use crate::saml::xml::metadata::{IdpMetadata, metadata};

pub async fn describe(State(state): State<AppState>) -> Response {
    let keys = state.keys.ready().await;
    let saml = match saml_of(&keys) {
        Ok(saml) => saml,
        Err(page) => return page.into_response(),
    };
    let (sso_url, slo_url) = (state.url(SAML_SSO_PATH), state.url(SAML_SLO_PATH));
    let xml = metadata(&IdpMetadata {
        entity_id: idp_entity_id(&state),
        sso_url: &sso_url,
        slo_url: &slo_url,
        signing_certs: saml.published_certs(),
    });
    let mut response = xml.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/samlmetadata+xml"),
    );
    // Short: SPs that poll it see a rotation's next certificate in time.
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
    response
}
