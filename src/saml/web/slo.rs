//! `/saml/slo`: single logout (SAML Profiles §4.4). trustid keeps no IdP
//! session (every login is approved on the phone), so there is nothing to
//! end: a LogoutRequest from a registered SP, signed when the SP has a
//! certificate, recent and never seen before, is answered `Success`, over
//! the binding it came with, at the SP's registered logout URL; an SP
//! without one gets trustid's page.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};

use super::answer::{internal, post_form};
use super::check::{MAX_AGE, MAX_SKEW};
use super::inbound::{Binding, Inbound};
use super::page::{Page, escape};
use super::{idp_entity_id, saml_of};
use crate::engine::AppState;
use crate::saml::request::{RequestError, parse_logout_request};
use crate::saml::xml::logout::{logout_response_post, logout_response_redirect};
use crate::saml::xml::status::StatusFacts;

pub async fn redirect_binding(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    match Inbound::from_query(&query.unwrap_or_default()) {
        Ok(inbound) => logout(&state, inbound).await,
        Err(e) => Page::error(StatusCode::BAD_REQUEST, &e.to_string()).into_response(),
    }
}

pub async fn post_binding(State(state): State<AppState>, body: Bytes) -> Response {
    match Inbound::from_form(&body) {
        Ok(inbound) => logout(&state, inbound).await,
        Err(e) => Page::error(StatusCode::BAD_REQUEST, &e.to_string()).into_response(),
    }
}

async fn logout(state: &AppState, inbound: Inbound) -> Response {
    let refuse = |why: String| Page::error(StatusCode::BAD_REQUEST, &why).into_response();
    let request = match parse_logout_request(&inbound.xml) {
        Ok(request) => request,
        Err(refused) => return refuse(refused.error.to_string()),
    };
    let sp = match state.store.saml_sp(request.issuer.as_str()).await {
        Ok(Some(sp)) => sp,
        Ok(None) => {
            return refuse(format!(
                "The service provider `{}` is not registered with trustid.",
                request.issuer
            ));
        }
        Err(e) => return internal(&e).into_response(),
    };
    if let Some(cert) = &sp.settings.signing_cert
        && let Err(e) = inbound.verify(cert, |id| request.is_signed_root(id))
    {
        return refuse(e.to_string());
    }
    // A captured LogoutRequest earns no fresh signed answer: recent, and once.
    let (issued, now) = (request.issue_instant.unix_timestamp(), state.clock.now());
    if issued > now + MAX_SKEW || issued < now - MAX_AGE - MAX_SKEW {
        return refuse(RequestError::Stale.to_string());
    }
    let until = now + 2 * (MAX_AGE + MAX_SKEW);
    match state
        .store
        .remember_request_id(&sp.id, request.id.as_str(), until)
        .await
    {
        Ok(true) => {}
        Ok(false) => return refuse(RequestError::Replayed.to_string()),
        Err(e) => return internal(&e).into_response(),
    }
    let Some(url) = &sp.settings.logout_url else {
        return signed_out().into_response();
    };
    let keys = state.keys.ready().await;
    let saml = match saml_of(&keys) {
        Ok(saml) => saml,
        Err(page) => return page.into_response(),
    };
    let facts = StatusFacts {
        idp_entity_id: idp_entity_id(state),
        destination: url.as_str(),
        in_response_to: Some(request.id.as_str()),
        issue_instant: state.clock.now(),
    };
    let relay = inbound.relay_state.as_deref();
    match inbound.binding {
        Binding::Redirect => match logout_response_redirect(&facts, relay, saml.signer()) {
            Ok((_, query)) => {
                let sep = if url.query().is_some() { '&' } else { '?' };
                Redirect::to(&format!("{url}{sep}{query}")).into_response()
            }
            Err(e) => internal(&e).into_response(),
        },
        Binding::Post => match logout_response_post(&facts, saml.signer()) {
            Ok(built) => {
                let name = escape(&sp.settings.display_name);
                let lead = "<h1>Signed out</h1><p>trustid keeps no session; nothing else to end.</p>";
                post_form(url.as_str(), &built.xml, relay, lead, &name).into_response()
            }
            Err(e) => internal(&e).into_response(),
        },
    }
}

fn signed_out() -> Page {
    Page::new(
        StatusCode::OK,
        "Signed out",
        "<h1>Signed out</h1><p>trustid keeps no session: every sign-in is approved on your phone, \
         so there is nothing more to end here.</p>"
            .into(),
    )
}
