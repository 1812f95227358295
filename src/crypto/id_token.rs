//! ID tokens (OIDC Core §2) and the user claims shared with userinfo.

use serde_json::{Map, Value, json};

use super::keys::SigningKeys;
use crate::domain::claims::{self, Sources};
use crate::domain::client::SigningAlg;
use crate::domain::scope;

/// The claims about the user and the transaction: `sub`, the scope-granted
/// profile claims and every `trustid.*` evidence claim. Userinfo answers
/// exactly these; the ID token adds the JWT members.
pub fn user_claims(src: &Sources<'_>) -> Map<String, Value> {
    let user = src.user;
    let granted = src.scope;
    let mut out = Map::new();
    out.insert("sub".into(), json!(user.id));
    if scope::grants(granted, "email")
        && let Some(email) = &user.email
    {
        out.insert("email".into(), json!(email));
    }
    if scope::grants(granted, "phone")
        && let Some(phone) = &user.phone
    {
        out.insert("phone_number".into(), json!(phone));
    }
    for (evidence, value) in claims::evidence(src) {
        out.insert(evidence.oidc_name().into(), value);
    }
    out
}

/// What an ID token needs beyond the user claims.
pub struct IdTokenParams<'a> {
    pub issuer: &'a str,
    pub client_id: &'a str,
    pub alg: SigningAlg,
    pub now: i64,
    pub ttl: i64,
    /// Token binding claims (CIBA §10.3.1): `at_hash`, `rt_hash`, `auth_req_id`.
    pub binding: Map<String, Value>,
}

/// OIDC Core §3.1.3.6: the left half of SHA-256 over the token, base64url
/// (every algorithm trustid signs with uses SHA-256).
pub fn token_hash(token: &str) -> String {
    use base64::Engine;
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(token.as_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(&digest[..16])
}

/// Signs an ID token. CIBA has no `nonce` (the conformance suite fails one).
pub fn issue(keys: &SigningKeys, p: &IdTokenParams<'_>, src: &Sources<'_>) -> anyhow::Result<String> {
    let mut payload = user_claims(src);
    payload.insert("iss".into(), json!(p.issuer));
    payload.insert("aud".into(), json!(p.client_id));
    payload.insert("iat".into(), json!(p.now));
    payload.insert("exp".into(), json!(p.now + p.ttl));
    let auth_time = src.transaction.decided_at.unwrap_or(p.now);
    payload.insert("auth_time".into(), json!(auth_time));
    if let Some(acr) = &src.transaction.acr {
        payload.insert("acr".into(), json!(acr));
    }
    payload.extend(p.binding.clone());
    keys.sign_jwt(p.alg, &Value::Object(payload))
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_hash_is_the_left_half_of_sha256() {
        // OIDC Core A.3's access token and at_hash.
        assert_eq!(
            super::token_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
