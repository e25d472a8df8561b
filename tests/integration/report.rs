//! The monthly client report through HTTP (issue 16, must-show 3): a month of activity built on
//! a manual clock (orders of two Shopify stores arriving as signed webhooks every day, receipts,
//! an adjustment, a count, oversells worked as exceptions, and activity either side of the
//! month), then the report's totals compared with the ledger's own journal for the month (read
//! through `GET …/ledger`, counted here independently of `crate::report`) and with what the test
//! itself sent. The PDF carries the same totals. A restart of the service changes nothing in
//! the report (it is made from records, not counters). A client who asked for it is sent the
//! report of each month once, on the first of the next, signed like every escalation.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::Method;
use serde_json::json;
use shelfsync::api::channels::NewChannelBody;
use shelfsync::api::client::ApiClient;
use shelfsync::api::journal::JournalQuery;
use shelfsync::operations::sweep::{sweep_client, OperationsOptions};
use shelfsync::platforms::egress::EgressPolicy;
use shelfsync::platforms::Platform;
use shelfsync::report::MonthlyReport;
use shelfsync::service::ServiceOptions;
use shelfsync::timestamp::{Clock, ManualTime};
use shelfsync_actors::inventory::ledger::{Change, MovementKind, Source};

use crate::api_agency::sign;
use crate::api_support::{
    account, add_channel, create_client, import, item, mock_channel, post_movement, put_secret,
    Api, ADMIN,
};
use crate::mock_receiver::Receiver;

const SECRETS: [(&str, &str); 2] = [
    ("shop", "whsec-acme-report-shop-0123456789"),
    ("outlet", "whsec-acme-report-outlet-0123456"),
];

fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

async fn start(dir: tempfile::TempDir, clock: Clock) -> Api {
    let options = ServiceOptions {
        clock,
        egress: EgressPolicy::LOOPBACK_MOCKS,
        ..ServiceOptions::default()
    };
    Api::start_in(dir, options).await
}

/// ACME with two Shopify stores taking order webhooks (their marketplaces a closed port, polled
/// rarely: nothing moves the ledger but what the test sends).
async fn acme(api: &Api) {
    let admin = api.client();
    create_client(&admin, "ACME", "Acme Mugs").await;
    put_secret(&admin, "ACME", "shopify", "shpat-token").await;
    for (id, secret) in SECRETS {
        let store = NewChannelBody {
            webhook_secret: Some(secret.into()),
            account: account(json!({"location_id": "gid://shopify/Location/1"})),
            poll_interval_ms: Some(300_000),
            ..mock_channel(id, Platform::Shopify, "http://127.0.0.1:9", "shopify")
        };
        add_channel(&admin, "ACME", &store).await;
    }
    import(&admin, "ACME", &[item("MUG", 60, &[]), item("CUP", 5, &[])]).await;
}

/// Delivers Shopify order `id` on `store` with `lines` (SKU, quantity), signed as Shopify does.
async fn order(api: &Api, store: usize, id: u64, lines: &[(&str, u32)]) {
    let (channel, secret) = SECRETS[store];
    let lines: Vec<_> = lines
        .iter()
        .map(|(sku, quantity)| json!({"sku": sku, "quantity": quantity}))
        .collect();
    let body = json!({"id": id, "updated_at": "2026-11-01T00:00:00Z", "cancelled_at": null,
                      "line_items": lines})
    .to_string()
    .into_bytes();
    let (status, reply) = api
        .send_raw(
            Method::POST,
            &format!("/webhooks/ACME/{channel}"),
            None,
            "application/json",
            body.clone(),
            &[
                ("x-shopify-topic", "orders/create".to_string()),
                ("x-shopify-hmac-sha256", sign(&body, secret)),
                ("x-shopify-webhook-id", format!("wh-{channel}-{id}")),
            ],
        )
        .await;
    assert_eq!(status, 200, "{reply}");
}

/// What the test sent in November, counted as it went.
#[derive(Debug, Default)]
struct Sent {
    orders: BTreeMap<&'static str, u64>,
    units: BTreeMap<&'static str, i64>,
    received: i64,
    receipts: u64,
}

/// The ledger's own November, counted from `GET …/ledger`.
#[derive(Debug, Default, PartialEq)]
struct LedgerMonth {
    orders: BTreeMap<String, u64>,
    units: BTreeMap<String, i64>,
    receipts: u64,
    received: i64,
    adjustments: u64,
    adjusted: i64,
    counts: u64,
    counted_delta: i64,
    oversold_sales: u64,
    oversold_units: i64,
}

async fn ledger_month(client: &ApiClient, from: DateTime<Utc>, to: DateTime<Utc>) -> LedgerMonth {
    let (from, to) = (from.timestamp_millis() as u64, to.timestamp_millis() as u64);
    let mut month = LedgerMonth::default();
    let mut orders: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut query = JournalQuery {
        limit: Some(1000),
        ..JournalQuery::default()
    };
    for _ in 0..100 {
        let page = client.ledger("ACME", &query).await.unwrap();
        for entry in page.entries.iter().map(|line| &line.entry) {
            if !(from..to).contains(&entry.at_ms) {
                continue;
            }
            match entry.change {
                Change::Sale(units) => {
                    let Source::Channel(channel) = &entry.source else {
                        panic!("a sale from {}", entry.source)
                    };
                    *month.units.entry(channel.to_string()).or_default() += units.get();
                    let order = entry.order.as_ref().unwrap().order_id.clone();
                    orders.entry(channel.to_string()).or_default().insert(order);
                    if entry.oversold_units > 0 {
                        month.oversold_sales += 1;
                        month.oversold_units += entry.oversold_units;
                    }
                }
                Change::Receipt(units) => {
                    month.receipts += 1;
                    month.received += units.get();
                }
                Change::Adjustment(delta) => {
                    month.adjustments += 1;
                    month.adjusted += delta.get();
                }
                Change::Count(_) => {
                    month.counts += 1;
                    month.counted_delta += entry.on_hand_delta;
                }
                Change::Ship(_) | Change::Cancel(_) | Change::RefundRestock(_) => {}
            }
        }
        match page.next_after_seq {
            Some(next) if page.entries.len() == 1000 => query.after_seq = next,
            _ => break,
        }
    }
    month.orders = orders
        .into_iter()
        .map(|(channel, ids)| (channel, ids.len() as u64))
        .collect();
    month
}

fn report_month(report: &MonthlyReport) -> LedgerMonth {
    let m = &report.movements;
    LedgerMonth {
        orders: report
            .sales
            .channels
            .iter()
            .map(|line| (line.source.clone(), line.orders))
            .collect(),
        units: report
            .sales
            .channels
            .iter()
            .map(|line| (line.source.clone(), line.units))
            .collect(),
        receipts: m.receipts,
        received: m.received_units,
        adjustments: m.adjustments,
        adjusted: m.adjusted_in - m.adjusted_out,
        counts: m.counts,
        counted_delta: m.counted_delta,
        oversold_sales: report.oversells.sales,
        oversold_units: report.oversells.units,
    }
}

async fn resolve(api: &Api, id: u64) {
    let body = json!({"action": "resolve", "resolution": "client_informed"}).to_string();
    let (status, reply, _) = api
        .call(
            Method::POST,
            &format!("/v1/clients/ACME/exceptions/{id}"),
            Some(ADMIN),
            Some(body),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
}

#[tokio::test]
async fn a_months_report_totals_equal_the_ledgers_for_that_month() {
    let (clock, time): (Clock, ManualTime) = Clock::manual(at("2026-10-31T12:00:00Z"));
    let dir = tempfile::tempdir().unwrap();
    let api = start(dir, clock.clone()).await;
    acme(&api).await;
    let admin = api.client();

    // October's last evening: not November's.
    time.set(at("2026-10-31T20:00:00Z"));
    order(&api, 0, 900, &[("MUG", 2)]).await;

    let mut sent = Sent::default();
    for day in 1..=30u64 {
        time.set(at(&format!("2026-11-{day:02}T10:00:00Z")));
        // A shop order of two lines; CUP runs out on the 5th and oversells after.
        let mugs = (day % 3 + 1) as u32;
        order(&api, 0, 1000 + day, &[("MUG", mugs), ("CUP", 1)]).await;
        *sent.orders.entry("shop").or_default() += 1;
        *sent.units.entry("shop").or_default() += i64::from(mugs) + 1;
        time.advance(Duration::from_secs(5 * 3600));
        order(&api, 1, 2000 + day, &[("MUG", 1)]).await;
        *sent.orders.entry("outlet").or_default() += 1;
        *sent.units.entry("outlet").or_default() += 1;
        time.advance(Duration::from_secs(3600));
        if day % 7 == 0 {
            post_movement(
                &admin,
                "ACME",
                "MUG",
                MovementKind::Receipt,
                20,
                &format!("r-{day}"),
            )
            .await;
            sent.receipts += 1;
            sent.received += 20;
        }
        if day == 10 {
            post_movement(
                &admin,
                "ACME",
                "MUG",
                MovementKind::Adjustment,
                -3,
                "damaged",
            )
            .await;
        }
        if day == 20 {
            // Nothing ships, so reserved grows: the count raises on-hand by 3 (97 to 100).
            post_movement(&admin, "ACME", "MUG", MovementKind::Count, 100, "count-20").await;
        }
        if day == 8 {
            // Three oversold CUP sales so far (days 6, 7 and 8).
            let exceptions = admin
                .exceptions(
                    "ACME",
                    &shelfsync::api::exceptions::ExceptionsQuery::default(),
                )
                .await
                .unwrap();
            let oversold: Vec<u64> = exceptions
                .exceptions
                .iter()
                .filter(|e| e.kind == "oversold")
                .map(|e| e.id)
                .collect();
            assert_eq!(oversold.len(), 3, "{:?}", exceptions.exceptions);
            // Day 6's was due on day 7 at 10:00: resolved now (day 8, 16:00), late. Day 8's is
            // resolved within its target.
            resolve(&api, oversold[0]).await;
            resolve(&api, oversold[2]).await;
        }
    }
    // December's first minute: not November's.
    time.set(at("2026-12-01T00:00:30Z"));
    order(&api, 1, 3000, &[("MUG", 1)]).await;
    time.set(at("2026-12-02T09:00:00Z"));

    let report = admin.monthly_report("ACME", "2026-11").await.unwrap();
    assert!(report.complete);
    let ledger = ledger_month(
        &admin,
        at("2026-11-01T00:00:00Z"),
        at("2026-12-01T00:00:00Z"),
    )
    .await;
    assert_eq!(
        report_month(&report),
        ledger,
        "the report's month is the ledger's"
    );
    // And the ledger's is what was sent (so the comparison is not of two empty months).
    let expect_orders: BTreeMap<String, u64> = sent
        .orders
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    let expect_units: BTreeMap<String, i64> = sent
        .units
        .iter()
        .map(|(k, v)| (k.to_string(), *v))
        .collect();
    assert_eq!(
        (&ledger.orders, &ledger.units),
        (&expect_orders, &expect_units)
    );
    assert_eq!(
        (ledger.receipts, ledger.received),
        (sent.receipts, sent.received)
    );
    assert_eq!(
        (
            ledger.adjustments,
            ledger.adjusted,
            ledger.counts,
            ledger.counted_delta
        ),
        (1, -3, 1, 3)
    );
    // CUP: 5 in stock, one sold a day: days 6..=30 oversell one unit each.
    assert_eq!((ledger.oversold_sales, ledger.oversold_units), (25, 25));
    assert_eq!(report.sales.orders, 60);
    // The oversells' cause: CUP's earlier sale on the same store.
    let same = report
        .oversells
        .causes
        .iter()
        .find(|c| c.cause == "same_channel")
        .unwrap();
    assert_eq!(same.sales, 25);
    // Exceptions: 25 oversells raised in November, 2 resolved, 1 within its 24 h target.
    let x = &report.exceptions;
    assert_eq!(
        (
            x.raised,
            x.resolved,
            x.resolved_within_target,
            x.open_at_end
        ),
        (25, 2, 1, 23)
    );
    assert_eq!(report.stock.stockouts, 1, "{:?}", report.stock.lines);
    assert_eq!(report.stock.lines[0].sku, "CUP");
    let day = |d: &str| report.days.iter().find(|l| l.day == d).unwrap().units_sold;
    assert_eq!(day("2026-11-01"), 2 + 1 + 1);

    // The PDF carries the same totals.
    let pdf = admin.monthly_report_pdf("ACME", "2026-11").await.unwrap();
    assert!(pdf.starts_with(b"%PDF-"));
    let text = String::from_utf8_lossy(&pdf);
    for (label, value) in shelfsync::report::pdf::summary_lines(&report) {
        assert!(
            text.contains(&format!("({label}: {value}) Tj")),
            "{label}: {value}"
        );
    }

    // A restart changes nothing: the report is made from records, not counters.
    let dir = api.stop();
    let api = start(dir, clock).await;
    let again = api
        .client()
        .monthly_report("ACME", "2026-11")
        .await
        .unwrap();
    assert_eq!(
        serde_json::to_value(MonthlyReport {
            generated_at: String::new(),
            ..again
        })
        .unwrap(),
        serde_json::to_value(MonthlyReport {
            generated_at: String::new(),
            ..report
        })
        .unwrap()
    );
}

async fn put_escalation(api: &Api, body: serde_json::Value) -> serde_json::Value {
    let (status, reply, _) = api
        .call(
            Method::PUT,
            "/v1/clients/ACME/escalation",
            Some(ADMIN),
            Some(body.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    reply
}

async fn sweep(api: &Api) {
    let acme = shelfsync_actors::ids::ClientCode::parse("ACME").unwrap();
    sweep_client(&api.service, &acme, OperationsOptions::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn a_months_report_is_sent_to_the_client_once_on_the_first_from_the_month_asked() {
    let (clock, time): (Clock, ManualTime) = Clock::manual(at("2026-10-20T09:00:00Z"));
    let api = start(tempfile::tempdir().unwrap(), clock).await;
    acme(&api).await;
    let receiver = Receiver::start(0);
    // Asked for in October: October's report is the first, sent on November 1st.
    let rules = put_escalation(
        &api,
        json!({"endpoint": receiver.url, "escalate": [], "monthly_report": true}),
    )
    .await;
    assert_eq!(rules["monthly_report_from"], "2026-10", "{rules}");
    let secret = rules["secret"].as_str().unwrap().to_string();
    order(&api, 0, 1, &[("MUG", 3)]).await;
    sweep(&api).await;
    assert_eq!(
        receiver.deliveries().len(),
        0,
        "nothing before the month ends"
    );
    // Another PUT while it stays on does not move the first month.
    time.set(at("2026-10-25T09:00:00Z"));
    let rules = put_escalation(
        &api,
        json!({"endpoint": receiver.url, "escalate": ["oversold"], "monthly_report": true}),
    )
    .await;
    assert_eq!(rules["monthly_report_from"], "2026-10");

    time.set(at("2026-11-01T00:05:00Z"));
    order(&api, 0, 2, &[("MUG", 1)]).await;
    sweep(&api).await;
    let received = receiver.wait_for(1).await;
    let (headers, body) = &received[0];
    assert_eq!(headers["webhook-id"], "rep_ACME_2026-10");
    let signature = shelfsync::operations::escalation::sign(
        &secret,
        &headers["webhook-id"],
        headers["webhook-timestamp"].parse().unwrap(),
        body,
    )
    .unwrap();
    assert_eq!(
        headers["webhook-signature"], signature,
        "signed like every delivery"
    );
    let event: serde_json::Value = serde_json::from_slice(body).unwrap();
    let report = api
        .client()
        .monthly_report("ACME", "2026-10")
        .await
        .unwrap();
    assert_eq!(
        (event["type"].as_str(), event["month"].as_str()),
        (Some("report.monthly"), Some("2026-10"))
    );
    assert_eq!(
        event["report"]["sales"]["units"], 3,
        "October's sale, not November's"
    );
    assert_eq!(
        event["report"]["sales"],
        serde_json::to_value(&report.sales).unwrap()
    );
    assert!(event["summary"]
        .as_array()
        .unwrap()
        .contains(&json!("Units sold: 3")));

    // Later passes send it no more; the delivery log shows it.
    sweep(&api).await;
    time.set(at("2026-11-02T00:00:00Z"));
    sweep(&api).await;
    assert_eq!(receiver.deliveries().len(), 1, "sent once");
    let (_, log, _) = api
        .call(
            Method::GET,
            "/v1/clients/ACME/escalation/deliveries",
            Some(ADMIN),
            None,
        )
        .await;
    let sent = &log["items"][0];
    assert_eq!(
        (
            sent["reason"].as_str(),
            sent["month"].as_str(),
            sent["state"].as_str()
        ),
        (Some("monthly_report"), Some("2026-10"), Some("delivered")),
        "{log}"
    );
    assert!(
        sent["exception_id"].is_null() && sent["kind"].is_null(),
        "{sent}"
    );

    // Turned off in November: November's report is not sent on December 1st.
    put_escalation(&api, json!({"endpoint": receiver.url, "escalate": []})).await;
    time.set(at("2026-12-01T00:05:00Z"));
    sweep(&api).await;
    assert_eq!(receiver.deliveries().len(), 1, "not asked for: not sent");
    // Turned on again in December: not November's at once, December's in January.
    put_escalation(
        &api,
        json!({"endpoint": receiver.url, "escalate": [], "monthly_report": true}),
    )
    .await;
    sweep(&api).await;
    assert_eq!(receiver.deliveries().len(), 1);
    time.set(at("2027-01-01T00:00:01Z"));
    sweep(&api).await;
    let received = receiver.wait_for(2).await;
    assert_eq!(received[1].0["webhook-id"], "rep_ACME_2026-12");
}
