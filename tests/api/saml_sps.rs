//! The registry of SAML service providers and the AuthnRequest IDs they
//! sent, through the store (on SQLite and, with `TRUSTID_TEST_DATABASE_URL`,
//! on PostgreSQL) and the operator actions the CLI calls.

use crate::common::*;

use trustid::clock::Clock;
use trustid::domain::claims::Evidence;
use trustid::domain::saml_sp::{EntityId, NameIdFormat, SamlSpSettings, SignedParts};
use trustid::engine::admin::AdminError;
use trustid::engine::saml_sps;
use trustid::store::StoreError;

fn settings(entity_id: &str) -> SamlSpSettings {
    SamlSpSettings::new(
        EntityId::parse(entity_id).unwrap(),
        url::Url::parse("https://sp.example.com/acs").unwrap(),
    )
}

#[tokio::test]
async fn an_sp_is_stored_read_back_listed_and_removed() {
    let app = spawn_app().await;
    let mut full = settings("https://b.example.com/sp");
    full.display_name = "B & Co <intranet>".into();
    full.name_id_format = NameIdFormat::EmailAddress;
    full.attributes = Some(vec![Evidence::UserId, Evidence::TransactionId]);
    full.sign = SignedParts::Both;
    full.idp_initiated = true;
    full.default_relay_state = Some("/welcome".into());
    full.app_id = Some("bank".into());
    let b = saml_sps::add_saml_sp(app.store(), full.clone(), true, app.clock.now())
        .await
        .unwrap();
    let a = saml_sps::add_saml_sp(app.store(), settings("https://a.example.com/sp"), true, app.clock.now())
        .await
        .unwrap();
    assert!(b.id.len() >= 22 && b.id != a.id, "ids are 128 random bits");

    let read = app.store().saml_sp("https://b.example.com/sp").await.unwrap().unwrap();
    assert_eq!(read, b);
    assert_eq!(read.settings, full);
    assert!(
        app.store().saml_sp("https://B.example.com/sp").await.unwrap().is_none(),
        "byte for byte"
    );

    let listed = saml_sps::list_saml_sps(app.store()).await.unwrap();
    let ids: Vec<&str> = listed.iter().map(|l| l.settings.entity_id.as_str()).collect();
    assert_eq!(ids, ["https://a.example.com/sp", "https://b.example.com/sp"]);

    saml_sps::remove_saml_sp(app.store(), "https://a.example.com/sp", app.clock_now())
        .await
        .unwrap();
    assert!(app.store().saml_sp("https://a.example.com/sp").await.unwrap().is_none());
    let again = saml_sps::remove_saml_sp(app.store(), "https://a.example.com/sp", app.clock_now()).await;
    assert!(matches!(again, Err(AdminError::Invalid(m)) if m.contains("no SP")));
    assert_eq!(app.store().saml_sps().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_taken_entity_id_or_a_broken_rule_stores_nothing() {
    let app = spawn_app().await;
    let now = app.clock.now();
    saml_sps::add_saml_sp(app.store(), settings("urn:sp:one"), true, now)
        .await
        .unwrap();
    let mut other = settings("urn:sp:one");
    other.display_name = "Another".into();
    let dup = saml_sps::add_saml_sp(app.store(), other, true, now).await;
    assert!(
        matches!(&dup, Err(AdminError::Invalid(m)) if m.contains("already registered")),
        "{dup:?}"
    );
    let mut bad = settings("urn:sp:two");
    bad.acs[0].url = url::Url::parse("http://sp.example.com/acs").unwrap();
    let refused = saml_sps::add_saml_sp(app.store(), bad, true, now).await;
    assert!(
        matches!(&refused, Err(AdminError::Invalid(m)) if m.contains("https")),
        "{refused:?}"
    );
    let stored = app.store().saml_sps().await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].settings.display_name, "urn:sp:one");

    // The store refuses the duplicate on its own, whatever called it.
    let mut twin = stored[0].clone();
    twin.id = "another-id".into();
    let conflict = app.store().insert_saml_sp(&twin).await;
    assert!(matches!(conflict, Err(StoreError::Conflict(_))), "{conflict:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_request_id_is_remembered_once_per_sp_until_pruned() {
    let app = spawn_app().await;
    let now = app.clock.now();
    let one = saml_sps::add_saml_sp(app.store(), settings("urn:sp:one"), true, now)
        .await
        .unwrap();
    let two = saml_sps::add_saml_sp(app.store(), settings("urn:sp:two"), true, now)
        .await
        .unwrap();
    let store = app.store();
    assert!(store.remember_request_id(&one.id, "_req1", now + 300).await.unwrap());
    assert!(
        !store.remember_request_id(&one.id, "_req1", now + 900).await.unwrap(),
        "a replay"
    );
    assert!(
        store.remember_request_id(&two.id, "_req1", now + 300).await.unwrap(),
        "per SP"
    );
    assert!(store.remember_request_id(&one.id, "_old", now - 1).await.unwrap());

    // Racing instances: one INSERT wins, the others conflict.
    let racers: Vec<_> = (0..8)
        .map(|_| {
            let state = app.state.clone();
            let sp = one.id.clone();
            tokio::spawn(async move { state.store.remember_request_id(&sp, "_race", now + 300).await.unwrap() })
        })
        .collect();
    let mut won = 0;
    for r in racers {
        won += usize::from(r.await.unwrap());
    }
    assert_eq!(won, 1, "exactly one racer remembers the ID first");

    assert_eq!(store.prune_request_ids(now).await.unwrap(), 1, "only the expired one");
    assert!(
        !store.remember_request_id(&one.id, "_req1", now + 300).await.unwrap(),
        "live IDs stay"
    );
    assert!(store.remember_request_id(&one.id, "_old", now + 300).await.unwrap());

    // Removing an SP takes its request IDs with it (no dangling rows).
    saml_sps::remove_saml_sp(store, "urn:sp:one", now).await.unwrap();
    assert_eq!(
        store.prune_request_ids(i64::MAX).await.unwrap(),
        1,
        "only SP two's is left"
    );
}
