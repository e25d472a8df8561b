use reqwest::header::HeaderValue;
use shelfsync_actors::channel::marketplace::OrderEventKind;
use shelfsync_actors::testing::{confirmed, item, sku};

use super::orders::*;
use super::*;
use crate::platforms::connector::ListingMap;

fn at(text: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(text)
        .unwrap()
        .with_timezone(&Utc)
}

fn order(id: &str, modified: &str, cancel: &str, lines: Value) -> Value {
    json!({"orderId": id, "lastModifiedDate": modified, "creationDate": modified,
        "cancelStatus": {"cancelState": cancel, "cancelRequests": []}, "lineItems": lines})
}

fn line(id: &str, sku: &str, quantity: i64) -> Value {
    json!({"lineItemId": id, "sku": sku, "quantity": quantity})
}

fn reply(orders: Vec<Value>, next: bool) -> OrdersReply {
    let mut body = json!({"total": orders.len(), "orders": orders});
    if next {
        body["next"] = json!("https://api.ebay.com/sell/fulfillment/v1/order?offset=2");
    }
    serde_json::from_value(body).unwrap()
}

#[test]
fn the_bulk_body_sets_only_item_level_quantities() {
    let items = [item("ACME-MUG", 3), item("ACME-CAP", 0)];
    let body = bulk_body(&items, &["mug-1".to_string(), "ACME-CAP".to_string()]);
    assert_eq!(
        body,
        json!({"requests": [
            {"sku": "mug-1", "shipToLocationAvailability": {"quantity": 3}},
            {"sku": "ACME-CAP", "shipToLocationAvailability": {"quantity": 0}}
        ]})
    );
}

#[test]
fn item_statuses_become_outcomes_in_the_items_order() {
    let reply: BulkReply = serde_json::from_value(json!({"responses": [
        {"statusCode": 404, "sku": "B", "errors": [{"errorId": 25710, "message": "not found"}]},
        {"statusCode": 200, "sku": "A", "offerId": "1", "errors": [], "warnings": []},
        {"statusCode": 400, "sku": "C", "errors": [{"errorId": 25709, "message": "bad"}]},
        {"statusCode": 500, "sku": "D", "errors": []},
        {"statusCode": 200, "sku": "A", "errors": []}
    ]}))
    .unwrap();
    let items = vec![
        item("A", 1),
        item("B", 2),
        item("C", 3),
        item("D", 4),
        item("A", 5),
        item("E", 6),
    ];
    let skus: Vec<String> = ["A", "B", "C", "D", "A", "E"].map(String::from).to_vec();
    let outcomes = push_outcomes(items, &skus, reply);
    let kinds: Vec<&str> = outcomes
        .iter()
        .map(|outcome| match outcome {
            PushOutcome::Confirmed { .. } => "confirmed",
            PushOutcome::Failed { error, .. } => error.kind(),
            PushOutcome::Stale { .. } => "stale",
        })
        .collect();
    assert_eq!(
        kinds,
        [
            "confirmed",
            "not_found",
            "invalid",
            "transient",
            "confirmed",
            "transient"
        ]
    );
    assert_eq!(outcomes[4], confirmed("A", 5));
    let PushOutcome::Failed { error, .. } = &outcomes[1] else {
        panic!("B failed");
    };
    assert!(error.to_string().contains("errorId 25710"), "{error}");
}

#[test]
fn a_throttle_waits_for_the_header_or_the_default() {
    assert_eq!(
        throttled(&HeaderMap::new()),
        MarketplaceError::Throttled {
            retry_after: Some(DEFAULT_THROTTLE_WAIT)
        }
    );
    let mut headers = HeaderMap::new();
    headers.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("90"));
    assert_eq!(
        throttled(&headers),
        MarketplaceError::Throttled {
            retry_after: Some(Duration::from_secs(90))
        }
    );
}

#[test]
fn error_messages_carry_ebay_error_ids_not_the_raw_body() {
    let body = r#"{"errors":[{"errorId":1001,"domain":"OAuth","category":"REQUEST",
        "message":"Invalid access token","longMessage":"Check the header."}]}"#;
    assert_eq!(body_summary(body), "errorId 1001: Invalid access token");
    assert_eq!(body_summary("<html>down</html>"), "<html>down</html>");
    assert_eq!(body_summary(&"x".repeat(500)).len(), 300);
}

#[test]
fn the_read_quantity_is_the_item_level_one() {
    let item: InventoryItem = serde_json::from_value(json!({"sku": "A",
        "availability": {"shipToLocationAvailability": {"quantity": 12}}}))
    .unwrap();
    assert_eq!(item.quantity(), 12);
    let none: InventoryItem = serde_json::from_value(json!({"sku": "A"})).unwrap();
    assert_eq!(none.quantity(), 0);
    assert!(serde_json::from_value::<InventoryItem>(
        json!({"availability": {"shipToLocationAvailability": {"quantity": "twelve"}}})
    )
    .is_err());
}

#[test]
fn cursors_round_trip_and_nonsense_is_invalid() {
    let plain = Cursor::parse("2026-05-01T12:00:00.123Z").unwrap();
    assert_eq!(
        plain,
        Cursor {
            since: at("2026-05-01T12:00:00.123Z"),
            skip: 0
        }
    );
    assert_eq!(plain.text(), "2026-05-01T12:00:00.123Z");
    assert_eq!(
        plain.filter(),
        "lastmodifieddate:[2026-05-01T12:00:00.123Z..]"
    );
    let skipping = Cursor::parse("2026-05-01T12:00:00.123Z#4").unwrap();
    assert_eq!(skipping.skip, 4);
    assert_eq!(skipping.text(), "2026-05-01T12:00:00.123Z#4");
    for bad in [
        "",
        "yesterday",
        "2026-05-01T12:00:00Z#x",
        "2026-05-01T12:00:00Z#-1",
    ] {
        assert_eq!(Cursor::parse(bad).unwrap_err().kind(), "invalid", "{bad}");
    }
}

#[test]
fn a_page_yields_a_sale_per_line_and_a_cancel_per_line_of_a_cancelled_order() {
    let listings = ListingMap::default();
    listings.insert(sku("ACME-MUG"), "mug-1".into());
    let page = order_page(
        reply(
            vec![
                order(
                    "12-1",
                    "2026-05-01T12:00:00.100Z",
                    "NONE_REQUESTED",
                    json!([
                        line("10000000000002", "ACME-CAP", 1),
                        line("10000000000001", "mug-1", 2)
                    ]),
                ),
                order(
                    "12-2",
                    "2026-05-01T12:00:00.300Z",
                    "CANCELED",
                    json!([line("10000000000003", "ACME-CAP", 4)]),
                ),
            ],
            false,
        ),
        Cursor::parse("2026-05-01T12:00:00.000Z").unwrap(),
        &listings,
    )
    .unwrap();
    let events: Vec<(&str, u32, &str, OrderEventKind, u32, &str)> = page
        .events
        .iter()
        .map(|e| {
            (
                e.external_order_id.as_str(),
                e.line,
                e.sku.as_str(),
                e.kind,
                e.quantity,
                e.version.as_str(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("12-1", 1, "ACME-MUG", OrderEventKind::Sale, 2, "placed"),
            ("12-1", 2, "ACME-CAP", OrderEventKind::Sale, 1, "placed"),
            ("12-2", 1, "ACME-CAP", OrderEventKind::Sale, 4, "placed"),
            (
                "12-2",
                1,
                "ACME-CAP",
                OrderEventKind::Cancel,
                4,
                "cancelled"
            ),
        ]
    );
    assert_eq!(
        (page.next_cursor.as_str(), page.more),
        ("2026-05-01T12:00:00.300Z", false)
    );
}

#[test]
fn bad_lines_are_skipped_and_a_bad_date_is_invalid() {
    let listings = ListingMap::default();
    let since = Cursor::parse("2026-05-01T12:00:00.000Z").unwrap();
    let page = order_page(
        reply(
            vec![order(
                "12-1",
                "2026-05-01T12:00:00.100Z",
                "NONE_REQUESTED",
                json!([
                    line("1", "", 1),
                    line("2", "ACME-MUG", -1),
                    line("3", "ACME-MUG", 1)
                ]),
            )],
            false,
        ),
        since,
        &listings,
    )
    .unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].line, 3, "the line keeps its position");
    let bad = order_page(
        reply(
            vec![order("12-1", "soon", "NONE_REQUESTED", json!([]))],
            false,
        ),
        since,
        &listings,
    )
    .unwrap_err();
    assert_eq!(bad.kind(), "invalid");
    assert!(bad.to_string().contains("12-1"), "{bad}");
    let malformed = serde_json::from_value::<OrdersReply>(json!({"orders": [{"orderId": "1"}]}));
    assert!(malformed.is_err(), "an order without lastModifiedDate");
}

#[test]
fn the_cursor_moves_by_time_and_by_offset_only_when_stuck_in_one_millisecond() {
    let listings = ListingMap::default();
    let t0 = "2026-05-01T12:00:00.000Z";
    let t1 = "2026-05-01T12:00:00.005Z";
    let one = |modified: &str, id: &str| {
        order(
            id,
            modified,
            "NONE_REQUESTED",
            json!([line("1", "ACME-MUG", 1)]),
        )
    };
    // A full page with later changes: the next page starts at the latest change, offset 0
    // (the orders of that millisecond are read again).
    let page = order_page(
        reply(vec![one(t0, "a"), one(t1, "b")], true),
        Cursor::parse(t0).unwrap(),
        &listings,
    )
    .unwrap();
    assert_eq!((page.next_cursor.as_str(), page.more), (t1, true));
    // A full page all in the cursor's millisecond: move on by offset, adding up.
    let page = order_page(
        reply(vec![one(t1, "b"), one(t1, "c")], true),
        Cursor::parse(t1).unwrap(),
        &listings,
    )
    .unwrap();
    assert_eq!(page.next_cursor, format!("{t1}#2"));
    let page = order_page(
        reply(vec![one(t1, "d"), one(t1, "e")], true),
        Cursor::parse(&format!("{t1}#2")).unwrap(),
        &listings,
    )
    .unwrap();
    assert_eq!(page.next_cursor, format!("{t1}#4"));
    // The last page of a run resets the offset, and an empty page keeps the time.
    let page = order_page(
        reply(vec![one(t1, "f")], false),
        Cursor::parse(&format!("{t1}#4")).unwrap(),
        &listings,
    )
    .unwrap();
    assert_eq!((page.next_cursor.as_str(), page.more), (t1, false));
    let page = order_page(
        reply(vec![], true),
        Cursor::parse(&format!("{t1}#4")).unwrap(),
        &listings,
    )
    .unwrap();
    assert_eq!((page.next_cursor.as_str(), page.more), (t1, false));
    // A change older than the cursor never moves it back.
    let page = order_page(
        reply(vec![one(t0, "a")], false),
        Cursor::parse(t1).unwrap(),
        &listings,
    )
    .unwrap();
    assert_eq!(page.next_cursor, t1);
}
