//! The engine's user administration, as the management API and the console
//! call it: each change audited under its actor's name, each refusal typed
//! and leaving the user, its devices and the audit trail as they were.

use crate::common::*;
use trustid::domain::ids::{DeviceId, UserId};
use trustid::domain::user::UserStatus;
use trustid::engine::users::{self, Actor, Refusal};

fn alice() -> UserId {
    UserId::new("alice")
}

#[tokio::test]
async fn an_admin_change_is_audited_under_the_admin_s_name() {
    let app = spawn_app().await;
    let device = app.user_with_device("alice").await;
    let admin = Actor::Admin("ops".into());
    users::set_status(&app.state, &admin, &alice(), UserStatus::Locked)
        .await
        .unwrap();
    assert_eq!(
        app.store().user("alice").await.unwrap().unwrap().status,
        UserStatus::Locked
    );
    users::set_status(&app.state, &admin, &alice(), UserStatus::Active)
        .await
        .unwrap();
    let client = Actor::Client("bank".into());
    users::prefer_device(&app.state, &client, &alice(), &DeviceId::new(device.id()))
        .await
        .unwrap();
    // Sorted: the trail orders entries by second only.
    let mut trail: Vec<(String, String)> = app
        .store()
        .audit_of("user:alice")
        .await
        .unwrap()
        .into_iter()
        .map(|(_, actor, action)| (actor, action))
        .collect();
    trail.sort();
    let expected = [
        ("admin:ops", "user.locked"),
        ("admin:ops", "user.unlocked"),
        ("client:bank", "device.preferred"),
    ];
    assert_eq!(trail, expected.map(|(a, b)| (a.to_owned(), b.to_owned())).to_vec());
}

#[tokio::test]
async fn refusals_are_typed_and_change_nothing() {
    let app = spawn_app().await;
    let device = app.user_with_device("alice").await;
    let admin = Actor::Admin("ops".into());
    let nobody = UserId::new("nobody");
    let no_device = DeviceId::new("no-such-device");

    let refused = users::set_status(&app.state, &admin, &nobody, UserStatus::Locked).await;
    assert!(matches!(refused, Err(Refusal::UnknownUser)), "{refused:?}");
    let refused = users::remove_device(&app.state, &admin, &alice(), &no_device).await;
    assert!(matches!(refused, Err(Refusal::UnknownDevice)), "{refused:?}");
    let refused = users::prefer_device(&app.state, &admin, &alice(), &no_device).await;
    assert!(matches!(refused, Err(Refusal::NoActiveDevice)), "{refused:?}");
    let refused = users::unregister(&app.state, &admin, &nobody, None).await;
    assert!(matches!(refused, Err(Refusal::UnknownUser)), "{refused:?}");

    let (user, devices) = users::devices(&app.state, &admin, &alice()).await.unwrap();
    assert_eq!(user.status, UserStatus::Active);
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].id, device.id());
    assert!(app.store().audit_of("user:alice").await.unwrap().is_empty());
    assert!(app.store().audit_of("user:nobody").await.unwrap().is_empty());

    // Unregistered, the user is gone for every later change.
    let removed = users::unregister(&app.state, &admin, &alice(), None).await.unwrap();
    assert_eq!((removed.devices, removed.transactions), (1, 0));
    let refused = users::set_status(&app.state, &admin, &alice(), UserStatus::Active).await;
    assert!(matches!(refused, Err(Refusal::UnknownUser)), "{refused:?}");
}
