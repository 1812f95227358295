//! OAuth scopes and ACR values trustid grants.

/// Scope values a client may ask for.
pub const SUPPORTED: [&str; 4] = ["openid", "email", "phone", "offline_access"];

/// The scope that opens the management API (`client_credentials` only).
pub const MANAGE: &str = "trustid:manage";

/// ACR values trustid can vouch for: a decision signed by a key bound to the
/// user's device.
pub const ACR_VALUES: [&str; 2] = [
    "urn:trustid:acr:device-signature",
    super::identity_document::EXECUTIVE_ACR,
];

/// A validated, de-duplicated scope string that contains `openid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scope(String);

#[derive(Debug, PartialEq, Eq)]
pub enum ScopeError {
    NoOpenId,
    Unsupported(String),
}

impl Scope {
    pub fn parse(raw: &str) -> Result<Self, ScopeError> {
        let mut values: Vec<&str> = Vec::new();
        for v in raw.split(' ').filter(|v| !v.is_empty()) {
            if !SUPPORTED.contains(&v) {
                return Err(ScopeError::Unsupported(v.to_owned()));
            }
            if !values.contains(&v) {
                values.push(v);
            }
        }
        if !values.contains(&"openid") {
            return Err(ScopeError::NoOpenId);
        }
        Ok(Self(values.join(" ")))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether a space-separated scope string grants `value`.
pub fn grants(scope: &str, value: &str) -> bool {
    scope.split(' ').any(|v| v == value)
}

/// The first requested ACR that trustid supports (CIBA §7.1: in order of
/// preference). Unsupported values are not an error: `acr` is voluntary.
pub fn choose_acr(acr_values: &str) -> Option<String> {
    acr_values
        .split(' ')
        .find(|v| ACR_VALUES.contains(v))
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scope_order_does_not_matter_and_duplicates_collapse() {
        assert_eq!(Scope::parse("email openid email").unwrap().as_str(), "email openid");
    }

    #[test]
    fn scope_without_openid_or_with_unknown_values_is_refused() {
        assert_eq!(Scope::parse("email"), Err(ScopeError::NoOpenId));
        assert_eq!(Scope::parse(""), Err(ScopeError::NoOpenId));
        assert_eq!(
            Scope::parse("openid payments"),
            Err(ScopeError::Unsupported("payments".into()))
        );
    }

    #[test]
    fn acr_picks_the_first_supported_value() {
        assert_eq!(
            choose_acr("urn:other urn:trustid:acr:device-signature").as_deref(),
            Some("urn:trustid:acr:device-signature")
        );
        assert_eq!(choose_acr("urn:other"), None);
    }
}
