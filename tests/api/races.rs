//! Races the database must decide (run on SQLite and, with
//! `TRUSTID_TEST_DATABASE_URL`, on PostgreSQL), and two instances on one
//! database sharing the work of one transaction.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use crate::common;

use common::receiver::Receiver;
use common::*;
use trustid::domain::client::{ClientMetadata, DeliveryMode, SigningAlg};

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_devices_deciding_at_once_yield_one_decision() {
    let app = spawn_app().await;
    let client = app.client(SigningAlg::ES256).await;
    for round in 0..5 {
        let user = format!("user{round}");
        let phone = app.user_with_device(&user).await;
        let tablet = app.device_for(&user).await;
        let auth_req_id = app.start(&client, &user, "Log in").await;
        let (a, b) = (phone.only_item(&app).await, tablet.only_item(&app).await);
        let (ja, jb) = (
            phone.decision_jws(&a, "approve", &app),
            tablet.decision_jws(&b, "deny", &app),
        );
        let txn = a["transaction_id"].as_str().unwrap();
        let (ra, rb) = tokio::join!(
            phone.send_decision(&app, txn, &ja),
            tablet.send_decision(&app, txn, &jb)
        );
        let statuses = [ra.status, rb.status];
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {statuses:?}"
        );
        assert!(statuses.contains(&409), "the loser hears already_decided: {statuses:?}");
        app.clock.advance_secs(10);
        let answer = app.poll(&client, &auth_req_id).await;
        let approved = ra.status == 200;
        assert_eq!(
            answer.status == 200,
            approved,
            "the token endpoint agrees with the winner"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_redeeming_one_auth_req_id_issue_tokens_once() {
    let a = spawn_app().await;
    let b = a.second_instance().await;
    let client = a.client(SigningAlg::ES256).await;
    for round in 0..5 {
        let user = format!("user{round}");
        let device = a.user_with_device(&user).await;
        let auth_req_id = a.start(&client, &user, "Log in").await;
        device.decide(&a, "approve").await;
        let (ra, rb) = tokio::join!(a.poll(&client, &auth_req_id), b.poll(&client, &auth_req_id));
        let statuses = [ra.status, rb.status];
        assert_eq!(
            statuses.iter().filter(|s| **s == 200).count(),
            1,
            "round {round}: {statuses:?}"
        );
        let loser = if ra.status == 200 { &rb } else { &ra };
        loser.assert_oauth_error(400, "invalid_grant", "the second redemption");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_instances_share_the_caps_exactly_on_postgresql() {
    if std::env::var("TRUSTID_TEST_DATABASE_URL").is_err() {
        // SQLite is one instance's file: its caps are counted in that process.
        println!("skipped: several instances share a database on PostgreSQL only");
        return;
    }
    let a = spawn_app_with(|s| {
        s.user_requests_per_minute = 3;
        s.client_requests_per_minute = 5;
    })
    .await;
    let b = a.second_instance().await;
    let client = a.client(SigningAlg::ES256).await;
    for user in ["carol", "dave"] {
        a.user_with_device(user).await;
    }
    let ask = |app, user| ask_for(app, &client, user);
    // 16 requests for carol at once, half on each instance: 3 get through.
    let burst = (0..16).map(|i| ask(if i % 2 == 0 { &a } else { &b }, "carol"));
    let statuses = futures_util::future::join_all(burst).await;
    assert_eq!(statuses.iter().filter(|s| **s == 200).count(), 3, "{statuses:?}");
    assert_eq!(statuses.iter().filter(|s| **s == 403).count(), 13, "{statuses:?}");
    // The refused ones were taken back out: the client has used 3 of its 5.
    let more = futures_util::future::join_all((0..6).map(|i| ask(if i % 2 == 0 { &b } else { &a }, "dave"))).await;
    assert_eq!(more.iter().filter(|s| **s == 200).count(), 2, "{more:?}");
    a.clock.advance_secs(61);
    assert_eq!(ask(&b, "carol").await, 200, "a minute later");
}

async fn ask_for(app: &TestApp, client: &trustid::engine::admin::ClientCredentials, user: &str) -> u16 {
    app.backchannel(client, &[("scope", "openid"), ("login_hint", user)])
        .await
        .status
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_transaction_can_start_on_one_instance_and_finish_on_another() {
    let a = spawn_app().await;
    let b = a.second_instance().await;
    let endpoint = Receiver::start(vec![]).await;
    let mut metadata = ClientMetadata::poll("Ping Bank");
    metadata.backchannel_token_delivery_mode = DeliveryMode::Ping;
    metadata.backchannel_client_notification_endpoint = Some(endpoint.url("/cb"));
    let client = a.register(metadata).await;
    let device = a.user_with_device("alice").await;
    let ack = a
        .backchannel(
            &client,
            &[
                ("scope", "openid"),
                ("login_hint", "alice"),
                ("client_notification_token", "tok-123"),
            ],
        )
        .await;
    let auth_req_id = ack.body["auth_req_id"].as_str().unwrap();
    // The device talks to instance B; its proofs name the issuer's URLs.
    assert_eq!(device.decide(&b, "approve").await.status, 200);
    endpoint.wait_for(1).await;
    for _ in 0..5 {
        a.clock.advance_secs(2);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert_eq!(endpoint.received().len(), 1, "one ping although two workers run");
    let tokens = a.poll(&client, auth_req_id).await;
    assert_eq!(tokens.status, 200, "the token at A: {}", tokens.body);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_pending_poll_one_instance_remembers_ends_when_another_decides() {
    if std::env::var("TRUSTID_TEST_DATABASE_URL").is_err() {
        println!("skipped: several instances share a database on PostgreSQL only");
        return;
    }
    let a = spawn_app_with(|s| s.poll_interval = 1).await;
    let b = a.second_instance().await;
    let client = a.client(SigningAlg::ES256).await;
    let device = a.user_with_device("alice").await;
    let auth_req_id = a.start(&client, "alice", "Log in").await;
    // A remembers the request as pending (its token endpoint's cache).
    for _ in 0..2 {
        a.poll(&client, &auth_req_id)
            .await
            .assert_oauth_error(400, "authorization_pending", "not decided yet");
        a.clock.advance_secs(1);
    }
    assert_eq!(device.decide(&b, "approve").await.status, 200);
    // B's change reaches A through PostgreSQL's NOTIFY, in milliseconds; the
    // clock stays inside the cache's 30 s, so only that NOTIFY ends it.
    for _ in 0..20 {
        let answer = a.poll(&client, &auth_req_id).await;
        if answer.status == 200 {
            return;
        }
        answer.assert_oauth_error(400, "authorization_pending", "decided at B, pending at A meanwhile");
        a.clock.advance_secs(1);
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("A still answers pending 2 s after B's decision");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn an_instance_that_lost_its_listen_connection_forgets_what_it_remembered_pending() {
    if std::env::var("TRUSTID_TEST_DATABASE_URL").is_err() {
        println!("skipped: several instances share a database on PostgreSQL only");
        return;
    }
    let a = spawn_app_with(|s| s.poll_interval = 1).await;
    let b = a.second_instance().await;
    let client = a.client(SigningAlg::ES256).await;
    let device = a.user_with_device("alice").await;
    let auth_req_id = a.start(&client, "alice", "Log in").await;
    a.poll(&client, &auth_req_id)
        .await
        .assert_oauth_error(400, "authorization_pending", "remembered pending at A");
    // A decision no NOTIFY announces: the trigger is off while B decides.
    let db = sqlx::PgPool::connect(&a.settings.database_url).await.unwrap();
    let trigger = |on: &'static str| format!("ALTER TABLE transactions {on} TRIGGER transaction_updated");
    sqlx::query(&trigger("DISABLE")).execute(&db).await.unwrap();
    assert_eq!(device.decide(&b, "approve").await.status, 200);
    sqlx::query(&trigger("ENABLE")).execute(&db).await.unwrap();
    a.clock.advance_secs(1);
    a.poll(&client, &auth_req_id).await.assert_oauth_error(
        400,
        "authorization_pending",
        "unannounced, A still remembers it",
    );
    // Every LISTEN connection of this database is cut: each instance forgets
    // what it holds, and listens again.
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
         WHERE datname = current_database() AND query LIKE 'LISTEN%'",
    )
    .execute(&db)
    .await
    .unwrap();
    for _ in 0..20 {
        a.clock.advance_secs(1);
        let answer = a.poll(&client, &auth_req_id).await;
        if answer.status == 200 {
            return;
        }
        answer.assert_oauth_error(400, "authorization_pending", "until A sees the lost connection");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    panic!("A still answers pending 2 s after losing its LISTEN connection");
}
