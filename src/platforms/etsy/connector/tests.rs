use serde_json::json;
use shelfsync_actors::channel::marketplace::OrderEventKind;

use super::inventory::*;
use super::orders::*;
use super::*;
use crate::platforms::connector::ListingMap;

/// The `GET` shape of the docs' example listing, with a second variation (blue, other SKU).
fn docs_inventory() -> Value {
    json!({
        "products": [
            {"product_id": 10000000001u64, "sku": "ACME-MUG-RED", "is_deleted": false,
             "property_values": [{"property_id": 200, "property_name": "Primary color",
                "scale_id": null, "scale_name": null, "value_ids": [1213], "values": ["Red"]}],
             "offerings": [{"offering_id": 20000000001u64, "quantity": 7, "is_enabled": true,
                "is_deleted": false, "price": {"amount": 2200, "divisor": 100, "currency_code": "USD"},
                "readiness_state_id": 12345}]},
            {"product_id": 10000000002u64, "sku": "ACME-MUG-BLUE", "is_deleted": false,
             "property_values": [{"property_id": 200, "property_name": "Primary color",
                "scale_id": null, "scale_name": null, "value_ids": [1214], "values": ["Blue"]}],
             "offerings": [{"offering_id": 20000000002u64, "quantity": 4, "is_enabled": true,
                "is_deleted": false, "price": {"amount": 2450, "divisor": 100, "currency_code": "USD"},
                "readiness_state_id": 12345}]}
        ],
        "price_on_property": [200], "quantity_on_property": [200], "sku_on_property": [200],
        "readiness_state_on_property": []
    })
}

#[test]
fn the_put_body_is_the_get_shape_stripped_with_one_quantity_changed() {
    let body = put_body(&docs_inventory(), "ACME-MUG-RED", 3).unwrap();
    assert_eq!(
        body,
        json!({
            "products": [
                {"sku": "ACME-MUG-RED",
                 "property_values": [{"property_id": 200, "property_name": "Primary color",
                    "scale_id": null, "value_ids": [1213], "values": ["Red"]}],
                 "offerings": [{"price": 22.0, "quantity": 3, "is_enabled": true,
                    "readiness_state_id": 12345}]},
                {"sku": "ACME-MUG-BLUE",
                 "property_values": [{"property_id": 200, "property_name": "Primary color",
                    "scale_id": null, "value_ids": [1214], "values": ["Blue"]}],
                 "offerings": [{"price": 24.5, "quantity": 4, "is_enabled": true,
                    "readiness_state_id": 12345}]}
            ],
            "price_on_property": [200], "quantity_on_property": [200], "sku_on_property": [200],
            "readiness_state_on_property": []
        })
    );
    let missing = put_body(&docs_inventory(), "ACME-CAP", 3).unwrap_err();
    assert_eq!(missing.kind(), "not_found");
}

#[test]
fn a_malformed_inventory_is_invalid_never_a_panic() {
    for bad in [
        json!({}),
        json!({"products": "x"}),
        json!({"products": [{"sku": "ACME-MUG-RED"}]}),
        json!({"products": [{"sku": "ACME-MUG-RED", "offerings": [{"quantity": 1, "is_enabled": true,
            "price": {"amount": 1, "divisor": 0}}]}]}),
        json!({"products": [{"sku": "ACME-MUG-RED", "offerings": [{"quantity": "1",
            "is_enabled": true, "price": 2.0}]}]}),
    ] {
        assert_eq!(
            put_body(&bad, "ACME-MUG-RED", 1).unwrap_err().kind(),
            "invalid",
            "{bad}"
        );
    }
}

#[test]
fn offerings_beyond_u64_read_as_the_most_a_listing_shows_not_a_wrapped_sum() {
    let inventory = json!({"products": [{"sku": "ACME-MUG", "offerings": [
        {"quantity": u64::MAX, "is_enabled": true},
        {"quantity": 2, "is_enabled": true},
    ]}]});
    assert_eq!(listed_quantity(&inventory, "ACME-MUG").unwrap(), u32::MAX);
}

#[test]
fn only_enabled_offerings_count_and_the_first_takes_the_quantity() {
    let inventory = json!({"products": [{"sku": "ACME-MUG", "offerings": [
        {"quantity": 2, "is_enabled": false, "price": 1.0},
        {"quantity": 5, "is_enabled": true, "price": 1.0},
        {"quantity": 6, "is_enabled": true, "price": 1.0}]}]});
    assert_eq!(listed_quantity(&inventory, "ACME-MUG").unwrap(), 11);
    let body = put_body(&inventory, "ACME-MUG", 9).unwrap();
    let quantities: Vec<&Value> = body["products"][0]["offerings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|offering| &offering["quantity"])
        .collect();
    assert_eq!(quantities, [&json!(2), &json!(9), &json!(0)]);
    assert_eq!(
        listed_quantity(&inventory, "OTHER").unwrap_err().kind(),
        "not_found"
    );
}

fn receipts(count: usize, rows: &[(u64, i64, &str)]) -> ReceiptsReply {
    let results: Vec<Value> = rows
        .iter()
        .map(|&(id, updated, status)| {
            json!({"receipt_id": id, "status": status, "updated_timestamp": updated,
                   "transactions": [{"sku": "ACME-MUG", "listing_id": 1, "quantity": 2}]})
        })
        .collect();
    serde_json::from_value(json!({"count": count, "results": results})).unwrap()
}

fn cursor(since: i64, offset: usize) -> Cursor {
    Cursor { since, offset }
}

#[test]
fn receipts_become_sales_and_cancels() {
    let reply = receipts(2, &[(7, 100, "paid"), (8, 101, "canceled")]);
    let page = order_page(reply, cursor(100, 0), &ListingMap::default()).unwrap();
    let events: Vec<(&str, OrderEventKind, &str, u32)> = page
        .events
        .iter()
        .map(|e| {
            (
                e.external_order_id.as_str(),
                e.kind,
                e.version.as_str(),
                e.quantity,
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("7", OrderEventKind::Sale, "placed", 2),
            ("8", OrderEventKind::Sale, "placed", 2),
            ("8", OrderEventKind::Cancel, "cancelled", 2)
        ]
    );
    assert!(!page.more);
    assert_eq!(Cursor::parse(&page.next_cursor).unwrap(), cursor(101, 0));
}

#[test]
fn a_line_without_sku_takes_the_listings_sku_or_is_skipped() {
    let reply: ReceiptsReply = serde_json::from_value(json!({"count": 1, "results": [
        {"receipt_id": 9, "status": "paid", "update_timestamp": 100, "transactions": [
            {"sku": "", "listing_id": 1000000001u64, "quantity": 1},
            {"sku": null, "listing_id": 5, "quantity": 1}]}]}))
    .unwrap();
    let listings = ListingMap::default();
    listings.insert(Sku::parse("ACME-MUG").unwrap(), "1000000001".into());
    let page = order_page(reply, cursor(100, 0), &listings).unwrap();
    assert_eq!(page.events.len(), 1);
    assert_eq!(page.events[0].sku.as_str(), "ACME-MUG");
}

/// Reads a page of `count` receipts holding `rows` from `from`: whether more follow, and the
/// cursor the next read starts at.
fn resume(count: usize, rows: &[(u64, i64, &str)], from: Cursor) -> (bool, Cursor) {
    let page = order_page(receipts(count, rows), from, &ListingMap::default()).unwrap();
    (page.more, Cursor::parse(&page.next_cursor).unwrap())
}

#[test]
fn the_cursor_overlaps_the_last_second_and_pages_by_offset_only_within_one() {
    // Part of the page is before its last second: ask again from that second, offset 0.
    let rows = [(1, 100, "paid"), (2, 102, "paid")];
    assert_eq!(resume(5, &rows, cursor(100, 0)), (true, cursor(102, 0)));
    // The whole page in the cursor's second: the offset moves on.
    let rows = [(3, 102, "paid"), (4, 102, "paid")];
    assert_eq!(resume(5, &rows, cursor(102, 1)), (true, cursor(102, 3)));
    // The whole page in a later second: offset from that second's start.
    let rows = [(3, 104, "paid"), (4, 104, "paid")];
    assert_eq!(resume(5, &rows, cursor(102, 0)).1, cursor(104, 2));
    // The end of the feed: the last second again, whole.
    let rows = [(5, 102, "paid")];
    assert_eq!(resume(4, &rows, cursor(102, 3)), (false, cursor(102, 0)));
    // Nothing new: the same second, from its start.
    assert_eq!(resume(0, &[], cursor(105, 2)), (false, cursor(105, 0)));
}

#[test]
fn a_foreign_cursor_or_receipt_is_invalid() {
    assert_eq!(Cursor::parse("1700000000").unwrap_err().kind(), "invalid");
    assert_eq!(cursor(5, 1).to_text(), r#"{"since":5,"offset":1}"#);
    let reply: ReceiptsReply = serde_json::from_value(
        json!({"count": 1, "results": [{"receipt_id": 1, "status": "paid"}]}),
    )
    .unwrap();
    assert_eq!(
        order_page(reply, cursor(1, 0), &ListingMap::default())
            .unwrap_err()
            .kind(),
        "invalid"
    );
}
