//! The console's transactions: the list (filters, pages by key, the empty
//! state) and one transaction's page with its evidence as claims and
//! attributes side by side.

use trustid::crypto::device_jws::bm_hash;
use trustid::domain::client::SigningAlg;
use trustid::store::console::TransactionFilter;

use crate::console::{app_with_admin, get, location, sign_in};

async fn page(app: &crate::common::TestApp, cookie: &str, path: &str) -> (u16, String) {
    let res = get(app, path, Some(cookie)).await;
    (res.status().as_u16(), res.text().await.unwrap())
}

fn rows(html: &str) -> usize {
    html.matches("href=\"/admin/transactions/").count()
}

#[tokio::test]
async fn the_list_filters_and_pages_and_a_transaction_shows_its_evidence() {
    let app = app_with_admin().await;
    let cookie = sign_in(&app).await;
    assert_eq!(
        location(&get(&app, "/admin/transactions", None).await),
        "/admin/sign-in"
    );
    let (_, empty) = page(&app, &cookie, "/admin/transactions").await;
    assert!(empty.contains("No transaction matches"), "{empty}");

    let client = app.client(SigningAlg::ES256).await;
    let alice = app.user_with_device("alice").await;
    app.user_with_device("bob").await;
    app.start(&client, "alice", "Pay 10 EUR & <more>").await;
    let item = alice.only_item(&app).await;
    alice.decide(&app, "approve").await;
    app.start(&client, "bob", "Sign in").await;

    let (status, all) = page(&app, &cookie, "/admin/transactions").await;
    assert_eq!(status, 200);
    assert_eq!(rows(&all), 2, "{all}");
    assert!(all.contains("Pay 10 EUR &#38; &#60;more&#62;"), "escaped: {all}");
    let (_, approved) = page(&app, &cookie, "/admin/transactions?status=approved").await;
    assert_eq!(rows(&approved), 1);
    let (_, bobs) = page(&app, &cookie, "/admin/transactions?user=bob&status=pending").await;
    assert_eq!(rows(&bobs), 1);
    let (_, saml) = page(&app, &cookie, "/admin/transactions?type=saml").await;
    assert_eq!(rows(&saml), 0);
    let (bad, _) = page(&app, &cookie, "/admin/transactions?status=nonsense").await;
    assert_eq!(bad, 400);
    let today = time::OffsetDateTime::from_unix_timestamp(app.clock_now())
        .unwrap()
        .date();
    let (_, on_today) = page(&app, &cookie, &format!("/admin/transactions?from={today}&to={today}")).await;
    assert_eq!(rows(&on_today), 2, "{on_today}");
    let tomorrow = today.next_day().unwrap();
    let (_, from_tomorrow) = page(&app, &cookie, &format!("/admin/transactions?from={tomorrow}")).await;
    assert_eq!(rows(&from_tomorrow), 0);
    let (bad_date, _) = page(&app, &cookie, "/admin/transactions?from=06/12/2026").await;
    assert_eq!(bad_date, 400);

    let id = item["transaction_id"].as_str().unwrap();
    let (status, detail) = page(&app, &cookie, &format!("/admin/transactions/{id}")).await;
    assert_eq!(status, 200);
    assert!(
        detail.contains(&bm_hash("Pay 10 EUR & <more>")),
        "the signed hash is shown"
    );
    for (claim, attribute) in [
        ("trustid.userid", "TRUSTID.USERID"),
        ("trustid.transaction_id", "TRUSTID.TRANSACTION_ID"),
    ] {
        assert!(
            detail.contains(&format!(
                "<td><code>{claim}</code></td><td><code>{attribute}</code></td>"
            )),
            "{detail}"
        );
    }
    assert!(detail.contains(&format!("<td>{id}</td>")), "{detail}");
    let (missing, _) = page(&app, &cookie, "/admin/transactions/no-such-id").await;
    assert_eq!(missing, 404);

    // An approval not redeemed in time is expired, in the list and its filter.
    app.clock.advance_secs(3600);
    let cookie = sign_in(&app).await;
    let (_, expired) = page(&app, &cookie, "/admin/transactions?status=expired").await;
    assert_eq!(rows(&expired), 2, "{expired}");
    let (_, approved) = page(&app, &cookie, "/admin/transactions?status=approved").await;
    assert_eq!(rows(&approved), 0, "{approved}");
}

#[tokio::test]
async fn pages_follow_the_key_of_the_last_row() {
    let app = app_with_admin().await;
    let cookie = sign_in(&app).await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("carol").await;
    for i in 0..55 {
        app.start(&client, "carol", &format!("Request {i}")).await;
        app.clock.advance_ms(2);
    }
    let (_, first) = page(&app, &cookie, "/admin/transactions?user=carol").await;
    assert_eq!(rows(&first), 50);
    assert!(first.contains("Request 54"), "newest first");
    let marker = "id=\"next-page\" href=\"";
    let at = first.find(marker).unwrap() + marker.len();
    let next = first[at..at + first[at..].find('"').unwrap()].replace("&#38;", "&");
    assert!(next.contains("user=carol"), "{next}");
    let (_, second) = page(&app, &cookie, &next).await;
    assert_eq!(rows(&second), 5);
    assert!(second.contains("Request 0") && !second.contains("next-page"));
}

/// A filter no index serves looks at a bounded number of transactions a
/// page and offers to search older ones: 20,000 of carol's stand between
/// the newest and dave's one request.
#[tokio::test]
async fn a_filtered_page_looks_at_a_bounded_range_and_searches_older_on_request() {
    let app = app_with_admin().await;
    let cookie = sign_in(&app).await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("dave").await;
    app.user_with_device("carol").await;
    app.start(&client, "dave", "Dave's request").await;
    app.clock.advance_secs(5);
    app.start(&client, "carol", "Carol's request").await;
    let carols = TransactionFilter {
        user_id: Some("carol".into()),
        ..TransactionFilter::default()
    };
    let carol = app
        .store()
        .transactions_page(&carols, None, app.clock_now(), 1, None)
        .await
        .unwrap();
    let ms = trustid::domain::ids::time_of(carol.rows[0].id.as_str()).unwrap() - 1;
    copy_before(&app, carol.rows[0].id.as_str(), ms, 20_000).await;

    let (status, first) = page(&app, &cookie, "/admin/transactions?user=dave&status=pending").await;
    assert_eq!((status, rows(&first)), (200, 0), "{first}");
    assert!(
        first.contains("id=\"searched-to\"") && !first.contains("No transaction matches"),
        "{first}"
    );
    let marker = "id=\"search-older\" href=\"";
    let at = first.find(marker).expect("a link to search older") + marker.len();
    let older = first[at..at + first[at..].find('"').unwrap()].replace("&#38;", "&");
    assert!(
        older.contains("user=dave") && older.contains("status=pending"),
        "{older}"
    );
    let (_, second) = page(&app, &cookie, &older).await;
    assert_eq!(rows(&second), 1, "{second}");
    assert!(
        second.contains("Dave&#39;s request") || second.contains("Dave's request"),
        "{second}"
    );
    assert!(
        !second.contains("searched-to") && !second.contains("next-page"),
        "the end: {second}"
    );

    // Unfiltered, the list pages by key as before.
    let (_, all) = page(&app, &cookie, "/admin/transactions").await;
    assert!(rows(&all) == 50 && all.contains("next-page") && !all.contains("searched-to"));
}

/// `count` copies of transaction `id`, with ids made at `ms` (so older than it).
async fn copy_before(app: &crate::common::TestApp, id: &str, ms: i64, count: i64) {
    use sqlx::Connection;
    let columns = "client_id, user_id, context, app_id, display_text, scope, acr, status, created_at, \
                   expires_at, decided_at, poll_interval, device_id, failed_attempts, failed_device_id, notify_kind";
    let url = &app.settings.database_url;
    let sqlite = url.starts_with("sqlite");
    let id_of = if sqlite {
        "printf('%s%08d', $1, i)"
    } else {
        "$1 || lpad(i::text, 8, '0')"
    };
    let sql = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < $2) \
         INSERT INTO transactions (id, auth_req_digest, {columns}) \
         SELECT {id_of}, 'copy.' || i, {columns} FROM n, transactions WHERE id = $3"
    );
    let prefix = format!("{ms:012x}");
    let done = if sqlite {
        let mut db = sqlx::SqliteConnection::connect(url).await.unwrap();
        let query = sqlx::query(&sql).bind(prefix).bind(count).bind(id);
        query.execute(&mut db).await.unwrap().rows_affected()
    } else {
        let mut db = sqlx::PgConnection::connect(url).await.unwrap();
        let query = sqlx::query(&sql).bind(prefix).bind(count as i32).bind(id);
        query.execute(&mut db).await.unwrap().rows_affected()
    };
    assert_eq!(done, count as u64);
}

/// The pending page lists open requests, and its event stream says when
/// the set changes (a new request here).
#[tokio::test]
async fn the_pending_list_and_its_event_stream_follow_new_requests() {
    let app = app_with_admin().await;
    let cookie = sign_in(&app).await;
    let client = app.client(SigningAlg::ES256).await;
    app.user_with_device("erin").await;
    app.start(&client, "erin", "First request").await;
    let (status, html) = page(&app, &cookie, "/admin/pending").await;
    assert_eq!(status, 200);
    assert!(
        html.contains("First request") && html.contains("class=\"countdown\""),
        "{html}"
    );
    assert_eq!(
        location(&get(&app, "/admin/pending/events", None).await),
        "/admin/sign-in"
    );

    // The page's fingerprint: a request arriving before the stream connects still counts.
    let marker = "data-events=\"";
    let at = html.find(marker).unwrap() + marker.len();
    let stream = html[at..at + html[at..].find('"').unwrap()].replace("&#38;", "&");
    assert!(stream.starts_with("/admin/pending/events?seen="), "{stream}");
    app.start(&client, "erin", "Before the stream").await;
    let mut events = get(&app, &stream, Some(&cookie)).await;
    assert_eq!(events.headers()["content-type"], "text/event-stream");
    let mut seen = String::new();
    while !seen.contains("event: changed") {
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), events.chunk())
            .await
            .expect("an event within ten seconds")
            .unwrap()
            .unwrap();
        seen.push_str(&String::from_utf8_lossy(&chunk));
    }
}
