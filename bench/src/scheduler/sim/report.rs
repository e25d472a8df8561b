//! Part 1's report: the table of both orders side by side, the verdict of the two
//! criteria, and the same as JSON (split from `sim/mod.rs`, which runs the simulation).

use super::{SimParams, SimReport, SimResult};
use crate::scheduler::SIM_TARGET_RATIO;

/// One row of part 1's table: a value of a run, formatted.
type SimField = fn(&SimResult) -> String;

impl SimReport {
    /// Risk-first's exposure (against the truth) as a share of FIFO's.
    fn ratio(&self) -> f64 {
        self.risk_first.exposure_truth_unit_s
            / self.fifo.exposure_truth_unit_s.max(f64::MIN_POSITIVE)
    }

    /// Criterion 1: risk-first keeps its exposure at most [`SIM_TARGET_RATIO`] of FIFO's.
    fn exposure_met(&self) -> bool {
        self.ratio() <= SIM_TARGET_RATIO
    }

    /// Criterion 2: risk-first does not buy that by turning away more shoppers than FIFO while
    /// the client had stock (the sales an increase loses while it waits).
    fn turned_away_met(&self) -> bool {
        self.risk_first.turned_away_with_stock <= self.fifo.turned_away_with_stock
    }
}

pub(in crate::scheduler) fn print_sim(params: &SimParams, report: &SimReport) {
    let p = params;
    println!("== Part 1: risk-first vs FIFO under a binding push budget (virtual time) ==");
    println!(
        "one client, {} channels x {} SKUs, {} s of virtual time, seed {}",
        p.channels, p.skus, p.seconds, p.seed
    );
    println!(
        "budget: {} push calls/s per channel (GCRA, burst {}), {} listing(s) per call, one call in flight, {} ms per call; absolute sets, no compare-and-set (no-re-raise rule by feed read)",
        p.push_rate, p.push_burst, p.batch, p.latency_ns / 1_000_000
    );
    println!(
        "shoppers: {}/s per marketplace (Poisson), SKU by Zipf({}), buy 1 unit only while the marketplace lists > 0; feed read every {} ms + {} ms answer (ingestion delay {}–{} ms)",
        p.shoppers,
        p.zipf,
        p.poll_ns / 1_000_000,
        p.latency_ns / 1_000_000,
        p.latency_ns / 1_000_000,
        (p.poll_ns + p.latency_ns) / 1_000_000
    );
    println!(
        "receipts: {}/s, {}–{} units, SKU by the same popularity; initial stock uniform 0–{}; policy: list all available (ListingPolicy::default) on every channel",
        p.restocks, p.restock_min, p.restock_max, p.initial_max
    );
    println!();
    let rows: [(&str, SimField); 16] = [
        ("exposure-unit-s vs truth", |r| {
            format!("{:.0}", r.exposure_truth_unit_s)
        }),
        ("exposure-unit-s vs target", |r| {
            format!("{:.0}", r.exposure_target_unit_s)
        }),
        ("oversold units (truth)", |r| r.oversold_units.to_string()),
        ("units sold", |r| r.sold_units.to_string()),
        ("shoppers turned away", |r| r.turned_away.to_string()),
        ("  … while stock existed", |r| {
            r.turned_away_with_stock.to_string()
        }),
        ("under-listed unit-s", |r| {
            format!("{:.0}", r.under_listed_unit_s)
        }),
        ("push calls", |r| r.push_calls.to_string()),
        ("pushed decreases", |r| r.pushed_decreases.to_string()),
        ("pushed increases", |r| r.pushed_increases.to_string()),
        ("mean pending SKUs (all ch.)", |r| {
            format!("{:.1}", r.mean_pending)
        }),
        ("max pending SKUs (all ch.)", |r| r.max_pending.to_string()),
        ("decrease lag p50 / p99 (s)", |r| {
            format!("{:.1} / {:.1}", r.lag_decrease.p50, r.lag_decrease.p99)
        }),
        ("increase lag p50 / p99 (s)", |r| {
            format!("{:.1} / {:.1}", r.lag_increase.p50, r.lag_increase.p99)
        }),
        ("receipts (units)", |r| {
            format!("{} ({})", r.restocks, r.restocked_units)
        }),
        ("real time", |r| format!("{:.2} s", r.wall.as_secs_f64())),
    ];
    println!(
        "{:<30} {:>16} {:>16} {:>10}",
        "", "risk-first", "FIFO", "RF/FIFO"
    );
    for (index, (name, field)) in rows.iter().enumerate() {
        let ratio = match index {
            0 => format!("{:.1}%", 100.0 * report.ratio()),
            1 => ratio_text(
                report.risk_first.exposure_target_unit_s,
                report.fifo.exposure_target_unit_s,
            ),
            2 => ratio_text(
                report.risk_first.oversold_units as f64,
                report.fifo.oversold_units as f64,
            ),
            5 => ratio_text(
                report.risk_first.turned_away_with_stock as f64,
                report.fifo.turned_away_with_stock as f64,
            ),
            _ => String::new(),
        };
        println!(
            "{:<30} {:>16} {:>16} {:>10}",
            name,
            field(&report.risk_first),
            field(&report.fifo),
            ratio
        );
    }
    let capacity = params.push_capacity();
    let used = |r: &SimResult| 100.0 * r.push_calls as f64 / capacity;
    println!();
    println!(
        "budget use: {:.1}% (risk-first), {:.1}% (FIFO) of {:.0} calls; the budget binds when use is near 100% with a standing backlog",
        used(&report.risk_first),
        used(&report.fifo),
        capacity
    );
    println!(
        "deterministic: {} (risk-first run twice, identical results)",
        if report.deterministic { "yes" } else { "NO" }
    );
    println!(
        "target 1: risk-first exposure-unit-s <= {:.1}% of FIFO's: {} ({:.1}%)",
        100.0 * SIM_TARGET_RATIO,
        verdict(report.exposure_met()),
        100.0 * report.ratio()
    );
    println!(
        "target 2: risk-first shoppers turned away while stock existed <= FIFO's: {} ({} vs {})",
        verdict(report.turned_away_met()),
        report.risk_first.turned_away_with_stock,
        report.fifo.turned_away_with_stock
    );
    println!();
}

fn verdict(met: bool) -> &'static str {
    if met {
        "MET"
    } else {
        "MISSED"
    }
}

fn ratio_text(numerator: f64, denominator: f64) -> String {
    if denominator == 0.0 {
        "-".into()
    } else {
        format!("{:.1}%", 100.0 * numerator / denominator)
    }
}

pub(in crate::scheduler) fn sim_json(params: &SimParams, report: &SimReport) -> serde_json::Value {
    let result = |r: &SimResult| {
        serde_json::json!({
            "exposure_truth_unit_s": r.exposure_truth_unit_s,
            "exposure_target_unit_s": r.exposure_target_unit_s,
            "under_listed_unit_s": r.under_listed_unit_s,
            "oversold_units": r.oversold_units,
            "sold_units": r.sold_units,
            "turned_away": r.turned_away,
            "turned_away_with_stock": r.turned_away_with_stock,
            "restocks": r.restocks,
            "restocked_units": r.restocked_units,
            "push_calls": r.push_calls,
            "pushed_decreases": r.pushed_decreases,
            "pushed_increases": r.pushed_increases,
            "mean_pending": r.mean_pending,
            "max_pending": r.max_pending,
            "lag_decrease_s": r.lag_decrease.json(),
            "lag_increase_s": r.lag_increase.json(),
            "wall_s": r.wall.as_secs_f64(),
        })
    };
    serde_json::json!({
        "params": {
            "channels": params.channels,
            "skus": params.skus,
            "seconds": params.seconds,
            "seed": params.seed,
            "push_rate": params.push_rate,
            "push_burst": params.push_burst,
            "batch": params.batch,
            "latency_ms": params.latency_ns / 1_000_000,
            "poll_ms": params.poll_ns / 1_000_000,
            "shoppers_per_s": params.shoppers,
            "zipf": params.zipf,
            "restocks_per_s": params.restocks,
            "restock_units": [params.restock_min, params.restock_max],
            "initial_max": params.initial_max,
        },
        "risk_first": result(&report.risk_first),
        "fifo": result(&report.fifo),
        "exposure_ratio": report.ratio(),
        "exposure_target_met": report.exposure_met(),
        "turned_away_target_met": report.turned_away_met(),
        "deterministic": report.deterministic,
    })
}
