//! Discovery says what the router serves and nothing else; the JWKS holds
//! only public keys, each with a `kid`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::*;
use serde_json::Value;

#[tokio::test]
async fn discovery_advertises_the_ciba_capabilities_that_work() {
    let app = spawn_app().await;
    let d = Answer::from(
        app.http
            .get(app.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(d.status, 200);
    let d = d.body;
    assert_eq!(d["issuer"], Value::from(app.base.clone()));
    assert_eq!(
        d["backchannel_token_delivery_modes_supported"],
        serde_json::json!(["poll", "ping", "push"])
    );
    assert_eq!(
        d["grant_types_supported"],
        serde_json::json!([CIBA_GRANT, "refresh_token", "client_credentials"])
    );
    assert_eq!(d["backchannel_user_code_parameter_supported"], true);
    let algs = serde_json::json!(["ES256", "PS256", "RS256"]);
    assert_eq!(
        d["backchannel_authentication_request_signing_alg_values_supported"],
        algs
    );
    assert_eq!(d["id_token_signing_alg_values_supported"], algs);
    assert_eq!(d["token_endpoint_auth_signing_alg_values_supported"], algs);
    assert_eq!(
        d["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post", "private_key_jwt"])
    );
    assert_eq!(d["introspection_endpoint"], Value::from(app.url("/introspect")));
    assert_eq!(d["revocation_endpoint"], Value::from(app.url("/revoke")));
    assert!(
        d.get("registration_endpoint").is_none(),
        "registration is off unless configured"
    );
    let claims: Vec<&str> = d["claims_supported"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap())
        .collect();
    for (_, oidc, _) in trustid::domain::claims::TABLE {
        assert!(claims.contains(&oidc), "{oidc} advertised");
    }
}

#[tokio::test]
async fn every_advertised_endpoint_is_routed() {
    let app = spawn_app().await;
    let d = Answer::from(
        app.http
            .get(app.url("/.well-known/openid-configuration"))
            .send()
            .await
            .unwrap(),
    )
    .await
    .body;
    let endpoints = [
        ("jwks_uri", "GET", 200),
        ("token_endpoint", "POST", 401),
        ("backchannel_authentication_endpoint", "POST", 401),
        ("userinfo_endpoint", "GET", 401),
        ("authorization_endpoint", "GET", 400),
        ("introspection_endpoint", "POST", 401),
        ("revocation_endpoint", "POST", 401),
    ];
    for (field, method, status) in endpoints {
        let url = d[field].as_str().unwrap();
        assert!(url.starts_with(&app.base), "{field} is under the issuer");
        let req = match method {
            "GET" => app.http.get(url),
            _ => app
                .http
                .post(url)
                .header("content-type", "application/x-www-form-urlencoded"),
        };
        let res = req.send().await.unwrap();
        assert_eq!(res.status().as_u16(), status, "{field} answers");
    }
}

#[tokio::test]
async fn jwks_publishes_public_keys_with_kids() {
    let app = spawn_app().await;
    let jwks = Answer::from(app.http.get(app.url("/jwks")).send().await.unwrap())
        .await
        .body;
    let keys = jwks["keys"].as_array().unwrap();
    let algs: Vec<&str> = keys.iter().map(|k| k["alg"].as_str().unwrap()).collect();
    assert_eq!(algs, ["ES256", "PS256", "RS256"]);
    for key in keys {
        assert!(key["kid"].as_str().is_some_and(|k| !k.is_empty()));
        assert_eq!(key["use"], "sig");
        for private in ["d", "p", "q", "dp", "dq", "qi"] {
            assert!(key.get(private).is_none(), "no private member {private}");
        }
    }
}

#[tokio::test]
async fn the_authorization_endpoint_refuses_front_channel_flows() {
    let app = spawn_app().await;
    let res = app
        .http
        .get(app.url("/authorize?response_type=code&client_id=x"))
        .send()
        .await
        .unwrap();
    Answer::from(res)
        .await
        .assert_oauth_error(400, "invalid_request", "CIBA-only");
}

#[tokio::test]
async fn the_openapi_contract_is_served() {
    let app = spawn_app().await;
    let res = app.http.get(app.url("/openapi.yaml")).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 200);
    assert!(res.text().await.unwrap().contains("openapi: 3.1"));
}

/// Every answer carries the security headers (`http::security_headers`),
/// the console's own stricter set untouched; HSTS only with an https issuer.
#[tokio::test]
async fn every_answer_carries_the_security_headers() {
    let app = spawn_app().await;
    let no_referrer = "no-referrer";
    for (path, csp_part) in [
        ("/.well-known/openid-configuration", "default-src 'none'"),
        ("/token", "default-src 'none'"),
        ("/device/v1/inbox", "default-src 'none'"),
        ("/no/such/route", "default-src 'none'"),
        ("/admin/sign-in", "script-src 'self'"),
    ] {
        let res = app.http.get(app.url(path)).send().await.unwrap();
        let h = res.headers();
        assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
        assert_eq!(h["x-frame-options"], "DENY", "{path}");
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(
            csp.contains("frame-ancestors 'none'") && csp.contains(csp_part),
            "{path}: {csp}"
        );
        assert!(h.contains_key("referrer-policy"), "{path}");
        assert!(
            !h.contains_key("strict-transport-security"),
            "{path}: not over an http issuer"
        );
        if path != "/admin/sign-in" {
            assert_eq!(h["referrer-policy"], no_referrer, "{path}");
        }
    }
    let https = spawn_app_with(|s| s.issuer = "https://idp.example.com".into()).await;
    let res = https.http.get(https.url("/jwks")).send().await.unwrap();
    assert_eq!(
        res.headers()["strict-transport-security"],
        "max-age=31536000; includeSubDomains"
    );
}
