//! `/saml/sso`: an AuthnRequest over HTTP-Redirect (GET) or HTTP-POST, or
//! an IdP-initiated login (`GET ?sp=ENTITY_ID`, for SPs that allow it).
//! A checked request begins a login bound to this browser by its cookie;
//! the user is then named by the request's Subject or on the form.

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use super::answer::{Destination, failure_page};
use super::check::{self, Accepted, Rejection};
use super::cookie;
use super::inbound::Inbound;
use super::login::{start_and_wait, who_page};
use super::page::Page;
use crate::domain::saml_sp::NameIdFormat;
use crate::engine::AppState;
use crate::engine::saml_login::{self, Begun, Request};

pub async fn redirect_binding(State(state): State<AppState>, RawQuery(query): RawQuery) -> Response {
    let query = query.unwrap_or_default();
    if let Some(entity_id) = idp_initiated(&query) {
        return unsolicited(&state, &entity_id).await;
    }
    match Inbound::from_query(&query) {
        Ok(inbound) => accept(&state, inbound).await,
        Err(e) => Page::error(StatusCode::BAD_REQUEST, &e.to_string()).into_response(),
    }
}

pub async fn post_binding(State(state): State<AppState>, body: Bytes) -> Response {
    match Inbound::from_form(&body) {
        Ok(inbound) => accept(&state, inbound).await,
        Err(e) => Page::error(StatusCode::BAD_REQUEST, &e.to_string()).into_response(),
    }
}

/// `sp=ENTITY_ID` alone in the query: an IdP-initiated login.
fn idp_initiated(query: &str) -> Option<String> {
    let mut pairs = form_urlencoded::parse(query.as_bytes());
    let first = pairs.next()?;
    (first.0 == "sp" && pairs.next().is_none()).then(|| first.1.into_owned())
}

async fn accept(state: &AppState, inbound: Inbound) -> Response {
    let accepted = match check::authn_request(state, inbound).await {
        Ok(accepted) => accepted,
        Err(Rejection::Page(page)) => return page.into_response(),
        Err(Rejection::Status {
            sp,
            acs_url,
            in_response_to,
            relay_state,
            top,
            second,
            message,
        }) => {
            let to = Destination {
                sp: &sp,
                acs_url: &acs_url,
                in_response_to: Some(&in_response_to),
                relay_state: relay_state.as_deref(),
            };
            return failure_page(state, &to, top, second, &message).await.into_response();
        }
    };
    let Accepted {
        sp,
        request,
        acs_url,
        relay_state,
    } = accepted;
    let begun = saml_login::begin(
        state,
        Request {
            sp: &sp,
            request_id: Some(request.id.as_str().to_owned()),
            acs_url,
            relay_state,
        },
    )
    .await;
    let Begun { login, browser_secret } = match begun {
        Ok(begun) => begun,
        Err(e) => return super::answer::internal(&e).into_response(),
    };
    let set_cookie = cookie::set(state, &login, &browser_secret);
    // A Subject in a format that names the user directly: no form.
    let who = request.subject.as_ref().filter(|s| {
        s.format
            .as_deref()
            .and_then(NameIdFormat::from_urn)
            .is_none_or(|f| matches!(f, NameIdFormat::EmailAddress | NameIdFormat::Unspecified))
    });
    match who {
        Some(subject) => start_and_wait(state, &login, &sp, &subject.value, Some(set_cookie)).await,
        None => {
            let mut page = who_page(state, &login, &sp, None, StatusCode::OK);
            page.set_cookie = Some(set_cookie);
            page.into_response()
        }
    }
}

/// An IdP-initiated login: no request to answer, the SP's default ACS and
/// RelayState.
async fn unsolicited(state: &AppState, entity_id: &str) -> Response {
    let sp = match state.store.saml_sp(entity_id).await {
        Ok(Some(sp)) if sp.settings.idp_initiated => sp,
        Ok(_) => {
            return Page::error(
                StatusCode::BAD_REQUEST,
                "This service provider is unknown, or does not take sign-ins started at trustid.",
            )
            .into_response();
        }
        Err(e) => return super::answer::internal(&e).into_response(),
    };
    let Some(acs) = sp.default_acs() else {
        return Page::error(StatusCode::BAD_REQUEST, "This service provider has no ACS.").into_response();
    };
    let request = Request {
        sp: &sp,
        request_id: None,
        acs_url: acs.url.to_string(),
        relay_state: sp.settings.default_relay_state.clone(),
    };
    match saml_login::begin(state, request).await {
        Ok(Begun { login, browser_secret }) => {
            let mut page = who_page(state, &login, &sp, None, StatusCode::OK);
            page.set_cookie = Some(cookie::set(state, &login, &browser_secret));
            page.into_response()
        }
        Err(e) => super::answer::internal(&e).into_response(),
    }
}
