//! The listing history and the explain query through HTTP (issue 15, must-show): a client with a
//! Shopify mock on loopback, stock moved at distinct times, the mock's own listing read as ground
//! truth at chosen instants; the explain query for each instant gives exactly the quantity the
//! mock showed then and the journal entries behind it, and an instant before a later change gives
//! the older number (the negative control). Then the routes' scope and bad input.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use shelfsync::api::client::ApiClient;
use shelfsync::api::error::Code;
use shelfsync::api::listings::{ExplainQuery, ExplainView, HistoryQuery, ListingEventView};
use shelfsync::auth::Role;
use shelfsync::platforms::mock::{MockServer, DEFAULT_TOKEN};
use shelfsync::platforms::Platform;
use shelfsync_actors::inventory::history::ListingWhat;
use shelfsync_actors::inventory::ledger::MovementKind;

use crate::api_support::{
    account, add_channel, assert_refused, create_client, import, item, journal_of, mock_channel,
    post_movement, put_secret, Api, ADMIN,
};
use crate::mock_support::{create_listings, eventually, info, listed, start, wait_past};

const CODE: &str = "ACME";
const SKU: &str = "ACME-MUG";
const CHANNEL: &str = "shop";
const WITHIN: Duration = Duration::from_secs(20);

/// ACME with a Shopify channel on a mock listing SKU, and 10 units in the catalog.
async fn setup() -> (Api, MockServer) {
    let api = Api::start().await;
    let admin = api.client();
    create_client(&admin, CODE, "Acme Mugs").await;
    put_secret(&admin, CODE, "shopify", DEFAULT_TOKEN).await;
    let mock = start(Platform::Shopify, "default");
    let channel = shelfsync::api::channels::NewChannelBody {
        account: account(info(&mock).await["account"].clone()),
        ..mock_channel(CHANNEL, Platform::Shopify, &mock.base_url(), "shopify")
    };
    add_channel(&admin, CODE, &channel).await;
    let listing = create_listings(&mock, &[(SKU, 1)]).await[0]["listing_ref"].clone();
    let row = item(SKU, 10, &[(CHANNEL, listing.as_str().unwrap())]);
    assert_eq!(import(&admin, CODE, &[row]).await.imported, 1);
    (api, mock)
}

/// The whole history of the listing, walking its pages `page` events at a time.
async fn history(client: &ApiClient, page: usize) -> Vec<ListingEventView> {
    let mut events = Vec::new();
    let mut query = HistoryQuery {
        after: 0,
        limit: Some(page),
    };
    loop {
        let reply = client
            .listing_history(CODE, CHANNEL, SKU, &query)
            .await
            .unwrap();
        let short = reply.events.len() < page;
        events.extend(reply.events);
        if short {
            return events;
        }
        query.after = reply.next_after;
    }
}

/// Waits until the mock lists `quantity` and the history holds its confirmation; then takes an
/// instant, reads the mock at it (the ground truth) and returns both.
async fn settle_at(api: &Api, mock: &MockServer, quantity: i64) -> (DateTime<Utc>, i64) {
    let client = api.client();
    let confirmed = eventually(WITHIN, || async {
        let on_mock = listed(mock).await.get(SKU) == Some(&quantity);
        on_mock
            && history(&client, 1000).await.iter().any(|event| {
                matches!(event.what, ListingWhat::Confirmed { quantity: q, .. } if i64::from(q) == quantity)
            })
    })
    .await;
    assert!(confirmed, "{quantity}: {:?}", listed(mock).await);
    // The instant is strictly after the confirmation was recorded (the clocks are milliseconds).
    let latest = history(&client, 1000).await.last().unwrap().at;
    wait_past(latest.fixed_offset()).await;
    let instant = Utc::now();
    let shown = listed(mock).await[SKU];
    wait_past(instant.fixed_offset()).await;
    (instant, shown)
}

async fn explain_at(client: &ApiClient, at: Option<DateTime<Utc>>) -> ExplainView {
    let query = ExplainQuery {
        at: at.map(shelfsync::timestamp::rfc3339),
    };
    client
        .explain_listing(CODE, CHANNEL, SKU, &query)
        .await
        .unwrap()
}

#[tokio::test]
async fn the_explain_query_reproduces_what_the_mock_showed_at_an_instant_and_the_entries_behind_it()
{
    let (api, mock) = setup().await;
    let admin = api.client();
    let (first, shown_first) = settle_at(&api, &mock, 10).await;
    assert_eq!(shown_first, 10);
    post_movement(&admin, CODE, SKU, MovementKind::Receipt, 5, "po-1").await;
    let (second, shown_second) = settle_at(&api, &mock, 15).await;
    assert_eq!(shown_second, 15);
    let journal = journal_of(&admin, CODE, SKU).await;

    for (instant, truth) in [(first, shown_first), (second, shown_second)] {
        let explained = explain_at(&admin, Some(instant)).await;
        assert_eq!(
            explained.shown.map(i64::from),
            Some(truth),
            "at {instant}: {explained:?}"
        );
        assert!(explained.since.unwrap() <= instant);
        assert!(explained.pending.is_none(), "{explained:?}");
        let from = explained.computed_from.expect("a confirmed push");
        // The entries behind the number: the SKU's journal up to the push's sequence number.
        let behind: Vec<u64> = journal
            .iter()
            .map(|entry| entry.entry.seq)
            .filter(|seq| *seq <= from.ledger_seq)
            .collect();
        let given: Vec<u64> = from.entries.iter().map(|entry| entry.seq).collect();
        assert_eq!(given, behind, "at {instant}");
        assert_eq!(
            from.available_at_seq.map(|level| level.available),
            Some(truth),
            "the stock at that sequence number lists exactly what was shown (full policy)"
        );
        assert!(from.policy.is_some(), "the sent event carries the policy");
    }
    // The negative control: the first instant, before the receipt, gives the older number and
    // not the receipt's entry.
    let before = explain_at(&admin, Some(first)).await;
    let receipt_seq = journal.last().unwrap().entry.seq;
    assert_ne!(before.shown, Some(15));
    assert!(before
        .computed_from
        .unwrap()
        .entries
        .iter()
        .all(|entry| entry.seq < receipt_seq));
    let after = explain_at(&admin, Some(second)).await;
    assert_eq!(
        after.computed_from.unwrap().entries.last().unwrap().seq,
        receipt_seq
    );
    // Before anything was pushed, nothing was shown; and now is the latest number.
    let long_ago = "2001-01-01T00:00:00Z".parse().unwrap();
    assert_eq!(explain_at(&admin, Some(long_ago)).await.shown, None);
    assert_eq!(explain_at(&admin, None).await.shown, Some(15));

    // The history, oldest first, pages the same at any page size.
    let whole = history(&admin, 1000).await;
    let paged = history(&admin, 1).await;
    let ids = |events: &[ListingEventView]| events.iter().map(|event| event.id).collect::<Vec<_>>();
    assert_eq!(ids(&whole), ids(&paged));
    assert!(whole.windows(2).all(|pair| pair[0].id < pair[1].id));
    let sent_first = whole
        .iter()
        .position(|event| matches!(event.what, ListingWhat::Sent { quantity: 15, .. }));
    let confirmed_then = whole
        .iter()
        .position(|event| matches!(event.what, ListingWhat::Confirmed { quantity: 15, .. }));
    assert!(sent_first < confirmed_then, "{whole:?}");
}

#[tokio::test]
async fn the_listing_routes_are_scoped_and_refuse_bad_input_with_a_stable_code() {
    let (api, mock) = setup().await;
    settle_at(&api, &mock, 10).await;
    create_client(&api.client(), "ZETA", "Zeta").await;
    let other = api.member(Role::Manager, &["ZETA"]).await;
    let viewer = api.member(Role::Viewer, &[CODE]).await;
    let before = history(&api.client(), 1000).await;
    let base = format!("/v1/clients/{CODE}/channels/{CHANNEL}/listings/{SKU}");
    for route in ["history", "explain"] {
        let path = format!("{base}/{route}");
        let (status, reply, _) = api.call(Method::GET, &path, Some(&other), None).await;
        assert_eq!((status, reply["code"].as_str()), (404, Some("not_found")));
        let (status, reply, _) = api.call(Method::GET, &path, Some(&viewer), None).await;
        assert_eq!(status, 200, "a viewer reads {path}: {reply}");
        let (status, reply, _) = api.call(Method::POST, &path, Some(ADMIN), None).await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (405, Some("method_not_allowed"))
        );
    }
    let cases = [
        (format!("{base}/history?limit=0"), 400, "invalid_field"),
        (format!("{base}/history?limit=5000"), 400, "invalid_field"),
        (format!("{base}/history?after=x"), 400, "invalid_field"),
        (format!("{base}/history?cursor=1"), 400, "invalid_field"),
        (format!("{base}/explain?at=yesterday"), 400, "invalid_field"),
        (
            format!("{base}/explain?at=1969-12-31T00:00:00Z"),
            400,
            "invalid_field",
        ),
        (
            format!("/v1/clients/{CODE}/channels/{CHANNEL}/listings/%20/explain"),
            400,
            "invalid_sku",
        ),
        (
            format!("/v1/clients/{CODE}/channels/nowhere/listings/{SKU}/history"),
            404,
            "not_found",
        ),
        (
            format!("/v1/clients/{CODE}/channels/Bad%20Id/listings/{SKU}/explain"),
            404,
            "not_found",
        ),
    ];
    for (path, status, code) in cases {
        let (got, reply, content_type) = api.call(Method::GET, &path, Some(ADMIN), None).await;
        assert_eq!(
            (got, reply["code"].as_str()),
            (status, Some(code)),
            "{path}: {reply}"
        );
        assert_eq!(content_type, "application/problem+json", "{path}");
        assert!(!reply["detail"].as_str().unwrap_or_default().is_empty());
    }
    let refused = api
        .client()
        .explain_listing("ZETA", CHANNEL, SKU, &ExplainQuery::default())
        .await;
    assert_refused(refused, 404, Code::NotFound, "ZETA has no such channel");
    // A SKU the channel never pushed: no history, nothing shown.
    let query = ExplainQuery::default();
    let never = api
        .client()
        .explain_listing(CODE, CHANNEL, "ACME-NEVER", &query)
        .await
        .unwrap();
    assert_eq!((never.shown, never.evidence.is_none()), (None, true));
    let after = history(&api.client(), 1000).await;
    assert_eq!(
        after.iter().map(|event| event.id).collect::<Vec<_>>(),
        before.iter().map(|event| event.id).collect::<Vec<_>>(),
        "no refused call changed anything"
    );
}
