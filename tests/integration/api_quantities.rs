//! Quantities at their edges through the real API (issue 12): every movement kind with every
//! edge value (i64::MIN to i64::MAX, the powers of two where 32-bit code wraps, the ledger's own
//! bounds ±1) is either refused with a 4xx and a stable code and changes nothing that
//! `GET …/stock` and `GET …/ledger` show, or applied with `available = on_hand − reserved`. JSON
//! numbers beyond i64 are a 400, never a 500. Then the stock API's two small holes: a movement to
//! a SKU the client never had is a 404 `unknown_sku` unless it says `"create": true`, and
//! catalog rows that were refused report the marketplace listings they leave unmanaged.

use reqwest::Method;
use serde_json::{json, Value};
use shelfsync::api::catalog::{CatalogBody, ImportReply};
use shelfsync::api::channels::NewChannelBody;
use shelfsync::api::error::Code;
use shelfsync::platforms::Platform;
use shelfsync_actors::inventory::ledger::MAX_QUANTITY;
use shelfsync_actors::testing::ledger::{EDGE_QUANTITIES, MOVEMENT_KINDS};

use crate::api_support::{
    account, add_channel, create_client, import, item, mock_channel, put_secret, Api, ADMIN,
};
use crate::mock_support::{create_listings, info, start};

/// The API with client ACME and its one SKU, ACME-MUG, counted at 10 by a catalog import.
async fn acme_with_a_mug() -> Api {
    let api = Api::start().await;
    create_client(&api.client(), "ACME", "Acme Mugs").await;
    let reply = import(&api.client(), "ACME", &[item("ACME-MUG", 10, &[])]).await;
    assert_eq!(reply.imported, 1, "{reply:?}");
    api
}

async fn get(api: &Api, path: &str) -> (u16, Value) {
    let (status, reply, _) = api.call(Method::GET, path, Some(ADMIN), None).await;
    (status, reply)
}

/// What a caller can see of ACME's stock: every SKU's levels (as JSON, to compare and show) and
/// the whole journal.
async fn observe(api: &Api) -> (Value, Value) {
    let stock = serde_json::to_value(api.client().stock("ACME").await.unwrap()).unwrap();
    let (status, ledger) = get(api, "/v1/clients/ACME/ledger?limit=1000").await;
    assert_eq!(status, 200, "{ledger}");
    (stock, ledger)
}

async fn post_movement(api: &Api, sku: &str, body: String) -> (u16, Value) {
    api.send_raw(
        Method::POST,
        &format!("/v1/clients/ACME/stock/{sku}/movements"),
        Some(ADMIN),
        "application/json",
        body.into_bytes(),
        &[],
    )
    .await
}

/// The finding: an adjustment of −2⁶³ was accepted (201, on-hand −2⁶³), after which a sale
/// wrapped `available` to i64::MAX and a channel's target to 4 294 967 295.
#[tokio::test]
async fn an_adjustment_of_i64_min_is_refused_and_changes_nothing() {
    let api = acme_with_a_mug().await;
    let before = observe(&api).await;
    let body = json!({"kind": "adjustment", "quantity": i64::MIN, "idempotency_key": "k"});
    let (status, reply) = post_movement(&api, "ACME-MUG", body.to_string()).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (400, Some("invalid_quantity")),
        "{reply}"
    );
    assert_eq!(
        observe(&api).await,
        before,
        "a refused movement changes nothing"
    );
    // The key was not spent: the same key with a good movement is applied.
    let body = json!({"kind": "adjustment", "quantity": -3, "idempotency_key": "k"});
    let (status, reply) = post_movement(&api, "ACME-MUG", body.to_string()).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(
        (&reply["stock"]["on_hand"], &reply["stock"]["available"]),
        (&json!(7), &json!(7)),
        "{reply}"
    );
}

/// What the route answers for `kind` of `quantity` when nothing is reserved (sales come from
/// marketplaces, never through this route, so a ship always finds nothing to ship).
fn expected(kind: &str, quantity: i64) -> (u16, Option<&'static str>) {
    let valid = match kind {
        "receipt" | "ship" => (1..=MAX_QUANTITY).contains(&quantity),
        "adjustment" => quantity != 0 && (-MAX_QUANTITY..=MAX_QUANTITY).contains(&quantity),
        "count" => (0..=MAX_QUANTITY).contains(&quantity),
        _ => return (400, Some("invalid_field")),
    };
    match (valid, kind) {
        (false, _) => (400, Some("invalid_quantity")),
        (true, "ship") => (409, Some("movement_rejected")),
        (true, _) => (201, None),
    }
}

#[tokio::test]
async fn every_edge_quantity_of_every_kind_is_refused_with_a_code_or_keeps_the_ledger_whole() {
    let api = acme_with_a_mug().await;
    // The model of ACME-MUG's on-hand, from the accepted movements alone.
    let mut on_hand = 10;
    for kind in MOVEMENT_KINDS {
        for (index, quantity) in EDGE_QUANTITIES.into_iter().enumerate() {
            let before = observe(&api).await;
            let key = format!("edge-{kind}-{index}");
            let body = json!({"kind": kind, "quantity": quantity, "idempotency_key": key});
            let (status, reply) = post_movement(&api, "ACME-MUG", body.to_string()).await;
            let want = expected(kind, quantity);
            assert_eq!(
                (status, reply["code"].as_str()),
                want,
                "{kind} of {quantity}: {reply}"
            );
            let after = observe(&api).await;
            if status != 201 {
                assert_eq!(
                    after, before,
                    "a refused {kind} of {quantity} changed something"
                );
                continue;
            }
            on_hand = match kind {
                "count" => quantity,
                _ => on_hand + quantity,
            };
            let stock = &after.0[0];
            let (shown, reserved, available) = (
                stock["on_hand"].as_i64().unwrap(),
                stock["reserved"].as_i64().unwrap(),
                stock["available"].as_i64().unwrap(),
            );
            assert_eq!(shown, on_hand, "{kind} of {quantity}: {stock}");
            assert_eq!(available, shown - reserved, "{kind} of {quantity}: {stock}");
            let entries = |ledger: &Value| ledger["entries"].as_array().unwrap().clone();
            let (old, new) = (entries(&before.1), entries(&after.1));
            assert_eq!(new.len(), old.len() + 1, "one journal entry per movement");
            let last = new.last().unwrap();
            assert_eq!(
                (&last["kind"], &last["quantity"]),
                (&json!(kind), &json!(quantity)),
                "{last}"
            );
        }
    }
}

#[tokio::test]
async fn json_numbers_beyond_i64_are_a_400_never_a_500() {
    let api = acme_with_a_mug().await;
    let before = observe(&api).await;
    for (index, number) in [
        "1e30",
        "9223372036854775808",
        "-9223372036854775809",
        "1.5",
        "-0.0",
        "18446744073709551616",
    ]
    .into_iter()
    .enumerate()
    {
        for kind in ["receipt", "adjustment", "count", "ship"] {
            let body = format!(
                r#"{{"kind":"{kind}","quantity":{number},"idempotency_key":"n-{index}-{kind}"}}"#
            );
            let (status, reply) = post_movement(&api, "ACME-MUG", body).await;
            assert_eq!(
                (status, reply["code"].as_str()),
                (400, Some("invalid_quantity")),
                "{kind} of {number}: {reply}"
            );
        }
    }
    assert_eq!(observe(&api).await, before);
}

#[tokio::test]
async fn an_on_hand_beyond_the_largest_quantity_is_a_rejected_row_not_a_failed_import() {
    let api = acme_with_a_mug().await;
    let before = observe(&api).await;
    let catalog = [
        item("ACME-HUGE", MAX_QUANTITY + 1, &[]),
        item("ACME-HUGER", i64::MAX, &[]),
        item("ACME-LEAST", i64::MIN, &[]),
    ];
    let reply = import(&api.client(), "ACME", &catalog).await;
    assert_eq!(reply.imported, 0, "{reply:?}");
    let codes: Vec<(usize, Code)> = reply
        .rejected
        .iter()
        .map(|row| (row.line, row.code))
        .collect();
    assert_eq!(
        codes,
        [
            (1, Code::InvalidQuantity),
            (2, Code::InvalidQuantity),
            (3, Code::InvalidQuantity)
        ]
    );
    assert_eq!(observe(&api).await, before);
    let csv = format!(
        "sku,on_hand\nACME-HUGE,{}\nACME-OK,{MAX_QUANTITY}\n",
        MAX_QUANTITY + 1
    );
    let (status, reply) = api.import_csv(ADMIN, "ACME", &csv).await;
    assert_eq!((status, &reply["imported"]), (200, &json!(1)), "{reply}");
    assert_eq!(reply["rejected"][0]["code"], "invalid_quantity", "{reply}");
    let stock = api.client().sku_stock("ACME", "ACME-OK").await.unwrap();
    assert_eq!(stock.on_hand, MAX_QUANTITY);
}

#[tokio::test]
async fn a_movement_to_an_unknown_sku_is_404_unless_create_is_set() {
    let api = acme_with_a_mug().await;
    let before = observe(&api).await;
    for (kind, quantity) in [("receipt", 5), ("adjustment", 2), ("count", 3), ("ship", 1)] {
        for create in [None, Some(false)] {
            let mut body = json!({"kind": kind, "quantity": quantity, "idempotency_key": "typo"});
            if let Some(create) = create {
                body["create"] = json!(create);
            }
            // A mistyped SKU: ACME-MUGG for ACME-MUG.
            let (status, reply) = post_movement(&api, "ACME-MUGG", body.to_string()).await;
            assert_eq!(
                (status, reply["code"].as_str()),
                (404, Some("unknown_sku")),
                "{kind}: {reply}"
            );
        }
    }
    assert_eq!(observe(&api).await, before, "nothing was created");
    let missing = api.client().sku_stock("ACME", "ACME-MUGG").await;
    assert_eq!(missing.unwrap_err().status(), Some(404));

    // Saying so creates it; from then on it is known.
    let body =
        json!({"kind": "receipt", "quantity": 4, "idempotency_key": "new-1", "create": true});
    let (status, reply) = post_movement(&api, "ACME-CUP", body.to_string()).await;
    assert_eq!(status, 201, "{reply}");
    assert_eq!(reply["stock"]["on_hand"], 4, "{reply}");
    let body = json!({"kind": "receipt", "quantity": 1, "idempotency_key": "new-2"});
    let (status, reply) = post_movement(&api, "acme-cup", body.to_string()).await;
    assert_eq!(
        (status, &reply["stock"]["on_hand"]),
        (201, &json!(5)),
        "{reply}"
    );
    // A known SKU needs no `create`, and `create` on a known SKU changes nothing more.
    let body =
        json!({"kind": "receipt", "quantity": 1, "idempotency_key": "mug-1", "create": true});
    let (status, reply) = post_movement(&api, "ACME-MUG", body.to_string()).await;
    assert_eq!(
        (status, &reply["stock"]["on_hand"]),
        (201, &json!(11)),
        "{reply}"
    );
    // A bad body is still a 400 before the SKU is looked up.
    let body = json!({"kind": "receipt", "quantity": 1, "idempotency_key": "x", "create": "yes"});
    let (status, reply) = post_movement(&api, "ACME-NOPE", body.to_string()).await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (400, Some("invalid_field"))
    );
}

/// ACME with a Shopify channel `shop` on a mock, its three listings' refs, and the API.
async fn acme_with_a_shop() -> (Api, shelfsync::platforms::mock::MockServer, Vec<String>) {
    let api = acme_with_a_mug().await;
    let admin = api.client();
    put_secret(&admin, "ACME", "shopify", "mock-token").await;
    let shopify = start(Platform::Shopify, "default");
    let channel = NewChannelBody {
        account: account(info(&shopify).await["account"].clone()),
        // The service's own poll interval: these tests do not wait for orders.
        poll_interval_ms: None,
        ..mock_channel("shop", Platform::Shopify, &shopify.base_url(), "shopify")
    };
    add_channel(&admin, "ACME", &channel).await;
    let refs = create_listings(
        &shopify,
        &[("ACME-MUG", 0), ("ACME-CAP", 0), ("ACME-PEN", 0)],
    )
    .await
    .iter()
    .map(|listing| listing["listing_ref"].as_str().unwrap().to_string())
    .collect();
    (api, shopify, refs)
}

#[tokio::test]
async fn a_sku_mapped_in_the_catalog_takes_movements_without_create() {
    let (api, _shopify, refs) = acme_with_a_shop().await;
    let code = shelfsync_actors::ids::ClientCode::parse("ACME").unwrap();
    let shop = shelfsync_actors::ids::ChannelId::parse("shop").unwrap();
    let cap = shelfsync_actors::ids::Sku::parse("ACME-CAP").unwrap();
    // A mapping whose count never reached the ledger (as when an import failed half-way).
    api.service
        .put_listings(&code, &[(shop, cap, refs[1].clone())])
        .unwrap();
    let missing = api.client().sku_stock("ACME", "ACME-CAP").await;
    assert_eq!(missing.unwrap_err().status(), Some(404), "no balance yet");
    let body = json!({"kind": "receipt", "quantity": 2, "idempotency_key": "cap-1"});
    let (status, reply) = post_movement(&api, "ACME-CAP", body.to_string()).await;
    assert_eq!(
        (status, &reply["stock"]["on_hand"]),
        (201, &json!(2)),
        "{reply}"
    );
}

/// The `(channel, listing, line, sku)` rows of a catalog reply's `unmanaged`.
fn unmanaged(reply: &ImportReply) -> Vec<(String, String, usize, String)> {
    reply
        .unmanaged
        .iter()
        .map(|row| {
            (
                row.channel.clone(),
                row.listing.clone(),
                row.line,
                row.sku.clone(),
            )
        })
        .collect()
}

#[tokio::test]
async fn rejected_json_catalog_rows_report_the_listings_they_leave_unmanaged() {
    let (api, _shopify, refs) = acme_with_a_shop().await;
    // Raw items: the body takes any JSON item and rejects a bad one alone ("four").
    let catalog = CatalogBody {
        items: vec![
            json!({"sku": "acme-mug", "on_hand": 3, "listings": {"shop": refs[0]}}),
            json!({"sku": "ACME\u{1}CAP", "on_hand": 2, "listings": {"shop": refs[1]}}),
            json!({"sku": "ACME-PEN", "on_hand": "four", "listings": {"shop": refs[2]}}),
            json!({"sku": "ACME-INK", "on_hand": -1}),
            json!({"sku": "ACME-MUG", "on_hand": 5, "listings": {"shop": refs[0]}}),
            json!({"sku": "ACME-JAR", "on_hand": 1,
                   "listings": {"shop": "ref-jar", "walmart": "w-9"}}),
        ],
    };
    let reply = api.client().import_catalog("ACME", &catalog).await.unwrap();
    assert_eq!(reply.imported, 1, "{reply:?}");
    // Line 5 names the listing line 1 maps: it stays managed. Line 4 names none.
    assert_eq!(
        unmanaged(&reply),
        [
            ("shop".into(), refs[1].clone(), 2, "ACME\u{1}CAP".into()),
            ("shop".into(), refs[2].clone(), 3, "ACME-PEN".into()),
            ("shop".into(), "ref-jar".into(), 6, "ACME-JAR".into()),
            ("walmart".into(), "w-9".into(), 6, "ACME-JAR".into()),
        ]
    );
    // Imported again with the rows fixed, nothing is left unmanaged.
    let fixed = [
        item("ACME-CAP", 2, &[("shop", &refs[1])]),
        item("ACME-PEN", 4, &[("shop", &refs[2])]),
    ];
    let reply = import(&api.client(), "ACME", &fixed).await;
    assert!(reply.unmanaged.is_empty(), "{reply:?}");
    // A rejected row naming a listing an earlier import already maps leaves nothing unmanaged.
    let again = [item("ACME-PEN", -4, &[("shop", &refs[2])])];
    let reply = import(&api.client(), "ACME", &again).await;
    assert_eq!(reply.rejected[0].line, 1);
    assert!(reply.unmanaged.is_empty(), "{reply:?}");
}

#[tokio::test]
async fn rejected_csv_catalog_rows_report_the_listings_they_leave_unmanaged() {
    let (api, _shopify, refs) = acme_with_a_shop().await;
    let csv = format!(
        "sku,on_hand,shop\nACME-MUG,3,{}\n  ,2,{}\nACME-PEN,x,{}\nACME-INK,1,\nACME-MUG,4,other-ref\n",
        refs[0], refs[1], refs[2]
    );
    let (status, reply) = api.import_csv(ADMIN, "ACME", &csv).await;
    assert_eq!((status, &reply["imported"]), (200, &json!(2)), "{reply}");
    let reply: ImportReply = serde_json::from_value(reply).unwrap();
    assert_eq!(
        unmanaged(&reply),
        [
            ("shop".into(), refs[1].clone(), 3, "".into()),
            ("shop".into(), refs[2].clone(), 4, "ACME-PEN".into()),
            ("shop".into(), "other-ref".into(), 6, "ACME-MUG".into()),
        ]
    );
}
