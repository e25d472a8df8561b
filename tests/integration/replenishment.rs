//! Replenishment through HTTP (issue 15): a SKU selling at a steady rate, its sales delivered as
//! Shopify order webhooks day after day on a manual clock, raises its reorder alert on the day
//! its projected stock-out enters the lead time, and not the day before; reorder settings are
//! checked (a stable code, nothing stored) and survive a restart of the service.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::json;
use shelfsync::api::channels::NewChannelBody;
use shelfsync::api::client::ApiClient;
use shelfsync::api::error::Code;
use shelfsync::api::reorders::ReordersQuery;
use shelfsync::platforms::egress::EgressPolicy;
use shelfsync::platforms::Platform;
use shelfsync::replenishment::{AlertReason, ReorderLine, ReorderSettings, ReorderSettingsBody};
use shelfsync::service::ServiceOptions;
use shelfsync::timestamp::{Clock, ManualTime};
use shelfsync_actors::ids::ClientCode;

use crate::api_agency::sign;
use crate::api_support::{
    account, add_channel, assert_refused, create_client, import, item, mock_channel, put_secret,
    Api, ADMIN,
};

const SECRET: &str = "whsec-acme-reorders-0123456789";
const DAY: Duration = Duration::from_secs(86_400);

fn start_time() -> DateTime<Utc> {
    "2026-12-01T09:00:00Z".parse().unwrap()
}

/// The service on a manual clock over `dir`.
async fn start(dir: tempfile::TempDir, clock: Clock) -> Api {
    let options = ServiceOptions {
        clock,
        egress: EgressPolicy::LOOPBACK_MOCKS,
        ..ServiceOptions::default()
    };
    Api::start_in(dir, options).await
}

/// ACME with a Shopify channel taking order webhooks (its marketplace a closed port, polled
/// rarely: nothing moves the ledger but the deliveries) and `catalog` (SKU, on hand).
async fn acme(api: &Api, catalog: &[(&str, i64)]) {
    let admin = api.client();
    create_client(&admin, "ACME", "Acme Mugs").await;
    put_secret(&admin, "ACME", "shopify", "shpat-token").await;
    let shop = NewChannelBody {
        webhook_secret: Some(SECRET.into()),
        account: account(json!({"location_id": "gid://shopify/Location/1"})),
        poll_interval_ms: Some(300_000),
        ..mock_channel("shop", Platform::Shopify, "http://127.0.0.1:9", "shopify")
    };
    add_channel(&admin, "ACME", &shop).await;
    let items: Vec<_> = catalog
        .iter()
        .map(|(sku, on_hand)| item(sku, *on_hand, &[]))
        .collect();
    import(&admin, "ACME", &items).await;
}

/// Delivers Shopify order `id` selling `quantity` of `sku`, signed as Shopify does.
async fn sell(api: &Api, id: u64, sku: &str, quantity: u32) {
    let body = json!({"id": id, "updated_at": "2026-12-01T09:00:00Z", "cancelled_at": null,
                      "line_items": [{"sku": sku, "quantity": quantity}]})
    .to_string()
    .into_bytes();
    let (status, reply) = api
        .send_raw(
            Method::POST,
            "/webhooks/ACME/shop",
            None,
            "application/json",
            body.clone(),
            &[
                ("x-shopify-topic", "orders/create".to_string()),
                ("x-shopify-hmac-sha256", sign(&body, SECRET)),
                ("x-shopify-webhook-id", format!("wh-{id}")),
            ],
        )
        .await;
    assert_eq!((status, &reply["applied"]), (200, &json!(1)), "{reply}");
}

async fn line_of(client: &ApiClient, sku: &str) -> ReorderLine {
    let lines = client.reorders("ACME").await.unwrap();
    lines
        .into_iter()
        .find(|line| line.sku.as_str() == sku)
        .unwrap_or_else(|| panic!("{sku} is not on the reorder list"))
}

fn settings(
    reorder_point: Option<u32>,
    lead_time_days: Option<u16>,
    safety_days: Option<u16>,
) -> ReorderSettingsBody {
    ReorderSettingsBody {
        reorder_point,
        lead_time_days,
        safety_days,
    }
}

#[tokio::test]
async fn a_steady_seller_with_a_five_day_lead_time_alerts_on_the_right_day() {
    let (clock, time): (Clock, ManualTime) = Clock::manual(start_time());
    let api = start(tempfile::tempdir().unwrap(), clock).await;
    acme(&api, &[("ACME-MUG", 100), ("ACME-CAP", 40)]).await;
    let manager = api.client();
    manager
        .put_reorder_settings("ACME", "ACME-MUG", &settings(None, Some(5), Some(0)))
        .await
        .unwrap();
    // A SKU that does not sell, with a reorder point it stays above: listed, never alerting.
    manager
        .put_reorder_settings("ACME", "ACME-CAP", &settings(Some(10), None, None))
        .await
        .unwrap();
    let client = ClientCode::parse("ACME").unwrap();

    // Every day 5 mugs sell, at the same time of day. 100 on hand at 5 a day: after day d's sale
    // 95 − 5d are available, covering (95 − 5d) / 5 days. The stock-out falls within the 5-day
    // lead time once that cover is 5 days or less: available 25, on day 14 (day 0 is the first).
    for day in 0..=14u64 {
        if day > 0 {
            time.advance(DAY);
        }
        sell(&api, 1_000 + day, "ACME-MUG", 5).await;
        let line = line_of(&manager, "ACME-MUG").await;
        let available = 95 - 5 * day as i64;
        assert_eq!(line.available, available, "day {day}: {line:?}");
        assert_eq!(
            (line.velocity_7d, line.velocity_28d),
            (5.0, 5.0),
            "day {day}: {line:?}"
        );
        assert_eq!(
            line.days_of_cover,
            Some(available as f64 / 5.0),
            "day {day}: {line:?}"
        );
        let today = time.now().date_naive();
        assert_eq!(
            line.projected_stockout,
            Some(today + chrono::Days::new(available as u64 / 5)),
            "day {day}: {line:?}"
        );
        match day {
            13 => assert!(!line.alert, "the day before: {line:?}"),
            14 => {
                assert!(line.alert, "the day it enters the lead time: {line:?}");
                assert_eq!(line.reasons, [AlertReason::StockoutWithinLeadTime]);
                assert_eq!(line.reorder_by, Some(today), "{line:?}");
            }
            _ => assert_eq!(line.alert, day > 14, "day {day}: {line:?}"),
        }
        let alerts = api.service.reorder_alerts(&client).await.unwrap();
        let alerting: Vec<&str> = alerts.iter().map(|line| line.sku.as_str()).collect();
        let expected: &[&str] = if day >= 14 { &["ACME-MUG"] } else { &[] };
        assert_eq!(alerting, expected, "day {day}");
        // The operations sweep turns the alert into one reorder exception, on the same day.
        let options = shelfsync::operations::sweep::OperationsOptions {
            reorder_interval: std::time::Duration::ZERO,
            ..Default::default()
        };
        shelfsync::operations::sweep::sweep_client(&api.service, &client, options)
            .await
            .unwrap();
        let queue = api
            .client()
            .exceptions(
                "ACME",
                &shelfsync::api::exceptions::ExceptionsQuery {
                    kind: Some("reorder".into()),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let raised: Vec<String> = queue
            .exceptions
            .iter()
            .filter_map(|exception| exception.sku.as_ref().map(|sku| sku.as_str().to_string()))
            .collect();
        assert_eq!(raised, expected, "day {day}: {queue:?}");
    }

    // Still day 14: the list is filtered by alert; the idle cap is listed without one.
    let cap = line_of(&manager, "ACME-CAP").await;
    assert_eq!(
        (
            cap.available,
            cap.velocity_28d,
            cap.days_of_cover,
            cap.alert
        ),
        (40, 0.0, None, false),
        "{cap:?}"
    );
    let query = |alerting| ReordersQuery {
        alerting: Some(alerting),
        ..ReordersQuery::default()
    };
    let skus = |page: shelfsync::api::paging::Page<ReorderLine>| -> Vec<String> {
        page.items.iter().map(|line| line.sku.to_string()).collect()
    };
    let alerting = manager.reorders_page("ACME", &query(true)).await.unwrap();
    assert_eq!(skus(alerting), ["ACME-MUG"]);
    let quiet = manager.reorders_page("ACME", &query(false)).await.unwrap();
    assert_eq!(skus(quiet), ["ACME-CAP"]);
}

#[tokio::test]
async fn reorder_settings_are_checked_stored_durably_and_removed() {
    let (clock, _time) = Clock::manual(start_time());
    let api = start(tempfile::tempdir().unwrap(), clock.clone()).await;
    acme(&api, &[("ACME-MUG", 10)]).await;
    let admin = api.client();
    let stored = admin
        .put_reorder_settings("ACME", "ACME-MUG", &settings(Some(3), Some(5), Some(2)))
        .await
        .unwrap();
    assert_eq!(
        stored,
        ReorderSettings::new(Some(3), Some(5), Some(2)).unwrap()
    );
    let before = admin.reorders("ACME").await.unwrap();
    assert_eq!(before.len(), 1);

    let refused = [
        (settings(Some(3), Some(0), None), "a lead time of 0 days"),
        (settings(None, Some(366), None), "a lead time above a year"),
        (
            settings(None, Some(5), Some(366)),
            "safety days above a year",
        ),
        (
            settings(Some(3), None, Some(2)),
            "safety days without a lead time",
        ),
        (
            settings(None, None, None),
            "neither a reorder point nor a lead time",
        ),
        (
            settings(Some(1_000_000_001), None, None),
            "a reorder point above the ledger's largest quantity",
        ),
    ];
    for (body, what) in refused {
        let reply = admin.put_reorder_settings("ACME", "ACME-MUG", &body).await;
        let error = assert_refused(reply, 400, Code::InvalidField, what);
        assert!(
            !error.detail().unwrap_or_default().is_empty(),
            "{what}: {error}"
        );
    }
    let unknown = admin
        .put_reorder_settings("ACME", "ACME-NOPE", &settings(None, Some(5), None))
        .await;
    assert_refused(unknown, 404, Code::UnknownSku, "a SKU the client never had");
    for (body, code) in [
        (
            json!({"lead_time_days": 5, "colour": "red"}),
            "invalid_field",
        ),
        (json!({"lead_time_days": -1}), "invalid_field"),
        (json!({"lead_time_days": 70000}), "invalid_field"),
        (json!({"reorder_point": 2.5}), "invalid_field"),
    ] {
        let (status, reply, _) = api
            .call(
                Method::PUT,
                "/v1/clients/ACME/stock/ACME-MUG/reorder",
                Some(ADMIN),
                Some(body.to_string()),
            )
            .await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (400, Some(code)),
            "{body}: {reply}"
        );
    }
    let (status, reply, _) = api
        .call(
            Method::GET,
            "/v1/clients/ACME/reorders?alerting=maybe",
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (400, Some("invalid_field")),
        "{reply}"
    );
    assert_eq!(
        admin.reorders("ACME").await.unwrap(),
        before,
        "no refused call changed anything"
    );

    // Acknowledged is durable: the settings are there after a restart.
    let dir = api.stop();
    let api = start(dir, clock).await;
    let admin = api.client();
    let after = admin.reorders("ACME").await.unwrap();
    assert_eq!(after, before, "the settings survive a restart");
    let settings_after: Vec<Option<ReorderSettings>> =
        after.iter().map(|line| line.settings).collect();
    assert_eq!(settings_after, [Some(stored)]);

    admin
        .delete_reorder_settings("ACME", "ACME-MUG")
        .await
        .unwrap();
    assert!(admin.reorders("ACME").await.unwrap().is_empty());
    // Deleting again is the same answer: the SKU has no settings.
    admin
        .delete_reorder_settings("ACME", "ACME-MUG")
        .await
        .unwrap();
    let (status, reply, _) = api
        .call(Method::GET, "/v1/clients/ACME/reorders", Some(ADMIN), None)
        .await;
    assert_eq!((status, &reply), (200, &json!({"items": [], "next": null})));
}

#[tokio::test]
async fn the_reorder_list_is_paged_in_sku_order() {
    let (clock, _time) = Clock::manual(start_time());
    let api = start(tempfile::tempdir().unwrap(), clock).await;
    let catalog = [("ACME-A", 5), ("ACME-B", 5), ("ACME-C", 5)];
    acme(&api, &catalog).await;
    let admin = api.client();
    for (sku, _) in catalog.iter().rev() {
        admin
            .put_reorder_settings("ACME", sku, &settings(Some(5), None, None))
            .await
            .unwrap();
    }
    let first = admin
        .reorders_page(
            "ACME",
            &ReordersQuery {
                limit: Some(2),
                ..ReordersQuery::default()
            },
        )
        .await
        .unwrap();
    let names = |lines: &[ReorderLine]| -> Vec<String> {
        lines.iter().map(|line| line.sku.to_string()).collect()
    };
    assert_eq!(names(&first.items), ["ACME-A", "ACME-B"]);
    assert_eq!(first.next.as_deref(), Some("ACME-B"));
    let second = admin
        .reorders_page(
            "ACME",
            &ReordersQuery {
                cursor: first.next.clone(),
                limit: Some(2),
                ..ReordersQuery::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(names(&second.items), ["ACME-C"]);
    assert_eq!(second.next, None);
    // At the reorder point (5 available, point 5): every one alerts.
    assert!(first
        .items
        .iter()
        .chain(&second.items)
        .all(|line| line.alert && line.reasons == [AlertReason::AtOrBelowReorderPoint]));
}

#[tokio::test]
async fn the_windows_read_the_last_28_days_of_a_longer_history() {
    let (clock, time) = Clock::manual(start_time());
    let api = start(tempfile::tempdir().unwrap(), clock).await;
    acme(&api, &[("ACME-MUG", 1_000), ("ACME-CAP", 1_000)]).await;
    let admin = api.client();
    admin
        .put_reorder_settings("ACME", "ACME-MUG", &settings(None, Some(5), None))
        .await
        .unwrap();
    // 40 days: 20 mugs a day for the first 12, then 5 a day; a cap sells every day too, so the
    // mugs' journal entries are not consecutive sequence numbers. On day 39 the 28 days are
    // days 12 to 39: only the 5-a-day sales, found by the search over the mugs' older entries.
    for day in 0..40u64 {
        if day > 0 {
            time.advance(DAY);
        }
        let mugs = if day < 12 { 20 } else { 5 };
        sell(&api, 10_000 + day, "ACME-MUG", mugs).await;
        sell(&api, 20_000 + day, "ACME-CAP", 1).await;
    }
    let line = line_of(&admin, "ACME-MUG").await;
    let available = 1_000 - 12 * 20 - 28 * 5;
    assert_eq!(line.available, available, "{line:?}");
    assert_eq!(
        (line.velocity_7d, line.velocity_28d),
        (5.0, 5.0),
        "{line:?}"
    );
    assert_eq!(line.days_of_cover, Some(available as f64 / 5.0), "{line:?}");
    assert!(!line.alert, "{line:?}");
}
