//! Tests of `keys.rs`: generation, reloading, and instances sharing a directory.

use super::*;

#[test]
fn rfc7638_thumbprint_of_the_rfc_example_key() {
    // RFC 7638 §3.1's RSA key and its published thumbprint.
    let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
    let jwk = Jwk::from_bytes(format!(
        r#"{{"kty":"RSA","n":"{n}","e":"AQAB","alg":"RS256","kid":"2011-04-29"}}"#
    ))
    .unwrap();
    assert_eq!(
        thumbprint(&jwk, &["e", "kty", "n"]),
        "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
    );
}

#[test]
fn keys_are_generated_once_and_reloaded() {
    let dir = tempfile::tempdir().unwrap();
    let first = SigningKeys::load_or_generate(dir.path()).unwrap();
    let again = SigningKeys::load_or_generate(dir.path()).unwrap();
    assert_eq!(first.jwks(), again.jwks());
    let keys = first.jwks()["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3);
    assert!(keys.iter().all(|k| k.get("d").is_none() && k["kid"].is_string()));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(dir.path().join("es256.pem")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

#[test]
fn instances_starting_together_on_one_directory_keep_the_same_keys() {
    let dir = tempfile::tempdir().unwrap();
    let start = std::sync::Barrier::new(3);
    let sets: Vec<(Value, Vec<String>)> = std::thread::scope(|scope| {
        let runs: Vec<_> = (0..3)
            .map(|_| {
                scope.spawn(|| {
                    start.wait();
                    let keys = SigningKeys::load_at(dir.path(), 0).expect("every instance loads a full set");
                    let saml = keys.saml().unwrap().files().iter().map(|f| f.kid.clone()).collect();
                    (keys.jwks().clone(), saml)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    assert!(
        sets.windows(2).all(|w| w[0] == w[1]),
        "one set of keys, the first written"
    );
    let again = SigningKeys::load_at(dir.path(), 0).unwrap();
    assert_eq!(again.jwks(), &sets[0].0);
}
