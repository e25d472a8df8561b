//! What the demo reads back: the ledger's orders, each mock's ground truth, listings in step.

use std::collections::HashMap;

use super::http::{field, Http};
use super::view::waiting_text;
use super::{ChannelFigures, ClientFigures, DemoError, Setup, ORDERS_PAGE, ORDER_PAGES_PER_TICK};
use reqwest::Method;
use serde_json::{json, Value};

/// What the demo keeps of a provisioned client.
#[derive(Debug, Default)]
pub(super) struct ClientBook {
    pub(super) receipts: u64,
    pub(super) received_units: i64,
    /// The next order event of the journal to read.
    pub(super) orders_after_seq: u64,
    /// Per channel: what the ledger holds of its orders.
    pub(super) ledger: HashMap<String, LedgerTally>,
}

/// One channel's order events in the ledger, summed.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct LedgerTally {
    pub(super) sales: u64,
    pub(super) cancels: u64,
    pub(super) net_units: i64,
    pub(super) oversold_units: i64,
}

/// Reads the order events the ledger took since the last call into the client's tally.
pub(super) async fn read_orders(
    http: &Http,
    code: &str,
    book: &mut ClientBook,
) -> Result<(), DemoError> {
    for _ in 0..ORDER_PAGES_PER_TICK {
        let path = format!(
            "/v1/clients/{code}/orders?after_seq={}&limit={ORDERS_PAGE}",
            book.orders_after_seq
        );
        let reply = http.api(Method::GET, &path, None).await?;
        let lines = field(&reply, "orders", "orders")?
            .as_array()
            .cloned()
            .unwrap_or_default();
        for line in &lines {
            let channel = line["channel"].as_str().unwrap_or_default().to_string();
            let quantity = line["quantity"].as_i64().unwrap_or(0);
            let tally = book.ledger.entry(channel).or_default();
            match line["kind"].as_str() {
                Some("sale") => {
                    tally.sales += 1;
                    tally.net_units += quantity;
                    tally.oversold_units += line["oversold_units"].as_i64().unwrap_or(0);
                }
                Some("cancel") | Some("refund_restock") => {
                    tally.cancels += 1;
                    tally.net_units -= quantity;
                }
                _ => {}
            }
        }
        let next = reply["next_after_seq"]
            .as_u64()
            .unwrap_or(book.orders_after_seq);
        let moved = next > book.orders_after_seq;
        book.orders_after_seq = next;
        // A page that moved the cursor may have stopped at the API's scan bound: read on.
        if !moved {
            break;
        }
    }
    Ok(())
}

/// Sums a `{operation: count}` map of the mock's stats.
pub(super) fn sum_counts(value: &Value) -> u64 {
    value
        .as_object()
        .map_or(0, |map| map.values().filter_map(Value::as_u64).sum())
}

/// Sums a `{sku: units}` map of the mock's stats.
pub(super) fn sum_units(value: &Value) -> i64 {
    value
        .as_object()
        .map_or(0, |map| map.values().filter_map(Value::as_i64).sum())
}

/// The figures of every client now: the API's channels and the ledger's orders (the service's
/// view), each mock's stats (the ground truth).
pub(super) async fn snapshot(
    http: &Http,
    setup: &Setup,
    books: &mut [ClientBook],
) -> Result<Vec<ClientFigures>, DemoError> {
    let mut clients = Vec::with_capacity(books.len());
    for (entry, book) in setup.mocks.iter().zip(books.iter_mut()) {
        let code = entry.client.code;
        read_orders(http, code, book).await?;
        let channels = http
            .api(Method::GET, &format!("/v1/clients/{code}/channels"), None)
            .await?;
        let channels = channels.as_array().cloned().unwrap_or_default();
        let mut figures = ClientFigures {
            code: code.to_string(),
            receipts: book.receipts,
            received_units: book.received_units,
            ..ClientFigures::default()
        };
        for mock in &entry.mocks {
            let id = mock.platform().as_str();
            let live = channels
                .iter()
                .find(|channel| channel["id"] == id)
                .cloned()
                .unwrap_or(Value::Null);
            let stats = http.control(mock, Method::GET, "stats", None).await?;
            let tally = book.ledger.get(id).copied().unwrap_or_default();
            figures.channels.push(ChannelFigures {
                channel: id.to_string(),
                state: live["state"].as_str().unwrap_or("unknown").to_string(),
                orders: stats["orders"].as_u64().unwrap_or(0),
                cancelled: stats["orders_cancelled"].as_u64().unwrap_or(0),
                units_sold: sum_units(&stats["units_sold"]) - sum_units(&stats["units_cancelled"]),
                ledger_orders: tally.sales,
                ledger_cancelled: tally.cancels,
                ledger_units: tally.net_units,
                oversold_units: tally.oversold_units,
                exposure_units: live["exposure_units"].as_u64().unwrap_or(0),
                pending: live["pending"].as_u64().unwrap_or(0),
                oldest_pending_seconds: live["oldest_pending_seconds"].as_f64().unwrap_or(0.0),
                requests: sum_counts(&stats["requests"]),
                throttled: sum_counts(&stats["throttled"]),
                listings: stats["listings"].as_u64().unwrap_or(0) as usize,
                listings_in_step: 0,
                last_error: live["last_error"].as_str().map(str::to_string),
                waiting: waiting_text(&live["waiting"]),
                out_of_step: Vec::new(),
            });
        }
        clients.push(figures);
    }
    Ok(clients)
}

/// Counts, per channel, the listings that show the ledger's target with nothing pending; the
/// listings are read from the mocks (what shoppers see), the targets from the API.
pub(super) async fn count_in_step(
    http: &Http,
    setup: &Setup,
    clients: &mut [ClientFigures],
) -> Result<(), DemoError> {
    for (entry, figures) in setup.mocks.iter().zip(clients.iter_mut()) {
        let code = entry.client.code;
        let stock = http
            .api(Method::GET, &format!("/v1/clients/{code}/stock"), None)
            .await?;
        let stock = stock.as_array().cloned().unwrap_or_default();
        for (mock, channel) in entry.mocks.iter().zip(figures.channels.iter_mut()) {
            let listed = http.control(mock, Method::GET, "listings", None).await?;
            let listed: HashMap<&str, i64> = listed
                .as_array()
                .map(|rows| {
                    rows.iter()
                        .filter_map(|row| Some((row["sku"].as_str()?, row["quantity"].as_i64()?)))
                        .collect()
                })
                .unwrap_or_default();
            channel.listings_in_step = 0;
            channel.out_of_step.clear();
            for level in &stock {
                let view = &level["channels"][channel.channel.as_str()];
                let sku = level["sku"].as_str().unwrap_or_default();
                let shows = listed.get(sku).copied();
                if view["pending"] == json!(false)
                    && view["target"].as_i64().is_some()
                    && shows == view["target"].as_i64()
                {
                    channel.listings_in_step += 1;
                } else if channel.out_of_step.len() < 3 {
                    channel.out_of_step.push(format!(
                        "{sku} shows {} against target {} (engine: listed {}, pending {})",
                        shows.map_or("nothing".to_string(), |q| q.to_string()),
                        view["target"],
                        view["listed"],
                        view["pending"]
                    ));
                }
            }
        }
    }
    Ok(())
}

/// Whether every listing of every client is in step (after [`count_in_step`]).
pub(super) fn all_in_step(clients: &[ClientFigures]) -> bool {
    clients
        .iter()
        .flat_map(|client| &client.channels)
        .all(|channel| channel.listings_in_step == channel.listings)
}

/// The number of `shelfsync_` samples in a Prometheus text.
pub(super) fn count_samples(text: &str) -> usize {
    text.lines()
        .filter(|line| line.starts_with("shelfsync_"))
        .count()
}
