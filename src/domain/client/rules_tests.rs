use super::*;
use serde_json::json;

#[test]
fn registration_rules_hold_and_name_the_member_at_fault() {
    type Mutation = fn(&mut ClientMetadata);
    const ENDPOINT: &str = "backchannel_client_notification_endpoint";
    let cases: Vec<(Mutation, &str, &str)> = vec![
        (|m| m.client_name = " ".into(), "client_name", "blank name"),
        (
            |m| m.backchannel_token_delivery_mode = DeliveryMode::Ping,
            ENDPOINT,
            "ping without endpoint",
        ),
        (
            |m| {
                m.backchannel_token_delivery_mode = DeliveryMode::Push;
                m.backchannel_client_notification_endpoint = Some("http://rp.example.com/cb".into());
            },
            ENDPOINT,
            "http endpoint",
        ),
        (
            |m| {
                m.backchannel_token_delivery_mode = DeliveryMode::Ping;
                m.backchannel_client_notification_endpoint = Some("https://10.0.0.7/cb".into());
            },
            ENDPOINT,
            "internal endpoint",
        ),
        (
            |m| m.backchannel_client_notification_endpoint = Some("https://rp.example.com/cb".into()),
            ENDPOINT,
            "poll with endpoint",
        ),
        (
            |m| m.token_endpoint_auth_method = AuthMethod::PrivateKeyJwt,
            "token_endpoint_auth_method",
            "private_key_jwt without keys",
        ),
        (
            |m| m.backchannel_authentication_request_signing_alg = Some(SigningAlg::ES256),
            "backchannel_authentication_request_signing_alg",
            "signed requests without keys",
        ),
        (|m| m.jwks = Some(json!({"nope": 1})), "jwks", "jwks not a set"),
        (
            |m| {
                m.jwks = Some(json!({"keys": []}));
                m.jwks_uri = Some("https://rp.example.com/jwks".into());
            },
            "jwks",
            "both jwks and jwks_uri",
        ),
        (
            |m| m.jwks_uri = Some("https://localhost/jwks".into()),
            "jwks_uri",
            "internal jwks_uri",
        ),
        (|m| m.fapi_ciba = true, "fapi_ciba", "FAPI with secrets"),
        (
            |m| m.push_relay_uri = Some("http://relay.example.com/push".into()),
            "push_relay_uri",
            "http push relay",
        ),
        (
            |m| m.login_hint_token_issuer = Some("https://idp.example.com".into()),
            "login_hint_token_issuer",
            "issuer without keys",
        ),
    ];
    for (mutate, member, why) in cases {
        let mut m = ClientMetadata::poll("Bank");
        mutate(&mut m);
        assert_eq!(
            m.validate(&OutboundRule::strict(), MtlsSupport::default())
                .map_err(|e| e.member),
            Err(member),
            "{why}"
        );
    }
    assert!(
        ClientMetadata::poll("Bank")
            .validate(&OutboundRule::strict(), MtlsSupport::default())
            .is_ok()
    );
}

#[test]
fn certificate_methods_need_the_servers_mtls_and_name_their_certificate_once() {
    type Mutation = fn(&mut ClientMetadata);
    let full = MtlsSupport {
        certificates: true,
        ca: true,
    };
    let no_ca = MtlsSupport {
        certificates: true,
        ca: false,
    };
    let cases: Vec<(Mutation, MtlsSupport, Result<(), &str>, &str)> = vec![
        (
            |m| {
                m.token_endpoint_auth_method = AuthMethod::TlsClientAuth;
                m.tls_client_auth_san_dns = Some("rp.example.com".into());
            },
            MtlsSupport::default(),
            Err("token_endpoint_auth_method"),
            "tls_client_auth without mtls",
        ),
        (
            |m| {
                m.token_endpoint_auth_method = AuthMethod::TlsClientAuth;
                m.tls_client_auth_san_dns = Some("rp.example.com".into());
            },
            no_ca,
            Err("token_endpoint_auth_method"),
            "tls_client_auth without mtls_ca",
        ),
        (
            |m| {
                m.token_endpoint_auth_method = AuthMethod::TlsClientAuth;
                m.tls_client_auth_san_dns = Some("rp.example.com".into());
            },
            full,
            Ok(()),
            "tls_client_auth by DNS name",
        ),
        (
            |m| {
                m.token_endpoint_auth_method = AuthMethod::TlsClientAuth;
                m.tls_client_auth_subject_dn = Some("CN=rp,O=Bank,C=SE".into());
            },
            full,
            Ok(()),
            "tls_client_auth by subject",
        ),
        (
            |m| m.token_endpoint_auth_method = AuthMethod::TlsClientAuth,
            full,
            Err("tls_client_auth_subject_dn"),
            "tls_client_auth naming nothing",
        ),
        (
            |m| {
                m.token_endpoint_auth_method = AuthMethod::TlsClientAuth;
                m.tls_client_auth_subject_dn = Some("CN=rp".into());
                m.tls_client_auth_san_dns = Some("rp.example.com".into());
            },
            full,
            Err("tls_client_auth_san_dns"),
            "tls_client_auth naming two",
        ),
        (
            |m| {
                m.token_endpoint_auth_method = AuthMethod::TlsClientAuth;
                m.tls_client_auth_subject_dn = Some("not a DN".into());
            },
            full,
            Err("tls_client_auth_subject_dn"),
            "unparsable subject",
        ),
        (
            |m| {
                m.token_endpoint_auth_method = AuthMethod::TlsClientAuth;
                m.tls_client_auth_san_ip = Some("10.0.0.300".into());
            },
            full,
            Err("tls_client_auth_san_ip"),
            "bad IP",
        ),
        (
            |m| m.tls_client_auth_san_dns = Some("rp.example.com".into()),
            full,
            Err("tls_client_auth_san_dns"),
            "subject with a secret method",
        ),
        (
            |m| m.token_endpoint_auth_method = AuthMethod::SelfSignedTlsClientAuth,
            full,
            Err("token_endpoint_auth_method"),
            "self-signed without keys",
        ),
        (
            |m| {
                m.token_endpoint_auth_method = AuthMethod::SelfSignedTlsClientAuth;
                m.jwks = Some(json!({"keys": [{"kty": "EC", "x5c": ["MIIB"]}]}));
            },
            no_ca,
            Ok(()),
            "self-signed needs no CA",
        ),
        (
            |m| {
                m.token_endpoint_auth_method = AuthMethod::SelfSignedTlsClientAuth;
                m.jwks = Some(json!({"keys": [{"kty": "EC"}]}));
            },
            full,
            Err("token_endpoint_auth_method"),
            "self-signed keys without a certificate",
        ),
        (
            |m| m.tls_client_certificate_bound_access_tokens = true,
            MtlsSupport::default(),
            Err("tls_client_certificate_bound_access_tokens"),
            "bound tokens without mtls",
        ),
        (
            |m| {
                m.tls_client_certificate_bound_access_tokens = true;
                m.backchannel_token_delivery_mode = DeliveryMode::Push;
                m.backchannel_client_notification_endpoint = Some("https://rp.example.com/cb".into());
            },
            full,
            Err("tls_client_certificate_bound_access_tokens"),
            "bound tokens in push mode",
        ),
        (
            |m| {
                m.fapi_ciba = true;
                m.token_endpoint_auth_method = AuthMethod::SelfSignedTlsClientAuth;
                m.jwks = Some(json!({"keys": [{"kty": "EC", "x5c": ["MIIB"]}]}));
                m.backchannel_authentication_request_signing_alg = Some(SigningAlg::PS256);
            },
            full,
            Err("fapi_ciba"),
            "FAPI without bound tokens where the server binds",
        ),
        (
            |m| {
                m.fapi_ciba = true;
                m.token_endpoint_auth_method = AuthMethod::SelfSignedTlsClientAuth;
                m.tls_client_certificate_bound_access_tokens = true;
                m.jwks = Some(json!({"keys": [{"kty": "EC", "x5c": ["MIIB"]}]}));
                m.backchannel_authentication_request_signing_alg = Some(SigningAlg::PS256);
            },
            full,
            Ok(()),
            "FAPI with a certificate method and bound tokens",
        ),
    ];
    for (mutate, mtls, want, why) in cases {
        let mut m = ClientMetadata::poll("Bank");
        mutate(&mut m);
        assert_eq!(
            m.validate(&OutboundRule::strict(), mtls).map_err(|e| e.member),
            want,
            "{why}"
        );
    }
}
