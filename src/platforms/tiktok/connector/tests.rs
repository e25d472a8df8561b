//! The connector's own readings: the signature, the envelope's codes, the order feed's cursor.

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::json;

use shelfsync_actors::channel::marketplace::OrderEventKind;

use super::orders::{Cursor, OrderList};
use super::*;
use crate::platforms::connector::ListingMap;

#[test]
fn the_sign_is_the_references_formula_computed_by_hand() {
    // hmac.new(b"secret", b"secret" + b"/product/202309/inventory/search" + b"app_keyk"
    //          + b"shop_cipherc" + b"timestamp1700000000" + body + b"secret", sha256).hexdigest()
    let params = [
        ("timestamp", "1700000000".to_string()),
        ("app_key", "k".to_string()),
        ("shop_cipher", "c".to_string()),
    ];
    assert_eq!(
        sign(
            "secret",
            "/product/202309/inventory/search",
            &params,
            br#"{"sku_ids":["1"]}"#
        ),
        "e89e6c9b9ee9a5463e2a4ecf75006ac2c045358e86019e5ff2429ea20b2940dd"
    );
}

fn reply(
    status: StatusCode,
    body: serde_json::Value,
) -> Result<serde_json::Value, MarketplaceError> {
    read_reply(status, &HeaderMap::new(), &body.to_string(), "a test")
}

#[test]
fn a_non_zero_code_is_never_a_success_whatever_the_status() {
    let ok = reply(
        StatusCode::OK,
        json!({"code": 0, "message": "Success", "data": {"a": 1}}),
    );
    assert_eq!(ok, Ok(json!({"a": 1})));
    for (code, kind) in [
        (105_002, "auth"),
        (106_001, "auth"),
        (36_009_004, "not_found"),
        (36_009_003, "invalid"),
        (36_009_009, "throttled"),
        (12_345_678, "transient"),
    ] {
        let error = reply(
            StatusCode::OK,
            json!({"code": code, "message": "no", "data": {}}),
        )
        .unwrap_err();
        assert_eq!(error.kind(), kind, "code {code} under HTTP 200");
    }
    // An unknown code under a failing status is read by the status.
    let unknown = json!({"code": 1, "message": "x"});
    assert_eq!(
        reply(StatusCode::UNAUTHORIZED, unknown.clone())
            .unwrap_err()
            .kind(),
        "auth"
    );
    assert_eq!(
        reply(StatusCode::BAD_GATEWAY, unknown).unwrap_err().kind(),
        "transient"
    );
    // A 429 is a throttle whatever its body; a 5xx without an envelope is transient.
    assert_eq!(
        reply(StatusCode::TOO_MANY_REQUESTS, json!("x"))
            .unwrap_err()
            .kind(),
        "throttled"
    );
    let bare =
        read_reply::<serde_json::Value>(StatusCode::BAD_GATEWAY, &HeaderMap::new(), "<html>", "t");
    assert_eq!(bare.unwrap_err().kind(), "transient");
    let garbled = read_reply::<serde_json::Value>(StatusCode::OK, &HeaderMap::new(), "<html>", "t");
    assert_eq!(garbled.unwrap_err().kind(), "invalid");
}

fn orders(list: serde_json::Value) -> OrderList {
    serde_json::from_value(list).unwrap()
}

#[test]
fn the_cursor_keeps_its_second_while_pages_follow_then_moves_to_the_latest() {
    let start = Cursor::resume(None, 1_000).unwrap();
    assert_eq!((start.since, start.token.as_deref()), (1_000, None));
    let listings = ListingMap::default();
    let first = start.page(
        orders(json!({"orders": [
            {"id": "1", "status": "AWAITING_SHIPMENT", "update_time": 1_005,
             "line_items": [{"seller_sku": "ACME-MUG", "quantity": 2}]}
        ], "next_page_token": "t1"})),
        &listings,
    );
    assert!(first.more);
    let next = Cursor::resume(Some(&first.next_cursor), 0).unwrap();
    assert_eq!((next.since, next.token.as_deref()), (1_000, Some("t1")));
    let last = next.page(
        orders(json!({"orders": [
            {"id": "2", "status": "CANCELLED", "update_time": 1_009,
             "line_items": [{"seller_sku": "ACME-CAP"}, {"product_id": "9", "sku_id": "8"}]}
        ], "next_page_token": ""})),
        &listings,
    );
    assert!(!last.more);
    let after = Cursor::resume(Some(&last.next_cursor), 0).unwrap();
    assert_eq!((after.since, after.token), (1_009, None));
    // A line without a quantity is one unit; a line whose SKU cannot be told is skipped.
    let events: Vec<(&str, u32, OrderEventKind, u32)> = last
        .events
        .iter()
        .map(|event| (event.sku.as_str(), event.quantity, event.kind, event.line))
        .collect();
    assert_eq!(
        events,
        [
            ("ACME-CAP", 1, OrderEventKind::Sale, 1),
            ("ACME-CAP", 1, OrderEventKind::Cancel, 1)
        ]
    );
    assert!(Cursor::resume(Some("12"), 0).is_err());
}
