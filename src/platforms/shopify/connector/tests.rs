use shelfsync_actors::channel::marketplace::OrderEventKind;
use shelfsync_actors::inventory::exceptions::UnapplicableReason;
use shelfsync_actors::testing::{confirmed, sku};

use super::inventory::*;
use super::notify::*;
use super::orders::*;
use super::*;

fn sent(text: &str, item: &str, quantity: u32, previous: Option<u32>) -> Sent {
    Sent {
        inventory_item: item.to_string(),
        item: PushItem {
            sku: sku(text),
            quantity,
            previous,
            ledger_seq: 7,
        },
    }
}

#[test]
fn the_input_carries_change_from_on_every_quantity_and_the_key_follows_the_input() {
    let items = [
        sent("SKU-1", "gid://shopify/InventoryItem/1", 3, Some(5)),
        sent("SKU-2", "gid://shopify/InventoryItem/2", 4, None),
    ];
    let input = set_input("gid://shopify/Location/9", &items);
    assert_eq!(input["name"], "available");
    assert_eq!(input["reason"], "correction");
    assert_eq!(input["quantities"][0]["changeFromQuantity"], 5);
    assert!(input["quantities"][1]
        .as_object()
        .unwrap()
        .contains_key("changeFromQuantity"));
    assert_eq!(input["quantities"][1]["changeFromQuantity"], Value::Null);
    assert_eq!(
        input["quantities"][1]["locationId"],
        "gid://shopify/Location/9"
    );
    let key = idempotency_key("L", &items);
    assert_eq!(key, idempotency_key("L", &items), "a retry reuses the key");
    let mut other = items.clone();
    other[0].item.ledger_seq = 8;
    assert_ne!(key, idempotency_key("L", &other));
    other = items.clone();
    other[1].item.previous = Some(4);
    assert_ne!(key, idempotency_key("L", &other));
}

#[test]
fn an_applied_group_confirms_quantity_after_change() {
    let items = [
        sent("SKU-1", "gid://shopify/InventoryItem/1", 3, Some(5)),
        sent("SKU-2", "gid://shopify/InventoryItem/2", 4, None),
    ];
    let data = json!({ "inventorySetQuantities": {
        "inventoryAdjustmentGroup": { "changes": [
            { "name": "available", "quantityAfterChange": 3, "item": { "id": "gid://shopify/InventoryItem/1" } },
            { "name": "on_hand", "quantityAfterChange": 99, "item": { "id": "gid://shopify/InventoryItem/1" } },
        ]},
        "userErrors": [],
    }});
    assert_eq!(
        set_result(&data, &items).unwrap(),
        SetResult::Applied(vec![confirmed("SKU-1", 3), confirmed("SKU-2", 4),])
    );
}

#[test]
fn user_errors_name_the_refused_items() {
    let items = [
        sent("SKU-1", "gid://shopify/InventoryItem/1", 3, Some(5)),
        sent("SKU-2", "gid://shopify/InventoryItem/2", 4, Some(1)),
        sent("SKU-3", "gid://shopify/InventoryItem/3", 4, None),
    ];
    let data = json!({ "inventorySetQuantities": {
        "inventoryAdjustmentGroup": null,
        "userErrors": [
            { "code": "CHANGE_FROM_QUANTITY_STALE", "field": ["input", "quantities", "1", "changeFromQuantity"], "message": "stale" },
            { "code": "INVALID_INVENTORY_ITEM", "field": ["input", "quantities", "2", "inventoryItemId"], "message": "gone" },
        ],
    }});
    let SetResult::Refused(refused) = set_result(&data, &items).unwrap() else {
        panic!("refused");
    };
    assert_eq!(refused.len(), 2);
    assert_eq!(refused[&1], Refusal::Stale);
    assert!(matches!(&refused[&2], Refusal::Failed(error) if error.kind() == "not_found"));
    let whole = json!({ "inventorySetQuantities": { "inventoryAdjustmentGroup": null,
        "userErrors": [{ "code": "INVALID_REASON", "field": ["input", "reason"], "message": "x" }] } });
    assert_eq!(set_result(&whole, &items).unwrap_err().kind(), "invalid");
    assert_eq!(
        set_result(&json!({ "inventorySetQuantities": 5 }), &items)
            .unwrap_err()
            .kind(),
        "invalid",
        "a malformed reply is an error, not a panic"
    );
}

#[test]
fn a_throttle_waits_for_the_missing_points() {
    let reply = json!({
        "errors": [{ "message": "Throttled", "extensions": { "code": "THROTTLED" } }],
        "extensions": { "cost": { "requestedQueryCost": 752, "actualQueryCost": null,
            "throttleStatus": { "maximumAvailable": 1000.0, "currentlyAvailable": 666, "restoreRate": 50.0 } } },
    });
    assert_eq!(
        graphql_error(&reply),
        Some(MarketplaceError::Throttled {
            retry_after: Some(Duration::from_secs_f64(86.0 / 50.0))
        })
    );
    let bare =
        json!({ "errors": [{ "message": "Throttled", "extensions": { "code": "THROTTLED" } }] });
    assert_eq!(
        graphql_error(&bare),
        Some(MarketplaceError::Throttled {
            retry_after: Some(Duration::from_secs(1))
        })
    );
    let mut headers = HeaderMap::new();
    headers.insert("retry-after", "3.0".parse().unwrap());
    assert_eq!(
        http_error(StatusCode::TOO_MANY_REQUESTS, &headers, &reply.to_string()),
        MarketplaceError::Throttled {
            retry_after: Some(Duration::from_secs(3))
        },
        "a 429 throttle waits at least Retry-After"
    );
    assert_eq!(
        http_error(
            StatusCode::UNAUTHORIZED,
            &HeaderMap::new(),
            "{\"errors\":\"[API] Invalid\"}"
        )
        .kind(),
        "auth"
    );
    assert_eq!(
        graphql_error(&json!({ "errors": [{ "message": "x", "extensions": { "code": "MAX_COST_EXCEEDED" } }] }))
            .unwrap()
            .kind(),
        "invalid"
    );
    assert_eq!(graphql_error(&json!({ "data": {} })), None);
}

#[test]
fn levels_are_read_by_inventory_item() {
    let data = json!({ "nodes": [
        { "id": "gid://shopify/InventoryItem/1", "inventoryLevel": { "quantities": [{ "name": "available", "quantity": 7 }] } },
        { "id": "gid://shopify/InventoryItem/2", "inventoryLevel": null },
        null,
    ]});
    let levels = read_levels(&data).unwrap();
    assert_eq!(levels.len(), 1);
    assert_eq!(levels["gid://shopify/InventoryItem/1"], 7);
    assert!(read_levels(&json!({})).is_err());
}

fn order(id: &str, updated: &str, cancelled: bool) -> Value {
    json!({ "cursor": format!("c-{id}"), "node": {
        "id": format!("gid://shopify/Order/{id}"), "legacyResourceId": id, "updatedAt": updated,
        "cancelledAt": if cancelled { json!(updated) } else { Value::Null },
        "lineItems": { "nodes": [{ "sku": "ACME-MUG", "quantity": 2 }, { "sku": null, "quantity": 1 }, { "sku": "ACME-CAP", "quantity": 1 }],
                       "pageInfo": { "hasNextPage": false, "endCursor": "l" } } } })
}

#[test]
fn a_page_yields_sales_and_cancels_and_the_cursor_pages_then_advances() {
    let since = Cursor::parse("2026-05-01T00:00:00.000Z").unwrap();
    let data = json!({ "orders": {
        "edges": [order("11", "2026-05-01T00:00:01.500Z", false), order("12", "2026-05-01T00:00:02.250Z", true)],
        "pageInfo": { "hasNextPage": true, "endCursor": "abc=" } } });
    let page = order_page(orders_reply(&data).unwrap(), &since);
    let events: Vec<(&str, u32, OrderEventKind, &str)> = page
        .events
        .iter()
        .map(|e| {
            (
                e.external_order_id.as_str(),
                e.line,
                e.kind,
                e.version.as_str(),
            )
        })
        .collect();
    assert_eq!(
        events,
        [
            ("11", 1, OrderEventKind::Sale, "placed"),
            ("11", 3, OrderEventKind::Sale, "placed"),
            ("12", 1, OrderEventKind::Sale, "placed"),
            ("12", 1, OrderEventKind::Cancel, "cancelled"),
            ("12", 3, OrderEventKind::Sale, "placed"),
            ("12", 3, OrderEventKind::Cancel, "cancelled"),
        ]
    );
    assert!(page.more);
    assert_eq!(page.next_cursor, "2026-05-01T00:00:00.000Z|abc=");
    let paging = Cursor::parse(&page.next_cursor).unwrap();
    assert_eq!(paging.after.as_deref(), Some("abc="));
    let last = json!({ "orders": { "edges": [order("13", "2026-05-01T00:00:03.000Z", false)],
        "pageInfo": { "hasNextPage": false, "endCursor": "def=" } } });
    let page = order_page(orders_reply(&last).unwrap(), &paging);
    assert!(!page.more);
    assert_eq!(page.next_cursor, "2026-05-01T00:00:03.000Z");
    let empty = json!({ "orders": { "edges": [], "pageInfo": { "hasNextPage": false, "endCursor": null } } });
    let page = order_page(orders_reply(&empty).unwrap(), &since);
    assert_eq!(
        page.next_cursor, "2026-05-01T00:00:00.000Z",
        "never goes back"
    );
    assert!(Cursor::parse("yesterday").is_err());
    assert!(Cursor::parse("2026-05-01T00:00:00.000Z|").is_err());
    assert!(orders_reply(&json!({ "orders": { "edges": [{}] } })).is_err());
}

fn webhook_body(cancelled: bool) -> Vec<u8> {
    json!({
        "id": 5500000000001u64, "admin_graphql_api_id": "gid://shopify/Order/5500000000001",
        "updated_at": "2026-05-01T00:00:01.500Z",
        "cancelled_at": if cancelled { json!("2026-05-01T00:00:01.500Z") } else { Value::Null },
        "line_items": [{ "id": 1, "sku": "ACME-MUG", "quantity": 2 }, { "id": 2, "sku": null, "quantity": 1 }, { "id": 3, "sku": "ACME-CAP", "quantity": 1 }],
    })
    .to_string()
    .into_bytes()
}

#[test]
fn webhooks_verify_and_give_the_events_of_a_poll() {
    let body = webhook_body(false);
    let header = crate::platforms::shopify::mock::sign("app-secret", &body);
    assert!(verify_webhook(b"app-secret", &body, &header));
    assert!(!verify_webhook(b"other-secret", &body, &header));
    let mut tampered = body.clone();
    tampered[5] ^= 1;
    assert!(!verify_webhook(b"app-secret", &tampered, &header));
    assert!(!verify_webhook(b"app-secret", &body, "not base64!"));
    assert!(!verify_webhook(b"app-secret", &body, ""));

    let created = webhook_events("orders/create", &body).unwrap();
    let cancelled = webhook_events("orders/cancelled", &webhook_body(true)).unwrap();
    let polled = order_page(
        orders_reply(&json!({ "orders": { "edges": [order("5500000000001", "2026-05-01T00:00:01.500Z", true)],
            "pageInfo": { "hasNextPage": false, "endCursor": null } } }))
        .unwrap(),
        &Cursor::parse("2026-05-01T00:00:00Z").unwrap(),
    );
    assert_eq!(
        cancelled.events, polled.events,
        "the same events as polling"
    );
    assert_eq!(created.events.len(), 2);
    assert_eq!(
        created.events[..],
        [polled.events[0].clone(), polled.events[2].clone()]
    );
    // The line without SKU is reported, not dropped.
    let missing: Vec<_> = created
        .unusable
        .iter()
        .map(|unusable| (unusable.order_id.as_deref(), unusable.line, unusable.reason))
        .collect();
    assert_eq!(
        missing,
        [(
            Some("5500000000001"),
            Some(2),
            UnapplicableReason::MissingSku
        )]
    );
    assert!(matches!(
        webhook_events("products/update", &body),
        Err(WebhookError::UnsupportedTopic(_))
    ));
}

/// The reason and line of each problem a body shows, in order.
fn problems(body: Value) -> Vec<(Option<u32>, UnapplicableReason, Option<i64>)> {
    webhook_events("orders/create", body.to_string().as_bytes())
        .unwrap()
        .unusable
        .into_iter()
        .map(|unusable| (unusable.line, unusable.reason, unusable.quantity))
        .collect()
}

#[test]
fn webhook_lines_that_cannot_be_events_are_reported_with_their_reason() {
    let order = |lines: Value| json!({ "id": 77, "line_items": lines });
    let line = |sku: Value, quantity: Value| json!({ "sku": sku, "quantity": quantity });
    use UnapplicableReason::*;
    let body = order(json!([
        line(json!("ACME-MUG"), json!(1)),
        line(json!(null), json!(1)),
        line(json!(""), json!(1)),
        line(json!("BAD\u{7}SKU"), json!(1)),
        line(json!(12), json!(1)),
        line(json!("ACME-MUG"), json!(-1)),
        line(json!("ACME-MUG"), json!(4_294_967_296u64)),
        line(json!("ACME-MUG"), json!(1.5)),
        line(json!("ACME-MUG"), json!("3")),
        json!({ "sku": "ACME-MUG" }),
        json!("not a line"),
    ]));
    assert_eq!(
        problems(body.clone()),
        [
            (Some(2), MissingSku, None),
            (Some(3), MissingSku, None),
            (Some(4), InvalidSku, None),
            (Some(5), InvalidSku, None),
            (Some(6), QuantityOutOfRange, Some(-1)),
            (Some(7), QuantityOutOfRange, Some(4_294_967_296)),
            (Some(8), QuantityOutOfRange, None),
            (Some(9), QuantityOutOfRange, None),
            (Some(10), QuantityOutOfRange, None),
            (Some(11), MissingSku, None),
        ]
    );
    let intake = webhook_events("orders/create", body.to_string().as_bytes()).unwrap();
    assert_eq!(intake.events.len(), 1, "the good line is still an event");
    // Zero is an event: the ledger refuses it, and the intake records that the same way.
    let zero = webhook_events(
        "orders/create",
        order(json!([line(json!("ACME-MUG"), json!(0))]))
            .to_string()
            .as_bytes(),
    )
    .unwrap();
    assert_eq!((zero.events.len(), zero.unusable.len()), (1, 0));

    assert_eq!(problems(order(json!([]))), [(None, NoLines, None)]);
    assert_eq!(problems(json!({ "id": 77 })), [(None, NoLines, None)]);
    assert_eq!(problems(order(json!({}))), [(None, NotAnOrder, None)]);
    assert_eq!(
        problems(json!({ "line_items": [line(json!("A"), json!(1))] })),
        [(None, InvalidOrderId, None)]
    );
    assert_eq!(problems(json!([1, 2])), [(None, NotAnOrder, None)]);
    let garbage = webhook_events("orders/create", b"{\"id\": 1, secret stuff").unwrap();
    let detail = &garbage.unusable[0].detail;
    assert_eq!(garbage.unusable[0].reason, NotAnOrder);
    assert!(!detail.contains("secret"), "never the body: {detail}");
}

#[test]
fn bare_ids_become_gids() {
    assert_eq!(
        gid("Location", "124656943"),
        "gid://shopify/Location/124656943"
    );
    assert_eq!(
        gid("InventoryItem", "gid://shopify/InventoryItem/5"),
        "gid://shopify/InventoryItem/5"
    );
}
