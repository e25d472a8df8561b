//! The process's metrics recorder (DESIGN §5): one global Prometheus recorder, installed once,
//! that renders every metric of `shelfsync_actors::metrics::ALL` for `GET /metrics`.
//!
//! The exporter is used without its HTTP listener: actix-web already serves the API, and one port
//! is simpler to secure and to scrape than two. Histograms get explicit buckets (per metric, from
//! [`buckets`]) so that they render as Prometheus histograms (`_bucket`, `_sum`, `_count`), which
//! `histogram_quantile` can aggregate across series; without buckets the exporter would render
//! summaries, whose quantiles cannot be aggregated.

use std::sync::OnceLock;
use std::time::Duration;

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use shelfsync_actors::metrics::{self, Metric, MetricKind};

/// How often the upkeep thread drains recorded histogram samples into their buckets. The exporter
/// keeps every raw sample until the next drain, and a drain otherwise happens only at a scrape: a
/// service nobody scrapes would grow without bound (see the exporter's "Upkeep and maintenance").
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// Why the recorder could not be installed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum TelemetryError {
    /// Another global recorder was installed first (the `metrics` crate allows one per process).
    #[error("another metrics recorder is already installed: {0}")]
    ForeignRecorder(String),
    /// The exporter refused its configuration (an empty bucket list).
    #[error("the Prometheus exporter refused its configuration: {0}")]
    Config(String),
}

impl TelemetryError {
    /// A stable short name of the error, for logs and metrics.
    pub fn kind(&self) -> &'static str {
        match self {
            TelemetryError::ForeignRecorder(_) => "foreign_recorder",
            TelemetryError::Config(_) => "config",
        }
    }
}

/// The outcome of the one installation attempt, kept so that every later call answers the same:
/// a global recorder cannot be replaced, so a failure is as permanent as a success.
static INSTALLED: OnceLock<Result<PrometheusHandle, TelemetryError>> = OnceLock::new();

/// Installs the Prometheus recorder as the process's global `metrics` recorder, registers the help
/// text of every metric and starts the upkeep thread. Idempotent and safe to race: every call
/// returns the same handle (or the same error, when another recorder was installed first).
pub fn install() -> Result<&'static PrometheusHandle, TelemetryError> {
    INSTALLED
        .get_or_init(|| {
            let handle = builder()?
                .install_recorder()
                .map_err(|error| TelemetryError::ForeignRecorder(error.to_string()))?;
            metrics::describe_all();
            let upkeep = handle.clone();
            // A plain thread, not a task: install() runs before (and outside) any async runtime.
            // If the thread cannot be spawned, scrapes still drain the samples; only an unscraped
            // service loses its bound, so this is logged rather than refused.
            if let Err(error) = std::thread::Builder::new()
                .name("metrics-upkeep".into())
                .spawn(move || loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                })
            {
                tracing::warn!(%error, "no metrics upkeep thread; histograms drain at scrapes only");
            }
            Ok(handle)
        })
        .as_ref()
        .map_err(Clone::clone)
}

/// The Prometheus text exposition (format 0.0.4) of every metric recorded so far, installing the
/// recorder first if nobody has. Metrics never touched yet are absent, as Prometheus expects.
/// When another recorder owns the process, the text is a single comment saying so (valid
/// exposition, so a scrape does not fail on it, and visible to whoever looks).
pub fn render() -> String {
    match install() {
        // render() drains the histograms itself, so a scrape always sees every sample so far.
        Ok(handle) => handle.render(),
        Err(error) => format!("# shelfsync: no metrics: {error}\n"),
    }
}

/// The bucket upper bounds of a histogram of the table (`None` for other kinds). Every histogram
/// of `metrics::ALL` must have its own entry: a test fails when one is added without.
pub fn buckets(metric: &Metric) -> Option<&'static [f64]> {
    if metric.kind != MetricKind::Histogram {
        return None;
    }
    let name = metric.name;
    if name == metrics::SYNC_LAG_SECONDS.name {
        // Fine around the 250 ms target (DESIGN §5, issue 6), up to a minute for a throttled
        // platform; slower than that is +Inf, and the oldest-pending gauge shows how much slower.
        Some(&[
            0.005, 0.01, 0.02, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4, 0.5, 0.75, 1.0, 2.0, 5.0,
            10.0, 30.0, 60.0,
        ])
    } else if name == metrics::RATELIMIT_WAIT_SECONDS.name {
        // Mostly zero (a permit ready at once), else up to a bucket refill: Etsy's 1 s QPS window,
        // Shopify's 2/s leak, eBay's quota can be far longer (+Inf).
        Some(&[
            0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
        ])
    } else if name == metrics::LEDGER_COMMIT_SECONDS.name {
        // One sled transaction plus one flush: sub-millisecond on tmpfs, milliseconds on disks.
        Some(&[
            0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5, 1.0,
        ])
    } else if name == metrics::HTTP_REQUEST_SECONDS.name {
        // A read answers in about a millisecond, a durable write in a few; a ledger that waits is
        // cut at the request timeout (4 s by default), a slow body at 30 s.
        Some(&[
            0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
        ])
    } else if name == metrics::LEDGER_COMMIT_BATCH_SIZE.name {
        // Powers of two: a round is 1 command when idle and grows with the load.
        Some(&[
            1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0,
        ])
    } else {
        None
    }
}

fn builder() -> Result<PrometheusBuilder, TelemetryError> {
    let mut builder = PrometheusBuilder::new();
    for metric in metrics::ALL {
        if let Some(bounds) = buckets(metric) {
            builder = builder
                .set_buckets_for_metric(Matcher::Full(metric.name.to_string()), bounds)
                .map_err(|error| TelemetryError::Config(error.to_string()))?;
        }
    }
    Ok(builder)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Set in the child process of [`a_foreign_recorder_is_an_error_not_a_panic`].
    const FOREIGN_CHILD_ENV: &str = "SHELFSYNC_TELEMETRY_FOREIGN_CHILD";

    #[test]
    fn every_histogram_of_the_table_has_sorted_buckets() {
        for metric in metrics::ALL {
            match buckets(metric) {
                Some(bounds) => {
                    assert!(!bounds.is_empty(), "{}", metric.name);
                    assert!(
                        bounds.windows(2).all(|pair| pair[0] < pair[1]),
                        "{}: buckets must increase",
                        metric.name
                    );
                }
                None => assert_ne!(
                    metric.kind,
                    MetricKind::Histogram,
                    "{} has no buckets: it would render as a summary",
                    metric.name
                ),
            }
        }
    }

    #[test]
    fn install_is_idempotent_and_renders_help_type_and_buckets() {
        if std::env::var_os(FOREIGN_CHILD_ENV).is_some() {
            return; // the child runs only the foreign-recorder test
        }
        let first = install().expect("install");
        let second = install().expect("second install");
        assert!(std::ptr::eq(first, second), "one handle per process");

        let counter = metrics::ORDERS_INGESTED_TOTAL;
        ::metrics::counter!(counter.name, "client" => "ACME", "channel" => "shop-1").increment(2);
        let histogram = metrics::SYNC_LAG_SECONDS;
        ::metrics::histogram!(histogram.name, "platform" => "etsy").record(0.12);

        let text = render();
        for metric in [counter, histogram] {
            assert!(
                text.contains(&format!("# HELP {} {}\n", metric.name, metric.help)),
                "no HELP of {}:\n{text}",
                metric.name
            );
        }
        assert!(text.contains(&format!("# TYPE {} counter\n", counter.name)));
        assert!(text.contains(&format!("# TYPE {} histogram\n", histogram.name)));
        assert!(
            text.contains(&format!(
                "{}{{client=\"ACME\",channel=\"shop-1\"}} 2\n",
                counter.name
            )),
            "{text}"
        );
        // 0.12 s lands in the 0.15 bucket and every one above it, not in 0.1.
        assert!(
            text.contains(&format!(
                "{}_bucket{{platform=\"etsy\",le=\"0.15\"}} 1\n",
                histogram.name
            )),
            "{text}"
        );
        assert!(text.contains(&format!(
            "{}_bucket{{platform=\"etsy\",le=\"0.1\"}} 0\n",
            histogram.name
        )));
        assert!(text.contains(&format!(
            "{}_bucket{{platform=\"etsy\",le=\"+Inf\"}} 1\n",
            histogram.name
        )));
        assert!(text.contains(&format!(
            "{}_count{{platform=\"etsy\"}} 1\n",
            histogram.name
        )));
        assert!(
            !text.contains("quantile="),
            "a summary was rendered:\n{text}"
        );
    }

    /// The global recorder is per process, so the refusal is tested in a child: this test binary
    /// re-runs itself with only this test and an environment variable, and the child installs
    /// another recorder before calling [`install`].
    #[test]
    fn a_foreign_recorder_is_an_error_not_a_panic() {
        if std::env::var_os(FOREIGN_CHILD_ENV).is_some() {
            PrometheusBuilder::new()
                .install_recorder()
                .expect("the foreign recorder installs first");
            let error = install().expect_err("install must refuse");
            assert_eq!(error.kind(), "foreign_recorder");
            assert_eq!(
                install().expect_err("and refuse again").kind(),
                error.kind()
            );
            assert!(render().starts_with("# shelfsync: no metrics:"));
            return;
        }
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "telemetry::tests::a_foreign_recorder_is_an_error_not_a_panic",
                "--test-threads=1",
            ])
            .env(FOREIGN_CHILD_ENV, "1")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stdout.contains("1 passed"),
            "child failed:\n{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
}
