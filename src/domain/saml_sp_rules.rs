//! The rules an SP's registration follows, whether it comes from the CLI,
//! the console or metadata (SAML Bindings §3.4–3.5, Metadata §2.4.4).

use super::saml_sp::{MAX_ACS, MAX_RELAY_STATE, SamlSpSettings};
use super::url::check_callback_url;

/// A registration rule an SP's settings break: the member (as serialized)
/// it is about, and what the operator is told.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SettingsError {
    pub member: &'static str,
    pub message: String,
}

impl SamlSpSettings {
    /// ACS URLs are https (http on loopback in dev mode), indexes unique,
    /// at most one default; a default RelayState only with IdP-initiated
    /// login. The error text is what the operator is told.
    pub fn validate(&self, dev: bool) -> Result<(), SettingsError> {
        let err = |member, message: String| SettingsError { member, message };
        let name = self.display_name.trim();
        if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
            return Err(err(
                "display_name",
                "display name must be 1 to 100 printable characters".into(),
            ));
        }
        if self.acs.is_empty() || self.acs.len() > MAX_ACS {
            return Err(err("acs", format!("give 1 to {MAX_ACS} ACS URLs")));
        }
        for (i, acs) in self.acs.iter().enumerate() {
            check_callback_url(acs.url.as_str(), dev).map_err(|e| err("acs", format!("ACS URL {} {e}", acs.url)))?;
            if self.acs[..i].iter().any(|a| a.index == acs.index) {
                return Err(err("acs", format!("two ACS endpoints have index {}", acs.index)));
            }
        }
        if self
            .exporters
            .iter()
            .any(|c| c.is_empty() || c.chars().count() > 255 || c.chars().any(char::is_control))
        {
            return Err(err(
                "exporters",
                "an exporter must be a client id of 1 to 255 printable characters".into(),
            ));
        }
        if let Some(url) = &self.logout_url {
            check_callback_url(url.as_str(), dev).map_err(|e| err("logout_url", format!("logout URL {url} {e}")))?;
        }
        if self.acs.iter().filter(|a| a.is_default).count() > 1 {
            return Err(err("acs", "at most one ACS endpoint may be the default".into()));
        }
        if let Some(relay) = &self.default_relay_state {
            if !self.idp_initiated {
                return Err(err(
                    "default_relay_state",
                    "a default RelayState needs IdP-initiated login".into(),
                ));
            }
            if relay.is_empty() || relay.len() > MAX_RELAY_STATE || relay.chars().any(char::is_control) {
                return Err(err(
                    "default_relay_state",
                    format!("RelayState must be 1 to {MAX_RELAY_STATE} bytes, no control characters"),
                ));
            }
        }
        if let Some(app) = &self.app_id
            && (app.trim().is_empty() || app.chars().count() > 128 || app.chars().any(char::is_control))
        {
            return Err(err("app_id", "app id must be 1 to 128 printable characters".into()));
        }
        if let Some(attributes) = &self.attributes
            && attributes.is_empty()
        {
            return Err(err(
                "attributes",
                "the attribute list must name at least one attribute".into(),
            ));
        }
        Ok(())
    }
}
