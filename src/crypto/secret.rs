//! Random identifiers and secrets, their digests, and constant-time checks.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

/// 32 random bytes (256 bits) from a CSPRNG, base64url without padding:
/// 43 characters from `[A-Za-z0-9_-]`, as CIBA §7.3 asks of `auth_req_id`.
pub fn random_token() -> String {
    random_b64::<32>()
}

/// A transaction id: its creation time in ms (12 hex digits), then 128
/// random bits (base64url, 22 characters). Ids made later sort later, so a
/// new row lands at the end of the indexes on its id instead of on a random
/// page: on SQLite every page an insert touches is written again at its
/// commit, and random pages were most of the group commit's cost.
pub fn transaction_id(now_ms: i64) -> String {
    crate::domain::ids::time_ordered_id(now_ms)
}

/// A new `auth_req_id`: the transaction id, `.`, and 256 random bits. CIBA
/// §7.3 allows `.`; the secret part alone carries the entropy it asks for.
pub fn auth_req_id(transaction_id: &str) -> String {
    format!("{transaction_id}.{}", random_token())
}

/// How an `auth_req_id` is stored and looked up: the transaction id it names,
/// `.`, and the SHA-256 of the whole value. The id in front finds the row by
/// its primary key (`store::transactions::auth_req_lookup`); only the digest proves
/// anything, and an id put in front of another request's secret makes a
/// digest the row it finds does not match.
pub fn auth_req_digest(auth_req_id: &str) -> String {
    match auth_req_id.split_once('.') {
        Some((id, _)) => format!("{id}.{}", digest(auth_req_id)),
        None => digest(auth_req_id),
    }
}

/// From the thread's CSPRNG (`rand`'s ChaCha12, seeded from the OS and
/// reseeded after every 64 KiB): a new request takes three of these, and
/// asking the kernel each time was two `getrandom` calls per backchannel
/// request (`bench/README.md`).
fn random_b64<const N: usize>() -> String {
    let mut bytes = [0u8; N];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A number from 10 to 99 for number matching: it only has to make a
/// blindly approved push fail most of the time, not to be secret.
pub fn match_number() -> String {
    (10 + rand::thread_rng().next_u32() % 90).to_string()
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
        let ids = [transaction_id(1_000), transaction_id(1_001), transaction_id(1_001)];
        assert!(ids.iter().all(|id| id.len() == 34 && id.starts_with("0000000003e")));
        assert!(ids[0] < ids[1] && ids[0] < ids[2] && ids[1] != ids[2], "{ids:?}");
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

    #[test]
    fn an_auth_req_id_names_its_transaction_and_is_stored_by_digest() {
        use super::{auth_req_digest, auth_req_id, digest, transaction_id};
        let txn = transaction_id(5);
        let id = auth_req_id(&txn);
        assert_eq!(id.len(), 34 + 1 + 43);
        assert!(
            id.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "CIBA §7.3: {id}"
        );
        let stored = auth_req_digest(&id);
        assert_eq!(stored, format!("{txn}.{}", digest(&id)));
        assert!(!stored.contains(&id[35..]), "the secret part is never stored");
        // Another secret under the same id, or no id at all: other digests.
        assert_ne!(auth_req_digest(&auth_req_id(&txn)), stored);
        assert_eq!(auth_req_digest("no-dot"), digest("no-dot"));
    }
}
