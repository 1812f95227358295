//! `application/x-www-form-urlencoded` bodies as OAuth reads them: a
//! repeated parameter is an error (RFC 6749 §3.1), an empty one is absent.

use std::collections::HashMap;

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::header;

use crate::oidc::error::OAuthError;

/// The parameters of a form body, each present at most once.
#[derive(Debug, Default)]
pub struct Params(HashMap<String, String>);

impl Params {
    pub fn parse(body: &[u8]) -> Result<Self, OAuthError> {
        let mut map = HashMap::new();
        for (k, v) in form_urlencoded::parse(body) {
            if v.is_empty() {
                continue;
            }
            if k.contains('\0') || v.contains('\0') {
                return Err(OAuthError::invalid_request(format!(
                    "parameter `{}` contains a NUL byte",
                    k.escape_default()
                )));
            }
            if map.insert(k.clone().into_owned(), v.into_owned()).is_some() {
                return Err(OAuthError::invalid_request(format!("parameter `{k}` is repeated")));
            }
        }
        Ok(Self(map))
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    pub fn insert(&mut self, name: &str, value: String) {
        self.0.insert(name.to_owned(), value);
    }

    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// A parameter that must be present.
    pub fn require(&self, name: &str) -> Result<&str, OAuthError> {
        self.get(name)
            .ok_or_else(|| OAuthError::invalid_request(format!("`{name}` is required")))
    }
}

/// Extracts [`Params`] from a form POST; any other content type is refused.
pub struct Form(pub Params);

impl<S: Send + Sync> FromRequest<S> for Form {
    type Rejection = OAuthError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_form = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/x-www-form-urlencoded"));
        if !is_form {
            return Err(OAuthError::invalid_request(
                "the body must be application/x-www-form-urlencoded",
            ));
        }
        let body = Bytes::from_request(req, state)
            .await
            .map_err(|_| OAuthError::invalid_request("the request body could not be read"))?;
        Params::parse(&body).map(Form)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused_and_empty_ones_ignored() {
        assert!(Params::parse(b"scope=openid&scope=email").is_err());
        let p = Params::parse(b"scope=openid&login_hint=&a=b%20c").unwrap();
        assert_eq!(p.get("scope"), Some("openid"));
        assert!(!p.has("login_hint"));
        assert_eq!(p.get("a"), Some("b c"));
    }
}
