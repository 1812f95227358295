//! The SAML endpoints browsers and SPs reach: metadata, Web SSO (SP- and
//! IdP-initiated), the who-are-you form, the wait page that ends in the
//! posted Response, and single logout. Every refusal is an HTML page or a
//! SAML failure Response; nothing here issues a success without an
//! approval on the user's device.

pub mod answer;
pub mod assets;
pub mod check;
pub mod cookie;
pub mod evidence;
pub mod export;
pub mod inbound;
pub mod login;
pub mod metadata;
pub mod page;
pub mod slo;
pub mod sso;
pub mod wait;

use axum::http::StatusCode;

use crate::crypto::keys::SigningKeys;
use crate::crypto::saml_keys::SamlKeys;
use page::Page;

/// The SAML key of `keys`, or the page saying SAML is off (a keys directory
/// written before SAML keys existed, read-only).
pub fn saml_of(keys: &SigningKeys) -> Result<&SamlKeys, Page> {
    keys.saml().ok_or_else(|| {
        Page::error(
            StatusCode::SERVICE_UNAVAILABLE,
            "SAML is not available: this server has no SAML signing key.",
        )
    })
}

/// The IdP's entity ID (`saml_entity_id`, default `{issuer}/saml`).
pub fn idp_entity_id(state: &crate::engine::AppState) -> &str {
    &state.server.saml_entity_id
}

/// The absolute URL of `path` (one of `http::paths`) with `{id}` = `login_id`.
pub fn login_url(state: &crate::engine::AppState, path: &str, login_id: &str) -> String {
    state.url(&path.replace("{id}", login_id))
}
