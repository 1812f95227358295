//! Users kept in memory, and the generation that every change of a user or
//! a device moves.

use super::*;

#[tokio::test]
async fn a_user_is_read_from_memory_until_this_or_another_process_changes_them_or_their_devices() {
    use crate::domain::push::{PushAddress, PushChannel};
    use crate::domain::user::UserStatus;
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = store(&dir).await;
    let other_process = rusqlite::Connection::open(&path).unwrap();
    other_process
        .execute_batch(
            "INSERT INTO users (id, email, status, created_at) VALUES ('alice', 'a@x', 'active', 0); \
             INSERT INTO devices (id, device_key, auth_key, user_id, status, created_at) VALUES \
             ('d1', 'k', 'k', 'alice', 'active', 0), ('d2', 'k', 'k', 'alice', 'active', 0);",
        )
        .unwrap();
    let cache = store.hot.users().unwrap();
    // Long enough that only this process's own changes move anything, until said otherwise.
    cache.check_epoch_every(std::time::Duration::from_secs(3600));
    let seen = |hint: &'static str| {
        let store = &store;
        async move {
            let (user, counts) = store.user_by_hint_counting_devices(hint).await.unwrap().unwrap();
            (user.status, counts.active, counts.pushable)
        }
    };
    assert_eq!(seen("alice").await, (UserStatus::Active, 2, 0));
    assert_eq!(seen("a@x").await, (UserStatus::Active, 2, 0));

    // Behind the store's back: memory still answers.
    other_process
        .execute("UPDATE devices SET status = 'removed' WHERE id = 'd2'", [])
        .unwrap();
    assert_eq!(seen("alice").await, (UserStatus::Active, 2, 0), "kept in memory");

    // This process's changes are seen at once, by every hint.
    assert!(store.set_user_status("alice", UserStatus::Locked).await.unwrap());
    assert_eq!(seen("alice").await, (UserStatus::Locked, 1, 0));
    assert_eq!(seen("a@x").await, (UserStatus::Locked, 1, 0));
    let address = PushAddress::stored("https://relay.example/d1".into());
    assert!(
        store
            .set_push_channel("d1", Some((PushChannel::Webhook, &address)))
            .await
            .unwrap()
    );
    assert_eq!(seen("alice").await, (UserStatus::Locked, 1, 1));
    assert!(store.remove_device("alice", "d1").await.unwrap());
    assert_eq!(seen("alice").await, (UserStatus::Locked, 0, 0));

    // Another process's change, through the epoch its triggers moved
    // (the test's long period again: a change of this process's own has
    // every read check it for a while).
    cache.check_epoch_every(std::time::Duration::from_secs(3600));
    assert_eq!(seen("alice").await, (UserStatus::Locked, 0, 0));
    let epoch = || store.readers.user_epoch().unwrap();
    let before = epoch();
    other_process
        .execute("UPDATE users SET status = 'active' WHERE id = 'alice'", [])
        .unwrap();
    assert!(epoch() > before, "the trigger moved the epoch");
    assert_eq!(seen("alice").await, (UserStatus::Locked, 0, 0), "not checked yet");
    cache.check_epoch_every(std::time::Duration::ZERO);
    assert_eq!(seen("alice").await, (UserStatus::Active, 0, 0));
    // A device's failed attempts are not what the reads count: no move.
    let before = epoch();
    other_process
        .execute("UPDATE devices SET failed_attempts = 1, preferred = 1", [])
        .unwrap();
    assert_eq!(epoch(), before);
    for change in [
        "INSERT INTO devices (id, device_key, auth_key, user_id, status, created_at) VALUES ('d3', 'k', 'k', NULL, 'inactive', 0)",
        "UPDATE devices SET user_id = 'alice', status = 'active' WHERE id = 'd3'",
        "UPDATE devices SET push_channel = 'webhook', push_address = 'a' WHERE id = 'd3'",
        "DELETE FROM devices WHERE id = 'd3'",
        "UPDATE users SET email = 'b@x'",
        "INSERT INTO users (id, status, created_at) VALUES ('zed', 'active', 0)",
        "DELETE FROM users WHERE id = 'zed'",
    ] {
        let before = epoch();
        other_process.execute(change, []).unwrap();
        assert!(epoch() > before, "{change}");
    }
}

#[tokio::test]
async fn every_method_that_changes_a_user_or_a_device_moves_the_users_generation() {
    use crate::domain::device::{Device, DeviceStatus};
    use crate::domain::lifecycle::Lockout;
    use crate::domain::push::{PushAddress, PushChannel};
    use crate::domain::user::{User, UserStatus};
    let dir = tempfile::tempdir().unwrap();
    let (store, _) = store(&dir).await;
    let cache = store.hot.users().unwrap();
    let device = Device {
        id: "d1".into(),
        device_key: "k".into(),
        auth_key: "k".into(),
        user_id: None,
        status: DeviceStatus::Inactive,
        failed_attempts: 0,
        preferred: false,
        push: None,
        created_at: 0,
        user_authentication_required: false,
    };
    let address = PushAddress::stored("https://relay.example/d1".into());
    let lockout = Lockout {
        device_threshold: 5,
        user_threshold: 5,
    };
    // Each call, with whether the generation moved across it.
    let mut moved: Vec<(&str, bool)> = Vec::new();
    macro_rules! call {
        ($what:literal, $call:expr) => {{
            let before = cache.generation();
            $call.await.unwrap();
            moved.push(($what, cache.generation() > before));
        }};
    }
    call!("insert_user", store.insert_user(&User::sample("alice"), &[]));
    call!(
        "create_user_if_absent",
        store.create_user_if_absent(&User::sample("bob"))
    );
    call!("set_user_code", store.set_user_code("alice", "hash"));
    call!("register_device", store.register_device(&device));
    call!("bind_device", store.bind_device("d1", "alice"));
    let channel = Some((PushChannel::Webhook, &address));
    call!("set_push_channel", store.set_push_channel("d1", channel));
    call!(
        "forget_dead_push_address",
        store.forget_dead_push_address("d1", &address)
    );
    call!("set_preferred_device", store.set_preferred_device("alice", "d1"));
    let attempt = store.record_failed_attempt(Some("d1"), Some("alice"), None, lockout);
    call!("record_failed_attempt", attempt);
    call!("set_user_status", store.set_user_status("alice", UserStatus::Locked));
    call!("remove_device", store.remove_device("alice", "d1"));
    call!("unregister_user", store.unregister_user("alice", 0));
    let missed: Vec<_> = moved.iter().filter(|(_, m)| !m).map(|(w, _)| *w).collect();
    assert!(missed.is_empty(), "no move: {missed:?}");
    // Reads move nothing.
    let g = cache.generation();
    store.user_by_hint_counting_devices("bob").await.unwrap();
    store.devices_of("alice").await.unwrap();
    assert_eq!(cache.generation(), g);
}

#[tokio::test]
async fn a_hint_names_an_id_before_an_email_before_a_phone_on_both_read_paths() {
    let dir = tempfile::tempdir().unwrap();
    let (store, path) = store(&dir).await;
    let conn = rusqlite::Connection::open(&path).unwrap();
    // alice's e-mail is bob's id, and bob's phone is carol's e-mail.
    conn.execute_batch(
        "INSERT INTO users (id, email, phone, status, created_at) VALUES \
         ('alice', 'bob', '+1', 'active', 0), ('bob', NULL, 'carol@x', 'active', 0), \
         ('carol', 'carol@x', '+3', 'active', 0); \
         INSERT INTO devices (id, device_key, auth_key, user_id, status, created_at, push_channel, \
         push_address) VALUES ('a1', 'k', 'k', 'alice', 'active', 0, 'webhook', 'a'), \
         ('a2', 'k', 'k', 'alice', 'active', 0, NULL, NULL), ('a3', 'k', 'k', 'alice', 'locked', 0, 'webhook', 'a');",
    )
    .unwrap();
    let cases = [
        ("alice", Some(("alice", 2, 1))),
        ("bob", Some(("bob", 0, 0))),
        ("carol@x", Some(("carol", 0, 0))),
        ("+1", Some(("alice", 2, 1))),
        ("nobody", None),
    ];
    let seen = |found: Option<(crate::domain::user::User, crate::store::DeviceCounts)>| {
        found.map(|(u, c)| (u.id.into_string(), c.active, c.pushable))
    };
    for (hint, expected) in cases {
        let expected = expected.map(|(id, a, p)| (id.to_owned(), a, p));
        assert_eq!(
            seen(store.readers.user_by_hint(hint).unwrap()),
            expected,
            "direct: {hint}"
        );
    }
    store.readers.busy.store(true, std::sync::atomic::Ordering::Relaxed);
    for (hint, expected) in cases {
        let expected = expected.map(|(id, a, p)| (id.to_owned(), a, p));
        let found = store.user_by_hint_counting_devices(hint).await.unwrap();
        assert_eq!(seen(found), expected, "sqlx: {hint}");
    }
    // The id statement probes the primary key, with no sort.
    let plan = plan(&conn, crate::store::users::USER_BY_ID);
    assert!(plan.iter().any(|s| s.contains("sqlite_autoindex_users_1")), "{plan:?}");
    assert!(!plan.iter().any(|s| s.contains("TEMP B-TREE")), "{plan:?}");
}
