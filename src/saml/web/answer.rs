//! The one Response a login gets, success or failure, and the page that
//! posts it to the SP's ACS (SAML Bindings §3.5.4): a form the browser
//! submits, by the local script or by its button when scripts are off.

use axum::http::StatusCode;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use super::evidence::{EvidenceError, facts, released};
use super::page::{Page, escape};
use super::{idp_entity_id, saml_of};
use crate::crypto::xmlenc::RecipientCert;
use crate::domain::saml_sp::SamlSp;
use crate::domain::transaction::Transaction;
use crate::domain::user::User;
use crate::engine::AppState;
use crate::saml::xml::response::success;
use crate::saml::xml::status::{Failure, StatusFacts, SubStatus, TopStatus, failure};

/// Where a Response goes and what it answers.
pub struct Destination<'a> {
    pub sp: &'a SamlSp,
    pub acs_url: &'a str,
    /// The AuthnRequest's ID; `None` for an IdP-initiated login.
    pub in_response_to: Option<&'a str>,
    pub relay_state: Option<&'a str>,
}

/// A signed failure Response, posted to the ACS.
pub async fn failure_page(
    state: &AppState,
    to: &Destination<'_>,
    top: TopStatus,
    second: SubStatus,
    message: &str,
) -> Page {
    let keys = state.keys.ready().await;
    let saml = match saml_of(&keys) {
        Ok(saml) => saml,
        Err(page) => return page,
    };
    let facts = StatusFacts {
        idp_entity_id: idp_entity_id(state),
        destination: to.acs_url,
        in_response_to: to.in_response_to,
        issue_instant: state.clock.now(),
    };
    let what = Failure {
        top,
        second,
        message: Some(message),
    };
    match failure(&facts, &what, saml.signer()) {
        Ok(built) => post_page(to, &built.xml, false),
        Err(e) => internal(&e),
    }
}

/// The success Response for an approved transaction: the Assertion with the
/// SP's allowed attributes, signed as the SP chose, encrypted when it
/// registered an encryption certificate.
pub async fn success_page(state: &AppState, to: &Destination<'_>, transaction: &Transaction, user: &User) -> Page {
    match success_xml(state, to, transaction, user).await {
        Ok(Ok(xml)) => post_page(to, &xml, true),
        Ok(Err(no_name)) => {
            failure_page(state, to, TopStatus::Requester, SubStatus::InvalidNameIdPolicy, no_name).await
        }
        Err(page) => page,
    }
}

/// The signed (and maybe encrypted) Response; `Ok(Err)` when the user has
/// no value in the SP's NameID format.
pub async fn success_xml(
    state: &AppState,
    to: &Destination<'_>,
    transaction: &Transaction,
    user: &User,
) -> Result<Result<String, &'static str>, Page> {
    let sp = to.sp;
    let released = match released(state, sp, transaction, user).await {
        Ok(released) => released,
        Err(EvidenceError::NoNameId) => return Ok(Err("the user has no value in the SP's NameID format")),
        Err(e) => return Err(internal(&e)),
    };
    let facts = facts(state, sp, &released, transaction, Some(to.acs_url), to.in_response_to);
    let recipient = match &sp.settings.encryption_cert {
        Some(cert) => Some(RecipientCert::from_der(cert.der()).map_err(|e| internal(&e))?),
        None => None,
    };
    let keys = state.keys.ready().await;
    let saml = saml_of(&keys)?;
    let built = success(&facts, sp.settings.sign, saml.signer(), recipient.as_ref()).map_err(|e| internal(&e))?;
    Ok(Ok(built.xml))
}

/// The Response form for a login's ACS.
fn post_page(to: &Destination<'_>, xml: &str, approved: bool) -> Page {
    let name = escape(&to.sp.settings.display_name);
    let lead = if approved {
        format!("<h1>Approved</h1><p>Your sign-in to {name} was approved on your device.</p>")
    } else {
        format!("<h1>Sign-in not completed</h1><p>{name} is being told the sign-in did not succeed.</p>")
    };
    post_form(to.acs_url, xml, to.relay_state, &lead, &name)
}

/// The auto-POST form: `SAMLResponse` and `RelayState` (unchanged) to
/// `url`, the only place the page's CSP lets a form go. `lead` and
/// `sp_name` are HTML, escaped by the caller.
pub fn post_form(url: &str, xml: &str, relay_state: Option<&str>, lead: &str, sp_name: &str) -> Page {
    let relay = relay_state
        .map(|r| format!("<input type=\"hidden\" name=\"RelayState\" value=\"{}\">", escape(r)))
        .unwrap_or_default();
    let body = format!(
        "{lead}<form method=\"post\" action=\"{action}\" id=\"saml-post\">\
         <input type=\"hidden\" name=\"SAMLResponse\" value=\"{response}\">{relay}\
         <button type=\"submit\">Continue to {sp_name}</button></form>",
        action = escape(url),
        response = STANDARD.encode(xml),
    );
    let mut page = Page::new(StatusCode::OK, "Continue", body);
    page.form_action = url.to_owned();
    page.script = Some(super::assets::POST_SCRIPT_PATH);
    page
}

/// A failure of trustid itself: logged, and a page that says so.
pub fn internal(e: &dyn std::fmt::Display) -> Page {
    tracing::error!(error = %e, "SAML answer failed");
    Page::error(
        StatusCode::INTERNAL_SERVER_ERROR,
        "trustid could not complete this sign-in. Try again later.",
    )
}
