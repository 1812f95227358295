//! The cookie that binds a login to the browser that began it: one per
//! login (several tabs may sign in at once), `HttpOnly`, `SameSite=Lax`
//! (the AuthnRequest arrives as a cross-site POST, and the wait page is
//! reached by top-level navigation), `Secure` unless the issuer is http.

use axum::http::HeaderMap;
use axum::http::header::COOKIE;

use crate::domain::saml_login::{LOGIN_GRACE, LOGIN_TTL, SamlLogin};
use crate::engine::AppState;

fn name(login_id: &str) -> String {
    format!("trustid_saml_{login_id}")
}

/// The `Set-Cookie` value for a new login.
pub fn set(state: &AppState, login: &SamlLogin, secret: &str) -> String {
    let secure = if state.server.issuer.starts_with("https:") {
        "; Secure"
    } else {
        ""
    };
    format!(
        "{}={secret}; Path=/saml; Max-Age={}; HttpOnly; SameSite=Lax{secure}",
        name(&login.id),
        LOGIN_TTL + LOGIN_GRACE
    )
}

/// The secret the browser holds for login `login_id`, if any.
pub fn read(headers: &HeaderMap, login_id: &str) -> Option<String> {
    let wanted = name(login_id);
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == wanted)
        .map(|(_, v)| v.to_owned())
}
