//! The figures of a run, from the mocks' ground truth: the table on the terminal, the JSON, the
//! markdown for `bench/RESULTS.md`, and the check that every figure is there.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;
use shelfsync::platforms::Platform;

use super::observe::Observations;
use crate::percentiles::Percentiles;

/// The sale → sibling p99 that issue 14 asks of every pair of platforms whose budgets do not
/// bind; the report lists the pairs at or over it (which of them bind is the reader's call, from
/// the requests table).
const PAIR_P99_TARGET_MS: f64 = 1_000.0;

/// p50, p99 and max of one platform's sync lags.
#[derive(Debug, Clone, Serialize)]
pub struct LagFigures {
    /// Sale-to-sibling observations (resolved and unresolved).
    pub count: usize,
    /// Of them, sibling listings that had not shown the sale when the run ended (counted at their
    /// age then).
    pub unresolved: u64,
    /// Median, milliseconds.
    pub p50_ms: f64,
    /// 99th percentile, milliseconds.
    pub p99_ms: f64,
    /// Largest, milliseconds.
    pub max_ms: f64,
}

impl LagFigures {
    /// The figures of `lags` (milliseconds, recorded to the microsecond).
    pub fn of(lags: &[f64], unresolved: u64) -> Option<LagFigures> {
        if lags.is_empty() {
            return None;
        }
        let figures = Percentiles::of(lags, 0.001);
        Some(LagFigures {
            count: figures.count,
            unresolved,
            p50_ms: figures.p50,
            p99_ms: figures.p99,
            max_ms: figures.max,
        })
    }
}

/// Requests one platform received during the measured window, against what its default limits
/// allow in that window.
#[derive(Debug, Clone, Serialize)]
pub struct Budget {
    /// Every request the platform's mocks received in the window.
    pub requests: u64,
    /// The requests that draw on the bucket below.
    pub used: u64,
    /// What that bucket allows in the window, summed over the accounts that have one.
    pub allowed: f64,
    /// `used / allowed`.
    pub share: f64,
    /// Which bucket: what `used` and `allowed` count.
    pub bucket: &'static str,
    /// Throttled replies in the window.
    pub throttled: u64,
    /// Requests in the window by the mocks' operation name (summed over the platform's mocks).
    pub requests_by_operation: BTreeMap<String, u64>,
    /// Throttled replies in the window by operation.
    pub throttled_by_operation: BTreeMap<String, u64>,
}

/// The service process's resources.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceFigures {
    /// CPU seconds (user + system) during the measured window.
    pub cpu_seconds: f64,
    /// `cpu_seconds` over the window: cores used on average.
    pub cpu_cores: f64,
    /// CPU seconds over the process's whole life (start-up, provisioning and settling included).
    pub cpu_seconds_total: f64,
    /// Peak RSS (VmHWM), MiB.
    pub peak_rss_mib: f64,
}

/// The baseline tool's own counts.
#[derive(Debug, Clone, Serialize)]
pub struct ToolFigures {
    /// Sweeps started.
    pub sweeps: u64,
    /// Push calls sent.
    pub calls: u64,
    /// Calls that failed after every try.
    pub failed_calls: u64,
    /// Order-feed pages read.
    pub order_pages: u64,
    /// Order-feed reads given up after every try.
    pub failed_order_reads: u64,
    /// The wall-clock interval between sweeps.
    pub interval_secs: f64,
}

/// One variant's figures.
#[derive(Debug, Clone, Serialize)]
pub struct VariantReport {
    /// `shelfsync-risk-first`, `shelfsync-fifo`, `interval-10min`, ...
    pub variant: String,
    /// Seconds measured (shopping plus drain).
    pub window_secs: f64,
    /// Orders placed on the mocks.
    pub orders: u64,
    /// Orders the mocks refused (the listing showed too little).
    pub orders_refused: u64,
    /// Units sold (less cancelled).
    pub units_sold: i64,
    /// Units sold beyond each SKU's true stock, summed over SKUs.
    pub units_oversold: i64,
    /// SKUs with at least one unit oversold.
    pub skus_oversold: u64,
    /// Units oversold by the marketplace whose sale went beyond the SKU's stock (sales and
    /// cancellations of every marketplace in time order; a cancellation takes back the latest
    /// oversold units first).
    pub oversold_by_platform: BTreeMap<Platform, i64>,
    /// Σ max(0, listed − true stock left) × dt over every listing.
    pub exposure_unit_seconds: f64,
    /// The same by platform.
    pub exposure_by_platform: BTreeMap<Platform, f64>,
    /// Sync lag by the platform where the sale had to show.
    pub lag_by_target: BTreeMap<Platform, LagFigures>,
    /// Sync lag by the platform where the sale happened.
    pub lag_by_source: BTreeMap<Platform, LagFigures>,
    /// Sync lag by `source→target` platform pair (unresolved included, as above).
    pub lag_by_pair: BTreeMap<String, LagFigures>,
    /// Reaction lag (a sale to the sibling showing that sale's own effect; see
    /// `observe.rs`) by the sibling's platform, unresolved included.
    pub reaction_lag_by_target: BTreeMap<Platform, LagFigures>,
    /// Reaction lag by `source→target` pair.
    pub reaction_lag_by_pair: BTreeMap<String, LagFigures>,
    /// Sale and sibling pairs left out of the reaction lag (the sibling's history was too short).
    pub reaction_unknown: u64,
    /// Webhook deliveries of the mocks in the window: answered 2xx, attempts that failed (non-2xx,
    /// refused, timed out), deliveries given up after the last retry.
    pub webhooks: [u64; 3],
    /// The service's own view of its channels at the end of the window, by platform (pending,
    /// failed, throttled, a few last errors): for diagnosis, never a reported figure.
    pub engine_view: Option<serde_json::Value>,
    /// Throttled replies over the whole variant (provisioning and settling included).
    pub throttled_total: u64,
    /// Throttled replies during the measured window.
    pub throttled_window: u64,
    /// Requests and budgets by platform, in the measured window.
    pub budgets: BTreeMap<Platform, Budget>,
    /// The service (shelfsync variants only).
    pub service: Option<ServiceFigures>,
    /// Set when the service process ended during the run.
    pub service_crashed: Option<String>,
    /// Seconds the service took to settle after provisioning, and whether it did.
    pub settle: Option<(f64, bool)>,
    /// The baseline tool (interval variants only).
    pub tool: Option<ToolFigures>,
    /// Lag sample period and exposure sample period, ms.
    pub sample_ms: (u64, u64),
}

/// A whole run.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The scenario's name.
    pub scenario: String,
    /// The command that ran it.
    pub command: String,
    /// Scenario seed.
    pub seed: u64,
    /// Business seconds per wall second.
    pub time_compression: f64,
    /// Clients, channels, SKUs per client, steady orders a second.
    pub shape: String,
    /// Cores of the machine.
    pub cores: usize,
    /// Whether every variant (of every scenario of the invocation) ran at once.
    pub concurrent: bool,
    /// The variants, in run order.
    pub variants: Vec<VariantReport>,
}

/// Reaction-lag figures by target platform and by pair.
pub fn reaction_figures(
    obs: &Observations,
) -> (BTreeMap<Platform, LagFigures>, BTreeMap<String, LagFigures>) {
    let by_target = obs
        .reaction_by_target
        .iter()
        .filter_map(|(platform, lags)| {
            let unresolved = obs
                .reaction_unresolved_by_target
                .get(platform)
                .copied()
                .unwrap_or(0);
            LagFigures::of(lags, unresolved).map(|figures| (*platform, figures))
        })
        .collect();
    let by_pair = obs
        .reaction_by_pair
        .iter()
        .filter_map(|(pair, lags)| LagFigures::of(lags, 0).map(|f| (pair.clone(), f)))
        .collect();
    (by_target, by_pair)
}

/// Lag figures from observations.
pub fn lag_figures(
    obs: &Observations,
) -> (
    BTreeMap<Platform, LagFigures>,
    BTreeMap<Platform, LagFigures>,
) {
    let by_target = obs
        .lag_by_target
        .iter()
        .filter_map(|(platform, lags)| {
            let unresolved = obs.unresolved_by_target.get(platform).copied().unwrap_or(0);
            LagFigures::of(lags, unresolved).map(|figures| (*platform, figures))
        })
        .collect();
    let by_source = obs
        .lag_by_source
        .iter()
        .filter_map(|(platform, lags)| LagFigures::of(lags, 0).map(|f| (*platform, f)))
        .collect();
    (by_target, by_source)
}

impl Report {
    /// The figures that are missing (empty when the report is whole), and a crashed service.
    pub fn problems(&self, platforms: &[Platform]) -> Vec<String> {
        let mut problems = Vec::new();
        for variant in &self.variants {
            let name = &variant.variant;
            if let Some(status) = &variant.service_crashed {
                problems.push(format!(
                    "{name}: the service ended during the run ({status})"
                ));
            }
            if variant.orders == 0 {
                problems.push(format!("{name}: no orders were placed"));
            }
            if !variant.exposure_unit_seconds.is_finite() {
                problems.push(format!("{name}: exposure is missing"));
            }
            for platform in platforms {
                if !variant.lag_by_target.contains_key(platform) {
                    problems.push(format!("{name}: no sync lag to {platform}"));
                }
                if !variant.budgets.contains_key(platform) {
                    problems.push(format!("{name}: no request figures of {platform}"));
                }
            }
            let is_service = name.starts_with("shelfsync");
            match (&variant.service, is_service) {
                (None, true) => problems.push(format!("{name}: no CPU/RSS of the service")),
                (Some(service), true)
                    if !(service.cpu_seconds.is_finite() && service.peak_rss_mib > 0.0) =>
                {
                    problems.push(format!("{name}: CPU/RSS of the service unreadable"))
                }
                _ => {}
            }
            if !is_service && variant.tool.is_none() {
                problems.push(format!("{name}: no figures of the baseline tool"));
            }
        }
        problems
    }

    /// The terminal table (also the body of the markdown).
    pub fn table(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "| variant | orders | refused | oversold units (SKUs) | exposure unit·s | throttled (window) | service CPU s (cores) | peak RSS MiB |"
        );
        let _ = writeln!(out, "|---|---:|---:|---:|---:|---:|---:|---:|");
        for v in &self.variants {
            let service = v.service.as_ref().map_or_else(
                || ("n/a".to_string(), "n/a".to_string()),
                |s| {
                    (
                        format!("{:.2} ({:.2})", s.cpu_seconds, s.cpu_cores),
                        format!("{:.0}", s.peak_rss_mib),
                    )
                },
            );
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} ({}) | {:.1} | {} ({}) | {} | {} |",
                v.variant,
                v.orders,
                v.orders_refused,
                v.units_oversold,
                v.skus_oversold,
                v.exposure_unit_seconds,
                v.throttled_total,
                v.throttled_window,
                service.0,
                service.1
            );
        }
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Oversold units by the marketplace whose sale went beyond the stock:"
        );
        let _ = writeln!(out);
        for v in &self.variants {
            let by_platform: Vec<String> = v
                .oversold_by_platform
                .iter()
                .map(|(platform, units)| format!("{platform} {units}"))
                .collect();
            let by_platform = if by_platform.is_empty() {
                "none".to_string()
            } else {
                by_platform.join(", ")
            };
            let _ = writeln!(out, "- {}: {by_platform}", v.variant);
        }
        let _ = writeln!(out);
        self.verdicts(&mut out);
        let _ = writeln!(
            out,
            "Sync lag, sale → sibling listing shows it, by the sibling's platform (ms; p50 / p99 / max; n; unresolved at the end):"
        );
        let _ = writeln!(out);
        let platforms: Vec<Platform> = self
            .variants
            .iter()
            .flat_map(|v| v.lag_by_target.keys().copied())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        self.lag_table(&mut out, &platforms, |v| &v.lag_by_target);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Reaction lag, sale → sibling listing shows that sale's own effect, by the sibling's platform (ms; p50 / p99 / max; n; unresolved):"
        );
        let _ = writeln!(out);
        self.lag_table(&mut out, &platforms, |v| &v.reaction_lag_by_target);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Sync lag by pair, sale on one platform → a sibling listing on another shows it (ms; p50 / p99; n; unresolved at the end):"
        );
        let _ = writeln!(out);
        self.pair_table(&mut out);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Requests in the window, by platform: used / allowed by the default limits (bucket) — throttled:"
        );
        let _ = writeln!(out);
        let _ = write!(out, "| variant |");
        for platform in &platforms {
            let _ = write!(out, " {platform} |");
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "|---|{}", "---|".repeat(platforms.len()));
        for v in &self.variants {
            let _ = write!(out, "| {} |", v.variant);
            for platform in &platforms {
                match v.budgets.get(platform) {
                    Some(b) => {
                        let by_operation: Vec<String> = b
                            .throttled_by_operation
                            .iter()
                            .map(|(operation, count)| format!("{operation} {count}"))
                            .collect();
                        let named = if by_operation.is_empty() {
                            String::new()
                        } else {
                            format!(" ({})", by_operation.join(", "))
                        };
                        let _ = write!(
                            out,
                            " {} / {:.0} ({:.0} %, {}) — {}{named} |",
                            b.used,
                            b.allowed,
                            b.share * 100.0,
                            b.bucket,
                            b.throttled
                        );
                    }
                    None => {
                        let _ = write!(out, " n/a |");
                    }
                }
            }
            let _ = writeln!(out);
        }
        out
    }

    /// One lag table: a row per variant, a `p50 / p99 / max; n; unresolved` cell per platform.
    fn lag_table(
        &self,
        out: &mut String,
        platforms: &[Platform],
        lags: impl Fn(&VariantReport) -> &BTreeMap<Platform, LagFigures>,
    ) {
        let _ = write!(out, "| variant |");
        for platform in platforms {
            let _ = write!(out, " {platform} |");
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "|---|{}", "---|".repeat(platforms.len()));
        for v in &self.variants {
            let _ = write!(out, "| {} |", v.variant);
            for platform in platforms {
                match lags(v).get(platform) {
                    Some(l) => {
                        let _ = write!(
                            out,
                            " {:.0} / {:.0} / {:.0}; {}; {} |",
                            l.p50_ms, l.p99_ms, l.max_ms, l.count, l.unresolved
                        );
                    }
                    None => {
                        let _ = write!(out, " n/a |");
                    }
                }
            }
            let _ = writeln!(out);
        }
    }

    /// Shelfsync's oversold units against every interval baseline's, and the throttled check.
    fn verdicts(&self, out: &mut String) {
        let (ours, baselines): (Vec<&VariantReport>, Vec<&VariantReport>) = self
            .variants
            .iter()
            .partition(|v| v.variant.starts_with("shelfsync"));
        if !ours.is_empty() && !baselines.is_empty() {
            let _ = writeln!(
                out,
                "Units oversold, each interval baseline against shelfsync (baseline / shelfsync):"
            );
            let _ = writeln!(out);
            for baseline in &baselines {
                for v in &ours {
                    let _ = writeln!(
                        out,
                        "- {} / {}: {}",
                        baseline.variant,
                        v.variant,
                        oversold_ratio(baseline.units_oversold, v.units_oversold)
                    );
                }
            }
            let _ = writeln!(out);
        }
        let throttled: Vec<String> = ours
            .iter()
            .filter(|v| v.throttled_total > 0)
            .map(|v| {
                let by_platform: Vec<String> = v
                    .budgets
                    .iter()
                    .filter(|(_, budget)| budget.throttled > 0)
                    .map(|(platform, budget)| format!("{platform} {}", budget.throttled))
                    .collect();
                format!(
                    "{} {} ({} in the window: {})",
                    v.variant,
                    v.throttled_total,
                    v.throttled_window,
                    by_platform.join(", ")
                )
            })
            .collect();
        for v in &ours {
            let slow: Vec<String> = v
                .lag_by_pair
                .iter()
                .filter(|(_, lag)| lag.p99_ms >= PAIR_P99_TARGET_MS)
                .map(|(pair, lag)| format!("{pair} {:.0}", lag.p99_ms))
                .collect();
            let verdict = if slow.is_empty() {
                format!("every one of {} pairs", v.lag_by_pair.len())
            } else {
                format!(
                    "{} of {} pairs; at or over (ms): {}",
                    v.lag_by_pair.len() - slow.len(),
                    v.lag_by_pair.len(),
                    slow.join(", ")
                )
            };
            let _ = writeln!(
                out,
                "- {}: sale → sibling sync lag p99 under 1 s: {verdict}",
                v.variant
            );
        }
        if !ours.is_empty() {
            let _ = writeln!(out);
            let verdict = if throttled.is_empty() {
                "**yes**".to_string()
            } else {
                format!("**no**: {}", throttled.join("; "))
            };
            let _ = writeln!(
                out,
                "0 throttled replies to shelfsync (whole variant: provisioning, settling and window): {verdict}"
            );
            let _ = writeln!(out);
        }
    }

    /// Sync lag by (sold on → sibling) pair of platforms: a row per pair, a column per variant.
    fn pair_table(&self, out: &mut String) {
        let pairs: std::collections::BTreeSet<&String> = self
            .variants
            .iter()
            .flat_map(|v| v.lag_by_pair.keys())
            .collect();
        let _ = write!(out, "| sold on → sibling |");
        for v in &self.variants {
            let _ = write!(out, " {} |", v.variant);
        }
        let _ = writeln!(out);
        let _ = writeln!(out, "|---|{}", "---|".repeat(self.variants.len()));
        for pair in pairs {
            let _ = write!(out, "| {pair} |");
            for v in &self.variants {
                match v.lag_by_pair.get(pair) {
                    Some(l) => {
                        let _ = write!(
                            out,
                            " {:.0} / {:.0}; {}; {} |",
                            l.p50_ms, l.p99_ms, l.count, l.unresolved
                        );
                    }
                    None => {
                        let _ = write!(out, " n/a |");
                    }
                }
            }
            let _ = writeln!(out);
        }
    }

    /// The markdown section for `bench/RESULTS.md`.
    pub fn markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "## run {}", self.scenario);
        let _ = writeln!(out);
        let _ = writeln!(out, "```sh\n{}\n```", self.command);
        let _ = writeln!(out);
        let time = if self.time_compression == 1.0 {
            "real time (compression 1: the interval baselines push every N wall minutes)"
                .to_string()
        } else {
            format!(
                "time compression {c}× (one wall second stands for {c} business seconds: the interval baselines push every N×60/{c} wall seconds; the shoppers' rate is wall-clock, so shelfsync faces the compressed, busier stream under the real rate limits)",
                c = self.time_compression
            )
        };
        let together = if self.concurrent {
            "; every variant ran at once, each on its own mocks and service, sharing the cores"
        } else {
            ""
        };
        let _ = writeln!(
            out,
            "{} ({} cores); seed {}; {time}{together}.",
            self.shape, self.cores, self.seed
        );
        let _ = writeln!(out);
        out.push_str(&self.table());
        out
    }
}

/// `baseline` units oversold against `ours`, as a ratio that never divides by zero: when shelfsync
/// oversold nothing, the ratio is only bounded below (one unit would have made it `baseline`×).
pub fn oversold_ratio(baseline: i64, ours: i64) -> String {
    match (baseline, ours) {
        (0, 0) => "0 vs 0: no ratio (neither oversold)".to_string(),
        (baseline, 0) => format!(
            "{baseline} vs 0: at least {baseline}× fewer (shelfsync oversold none; one unit would make it {baseline}×)"
        ),
        (baseline, ours) if baseline >= ours => format!(
            "{baseline} vs {ours}: {:.2}× fewer",
            baseline as f64 / ours as f64
        ),
        (baseline, ours) => format!(
            "{baseline} vs {ours}: shelfsync oversold more ({:.2}×)",
            baseline as f64 / ours as f64
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::oversold_ratio;

    #[test]
    fn the_oversold_ratio_never_divides_by_zero() {
        assert_eq!(oversold_ratio(0, 0), "0 vs 0: no ratio (neither oversold)");
        assert!(oversold_ratio(12, 0).starts_with("12 vs 0: at least 12× fewer"));
        assert_eq!(oversold_ratio(425, 228), "425 vs 228: 1.86× fewer");
        assert_eq!(
            oversold_ratio(3, 6),
            "3 vs 6: shelfsync oversold more (0.50×)"
        );
    }
}
