//! Every metric of shelfsync, defined once: name, type, label keys and help text. Call sites use
//! these constants, never a string literal, so a typo cannot create a new series, and
//! `dashboards/` is checked against this table.
//!
//! Names follow `shelfsync_<subsystem>_<name>_<unit>[_total]` (DESIGN §5). Labels are bounded:
//! `client`, `channel`, `platform`, `op`, `outcome`, `kind`, `actor`, `reason`, `route`, never a
//! SKU, order id, URL or error text. Per-client labels can be switched off for very large
//! deployments ([`set_per_client_labels`]), which collapses `client` to [`ALL_CLIENTS`].

use std::sync::atomic::{AtomicBool, Ordering};

use crate::ids::ClientCode;

pub mod events;

/// The type of a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetricKind {
    /// Only goes up.
    Counter,
    /// Goes up and down.
    Gauge,
    /// A distribution of observations.
    Histogram,
}

/// One metric of the table.
#[derive(Debug, Clone, Copy)]
pub struct Metric {
    /// The full Prometheus name.
    pub name: &'static str,
    /// Its type.
    pub kind: MetricKind,
    /// Its label keys, in a fixed order.
    pub labels: &'static [&'static str],
    /// What it measures.
    pub help: &'static str,
}

/// Label keys. Only these exist.
pub mod label {
    /// The client code (or [`super::ALL_CLIENTS`] when per-client labels are off).
    pub const CLIENT: &str = "client";
    /// The channel id, or `api` / `import` for movements not from a marketplace.
    pub const CHANNEL: &str = "channel";
    /// The marketplace platform.
    pub const PLATFORM: &str = "platform";
    /// The marketplace operation.
    pub const OP: &str = "op";
    /// `ok`, `throttled`, `error`, `timeout`, `skipped`.
    pub const OUTCOME: &str = "outcome";
    /// A bounded error kind (`kind()` of an error enum).
    pub const KIND: &str = "kind";
    /// The actor type.
    pub const ACTOR: &str = "actor";
    /// Why an actor was restarted, or why a channel waited.
    pub const REASON: &str = "reason";
    /// The HTTP route template (`/v1/clients/{code}/stock`, never a path with its values), or
    /// `unmatched` for a path no route serves.
    pub const ROUTE: &str = "route";
    /// The HTTP method: `GET`, `POST`, `PUT`, `DELETE`, or `other`.
    pub const METHOD: &str = "method";
    /// The HTTP status class: `2xx`, `3xx`, `4xx` or `5xx`.
    pub const STATUS: &str = "status";

    /// Every allowed label key.
    pub const ALLOWED: [&str; 11] = [
        CLIENT, CHANNEL, PLATFORM, OP, OUTCOME, KIND, ACTOR, REASON, ROUTE, METHOD, STATUS,
    ];
}

use label::{ACTOR, CHANNEL, CLIENT, KIND, METHOD, OP, OUTCOME, PLATFORM, REASON, ROUTE, STATUS};

const fn metric(
    name: &'static str,
    kind: MetricKind,
    labels: &'static [&'static str],
    help: &'static str,
) -> Metric {
    Metric {
        name,
        kind,
        labels,
        help,
    }
}

/// Σ over SKUs of max(0, listed − target): units buyers can buy that the client does not have.
pub const CHANNEL_EXPOSURE_UNITS: Metric = metric(
    "shelfsync_channel_exposure_units",
    MetricKind::Gauge,
    &[CLIENT, CHANNEL],
    "units listed beyond the target quantity, summed over SKUs",
);
/// SKUs whose listed quantity is above target.
pub const CHANNEL_SKUS_AT_RISK: Metric = metric(
    "shelfsync_channel_skus_at_risk",
    MetricKind::Gauge,
    &[CLIENT, CHANNEL],
    "SKUs whose listed quantity is above the target quantity",
);
/// Age of the oldest change not yet confirmed by the marketplace.
pub const CHANNEL_OLDEST_PENDING_SECONDS: Metric = metric(
    "shelfsync_channel_oldest_pending_seconds",
    MetricKind::Gauge,
    &[CLIENT, CHANNEL],
    "age of the oldest listed-quantity change not yet confirmed by the marketplace",
);
/// Listings found different from the last confirmed quantity at a read-back, and corrected.
pub const CHANNEL_DRIFT_CORRECTIONS_TOTAL: Metric = metric(
    "shelfsync_channel_drift_corrections_total",
    MetricKind::Counter,
    &[CLIENT, CHANNEL],
    "listings whose marketplace quantity drifted from the last confirmed one, corrected",
);
/// Listing-history events a channel could not record (issue 15); pushing goes on without them.
pub const CHANNEL_HISTORY_FAILURES_TOTAL: Metric = metric(
    "shelfsync_channel_history_failures_total",
    MetricKind::Counter,
    &[CLIENT, CHANNEL],
    "listing-history writes (pushes sent or refused, drifted reads) the ledger did not record",
);
/// How long the least recently verified listing of a channel has gone unchecked.
pub const CHANNEL_OLDEST_UNVERIFIED_SECONDS: Metric = metric(
    "shelfsync_channel_oldest_unverified_seconds",
    MetricKind::Gauge,
    &[CLIENT, CHANNEL],
    "time since the marketplace last showed the least recently verified listing (push or read-back)",
);
/// Changes pending for longer than the channel's limit, by why the channel waited.
pub const CHANNEL_STALLS_TOTAL: Metric = metric(
    "shelfsync_channel_stalls_total",
    MetricKind::Counter,
    &[CLIENT, CHANNEL, REASON],
    "times a change stayed pending past the channel's limit, by the reason it waited",
);
/// Ledger change → marketplace confirmed.
pub const SYNC_LAG_SECONDS: Metric = metric(
    "shelfsync_sync_lag_seconds",
    MetricKind::Histogram,
    &[PLATFORM],
    "time from a ledger change to the marketplace confirming the new listed quantity",
);
/// Units sold while available was already ≤ 0.
pub const OVERSOLD_UNITS_TOTAL: Metric = metric(
    "shelfsync_oversold_units_total",
    MetricKind::Counter,
    &[CLIENT, CHANNEL],
    "units sold beyond available stock, recorded durably",
);
/// Order exceptions raised, by kind (`oversold`, `unapplicable_order`).
pub const ORDER_EXCEPTIONS_TOTAL: Metric = metric(
    "shelfsync_order_exceptions_total",
    MetricKind::Counter,
    &[CLIENT, CHANNEL, KIND],
    "order exceptions raised for a person (a new exception, not a repeated sighting), once durable",
);
/// Inbound order events applied.
pub const ORDERS_INGESTED_TOTAL: Metric = metric(
    "shelfsync_orders_ingested_total",
    MetricKind::Counter,
    &[CLIENT, CHANNEL],
    "marketplace order events applied to the ledger and made durable",
);
/// Inbound order events recognised as duplicates.
pub const ORDER_DUPLICATES_TOTAL: Metric = metric(
    "shelfsync_order_duplicates_total",
    MetricKind::Counter,
    &[CLIENT, CHANNEL],
    "marketplace order events recognised as already applied",
);
/// Marketplace requests by outcome.
pub const MARKETPLACE_REQUESTS_TOTAL: Metric = metric(
    "shelfsync_marketplace_requests_total",
    MetricKind::Counter,
    &[PLATFORM, OP, OUTCOME],
    "requests to marketplaces by operation and outcome (ok, throttled, error, timeout; skipped: a poll not sent because the marketplace cannot show anything new yet)",
);
/// Time spent waiting on the rate limiter.
pub const RATELIMIT_WAIT_SECONDS: Metric = metric(
    "shelfsync_ratelimit_wait_seconds",
    MetricKind::Histogram,
    &[PLATFORM],
    "time a marketplace request waited for the rate limiter",
);
/// Watchdog respawns.
pub const ACTOR_RESTARTS_TOTAL: Metric = metric(
    "shelfsync_actor_restarts_total",
    MetricKind::Counter,
    &[ACTOR, REASON],
    "actors respawned by their supervisor, by reason",
);
/// Children a supervisor has quarantined.
pub const ACTOR_QUARANTINED: Metric = metric(
    "shelfsync_actor_quarantined",
    MetricKind::Gauge,
    &[CLIENT],
    "actors of a client that died too often and are no longer respawned",
);
/// Duration of one group-commit flush.
pub const LEDGER_COMMIT_SECONDS: Metric = metric(
    "shelfsync_ledger_commit_seconds",
    MetricKind::Histogram,
    &[],
    "duration of one group-commit flush of a client ledger",
);
/// Commands made durable by one flush.
pub const LEDGER_COMMIT_BATCH_SIZE: Metric = metric(
    "shelfsync_ledger_commit_batch_size",
    MetricKind::Histogram,
    &[],
    "commands acknowledged by one group-commit flush",
);
/// Database flushes (sled's flush and the fdatasync after it) that failed, by `StorageError`
/// kind. After one, the flusher refuses every later flush until the service restarts
/// (`storage` module doc, "fsyncgate"): alert on any increase.
pub const STORAGE_FLUSH_FAILURES_TOTAL: Metric = metric(
    "shelfsync_storage_flush_failures_total",
    MetricKind::Counter,
    &[KIND],
    "database flushes or syncs that failed; no write is acknowledged after one until a restart",
);

/// Marketplace order notifications received, by platform and outcome (issue 14).
pub const NOTIFICATIONS_TOTAL: Metric = metric(
    "shelfsync_notifications_total",
    MetricKind::Counter,
    &[PLATFORM, OUTCOME],
    "order notifications received from marketplaces, by outcome: recorded (durable in the ledger: applied, duplicate or an order exception), ignored (a topic that moves no stock), refused (not authentic; always platform `unknown`, so that the public count tells no prober which channels exist), retry_later (503: nothing recorded, the platform sends it again)",
);

/// Requests the HTTP edge turned away for load or time (issue 12), by `reason`: its API code
/// (`body_timeout`, `overloaded`, `engine_timeout`, `outcome_unknown`).
pub const HTTP_REFUSED_TOTAL: Metric = metric(
    "shelfsync_http_refused_total",
    MetricKind::Counter,
    &[REASON],
    "requests refused at the HTTP edge for load or time (slow body, full ledger, engine timeout)",
);

/// Requests the API answered, by route template, method and status class.
pub const HTTP_REQUESTS_TOTAL: Metric = metric(
    "shelfsync_http_requests_total",
    MetricKind::Counter,
    &[ROUTE, METHOD, STATUS],
    "HTTP requests answered by the API, by route template, method and status class",
);
/// How long the API took to answer, by route template.
pub const HTTP_REQUEST_SECONDS: Metric = metric(
    "shelfsync_http_request_seconds",
    MetricKind::Histogram,
    &[ROUTE],
    "time from a request's head to its reply's head, by route template",
);

/// Unresolved exceptions of the queue a person works (issue 15), by kind.
pub const EXCEPTIONS_UNRESOLVED: Metric = metric(
    "shelfsync_exceptions_unresolved",
    MetricKind::Gauge,
    &[CLIENT, KIND],
    "exceptions of the client's queue not yet resolved (open or acknowledged), by kind",
);
/// How far past its due time the oldest unresolved exception is (0: none is overdue).
pub const EXCEPTIONS_OLDEST_PAST_DUE_SECONDS: Metric = metric(
    "shelfsync_exceptions_oldest_past_due_seconds",
    MetricKind::Gauge,
    &[CLIENT],
    "seconds the most overdue unresolved exception of the client is past its response target (0 when none is overdue)",
);
/// Escalation deliveries to clients, by outcome.
pub const ESCALATION_DELIVERIES_TOTAL: Metric = metric(
    "shelfsync_escalation_deliveries_total",
    MetricKind::Counter,
    &[CLIENT, OUTCOME],
    "attempts to deliver an escalation to the client's endpoint, by outcome (delivered, failed: tried again later, gave_up)",
);
/// Credentials whose rotate-by date is near or past.
pub const CREDENTIALS_ROTATION_DUE: Metric = metric(
    "shelfsync_credentials_rotation_due",
    MetricKind::Gauge,
    &[CLIENT, KIND],
    "credentials of the client to rotate, by kind: due_soon (within 14 days) or overdue",
);

/// Every metric, for `describe_all` and the dashboard check.
pub const ALL: &[Metric] = &[
    CHANNEL_EXPOSURE_UNITS,
    CHANNEL_SKUS_AT_RISK,
    CHANNEL_OLDEST_PENDING_SECONDS,
    CHANNEL_DRIFT_CORRECTIONS_TOTAL,
    CHANNEL_HISTORY_FAILURES_TOTAL,
    CHANNEL_OLDEST_UNVERIFIED_SECONDS,
    CHANNEL_STALLS_TOTAL,
    SYNC_LAG_SECONDS,
    OVERSOLD_UNITS_TOTAL,
    ORDER_EXCEPTIONS_TOTAL,
    ORDERS_INGESTED_TOTAL,
    ORDER_DUPLICATES_TOTAL,
    MARKETPLACE_REQUESTS_TOTAL,
    RATELIMIT_WAIT_SECONDS,
    ACTOR_RESTARTS_TOTAL,
    ACTOR_QUARANTINED,
    LEDGER_COMMIT_SECONDS,
    LEDGER_COMMIT_BATCH_SIZE,
    NOTIFICATIONS_TOTAL,
    HTTP_REFUSED_TOTAL,
    HTTP_REQUESTS_TOTAL,
    HTTP_REQUEST_SECONDS,
    STORAGE_FLUSH_FAILURES_TOTAL,
    EXCEPTIONS_UNRESOLVED,
    EXCEPTIONS_OLDEST_PAST_DUE_SECONDS,
    ESCALATION_DELIVERIES_TOTAL,
    CREDENTIALS_ROTATION_DUE,
];

/// The `client` label value used when per-client labels are switched off.
pub const ALL_CLIENTS: &str = "__all__";

static PER_CLIENT_LABELS: AtomicBool = AtomicBool::new(true);

/// Switches per-client label values on (the default) or off (every client reports as
/// [`ALL_CLIENTS`]), for deployments with too many clients for one series each.
pub fn set_per_client_labels(enabled: bool) {
    PER_CLIENT_LABELS.store(enabled, Ordering::Relaxed);
}

/// Returns the `client` label value for `client`.
pub fn client_label(client: &ClientCode) -> String {
    if PER_CLIENT_LABELS.load(Ordering::Relaxed) {
        client.as_str().to_string()
    } else {
        ALL_CLIENTS.to_string()
    }
}

/// Registers the help text of every metric with the installed recorder.
pub fn describe_all() {
    for metric in ALL {
        match metric.kind {
            MetricKind::Counter => ::metrics::describe_counter!(metric.name, metric.help),
            MetricKind::Gauge => ::metrics::describe_gauge!(metric.name, metric.help),
            MetricKind::Histogram => ::metrics::describe_histogram!(metric.name, metric.help),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::*;

    #[test]
    fn names_follow_the_naming_rule_and_are_unique() {
        let mut seen = HashSet::new();
        for metric in ALL {
            assert!(seen.insert(metric.name), "{} defined twice", metric.name);
            assert!(metric.name.starts_with("shelfsync_"), "{}", metric.name);
            assert!(
                metric
                    .name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b == b'_'),
                "{}",
                metric.name
            );
            let is_total = metric.name.ends_with("_total");
            assert_eq!(
                is_total,
                metric.kind == MetricKind::Counter,
                "{}: counters, and only counters, end in _total",
                metric.name
            );
        }
    }

    #[test]
    fn labels_are_bounded_keys_only() {
        for metric in ALL {
            for key in metric.labels {
                assert!(
                    label::ALLOWED.contains(key),
                    "{} uses label {key}",
                    metric.name
                );
            }
        }
    }

    #[test]
    fn client_label_can_be_collapsed() {
        let acme = ClientCode::parse("ACME").unwrap();
        assert_eq!(client_label(&acme), "ACME");
        set_per_client_labels(false);
        assert_eq!(client_label(&acme), ALL_CLIENTS);
        set_per_client_labels(true);
    }
}
