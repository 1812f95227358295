//! One browser's SAML login, from the AuthnRequest (or an IdP-initiated
//! link) to the one Response that answers it.

use super::ids::TransactionId;

/// How long a browser has to name the user and the user to approve; the
/// transaction's own expiry applies within it.
pub const LOGIN_TTL: i64 = 600;
/// How long past its expiry a login (and the browser's cookie) is kept: an
/// approval made just before the end must still reach the browser.
pub const LOGIN_GRACE: i64 = 120;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamlLogin {
    /// 128 random bits, in the wait page's URL.
    pub id: String,
    /// SHA-256 of the secret in the browser's cookie: the URL alone is not
    /// enough to wait on (or receive) this login's Response.
    pub browser_digest: String,
    /// The SP's registry id ([`super::saml_sp::SamlSp::id`]).
    pub sp_id: String,
    /// The AuthnRequest's ID, answered as `InResponseTo`; `None` when the
    /// login was IdP-initiated.
    pub request_id: Option<String>,
    /// The registered ACS the Response is posted to.
    pub acs_url: String,
    /// Returned to the ACS unchanged.
    pub relay_state: Option<String>,
    /// Set once the user is named and the transaction started.
    pub transaction_id: Option<TransactionId>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Set by the one request that builds the Response.
    pub answered_at: Option<i64>,
}

impl SamlLogin {
    pub fn is_expired(&self, now: i64) -> bool {
        now >= self.expires_at
    }
}
