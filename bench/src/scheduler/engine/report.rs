//! Part 2's report: what the engine's own metrics said about the timed phase, printed and as
//! JSON (split from `engine/mod.rs`, which sets the actors up and drives the sales).

use metrics_util::debugging::{DebugValue, Snapshotter};
use shelfsync_actors::metrics as metric_names;

use super::{EngineParams, EngineReport, CHANNELS, NANOSECOND_IN_MICROS};
use crate::percentiles::Percentiles;
use crate::scheduler::ENGINE_TARGET_P99;

/// Reads what the engine's own metrics say about the timed phase (the snapshot drains them).
pub(super) fn read_metrics(snapshotter: &Snapshotter, report: &mut EngineReport) {
    let mut lag = Vec::new();
    let mut commit = Vec::new();
    for (key, _, _, value) in snapshotter.snapshot().into_vec() {
        let name = key.key().name();
        let label = |wanted: &str| {
            key.key()
                .labels()
                .find(|label| label.key() == wanted)
                .map(|label| label.value().to_string())
        };
        match value {
            DebugValue::Histogram(values) if name == metric_names::RATELIMIT_WAIT_SECONDS.name => {
                report.ratelimit_waits += values.len() as u64;
            }
            DebugValue::Histogram(values) if name == metric_names::SYNC_LAG_SECONDS.name => {
                lag.extend(values.iter().map(|value| value.0 * 1e6));
            }
            DebugValue::Histogram(values) if name == metric_names::LEDGER_COMMIT_SECONDS.name => {
                commit.extend(values.iter().map(|value| value.0 * 1e6));
            }
            DebugValue::Counter(count) if name == metric_names::MARKETPLACE_REQUESTS_TOTAL.name => {
                if label("outcome").as_deref() == Some("ok") {
                    report.requests_ok += count;
                } else {
                    report.requests_not_ok += count;
                }
            }
            DebugValue::Counter(count) if name == metric_names::OVERSOLD_UNITS_TOTAL.name => {
                report.oversold += count;
            }
            _ => {}
        }
    }
    report.commit_rounds = commit.len() as u64;
    report.commit = Percentiles::of(&commit, NANOSECOND_IN_MICROS);
    report.engine_sync_lag = Percentiles::of(&lag, NANOSECOND_IN_MICROS);
}

pub(super) fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|text| {
            text.lines()
                .find(|line| line.starts_with("VmHWM:"))
                .and_then(|line| line.split_whitespace().nth(1))
                .and_then(|kib| kib.parse::<f64>().ok())
        })
        .map_or(0.0, |kib| kib / 1024.0)
}

fn micros_text(micros: f64) -> String {
    if micros.abs() >= 1_000.0 {
        format!("{:.2} ms", micros / 1_000.0)
    } else {
        format!("{micros:.0} µs")
    }
}

pub(in crate::scheduler) fn print_engine(params: &EngineParams, report: &EngineReport) {
    println!("== Part 2: propagation through the real actors, no binding limit (real time) ==");
    println!(
        "{} clients x {} channels ({}) x {} SKUs; {} arbiter(s) (clients by index), sales driver on the System thread",
        params.clients,
        CHANNELS.len(),
        CHANNELS.map(|(name, _)| name).join(", "),
        params.skus,
        params.arbiters
    );
    println!(
        "per client: InventoryActor (acknowledging {}, one shared temp sled db), 4 ChannelActors (risk-first, default policy), FakeMarketplace without bucket or latency; limits overridden to 1e6/s (eBay on the app); feed poll every {} ms, read-back off",
        params.ack.name(),
        params.poll.as_millis()
    );
    println!(
        "timed phase: {} sales of 1 unit at {}/s (open loop), random (client, SKU), applied to the InventoryActor with source channel:{} and a unique key",
        params.sales, params.sales_rate, CHANNELS[0].0
    );
    println!(
        "start-up: seed {:.1} s, every listing pushed {:.1} s, ledgers idle {:.1} s; timed phase {:.2} s, settled {:.0} ms after the last ack; peak RSS {:.0} MiB",
        report.seed_time.as_secs_f64(),
        report.listed_time.as_secs_f64(),
        report.quiet_time.as_secs_f64(),
        report.sales_time.as_secs_f64(),
        report.settle_time.as_secs_f64() * 1e3,
        report.peak_rss_mib
    );
    println!();
    println!(
        "{:<52} {:>10} {:>10} {:>10}",
        "(n = sales)", "p50", "p99", "max"
    );
    let row = |name: &str, p: &Percentiles| {
        println!(
            "{:<52} {:>10} {:>10} {:>10}",
            name,
            micros_text(p.p50),
            micros_text(p.p99),
            micros_text(p.max)
        );
    };
    row(
        "propagation: ack -> all 3 siblings confirmed",
        &report.from_ack,
    );
    row(
        "propagation: send -> all 3 siblings confirmed",
        &report.from_send,
    );
    row("sale ack (send -> ack)", &report.ack);
    for (name, percentiles) in &report.per_sibling {
        row(&format!("  ack -> {name} confirmed"), percentiles);
    }
    row(
        "engine sync lag (target change -> confirmed)",
        &report.engine_sync_lag,
    );
    row(
        &format!("ledger commit rounds ({})", report.commit_rounds),
        &report.commit,
    );
    println!();
    println!(
        "sales whose siblings all confirmed before the sender saw the ack: {} (negative ack-based times)",
        report.before_ack
    );
    println!(
        "rate limits: {} limiter waits, {} requests not ok ({} ok), channels report {} throttled / {} failed; oversold units {}",
        report.ratelimit_waits,
        report.requests_not_ok,
        report.requests_ok,
        report.channel_throttled,
        report.channel_failed,
        report.oversold
    );
    println!(
        "background: {:.0} feed reads/s over all channels (a ledger round only for a page with events or a new cursor)",
        report.fetches_per_second
    );
    println!(
        "final listings of every sold SKU on all 4 marketplaces equal the ledger: {}",
        if report.final_listings_ok {
            "yes"
        } else {
            "NO"
        }
    );
    let verdict = |p99: f64| {
        if p99 < ENGINE_TARGET_P99.as_secs_f64() * 1e6 {
            "MET"
        } else {
            "MISSED"
        }
    };
    println!(
        "target: p99 propagation < 5 ms: {} from the ack ({}), {} from the send ({})",
        verdict(report.from_ack.p99),
        micros_text(report.from_ack.p99),
        verdict(report.from_send.p99),
        micros_text(report.from_send.p99)
    );
    println!();
}

pub(in crate::scheduler) fn engine_json(
    params: &EngineParams,
    report: &EngineReport,
) -> serde_json::Value {
    let per_sibling: serde_json::Map<String, serde_json::Value> = report
        .per_sibling
        .iter()
        .map(|(name, percentiles)| ((*name).to_string(), percentiles.json()))
        .collect();
    serde_json::json!({
        "params": {
            "clients": params.clients,
            "channels": CHANNELS.len(),
            "skus": params.skus,
            "sales": params.sales,
            "sales_per_s": params.sales_rate,
            "arbiters": params.arbiters,
            "poll_ms": params.poll.as_millis() as u64,
            "ack": params.ack.name(),
            "seed": params.seed,
        },
        "startup_s": {
            "seed": report.seed_time.as_secs_f64(),
            "listed": report.listed_time.as_secs_f64(),
            "quiet": report.quiet_time.as_secs_f64(),
        },
        "sales_s": report.sales_time.as_secs_f64(),
        "propagation_from_ack_us": report.from_ack.json(),
        "propagation_from_send_us": report.from_send.json(),
        "ack_us": report.ack.json(),
        "per_sibling_from_ack_us": per_sibling,
        "engine_sync_lag_us": report.engine_sync_lag.json(),
        "commit_round_us": report.commit.json(),
        "before_ack": report.before_ack,
        "ratelimit_waits": report.ratelimit_waits,
        "requests_ok": report.requests_ok,
        "requests_not_ok": report.requests_not_ok,
        "channel_throttled": report.channel_throttled,
        "channel_failed": report.channel_failed,
        "oversold_units": report.oversold,
        "fetches_per_s": report.fetches_per_second,
        "final_listings_ok": report.final_listings_ok,
        "peak_rss_mib": report.peak_rss_mib,
        "target_met_from_ack": report.from_ack.p99 < ENGINE_TARGET_P99.as_secs_f64() * 1e6,
        "target_met_from_send": report.from_send.p99 < ENGINE_TARGET_P99.as_secs_f64() * 1e6,
    })
}
