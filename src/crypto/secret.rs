//! Random identifiers and secrets, their digests, and constant-time checks.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 32 random bytes (256 bits) from the OS CSPRNG, base64url without padding:
/// 43 characters from `[A-Za-z0-9_-]`, as CIBA §7.3 asks of `auth_req_id`.
pub fn random_token() -> String {
    random_b64(32)
}

/// 16 random bytes (128 bits): public identifiers that must not be guessable.
pub fn random_id() -> String {
    random_b64(16)
}

fn random_b64(len: usize) -> String {
    let mut bytes = vec![0u8; len];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A number from 10 to 99 for number matching: it only has to make a
/// blindly approved push fail most of the time, not to be secret.
pub fn match_number() -> String {
    (10 + rand::rngs::OsRng.next_u32() % 90).to_string()
}

/// Whether a value from the network can be stored or looked up: no NUL
/// (PostgreSQL text cannot hold it) and no other control character.
pub fn is_clean(value: &str) -> bool {
    !value.chars().any(char::is_control)
}

/// SHA-256 of `value`, base64url: how machine-made secrets are stored. They
/// carry ≥128 random bits, so a fast hash is enough and cheap on every poll.
pub fn digest(value: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(value.as_bytes()))
}

/// Compares a presented secret with a stored digest in constant time.
pub fn matches_digest(presented: &str, stored_digest: &str) -> bool {
    digest(presented).as_bytes().ct_eq(stored_digest.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_is_sha256_base64url() {
        // SHA-256("abc") from FIPS 180-2, base64url.
        assert_eq!(digest("abc"), "ungWv48Bz-pBQUDeXa4iI7ADYaOWF3qctBD_YfIAFa0");
    }

    #[test]
    fn tokens_are_long_unique_and_url_safe() {
        let a = random_token();
        assert_eq!(a.len(), 43);
        assert_ne!(a, random_token());
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_eq!(random_id().len(), 22);
    }

    #[test]
    fn matches_digest_accepts_only_the_secret() {
        let d = digest("s3cret");
        assert!(matches_digest("s3cret", &d));
        assert!(!matches_digest("s3cres", &d));
        assert!(!matches_digest("", &d));
    }
}

/// argon2id hash (PHC string) of a secret a person chose (user codes,
/// passwords): slow on purpose, unlike [`digest`].
pub fn hash_password(password: &str) -> Result<String, String> {
    use argon2::password_hash::{PasswordHasher, SaltString};
    let salt = SaltString::generate(&mut rand::rngs::OsRng);
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| e.to_string())
}

/// Checks a person's secret against its argon2 hash.
pub fn verify_password(password: &str, hash: &str) -> bool {
    use argon2::password_hash::{PasswordHash, PasswordVerifier};
    PasswordHash::new(hash)
        .map(|parsed| {
            argon2::Argon2::default()
                .verify_password(password.as_bytes(), &parsed)
                .is_ok()
        })
        .unwrap_or(false)
}

#[cfg(test)]
mod password_tests {
    #[test]
    fn passwords_verify_only_against_their_hash() {
        let hash = super::hash_password("4711").unwrap();
        assert!(hash.starts_with("$argon2"));
        assert!(super::verify_password("4711", &hash));
        assert!(!super::verify_password("4712", &hash));
        assert!(!super::verify_password("4711", "not a hash"));
    }
}
