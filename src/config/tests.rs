//! Unit tests of `config.rs`: defaults, and each refusal naming its setting.

use super::*;

#[test]
fn defaults_are_valid() {
    assert!(Settings::default().validate().is_ok());
}

#[test]
fn invalid_values_name_the_setting() {
    type Mutation = fn(&mut Settings);
    let cases: Vec<(Mutation, &str)> = vec![
        (|s| s.issuer = "not a url".into(), "issuer"),
        (|s| s.issuer = "http://idp.example.com".into(), "issuer"),
        (|s| s.issuer = "https://idp.example.com/?x=1".into(), "issuer"),
        (|s| s.listen = "localhost".into(), "listen"),
        (|s| s.database_url = "mysql://x".into(), "database_url"),
        (|s| s.poll_interval = 0, "poll_interval"),
        (|s| s.access_token_ttl = -1, "access_token_ttl"),
        (|s| s.max_request_expiry = 10, "max_request_expiry"),
        (|s| s.fcm_base_url = "http://fcm.example.com".into(), "fcm_base_url"),
        (|s| s.apns_base_url = "ftp://apns.example.com".into(), "apns_base_url"),
        (
            |s| s.fcm_service_account = Some("/nonexistent/sa.json".into()),
            "fcm_service_account",
        ),
        (|s| s.apns_key_id = Some("ABC123DEFG".into()), "apns_key_file"),
    ];
    for (mutate, name) in cases {
        let mut s = Settings::default();
        mutate(&mut s);
        let err = s.validate().expect_err(name);
        assert_eq!(err.name, name);
        assert!(err.to_string().contains(name));
    }
}

#[test]
fn http_issuer_is_accepted_in_dev_mode() {
    let s = Settings {
        issuer: "http://idp.internal:8080".into(),
        dev: true,
        ..Settings::default()
    };
    assert!(s.validate().is_ok());
}
