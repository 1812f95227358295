//! An AuthnRequest against the SP that sent it (SAML Profiles §4.1.4.1):
//! the issuer is registered, the signature is made by its registered
//! certificate when it has one, the ACS is one it registered, the ID was
//! never answered, the IssueInstant is recent. A refusal that leaves the
//! sender or the ACS unproven is a page; later ones are failure Responses
//! to the registered ACS.

use axum::http::StatusCode;

use super::inbound::Inbound;
use super::page::Page;
use crate::domain::saml_sp::SamlSp;
use crate::engine::AppState;
use crate::engine::metrics::Replay;
use crate::http::paths::SAML_SSO_PATH;
use crate::saml::request::{AcsChoice, AuthnRequest, Reply, RequestError, SubStatus, TopStatus, parse_authn_request};

/// How far an IssueInstant may lie in the future (clock skew).
pub const MAX_SKEW: i64 = 180;
/// How old an AuthnRequest may be; its ID is remembered for twice as long.
pub const MAX_AGE: i64 = 300;

/// A request to log a user in, checked.
pub struct Accepted {
    pub sp: SamlSp,
    pub request: AuthnRequest,
    pub acs_url: String,
    pub relay_state: Option<String>,
}

/// A request refused.
pub enum Rejection {
    Page(Page),
    /// A failure Response to the SP's registered ACS.
    Status {
        sp: Box<SamlSp>,
        acs_url: String,
        in_response_to: String,
        relay_state: Option<String>,
        top: TopStatus,
        second: SubStatus,
        message: String,
    },
}

fn page(why: impl std::fmt::Display) -> Rejection {
    Rejection::Page(Page::error(StatusCode::BAD_REQUEST, &why.to_string()))
}

fn store_failed(e: impl std::fmt::Display) -> Rejection {
    Rejection::Page(super::answer::internal(&e))
}

pub async fn authn_request(state: &AppState, inbound: Inbound) -> Result<Accepted, Rejection> {
    let request = match parse_authn_request(&inbound.xml) {
        Ok(request) => request,
        Err(refused) => {
            // A status goes only to a registered SP whose requests need no
            // signature (an unparsed request's signature is unchecked).
            let (Reply::Status(top, second), Some(requester)) = (refused.reply(), &refused.requester) else {
                return Err(page(&refused.error));
            };
            let sp = registered(state, requester.issuer.as_str()).await?;
            if sp.requires_signed_requests() {
                return Err(page(&refused.error));
            }
            let acs_url = sp
                .default_acs()
                .map(|a| a.url.to_string())
                .ok_or_else(|| page("no ACS"))?;
            remember(state, &sp, requester.id.as_str()).await?;
            return Err(Rejection::Status {
                sp: Box::new(sp),
                acs_url,
                in_response_to: requester.id.as_str().to_owned(),
                relay_state: inbound.relay_state,
                top,
                second,
                message: refused.error.to_string(),
            });
        }
    };
    let sp = registered(state, request.issuer.as_str()).await?;
    if let Some(cert) = &sp.settings.signing_cert {
        inbound.verify(cert, |id| request.is_signed_root(id)).map_err(page)?;
    }
    let acs = match &request.acs {
        AcsChoice::Default => sp.default_acs(),
        AcsChoice::Url(url) => sp.acs_by_url(url),
        AcsChoice::Index(i) => sp.acs_by_index(*i),
    }
    .ok_or_else(|| page("The request names an AssertionConsumerService this service provider did not register."))?;
    let acs_url = acs.url.to_string();
    // Stale or future: unproven, and its ID may be forgotten already, so no
    // Response (which could then be a second one for that ID).
    let issued = request.issue_instant.unix_timestamp();
    let now = state.clock.now();
    if issued > now + MAX_SKEW || issued < now - MAX_AGE - MAX_SKEW {
        return Err(page(RequestError::Stale));
    }
    remember(state, &sp, request.id.as_str()).await?;

    let refuse = |top, second, message: String| Rejection::Status {
        sp: Box::new(sp.clone()),
        acs_url: acs_url.clone(),
        in_response_to: request.id.as_str().to_owned(),
        relay_state: inbound.relay_state.clone(),
        top,
        second,
        message,
    };
    // SAML Bindings §3.4.5.2, §3.5.5.2: a signed request names where it was
    // sent, so a signature made for another IdP cannot be replayed here.
    let sso_url = state.url(SAML_SSO_PATH);
    let signed = sp.settings.signing_cert.is_some();
    match &request.destination {
        Some(destination) if *destination == sso_url => {}
        None if !signed => {}
        _ => {
            return Err(refuse(
                TopStatus::Requester,
                SubStatus::RequestDenied,
                format!("Destination must be {sso_url}"),
            ));
        }
    }
    if request.is_passive {
        return Err(refuse(
            TopStatus::Responder,
            SubStatus::NoPassive,
            "every trustid sign-in is approved on the user's device".into(),
        ));
    }
    if let Some(wanted) = request.name_id_policy.and_then(|p| p.format)
        && wanted != sp.settings.name_id_format
    {
        return Err(refuse(
            TopStatus::Requester,
            SubStatus::InvalidNameIdPolicy,
            format!(
                "this service provider is registered for NameID format {}",
                sp.settings.name_id_format.urn()
            ),
        ));
    }
    Ok(Accepted {
        sp,
        request,
        acs_url,
        relay_state: inbound.relay_state,
    })
}

async fn registered(state: &AppState, entity_id: &str) -> Result<SamlSp, Rejection> {
    state
        .store
        .saml_sp(entity_id)
        .await
        .map_err(store_failed)?
        .ok_or_else(|| {
            page(format!(
                "The service provider `{entity_id}` is not registered with trustid."
            ))
        })
}

/// Records the request ID; a replay is a page and starts nothing.
async fn remember(state: &AppState, sp: &SamlSp, id: &str) -> Result<(), Rejection> {
    let until = state.clock.now() + 2 * (MAX_AGE + MAX_SKEW);
    if state
        .store
        .remember_request_id(&sp.id, id, until)
        .await
        .map_err(store_failed)?
    {
        Ok(())
    } else {
        state.metrics.replay(Replay::SamlRequestId, &sp.id);
        Err(page(RequestError::Replayed))
    }
}
