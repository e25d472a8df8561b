use shelfsync_actors::channel::marketplace::OrderEventKind;
use shelfsync_actors::testing::sku;

use super::listings::*;
use super::orders::*;
use super::*;

#[test]
fn patch_replies_map_to_verdicts() {
    assert_eq!(
        patch_verdict(r#"{"sku":"A","status":"ACCEPTED","submissionId":"x","issues":[]}"#).unwrap(),
        PatchVerdict::Accepted
    );
    let refused = patch_verdict(
        r#"{"sku":"A","status":"INVALID","submissionId":"x","issues":[
            {"code":"90244","message":"quantity too large","severity":"ERROR"}]}"#,
    )
    .unwrap();
    assert_eq!(
        refused,
        PatchVerdict::Refused("Amazon refused the patch: 90244: quantity too large".into())
    );
    assert_eq!(
        patch_verdict(r#"{"status":"VALID"}"#).unwrap_err().kind(),
        "invalid"
    );
    assert_eq!(patch_verdict("<html>").unwrap_err().kind(), "invalid");
}

#[test]
fn the_default_channel_quantity_is_read() {
    let body = r#"{"sku":"A","fulfillmentAvailability":[
        {"fulfillmentChannelCode":"AMAZON_NA","quantity":50},
        {"fulfillmentChannelCode":"DEFAULT","quantity":7}]}"#;
    assert_eq!(listed_quantity(body).unwrap(), 7);
    assert_eq!(listed_quantity(r#"{"sku":"A"}"#).unwrap(), 0);
    assert_eq!(
        listed_quantity(
            r#"{"fulfillmentAvailability":[{"fulfillmentChannelCode":"DEFAULT","quantity":-1}]}"#
        )
        .unwrap_err()
        .kind(),
        "invalid"
    );
    assert_eq!(
        listed_quantity(r#"{"fulfillmentAvailability":3}"#)
            .unwrap_err()
            .kind(),
        "invalid"
    );
}

#[test]
fn the_product_type_comes_from_the_marketplace_summary() {
    let body = r#"{"summaries":[{"marketplaceId":"OTHER","productType":"SHOES"},
        {"marketplaceId":"ATVPDKIKX0DER","productType":"LUGGAGE"}]}"#;
    assert_eq!(
        summary_product_type(body, "ATVPDKIKX0DER").unwrap(),
        "LUGGAGE"
    );
    assert_eq!(
        summary_product_type(r#"{"summaries":[]}"#, "X")
            .unwrap_err()
            .kind(),
        "invalid"
    );
}

#[test]
fn errors_map_to_engine_kinds_with_the_operation_wait() {
    let throttled = r#"{"errors":[{"code":"QuotaExceeded","message":"You exceeded your quota for the requested resource.","details":""}]}"#;
    assert_eq!(
        reply_error(Operation::GetOrders, 429, throttled),
        MarketplaceError::Throttled {
            retry_after: Some(Duration::from_millis(59_880))
        }
    );
    assert_eq!(
        reply_error(Operation::PatchListingsItem, 429, ""),
        MarketplaceError::Throttled {
            retry_after: Some(Duration::from_millis(200))
        }
    );
    assert_eq!(
        reply_error(Operation::GetOrderItems, 429, ""),
        MarketplaceError::Throttled {
            retry_after: Some(Duration::from_secs(2))
        }
    );
    let denied = r#"{"errors":[{"code":"Unauthorized","message":"Access to requested resource is denied.","details":""}]}"#;
    assert_eq!(
        reply_error(Operation::GetListingsItem, 403, denied),
        MarketplaceError::Permanent {
            kind: PermanentKind::Auth,
            message: "HTTP 403: Unauthorized: Access to requested resource is denied.".into()
        }
    );
    assert_eq!(
        reply_error(Operation::GetListingsItem, 503, "").kind(),
        "transient"
    );
    assert_eq!(
        reply_error(Operation::GetListingsItem, 404, "").kind(),
        "not_found"
    );
    assert_eq!(
        reply_error(Operation::GetOrders, 400, "{}").kind(),
        "invalid"
    );
}

#[test]
fn cursors_round_trip_and_refuse_nonsense() {
    let plain = Cursor::parse("2026-01-01T00:00:00.250Z").unwrap();
    assert_eq!(plain.next_token, None);
    assert_eq!(plain.to_text(), "2026-01-01T00:00:00.250Z");
    let paged = Cursor::parse("2026-01-01T00:00:00.250Z|abc|def==").unwrap();
    assert_eq!(paged.next_token.as_deref(), Some("abc|def=="));
    assert_eq!(Cursor::parse(&paged.to_text()).unwrap(), paged);
    assert_eq!(Cursor::parse("yesterday").unwrap_err().kind(), "invalid");
}

fn order(id: &str, status: &str) -> AmazonOrder {
    AmazonOrder {
        amazon_order_id: id.into(),
        order_status: status.into(),
        last_update_date: Some("2026-01-01T00:00:05.000Z".into()),
    }
}

#[test]
fn an_order_yields_a_sale_per_line_and_a_cancel_once_canceled() {
    let items: ItemsReply = serde_json::from_value(json!({"payload": {
    "AmazonOrderId": "902-1",
    "OrderItems": [
        {"SellerSKU": "ACME-MUG", "QuantityOrdered": 2, "OrderItemId": "1"},
        {"SellerSKU": "   ", "QuantityOrdered": 1},
        {"SellerSKU": "ACME-CAP", "QuantityOrdered": 1}
    ]}}))
    .unwrap();
    let lines = lines_of(&items.payload.order_items, |raw| Sku::parse(raw).ok());
    assert_eq!(
        lines,
        [
            Line {
                line: 1,
                sku: sku("ACME-MUG"),
                quantity: 2
            },
            Line {
                line: 3,
                sku: sku("ACME-CAP"),
                quantity: 1
            }
        ]
    );
    let placed = order_events(&order("902-1", "Unshipped"), &lines);
    assert_eq!(placed.len(), 2);
    assert!(placed
        .iter()
        .all(|event| event.kind == OrderEventKind::Sale && event.version == "placed"));
    let cancelled = order_events(&order("902-1", "Canceled"), &lines);
    let kinds: Vec<(u32, OrderEventKind)> = cancelled
        .iter()
        .map(|event| (event.line, event.kind))
        .collect();
    assert_eq!(
        kinds,
        [
            (1, OrderEventKind::Sale),
            (1, OrderEventKind::Cancel),
            (3, OrderEventKind::Sale),
            (3, OrderEventKind::Cancel)
        ]
    );
    assert_eq!(cancelled[0], placed[0], "the sale is the same event again");
}

#[test]
fn the_next_cursor_is_the_next_page_or_the_window_end() {
    let cursor = Cursor::parse("2026-01-01T00:00:00.000Z").unwrap();
    let paged: OrdersReply = serde_json::from_value(json!({"payload": {
        "Orders": [], "NextToken": "tok", "LastUpdatedBefore": "2026-01-01T00:01:00.000Z"}}))
    .unwrap();
    let (next, more) = next_cursor(&cursor, &paged.payload).unwrap();
    assert!(more);
    assert_eq!(next.to_text(), "2026-01-01T00:00:00.000Z|tok");
    let last: OrdersReply = serde_json::from_value(json!({"payload": {
        "Orders": [], "LastUpdatedBefore": "2026-01-01T00:01:00.000Z"}}))
    .unwrap();
    let (next, more) = next_cursor(&next, &last.payload).unwrap();
    assert!(!more);
    assert_eq!(next.to_text(), "2026-01-01T00:01:00.000Z");
    // Without a window end: the latest update seen, never before the start.
    let bare = OrdersPayload {
        orders: vec![order("902-1", "Unshipped")],
        next_token: None,
        last_updated_before: None,
    };
    let (next, _) = next_cursor(&cursor, &bare).unwrap();
    assert_eq!(next.to_text(), "2026-01-01T00:00:05.000Z");
    let broken = OrdersPayload {
        orders: vec![],
        next_token: None,
        last_updated_before: Some("soon".into()),
    };
    assert_eq!(next_cursor(&cursor, &broken).unwrap_err().kind(), "invalid");
}

#[test]
fn tuning_takes_the_mock_account_hints() {
    let tuning = AmazonTuning::from_account(&json!({"apply_delay_ms": 300, "orders_lag_ms": 200}));
    assert_eq!(tuning.confirm_first_wait, Duration::from_millis(300));
    assert_eq!(tuning.orders_lag, Duration::from_millis(200));
    assert_eq!(
        AmazonTuning::from_account(&json!({})).orders_lag,
        Duration::from_secs(120)
    );
}
