//! What the demo reads back: the ledger's orders, each mock's ground truth, listings in step.

use std::collections::HashMap;

use super::http::Http;
use super::view::waiting_text;
use super::{ChannelFigures, ClientFigures, DemoError, Setup, ORDERS_PAGE, ORDER_PAGES_PER_TICK};
use crate::api::exceptions::ExceptionsQuery;
use reqwest::Method;
use serde_json::Value;
use shelfsync_actors::inventory::ledger::MovementKind;

use crate::api::journal::JournalQuery;

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
        let query = JournalQuery {
            after_seq: book.orders_after_seq,
            limit: Some(ORDERS_PAGE),
            ..JournalQuery::default()
        };
        let page = http.api.orders(code, &query).await?;
        for line in &page.orders {
            let tally = book.ledger.entry(line.channel.clone()).or_default();
            match line.kind {
                MovementKind::Sale => {
                    tally.sales += 1;
                    tally.net_units += line.quantity;
                    tally.oversold_units += line.oversold_units;
                }
                MovementKind::Cancel | MovementKind::RefundRestock => {
                    tally.cancels += 1;
                    tally.net_units -= line.quantity;
                }
                MovementKind::Ship
                | MovementKind::Receipt
                | MovementKind::Adjustment
                | MovementKind::Count => {}
            }
        }
        let next = page.next_after_seq;
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
        let channels = http.api.channels(code).await?;
        let mut figures = ClientFigures {
            code: code.to_string(),
            receipts: book.receipts,
            received_units: book.received_units,
            ..ClientFigures::default()
        };
        // The agency's queue and reorder list, as the operations API shows them.
        let queue = http
            .api
            .exceptions(
                code,
                &ExceptionsQuery {
                    state: Some("unresolved".into()),
                    limit: Some(1000),
                    ..ExceptionsQuery::default()
                },
            )
            .await?;
        for exception in queue.exceptions {
            *figures.open_exceptions.entry(exception.kind).or_default() += 1;
        }
        figures.reorder_alerts = http
            .api
            .reorders(code)
            .await?
            .iter()
            .filter(|line| line.alert)
            .count() as u64;
        for mock in &entry.mocks {
            let id = mock.platform().as_str();
            let status = channels
                .iter()
                .find(|channel| channel.channel.id.as_str() == id);
            let live = status.and_then(|status| status.live.as_ref());
            let stats = http.control(mock, Method::GET, "stats", None).await?;
            let tally = book.ledger.get(id).copied().unwrap_or_default();
            figures.channels.push(ChannelFigures {
                channel: id.to_string(),
                state: status.map_or("unknown".to_string(), |status| {
                    status.state.as_str().to_string()
                }),
                orders: stats["orders"].as_u64().unwrap_or(0),
                cancelled: stats["orders_cancelled"].as_u64().unwrap_or(0),
                units_sold: sum_units(&stats["units_sold"]) - sum_units(&stats["units_cancelled"]),
                ledger_orders: tally.sales,
                ledger_cancelled: tally.cancels,
                ledger_units: tally.net_units,
                oversold_units: tally.oversold_units,
                exposure_units: live.map_or(0, |live| live.exposure_units),
                pending: live.map_or(0, |live| live.pending as u64),
                oldest_pending_seconds: live.map_or(0.0, |live| live.oldest_pending_seconds),
                requests: sum_counts(&stats["requests"]),
                throttled: sum_counts(&stats["throttled"]),
                listings: stats["listings"].as_u64().unwrap_or(0) as usize,
                listings_in_step: 0,
                last_error: live.and_then(|live| live.last_error.clone()),
                waiting: live
                    .and_then(|live| live.waiting.as_ref())
                    .map(waiting_text),
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
        let stock = http.api.stock(code).await?;
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
                let view = level.channels.get(channel.channel.as_str());
                let sku = level.sku.as_str();
                let shows = listed.get(sku).copied();
                let target = view.map(|view| i64::from(view.target));
                if view.is_some_and(|view| !view.pending) && shows == target {
                    channel.listings_in_step += 1;
                } else if channel.out_of_step.len() < 3 {
                    let known =
                        |value: Option<i64>| value.map_or("nothing".to_string(), |q| q.to_string());
                    channel.out_of_step.push(format!(
                        "{sku} shows {} against target {} (engine: listed {}, pending {})",
                        known(shows),
                        known(target),
                        known(view.and_then(|view| view.listed).map(i64::from)),
                        view.map_or("nothing".to_string(), |view| view.pending.to_string()),
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
