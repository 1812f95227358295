//! Property tests for the parsers that face the network: form bodies,
//! `binding_message`, scopes, device proofs and decisions, client JWTs and
//! P-256 JWKs. Arbitrary input yields an error, never a panic; valid input
//! round-trips. The last tests send generated bodies and headers through a
//! running trustid and hold every answer to the error contract.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Map, Value, json};

use common::*;
use trustid::clock::Clock;
use trustid::crypto::device_jws::{self, DECISION_TYP, PROOF_TYP};
use trustid::crypto::jwt;
use trustid::crypto::p256_jwk::P256Jwk;
use trustid::domain::binding_message::{ActionContext, BindingMessage, MAX_DISPLAY_CHARS};
use trustid::domain::client::SigningAlg;
use trustid::domain::scope::{self, Scope};
use trustid::oidc::form::Params;

/// Bounded so the whole file runs in a few seconds in a debug build.
fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

const NOW: i64 = 1_767_225_600;
const SKEW: i64 = 120;
const HTU: &str = "http://127.0.0.1:8080/device/v1/inbox";

// ---------------------------------------------------------------- strategies

/// Any JSON value, nested a few levels.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<u64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| serde_json::Number::from_f64(f).map_or(Value::Null, Value::Number)),
        ".{0,24}".prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(".{0,12}", inner, 0..6).prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

/// Numbers a signed claim may carry, extremes included (random i64s almost
/// never land near them). `iat` values at or below `i64::MIN + NOW` are left
/// to `extreme_iat_is_refused_without_overflow` (ignored: a known server bug);
/// add `Just(json!(i64::MIN))` here once it is fixed.
fn claim_number() -> impl Strategy<Value = Value> {
    prop_oneof![
        Just(json!(NOW)),
        (-1_000i64..1_000).prop_map(|d| json!(NOW + d)),
        Just(json!(i64::MIN / 2)),
        Just(json!(i64::MAX)),
        Just(json!(i64::MAX - 1)),
        Just(json!(u64::MAX)),
        Just(json!(1e300)),
        Just(json!(-1.5)),
        Just(json!(NOW as f64 + 0.5)),
        Just(json!(-1)),
        (i64::MIN / 2..i64::MAX).prop_map(Value::from),
    ]
}

/// A member that is usually `valid`, sometimes absent or any JSON.
fn member<S: Strategy<Value = Value> + 'static>(valid: S) -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        6 => valid.prop_map(Some),
        1 => Just(None),
        1 => json_value().prop_map(Some),
    ]
}

fn object_of(members: Vec<(&'static str, Option<Value>)>) -> Value {
    Value::Object(
        members
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect(),
    )
}

/// A claim value: mostly plausible strings, sometimes any JSON.
fn claim_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => "[A-Za-z0-9_-]{0,60}".prop_map(Value::from),
        1 => claim_number(),
        1 => json_value(),
    ]
}

fn text(re: &'static str) -> impl Strategy<Value = Value> {
    re.prop_map(Value::from)
}

/// A JSON object with some of `names` (values from `claim_value`) and some noise.
fn claims_object(names: &'static [&'static str]) -> impl Strategy<Value = Map<String, Value>> {
    (
        prop::collection::vec((prop::sample::select(names), claim_value()), 0..names.len() + 2),
        prop::collection::btree_map("[a-z]{1,6}", json_value(), 0..2),
    )
        .prop_map(|(known, noise)| {
            let mut map: Map<String, Value> = noise.into_iter().collect();
            for (k, v) in known {
                map.insert(k.to_owned(), v);
            }
            map
        })
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Strings shaped like compact JWSs, broken in every way.
fn jws_like() -> impl Strategy<Value = String> {
    let part = prop_oneof![
        "[A-Za-z0-9_-]{0,40}",
        json_value().prop_map(|v| b64(v.to_string().as_bytes())),
        prop::collection::vec(any::<u8>(), 0..48).prop_map(|b| b64(&b)),
        ".{0,8}",
    ];
    prop_oneof![
        ".{0,200}",
        prop::collection::vec(part, 0..6).prop_map(|parts| parts.join(".")),
    ]
}

/// A fixed device key (deterministic, so shrinking is stable).
fn fixed_key(seed: u8) -> p256::ecdsa::SigningKey {
    let mut bytes = [seed; 32];
    bytes[0] = 1;
    p256::ecdsa::SigningKey::from_slice(&bytes).unwrap()
}

// ------------------------------------------------------------------- forms

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn any_form_body_parses_or_is_refused(body in prop::collection::vec(any::<u8>(), 0..256)) {
        if let Ok(params) = Params::parse(&body) {
            // Whatever was kept is non-empty and readable back.
            for (k, v) in form_urlencoded::parse(&body) {
                if !v.is_empty() {
                    prop_assert_eq!(params.get(&k), Some(v.as_ref()));
                }
            }
        }
    }

    #[test]
    fn a_form_round_trips_and_a_repeat_is_refused(
        // NUL is refused (no store can hold it): see the test below.
        pairs in prop::collection::btree_map("[^\\x00]{1,12}", "[^\\x00]{0,24}", 1..8),
    ) {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        for (k, v) in &pairs {
            ser.append_pair(k, v);
        }
        let body = ser.finish();
        let params = Params::parse(body.as_bytes()).unwrap();
        for (k, v) in &pairs {
            let expected = if v.is_empty() { None } else { Some(v.as_str()) };
            prop_assert_eq!(params.get(k), expected, "{}", body);
        }
        if let Some((k, v)) = pairs.iter().find(|(_, v)| !v.is_empty()) {
            let mut ser = form_urlencoded::Serializer::new(body.clone());
            ser.append_pair(k, v);
            prop_assert!(Params::parse(ser.finish().as_bytes()).is_err(), "repeated `{}`", k);
        }
    }
}

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn a_nul_anywhere_in_a_form_is_refused(key in "[a-z]{1,8}", before in "[a-z]{0,8}", after in "[a-z]{0,8}") {
        let mut ser = form_urlencoded::Serializer::new(String::new());
        ser.append_pair(&key, &format!("{before}\0{after}"));
        prop_assert!(Params::parse(ser.finish().as_bytes()).is_err());
    }
}

// ---------------------------------------------------------- binding message

fn check_display(text: &str) -> Result<(), TestCaseError> {
    prop_assert!(!text.trim().is_empty(), "blank text accepted: {text:?}");
    prop_assert!(text.chars().count() <= MAX_DISPLAY_CHARS, "long text accepted");
    prop_assert!(
        !text.chars().any(char::is_control),
        "control character accepted: {text:?}"
    );
    Ok(())
}

/// Text a phone can show (non-blank, bounded, no control characters) that
/// does not look like JSON.
fn plain_text() -> impl Strategy<Value = String> {
    "\\PC{1,256}".prop_filter("plain, non-blank text", |t| {
        !t.trim().is_empty() && !t.trim_start().starts_with('{')
    })
}

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn any_binding_message_parses_or_is_refused(raw in prop_oneof![
        ".{0,300}",
        "\\{.{0,120}",
        json_value().prop_map(|v| v.to_string()),
        claims_object(&["action_context", "appId", "bindingMessage", "userStatus"])
            .prop_map(|m| Value::Object(m).to_string()),
    ]) {
        if let Ok(m) = BindingMessage::parse(&raw) {
            check_display(&m.display_text)?;
            if let Some(app) = &m.app_id {
                prop_assert!(!app.trim().is_empty() && app.len() <= 128 && !app.chars().any(char::is_control));
            }
            if m.context == ActionContext::Provisioning {
                prop_assert!(m.app_id.is_some(), "provisioning without appId: {raw}");
            } else {
                prop_assert!(m.user_status.is_none(), "userStatus outside provisioning: {raw}");
            }
        }
    }

    #[test]
    fn printable_text_is_plain_authentication_text(text in plain_text()) {
        let m = BindingMessage::parse(&text).unwrap();
        prop_assert_eq!(m.context, ActionContext::Authentication);
        prop_assert_eq!(m.display_text, text);
        prop_assert_eq!(m.app_id, None);
    }

    #[test]
    fn text_with_a_control_character_is_refused(
        (before, c, after) in ("\\PC{0,100}", prop::char::range('\0', '\u{1f}'), "\\PC{0,100}"),
    ) {
        let raw = format!("x{before}{c}{after}");
        prop_assert!(BindingMessage::parse(&raw).is_err(), "{raw:?}");
    }

    #[test]
    fn overlong_text_is_refused(text in "[a-z ]{257,400}") {
        let raw = format!("x{text}");
        prop_assert!(BindingMessage::parse(&raw).is_err(), "{} characters", raw.chars().count());
    }

    #[test]
    fn a_structured_message_round_trips(
        text in plain_text(),
        app in "[A-Za-z0-9._-]{1,128}",
        provisioning in any::<bool>(),
        status in prop::option::of(prop::sample::select(&["active", "locked"][..])),
    ) {
        let mut obj = json!({"appId": app, "bindingMessage": text});
        obj["action_context"] = json!(if provisioning { "provisioning" } else { "authentication" });
        if let (true, Some(s)) = (provisioning, status) {
            obj["userStatus"] = json!(s);
        }
        let m = BindingMessage::parse(&obj.to_string()).unwrap();
        prop_assert_eq!(&m.display_text, &text);
        prop_assert_eq!(m.app_id.as_deref(), Some(app.as_str()));
        let context = if provisioning { ActionContext::Provisioning } else { ActionContext::Authentication };
        prop_assert_eq!(m.context, context);
        if !provisioning {
            // userStatus is refused outside provisioning.
            obj["userStatus"] = json!("active");
            prop_assert!(BindingMessage::parse(&obj.to_string()).is_err());
        }
    }
}

// ------------------------------------------------------------------- scope

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn any_scope_parses_or_is_refused(raw in prop_oneof![
        ".{0,64}",
        prop::collection::vec(prop_oneof![prop::sample::select(&scope::SUPPORTED[..]).prop_map(str::to_owned), "[a-z_]{0,8}"], 0..6)
            .prop_map(|v| v.join(" ")),
    ]) {
        if let Ok(s) = Scope::parse(&raw) {
            let values: Vec<&str> = s.as_str().split(' ').collect();
            prop_assert!(values.contains(&"openid"));
            for v in &values {
                prop_assert!(scope::SUPPORTED.contains(v), "{v}");
                prop_assert_eq!(values.iter().filter(|x| *x == v).count(), 1, "duplicate {}", v);
            }
        }
    }

    #[test]
    fn supported_scopes_with_openid_are_accepted(
        values in prop::collection::vec(prop::sample::select(&scope::SUPPORTED[..]), 0..8),
        spaces in prop::collection::vec(1usize..3, 8),
    ) {
        let mut all = values.clone();
        all.push("openid");
        let raw: String = all.iter().zip(&spaces).map(|(v, n)| format!("{v}{}", " ".repeat(*n))).collect();
        let s = Scope::parse(&raw).unwrap();
        let mut got: Vec<&str> = s.as_str().split(' ').collect();
        let mut want = all.clone();
        got.sort_unstable();
        want.sort_unstable();
        want.dedup();
        prop_assert_eq!(got, want);
    }
}

// -------------------------------------------------------------- device JWS

fn signed(key: &p256::ecdsa::SigningKey, header: &Value, payload: &Value) -> String {
    sign_jws(key, header, payload)
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_string_is_no_device_proof(token in jws_like(), method in "[A-Z]{0,7}") {
        prop_assert!(device_jws::verify_proof(&token, &method, HTU, NOW, SKEW).is_err());
    }

    #[test]
    fn any_string_is_no_decision(token in jws_like()) {
        let auth = P256Jwk::from_value(&public_jwk(&fixed_key(7))).unwrap();
        prop_assert!(device_jws::verify_decision(&token, &auth, NOW, SKEW).is_err());
        let _ = device_jws::check_decision_shape(&token);
    }

    /// A proof signed with the key in its own header but with arbitrary
    /// header members and mostly plausible claims: only a well-formed, fresh
    /// one passes.
    #[test]
    fn signed_proofs_with_arbitrary_claims_are_checked(
        header_extra in claims_object(&["typ", "alg", "jwk", "kid"]),
        htm in member(prop_oneof![Just(json!("GET")), Just(json!("get")), Just(json!("POST"))]),
        htu in member(prop_oneof![Just(json!(HTU)), Just(json!(format!("{HTU}/"))), text("http://[a-z0-9.:/]{0,40}")]),
        iat in member(claim_number()),
        jti in member(text("[A-Za-z0-9_-]{0,140}")),
    ) {
        let key = fixed_key(3);
        let mut header = json!({"typ": PROOF_TYP, "alg": "ES256", "jwk": public_jwk(&key)});
        for (k, v) in header_extra {
            header[k] = v;
        }
        let claims = object_of(vec![("htm", htm), ("htu", htu), ("iat", iat), ("jti", jti)]);
        let token = signed(&key, &header, &claims);
        if let Ok(proof) = device_jws::verify_proof(&token, "GET", HTU, NOW, SKEW) {
            prop_assert_eq!(&claims["htu"], &json!(HTU));
            prop_assert!(claims["htm"].as_str().is_some_and(|m| m.eq_ignore_ascii_case("GET")));
            prop_assert!((proof.iat - NOW).abs() <= SKEW);
            prop_assert!((16..=128).contains(&proof.jti.len()));
        }
    }

    /// The same for decisions signed with the registered auth key.
    #[test]
    fn signed_decisions_with_arbitrary_claims_are_checked(
        header_extra in claims_object(&["typ", "alg", "kid"]),
        txn in member(text("[A-Za-z0-9_-]{0,30}")),
        nonce in member(text("[A-Za-z0-9_-]{0,50}")),
        decision in member(prop_oneof![Just(json!("approve")), Just(json!("deny")), text("[a-zA-Z]{0,8}")]),
        bm_hash in member(text("[A-Za-z0-9_-]{0,50}")),
        iat in member(claim_number()),
    ) {
        let key = fixed_key(5);
        let auth = P256Jwk::from_value(&public_jwk(&key)).unwrap();
        let mut header = json!({"typ": DECISION_TYP, "alg": "ES256"});
        for (k, v) in header_extra {
            header[k] = v;
        }
        let claims = object_of(vec![
            ("txn", txn), ("nonce", nonce), ("decision", decision), ("bm_hash", bm_hash), ("iat", iat),
        ]);
        let token = signed(&key, &header, &claims);
        let shape = device_jws::check_decision_shape(&token);
        if let Ok(d) = device_jws::verify_decision(&token, &auth, NOW, SKEW) {
            prop_assert!(shape.is_ok());
            prop_assert!((d.iat - NOW).abs() <= SKEW);
            prop_assert_eq!(json!(d.decision.as_str()), claims["decision"].clone());
        }
    }

}

proptest! {
    // Three signatures and verifications per case: fewer cases.
    #![proptest_config(config(64))]

    #[test]
    fn well_formed_proofs_verify(jti in "[A-Za-z0-9_-]{16,128}", drift in -SKEW..=SKEW, lower in any::<bool>()) {
        let key = fixed_key(9);
        let header = json!({"typ": if lower { "DPoP+JWT" } else { PROOF_TYP }, "alg": "ES256", "jwk": public_jwk(&key)});
        let token = signed(&key, &header, &json!({"htm": "get", "htu": HTU, "iat": NOW + drift, "jti": jti}));
        let proof = device_jws::verify_proof(&token, "GET", HTU, NOW, SKEW).unwrap();
        prop_assert_eq!(proof.jti, jti);
        prop_assert_eq!(proof.device_id, P256Jwk::from_value(&public_jwk(&key)).unwrap().thumbprint());
        // Signed by another key than the one in the header: refused.
        let forged = signed(&fixed_key(10), &header, &json!({"htm": "GET", "htu": HTU, "iat": NOW, "jti": "0123456789abcdef"}));
        prop_assert!(device_jws::verify_proof(&forged, "GET", HTU, NOW, SKEW).is_err());
    }
}

/// Freshness is `|iat - now| <= skew`; the subtraction must not overflow
/// for an `iat` near `i64::MIN` (a panic in a debug build, and in a release
/// build a wrap that makes exactly `iat = i64::MIN + now` look fresh).
#[test]

fn extreme_iat_is_refused_without_overflow() {
    let key = fixed_key(11);
    let header = json!({"typ": PROOF_TYP, "alg": "ES256", "jwk": public_jwk(&key)});
    let auth = P256Jwk::from_value(&public_jwk(&key)).unwrap();
    for iat in [i64::MIN, i64::MIN + NOW, i64::MIN + NOW - 1, i64::MIN + 1] {
        let proof = signed(
            &key,
            &header,
            &json!({"htm": "GET", "htu": HTU, "iat": iat, "jti": "0123456789abcdef"}),
        );
        let verdict = std::panic::catch_unwind(|| device_jws::verify_proof(&proof, "GET", HTU, NOW, SKEW).is_err());
        assert_eq!(
            verdict.ok(),
            Some(true),
            "proof with iat {iat} must be refused, without a panic"
        );
        let decision = signed(
            &key,
            &json!({"typ": DECISION_TYP, "alg": "ES256"}),
            &json!({"txn": "t", "nonce": "n", "decision": "approve", "bm_hash": "h", "iat": iat}),
        );
        let verdict = std::panic::catch_unwind(|| device_jws::verify_decision(&decision, &auth, NOW, SKEW).is_err());
        assert_eq!(
            verdict.ok(),
            Some(true),
            "decision with iat {iat} must be refused, without a panic"
        );
    }
}

// ------------------------------------------------------------- client JWTs

/// JWK Sets with plausible and broken keys of both types.
fn jwks_value() -> impl Strategy<Value = Value> {
    let key = (
        prop::sample::select(&["EC", "RSA", "oct", "OKP"][..]),
        claims_object(&["crv", "x", "y", "n", "e", "kid", "alg", "use", "d"]),
    )
        .prop_map(|(kty, mut m)| {
            m.insert("kty".into(), json!(kty));
            Value::Object(m)
        });
    prop_oneof![
        prop::collection::vec(key, 0..4).prop_map(|keys| json!({"keys": keys})),
        json_value(),
    ]
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn any_string_is_no_verified_jwt(token in jws_like(), jwks in jwks_value()) {
        let _ = jwt::peek_header(&token);
        let _ = jwt::peek_claims(&token);
        prop_assert!(jwt::verify(&token, &jwks, &SigningAlg::ALL).is_err());
    }

    #[test]
    fn a_jwt_header_and_claims_are_peeked_as_objects(
        header in claims_object(&["alg", "kid", "typ"]),
        claims in json_value(),
        sig in "[A-Za-z0-9_-]{0,20}",
    ) {
        let token = format!(
            "{}.{}.{sig}",
            b64(Value::Object(header.clone()).to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        prop_assert_eq!(jwt::peek_header(&token).unwrap(), header);
        match (jwt::peek_claims(&token), claims) {
            (Ok(got), Value::Object(want)) => prop_assert_eq!(got, want),
            (Err(_), Value::Object(_)) => prop_assert!(false, "an object payload was refused"),
            (Ok(_), other) => prop_assert!(false, "a non-object payload was accepted: {other}"),
            (Err(_), _) => {}
        }
    }

    /// A JWT really signed by a key of the set verifies exactly when its
    /// payload is a JSON object, whatever else the header says.
    #[test]
    fn signed_jwts_verify_with_the_registered_key(
        header_extra in claims_object(&["typ", "cty", "crit", "b64", "jku", "x5u"]),
        payload in json_value(),
        with_kid in any::<bool>(),
    ) {
        let client = ClientKey::new("k1");
        let mut header = json!({"alg": "ES256"});
        for (k, v) in header_extra {
            header[k] = v;
        }
        if with_kid {
            header["kid"] = json!("k1");
        }
        let token = sign_jws(&client.key, &header, &payload);
        if let Ok(v) = jwt::verify(&token, &client.jwks(), &SigningAlg::ALL) {
            prop_assert_eq!(Value::Object(v.claims), payload);
        }
        // Never with an algorithm the caller does not allow.
        prop_assert!(jwt::verify(&token, &client.jwks(), &[SigningAlg::RS256]).is_err());
    }
}

#[test]
fn a_plainly_signed_jwt_verifies() {
    let client = ClientKey::new("k1");
    let token = client.sign(&json!({"iss": "me", "n": 1}));
    let v = jwt::verify(&token, &client.jwks(), &SigningAlg::ALL).unwrap();
    assert_eq!(v.claims["iss"], "me");
    assert!(jwt::verify(&token, &ClientKey::new("k1").jwks(), &SigningAlg::ALL).is_err());
}

// ------------------------------------------------------------------- JWKs

proptest! {
    #![proptest_config(config(512))]

    #[test]
    fn any_json_is_a_key_or_refused(v in prop_oneof![
        json_value(),
        claims_object(&["kty", "crv", "x", "y", "d"]).prop_map(Value::Object),
        (prop::collection::vec(any::<u8>(), 0..40), prop::collection::vec(any::<u8>(), 0..40))
            .prop_map(|(x, y)| json!({"kty": "EC", "crv": "P-256", "x": b64(&x), "y": b64(&y)})),
    ]) {
        if let Ok(k) = P256Jwk::from_value(&v) {
            prop_assert_eq!(&k.to_value()["x"], &v["x"]);
            prop_assert_eq!(k.thumbprint().len(), 43);
            prop_assert!(v.get("d").is_none());
        }
    }

    #[test]
    fn real_public_keys_round_trip(seed in prop::array::uniform32(any::<u8>()), extra in json_value()) {
        let Ok(key) = p256::ecdsa::SigningKey::from_slice(&seed) else { return Ok(()) };
        let mut jwk = public_jwk(&key);
        let canonical = jwk.clone();
        jwk["kid"] = extra;
        let parsed = P256Jwk::from_value(&jwk).unwrap();
        prop_assert_eq!(parsed.to_value(), canonical);
        let device = TestDevice { device_key: key.clone(), auth_key: key };
        prop_assert_eq!(parsed.thumbprint(), device.id());
        jwk["d"] = json!("c2VjcmV0");
        prop_assert!(P256Jwk::from_value(&jwk).is_err(), "a private key is refused");
    }
}

// ------------------------------------------------------- over HTTP, end to end

/// Names the OAuth endpoints read, so generated forms reach deep checks.
const FORM_NAMES: &[&str] = &[
    "scope",
    "login_hint",
    "login_hint_token",
    "id_token_hint",
    "binding_message",
    "requested_expiry",
    "acr_values",
    "client_notification_token",
    "user_code",
    "request",
    "request_uri",
    "request_context",
    "grant_type",
    "auth_req_id",
    "refresh_token",
    "client_id",
    "client_secret",
    "client_assertion",
    "client_assertion_type",
    "token",
    "token_type_hint",
];

fn form_value() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("openid".to_owned()),
        Just("openid email phone offline_access".to_owned()),
        Just("alice".to_owned()),
        Just(CIBA_GRANT.to_owned()),
        Just("refresh_token".to_owned()),
        Just("urn:ietf:params:oauth:client-assertion-type:jwt-bearer".to_owned()),
        Just(r#"{"action_context":"provisioning","appId":"bank","bindingMessage":"Enrol"}"#.to_owned()),
        "-?[0-9]{1,25}",
        "[A-Za-z0-9_-]{1,60}",
        jws_like(),
        ".{0,80}",
    ]
}

#[derive(Debug, Clone)]
enum Auth {
    None,
    Basic,
    WrongBasic,
    Garbage(String),
}

fn auth() -> impl Strategy<Value = Auth> {
    prop_oneof![
        1 => Just(Auth::None),
        3 => Just(Auth::Basic),
        1 => Just(Auth::WrongBasic),
        1 => "[ -~]{0,40}".prop_map(Auth::Garbage),
    ]
}

/// A form body: a valid request for one of the endpoints with generated
/// parameters added or replaced, generated pairs alone, or raw bytes.
fn form_body() -> impl Strategy<Value = Vec<u8>> {
    let pair = prop_oneof![
        4 => (prop::sample::select(FORM_NAMES).prop_map(str::to_owned), form_value()),
        1 => (".{0,10}", ".{0,20}"),
    ];
    const BASES: [&[(&str, &str)]; 5] = [
        &[],
        &[
            ("scope", "openid email"),
            ("login_hint", "alice"),
            ("binding_message", "Pay 10 EUR"),
        ],
        &[
            ("grant_type", CIBA_GRANT),
            ("auth_req_id", "TEZZ5f2Bv3vwy93dhv3zNzKndNrjcTlIeH0ZphoXrVM"),
        ],
        &[
            ("grant_type", "refresh_token"),
            ("refresh_token", "q8ZtW2mXn4Lr7Kc1VbJ9sYd3Fh6Gp0Ta5Ue8Oi2RwQk"),
        ],
        &[("token", "L31EqqHvlrbkdF_wa0cQjrbmu0VK9Z2Tqp2weTzQSeA")],
    ];
    let base = prop::sample::select(&BASES[..]);
    prop_oneof![
        6 => (base, prop::collection::vec(pair, 0..5), any::<bool>()).prop_map(|(base, pairs, replace)| {
            let mut all: Vec<(String, String)> = base.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
            for (k, v) in pairs {
                match all.iter_mut().find(|(name, _)| *name == k) {
                    Some(slot) if replace => slot.1 = v,
                    _ => all.push((k, v)),
                }
            }
            let mut ser = form_urlencoded::Serializer::new(String::new());
            for (k, v) in &all {
                ser.append_pair(k, v);
            }
            ser.finish().into_bytes()
        }),
        1 => prop::collection::vec(any::<u8>(), 0..200),
    ]
}

fn content_type() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        6 => Just(Some("application/x-www-form-urlencoded".to_owned())),
        1 => Just(Some("Application/X-WWW-Form-Urlencoded; charset=utf-8".to_owned())),
        1 => Just(Some("application/json".to_owned())),
        1 => Just(None),
        1 => "[ -~]{0,30}".prop_map(Some),
    ]
}

fn runner(cases: u32) -> TestRunner {
    TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    })
}

/// A 4xx is the OAuth error object and nothing else.
fn check_oauth_answer(what: &str, answer: &Answer, ok_status: &[u16]) -> Result<(), TestCaseError> {
    prop_assert!(answer.status < 500, "{what}: {} {}", answer.status, answer.body);
    if ok_status.contains(&answer.status) {
        return Ok(());
    }
    prop_assert!(
        (400..500).contains(&answer.status),
        "{what}: {} {}",
        answer.status,
        answer.body
    );
    let obj = answer.body.as_object();
    prop_assert!(obj.is_some(), "{what}: not JSON: {}", answer.body);
    let obj = obj.unwrap();
    let mut keys: Vec<&str> = obj.keys().map(String::as_str).collect();
    keys.sort_unstable();
    prop_assert_eq!(keys, vec!["error", "error_description"], "{}: {}", what, answer.body);
    prop_assert!(
        obj["error"].is_string() && obj["error_description"].is_string(),
        "{what}"
    );
    prop_assert!(
        answer
            .header("content-type")
            .unwrap_or("")
            .starts_with("application/json"),
        "{what}"
    );
    prop_assert_eq!(answer.header("cache-control"), Some("no-store"), "{}", what);
    Ok(())
}

#[test]
fn generated_forms_at_the_oauth_endpoints_get_oauth_errors_never_5xx() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (app, client) = rt.block_on(async {
        let app = spawn_app_with(|s| s.client_requests_per_minute = 100_000).await;
        let client = app.client(SigningAlg::ES256).await;
        app.user_with_device("alice").await;
        (app, client)
    });
    // 200 is allowed where a generated request can be valid.
    const ENDPOINTS: [(&str, &[u16]); 4] = [
        ("/bc-authorize", &[200]),
        ("/token", &[]),
        ("/introspect", &[200]),
        ("/revoke", &[200]),
    ];
    let mut runner = runner(160);
    let strategy = (
        prop::sample::select(&ENDPOINTS[..]),
        form_body(),
        auth(),
        content_type(),
    );
    runner
        .run(&strategy, |((path, ok), body, auth, ctype)| {
            rt.block_on(async {
                let mut req = app.http.post(app.url(path)).body(body.clone());
                if let Some(ct) = &ctype {
                    req = req.header("content-type", ct);
                }
                req = match &auth {
                    Auth::None => req,
                    Auth::Basic => req.basic_auth(&client.client_id, Some(client.secret())),
                    Auth::WrongBasic => req.basic_auth(&client.client_id, Some("wrong")),
                    Auth::Garbage(v) => req.header("authorization", v),
                };
                let answer = Answer::from(req.send().await.unwrap()).await;
                let what = format!("POST {path} {:?} {auth:?} {ctype:?}", String::from_utf8_lossy(&body));
                check_oauth_answer(&what, &answer, ok)
            })
        })
        .unwrap();
}

/// The device API answers generated proofs and bodies with its own error
/// object, never a 5xx.
#[test]
fn generated_device_requests_get_api_errors_never_5xx() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let app = rt.block_on(async {
        let app = spawn_app().await;
        let client = app.client(SigningAlg::ES256).await;
        app.user_with_device("alice").await;
        app.start(&client, "alice", "Pay 10 EUR").await;
        app
    });
    let device = TestDevice::new();
    let body = prop_oneof![
        json_value().prop_map(|v| v.to_string().into_bytes()),
        claims_object(&["auth_key", "decision_jws"]).prop_map(|m| Value::Object(m).to_string().into_bytes()),
        prop::collection::vec(any::<u8>(), 0..100),
    ];
    let target = prop::sample::select(
        &[
            ("POST", "/device/v1/devices"),
            ("GET", "/device/v1/inbox"),
            ("POST", "/device/v1/transactions/AAAAAAAAAAAAAAAAAAAAAA/decision"),
        ][..],
    );
    // A proof: garbage, or a real one (for the target or another path).
    let proof = prop_oneof![jws_like().prop_map(Some), Just(None), Just(Some(String::new()))];
    let mut runner = runner(64);
    runner
        .run(
            &(target, proof, body, any::<bool>()),
            |((method, path), proof, body, real)| {
                rt.block_on(async {
                    let mut req = app
                        .http
                        .request(method.parse().unwrap(), app.url(path))
                        .header("content-type", "application/json")
                        .body(body.clone());
                    let header = if real {
                        Some(device.proof(&app, method, path))
                    } else {
                        proof.clone()
                    };
                    if let Some(h) = header.filter(|h| reqwest::header::HeaderValue::from_str(h).is_ok()) {
                        req = req.header("DPoP", h);
                    }
                    let answer = Answer::from(req.send().await.unwrap()).await;
                    let what = format!(
                        "{method} {path} real={real} {proof:?} {:?}",
                        String::from_utf8_lossy(&body)
                    );
                    prop_assert!(answer.status < 500, "{what}: {} {}", answer.status, answer.body);
                    if answer.status >= 400 {
                        let obj = answer.body.as_object();
                        prop_assert!(obj.is_some(), "{what}: not JSON: {}", answer.body);
                        let mut keys: Vec<&str> = obj.unwrap().keys().map(String::as_str).collect();
                        keys.sort_unstable();
                        prop_assert_eq!(keys, vec!["error", "message"], "{}: {}", what, answer.body);
                        prop_assert_eq!(answer.header("cache-control"), Some("no-store"), "{}", what);
                    }
                    Ok(())
                })
            },
        )
        .unwrap();
}

// ------------------------------------- signed requests and client assertions

const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// A NumericDate relative to the server's clock, or an absolute oddity.
#[derive(Debug, Clone)]
enum Time {
    Rel(i64),
    Abs(Value),
}

impl Time {
    fn at(&self, now: i64) -> Value {
        match self {
            Time::Rel(d) => json!(now + d),
            Time::Abs(v) => v.clone(),
        }
    }
}

/// Times that keep `exp + skew` and `exp - nbf` in range: the values that
/// overflow are `request_times_near_the_i64_limits_are_refused_without_overflow`'s
/// (ignored: a known server bug); add `i64::MAX`, `i64::MIN`, `1e300` here
/// once it is fixed.
fn time() -> impl Strategy<Value = Time> {
    prop_oneof![
        6 => (-4_000i64..4_000).prop_map(Time::Rel),
        1 => prop_oneof![
            Just(json!(i64::MAX / 4)),
            Just(json!(i64::MIN / 4)),
            Just(json!(0)),
            Just(json!(-1)),
            Just(json!(0.5)),
            Just(json!(1e15)),
            Just(json!("1767225600")),
            Just(Value::Null),
            json_value(),
        ]
        .prop_map(Time::Abs),
    ]
}

fn opt<T: std::fmt::Debug + Clone>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
    prop_oneof![6 => s.prop_map(Some), 1 => Just(None)]
}

/// Who a JWT claims to be from or for: the right value, a wrong one, or junk.
#[derive(Debug, Clone, Copy)]
enum Name {
    Right,
    Other,
    Junk,
}

fn name() -> impl Strategy<Value = Name> {
    prop_oneof![6 => Just(Name::Right), 1 => Just(Name::Other), 1 => Just(Name::Junk)]
}

#[derive(Debug, Clone)]
struct JwtCase {
    fapi: bool,
    assertion: AssertionCase,
    /// The request object (or none: plain form parameters).
    request: Option<RequestCase>,
    form: Vec<(&'static str, String)>,
}

#[derive(Debug, Clone)]
struct RequestCase {
    iss: Name,
    aud: Name,
    times: [Option<Time>; 3],
    jti: Option<String>,
    typ: Option<&'static str>,
    members: Vec<(&'static str, Value)>,
}

/// A time `lo..hi` seconds from now, usually; sometimes anything.
fn time_near(lo: i64, hi: i64) -> BoxedStrategy<Option<Time>> {
    prop_oneof![4 => (lo..hi).prop_map(|d| Some(Time::Rel(d))), 1 => opt(time())].boxed()
}

/// `exp`, `iat` and `nbf`, mostly valid.
fn request_times() -> impl Strategy<Value = [Option<Time>; 3]> {
    [time_near(30, 600), time_near(-30, 1), time_near(-30, 1)]
}

fn request_case() -> impl Strategy<Value = RequestCase> {
    let member_value = prop_oneof![
        4 => form_value().prop_map(Value::from),
        1 => claim_number(),
        1 => json_value(),
    ];
    let valid = [
        ("scope", json!("openid")),
        ("login_hint", json!("alice")),
        ("binding_message", json!("Pay 10 EUR")),
    ];
    (
        name(),
        name(),
        request_times(),
        prop_oneof![4 => "[A-Za-z0-9_-]{8,40}".prop_map(Some), 1 => opt("[A-Za-z0-9_-]{0,40}")],
        opt(prop::sample::select(
            &["oauth-authz-req+jwt", "JWT", "jwt", "dpop+jwt", ""][..],
        )),
        prop::collection::vec(
            (
                prop::sample::select(
                    &[
                        "scope",
                        "login_hint",
                        "login_hint_token",
                        "id_token_hint",
                        "binding_message",
                        "requested_expiry",
                        "acr_values",
                        "client_notification_token",
                        "user_code",
                        "request_context",
                        "client_id",
                    ][..],
                ),
                member_value,
            ),
            0..4,
        ),
    )
        .prop_map(move |(iss, aud, times, jti, typ, extra)| RequestCase {
            iss,
            aud,
            times,
            jti,
            typ,
            members: valid.iter().cloned().chain(extra).collect(),
        })
}

/// A valid client assertion, or one with generated defects.
#[derive(Debug, Clone)]
struct AssertionCase {
    iss: Name,
    sub: Name,
    aud: Name,
    exp: Option<Time>,
    jti: Option<String>,
    alg: &'static str,
}

fn assertion_case() -> impl Strategy<Value = AssertionCase> {
    let valid = "[A-Za-z0-9_-]{16,40}".prop_map(|jti| AssertionCase {
        iss: Name::Right,
        sub: Name::Right,
        aud: Name::Right,
        exp: Some(Time::Rel(60)),
        jti: Some(jti),
        alg: "ES256",
    });
    let defective = (
        (name(), name(), name()),
        opt(time()),
        opt("[A-Za-z0-9_-]{0,40}"),
        prop::sample::select(&["ES256", "ES256", "RS256", "PS256", "none", "HS256"][..]),
    )
        .prop_map(|((iss, sub, aud), exp, jti, alg)| AssertionCase {
            iss,
            sub,
            aud,
            exp,
            jti,
            alg,
        });
    prop_oneof![3 => valid, 1 => defective]
}

fn jwt_case() -> impl Strategy<Value = JwtCase> {
    (
        any::<bool>(),
        assertion_case(),
        prop_oneof![6 => request_case().prop_map(Some), 1 => Just(None)],
        prop::collection::vec(
            (
                prop::sample::select(&["scope", "login_hint", "binding_message", "request_uri", "client_id"][..]),
                form_value(),
            ),
            0..2,
        ),
    )
        .prop_map(|(fapi, assertion, request, form)| JwtCase {
            fapi,
            assertion,
            request,
            form,
        })
}

fn named(n: Name, right: &str) -> Value {
    match n {
        Name::Right => json!(right),
        Name::Other => json!("someone-else"),
        Name::Junk => json!([right, 1]),
    }
}

fn object(members: Vec<(&str, Option<Value>)>) -> Value {
    Value::Object(
        members
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| (k.to_owned(), v)))
            .collect(),
    )
}

/// Private_key_jwt clients (one FAPI-CIBA) that sign requests, with a user
/// who has a device, on a server whose rate limits do not get in the way.
struct Signers {
    app: TestApp,
    key: ClientKey,
    plain: String,
    fapi: String,
}

async fn signers() -> Signers {
    use trustid::domain::client::{AuthMethod, ClientMetadata};
    let app = spawn_app_with(|s| s.client_requests_per_minute = 100_000).await;
    let key = ClientKey::new("k1");
    let mut ids = Vec::new();
    for fapi in [false, true] {
        let mut m = ClientMetadata::poll("Signing Bank");
        m.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt;
        m.backchannel_authentication_request_signing_alg = Some(SigningAlg::ES256);
        m.jwks = Some(key.jwks());
        m.fapi_ciba = fapi;
        ids.push(app.register(m).await.client_id.into_string());
    }
    app.user_with_device("alice").await;
    let fapi = ids.pop().unwrap();
    let plain = ids.pop().unwrap();
    Signers { app, key, plain, fapi }
}

impl Signers {
    fn sign(&self, header: Value, claims: &Value) -> String {
        let mut header = header;
        header["kid"] = json!(self.key.kid);
        sign_jws(&self.key.key, &header, claims)
    }

    async fn send(&self, case: &JwtCase) -> Result<Answer, String> {
        let app = &self.app;
        let now = app.clock.now();
        let client_id = if case.fapi { &self.fapi } else { &self.plain };
        let url = app.url("/bc-authorize");
        let a = &case.assertion;
        let assertion = object(vec![
            ("iss", Some(named(a.iss, client_id))),
            ("sub", Some(named(a.sub, client_id))),
            ("aud", Some(named(a.aud, &url))),
            ("exp", a.exp.as_ref().map(|t| t.at(now))),
            ("jti", a.jti.clone().map(Value::from)),
        ]);
        let assertion = self.sign(json!({"alg": a.alg}), &assertion);
        let mut form: Vec<(&str, String)> = vec![
            ("client_assertion_type", JWT_BEARER.to_owned()),
            ("client_assertion", assertion),
        ];
        if let Some(r) = &case.request {
            let [exp, iat, nbf] = &r.times;
            let mut claims = object(vec![
                ("iss", Some(named(r.iss, client_id))),
                ("aud", Some(named(r.aud, &app.base))),
                ("exp", exp.as_ref().map(|t| t.at(now))),
                ("iat", iat.as_ref().map(|t| t.at(now))),
                ("nbf", nbf.as_ref().map(|t| t.at(now))),
                ("jti", r.jti.clone().map(Value::from)),
            ]);
            for (k, v) in &r.members {
                claims[*k] = v.clone();
            }
            let mut header = json!({"alg": "ES256"});
            if let Some(typ) = r.typ {
                header["typ"] = json!(typ);
            }
            form.push(("request", self.sign(header, &claims)));
        }
        form.extend(case.form.iter().cloned());
        let res = app.http.post(&url).form(&form).send().await;
        match res {
            Ok(res) => Ok(Answer::from(res).await),
            Err(e) => Err(format!("no answer (did the handler panic?): {e}")),
        }
    }
}

/// Client assertions and signed requests with arbitrary claims, really
/// signed with the client's registered key so they reach every check.
#[test]
fn generated_assertions_and_signed_requests_get_oauth_errors_never_5xx() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let signers = rt.block_on(signers());
    let mut runner = runner(160);
    runner
        .run(&jwt_case(), |case| {
            rt.block_on(async {
                let answer = signers.send(&case).await;
                prop_assert!(answer.is_ok(), "{case:?}: {}", answer.err().unwrap_or_default());
                check_oauth_answer(&format!("{case:?}"), &answer.unwrap(), &[200])
            })
        })
        .unwrap();
}

/// A signed request whose `exp` (or `nbf`) is a NumericDate near the i64
/// limits: `exp + skew` (the jti's memory) and, for FAPI-CIBA clients,
/// `exp - nbf` overflow. Debug builds panic in the handler (the connection
/// closes without an answer); release builds wrap, so a request with
/// `exp: 1e300` has its jti remembered until a time in the past, that is
/// not at all, and the same signed request is accepted again and again.
#[test]

fn request_times_near_the_i64_limits_are_refused_without_overflow() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let signers = rt.block_on(signers());
    let request = |fapi: bool, exp: Value, nbf: Value| JwtCase {
        fapi,
        assertion: AssertionCase {
            iss: Name::Right,
            sub: Name::Right,
            aud: Name::Right,
            exp: Some(Time::Rel(60)),
            jti: Some(new_jti()),
            alg: "ES256",
        },
        request: Some(RequestCase {
            iss: Name::Right,
            aud: Name::Right,
            times: [Some(Time::Abs(exp)), Some(Time::Rel(0)), Some(Time::Abs(nbf))],
            jti: Some("one-jti-for-both-sends".into()),
            typ: None,
            members: vec![
                ("scope", json!("openid")),
                ("login_hint", json!("alice")),
                ("binding_message", json!("Pay 10 EUR")),
            ],
        }),
        form: vec![],
    };
    let now = signers.app.clock.now();
    rt.block_on(async {
        // exp + skew: the same signed request (one jti) must not start two transactions.
        for exp in [json!(1e300), json!(i64::MAX)] {
            let mut case = request(false, exp.clone(), json!(now));
            let first = signers.send(&case).await.unwrap_or_else(|e| panic!("exp {exp}: {e}"));
            assert!(first.status < 500, "exp {exp}: {}", first.body);
            case.assertion.jti = Some(new_jti());
            let again = signers
                .send(&case)
                .await
                .unwrap_or_else(|e| panic!("exp {exp}, again: {e}"));
            assert!(
                first.status != 200 || again.status != 200,
                "exp {exp}: the request jti was accepted twice"
            );
            signers.app.clock.advance_secs(1);
        }
        // exp - nbf for a FAPI-CIBA client.
        let mut case = request(true, json!(now + 60), json!(-1e300));
        case.assertion.jti = Some(new_jti());
        if let Some(r) = case.request.as_mut() {
            r.jti = Some(new_jti());
        }
        let answer = signers.send(&case).await.unwrap_or_else(|e| panic!("nbf -1e300: {e}"));
        assert_eq!(answer.status, 400, "{}", answer.body);
    });
}
