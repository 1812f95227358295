//! The reference device at the executive level (issue 22): it registers a
//! driver's licence from a barcode file, approves an executive request
//! only with `--document`, and registers with `--user-authentication-required`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common::{jwt_payload, spawn_app};
use crate::device_cli::{device, failure, json_of, registered, stdout, txn_showing};
use trustid::domain::client::SigningAlg;
use trustid::domain::identity_document::EXECUTIVE_ACR;

#[tokio::test]
async fn the_reference_device_registers_a_licence_and_approves_with_it() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    app.user("frank", &[]).await;
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    registered(&app, d, "frank").await;
    std::fs::write(d.join("barcode.txt"), crate::executive::BARCODE).unwrap();
    std::fs::write(d.join("other.txt"), b"another licence").unwrap();
    let added = json_of(
        &device(
            d,
            &["identity-document", "add", "--barcode-file", "barcode.txt", "--json"],
        )
        .await,
    );
    assert_eq!(
        (added["type"].as_str(), added["status"].as_str()),
        (Some("driver_license"), Some("unverified"))
    );

    let ack = app
        .backchannel(
            &client,
            &[
                ("scope", "openid"),
                ("login_hint", "frank"),
                ("binding_message", "Wire 50,000 EUR"),
                ("acr_values", EXECUTIVE_ACR),
            ],
        )
        .await;
    assert_eq!(ack.status, 200, "{}", ack.body);
    let txn = txn_showing(d, "Wire 50,000 EUR").await;
    let bare = failure(&device(d, &["approve", &txn]).await);
    assert!(bare.contains("--document"), "{bare}");
    let wrong = failure(&device(d, &["approve", &txn, "--document", "other.txt"]).await);
    assert!(wrong.contains("document_mismatch"), "{wrong}");
    let approved = stdout(&device(d, &["approve", &txn, "--document", "barcode.txt"]).await);
    assert!(approved.contains("approved"), "{approved}");
    let tokens = app.poll(&client, ack.body["auth_req_id"].as_str().unwrap()).await;
    assert_eq!(
        jwt_payload(tokens.body["id_token"].as_str().unwrap())["acr"],
        EXECUTIVE_ACR
    );

    let second = tempfile::tempdir().unwrap();
    let out = device(
        second.path(),
        &[
            "register",
            "--server",
            &app.base,
            "--user-authentication-required",
            "--json",
        ],
    )
    .await;
    let id = json_of(&out)["device_id"].as_str().unwrap().to_owned();
    assert!(
        app.store()
            .device(&id)
            .await
            .unwrap()
            .unwrap()
            .user_authentication_required
    );
}
