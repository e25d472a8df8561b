//! The periodic work of the operations layer, one pass per client every
//! [`OperationsOptions::tick`]: import the ledger's new exceptions into the queue, queue the
//! deliveries the client's escalation rules call for, send the deliveries that are due, and
//! publish the queue's and the credentials' gauges.
//!
//! A pass for one client never stops the others: its error is logged (with the client, never a
//! secret) and the next tick tries again. Sending is bounded by [`OperationsOptions::
//! delivery_timeout`] per attempt, and a redirect is never followed (a receiver cannot bounce a
//! signed delivery to a host the egress policy would refuse).

use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use shelfsync_actors::ids::ClientCode;
use shelfsync_actors::metrics::client_label;
use shelfsync_actors::metrics::events::{
    CredentialRotationObserved, EscalationAttempted, ExceptionQueueObserved, InternalEvent,
};

use super::escalation::{self, Delivery, DeliveryState, Format};
use super::queue::{QueueEntry, QueueKind};
use super::rotation::{rotation, Rotation};
use super::store::StoredRules;
use crate::platforms::egress::resolver;
use crate::service::{Service, ServiceError};
use crate::vault::Secret;

/// The vault name the escalation endpoint is sealed under (outside the credential names'
/// alphabet, so no credential can be opened as it or it as one).
pub const ENDPOINT_NAME: &str = "~escalation.endpoint";
/// The vault name the escalation signing secret is sealed under.
pub const SECRET_NAME: &str = "~escalation.secret";

/// Timing of the operations sweep.
#[derive(Debug, Clone, Copy)]
pub struct OperationsOptions {
    /// How often each client is looked over.
    pub tick: Duration,
    /// The first wait before a failed delivery is tried again (doubling after each failure).
    pub backoff_base: Duration,
    /// How long one delivery attempt may take.
    pub delivery_timeout: Duration,
    /// How often each client's reorder alerts are assessed (each SKU with settings costs a few
    /// ledger reads; a projected stock-out days away does not need a look every tick).
    pub reorder_interval: Duration,
}

impl Default for OperationsOptions {
    /// A pass every 5 s (an escalation reaches the client within seconds of the exception),
    /// retries from 30 s (about 4 hours over [`escalation::MAX_ATTEMPTS`], capped at an hour
    /// apart: a receiver down for a morning still gets it), 10 s per attempt, reorder alerts
    /// assessed every 10 minutes.
    fn default() -> Self {
        Self {
            tick: Duration::from_secs(5),
            backoff_base: Duration::from_secs(30),
            delivery_timeout: Duration::from_secs(10),
            reorder_interval: Duration::from_secs(600),
        }
    }
}

/// Runs the sweep until the service is dropped or stops.
pub async fn run(service: Weak<Service>, options: OperationsOptions) {
    let mut interval = tokio::time::interval(options.tick);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let Some(service) = service.upgrade() else {
            return;
        };
        if service.is_stopping() {
            return;
        }
        sweep(&service, options).await;
    }
}

/// One pass over every client.
pub async fn sweep(service: &Arc<Service>, options: OperationsOptions) {
    let clients = match service.clients().list() {
        Ok(clients) => clients,
        Err(error) => {
            tracing::error!(%error, "the operations sweep could not list the clients");
            return;
        }
    };
    for record in clients {
        let Ok(client) = ClientCode::parse(&record.code) else {
            continue;
        };
        if let Err(error) = sweep_client(service, &client, options).await {
            tracing::warn!(client = %client, kind = error.kind(), %error, "the operations sweep of a client failed; the next tick tries again");
        }
    }
}

/// One pass over one client.
pub async fn sweep_client(
    service: &Service,
    client: &ClientCode,
    options: OperationsOptions,
) -> Result<(), ServiceError> {
    let now = service.now();
    service.import_exceptions(client).await?;
    // A running sync test is moved on here too, so that its undo is made even if nobody looks.
    service.advance_sync_test(client).await?;
    if service.reorder_assessment_due(client, options.reorder_interval) {
        raise_reorders(service, client, now).await?;
    }
    raise_channel_problems(service, client, now).await?;
    let store = service.operations();
    let unresolved = store.unresolved(client)?;
    observe_queue(client, &unresolved, now);
    observe_credentials(service, client, now)?;
    let rules = store.rules(client)?;
    if let Some(rules) = &rules {
        for entry in &unresolved {
            if let Some(reason) = escalation::due_delivery(entry, &rules.rules, now) {
                let id = escalation::delivery_id(client.as_str(), entry.id, reason);
                let body =
                    escalation::body(rules.rules.format, client.as_str(), &id, entry, reason);
                let delivery = Delivery::of_exception(id, entry, reason, body, now);
                store.queue_delivery(client, entry.id, delivery)?;
            }
        }
    }
    if let Some(rules) = &rules {
        queue_monthly_report(service, client, &rules.rules, now).await?;
    }
    send_due(service, client, rules.as_ref(), options).await
}

/// Queues the report of the month that last ended, once, when the client's rules ask for
/// monthly reports since that month (`EscalationRules::monthly_report_from`): on the first of
/// the month, by the first pass then (or by the first pass after the service comes back).
async fn queue_monthly_report(
    service: &Service,
    client: &ClientCode,
    rules: &escalation::EscalationRules,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let Some(from) = rules.monthly_report_from else {
        return Ok(());
    };
    let month = crate::report::Month::of(now).previous();
    let store = service.operations();
    if month < from || store.report_queued(client, month)? {
        return Ok(());
    }
    let report = service.monthly_report(client, month).await?;
    let id = escalation::report_delivery_id(client.as_str(), month);
    let body = escalation::report_body(rules.format, &id, &report);
    let delivery = Delivery::of_report(id, month, body, now);
    if store
        .queue_report_delivery(client, month, delivery)?
        .is_some()
    {
        tracing::info!(client = %client, %month, "the month's report was queued for the client");
    }
    Ok(())
}

/// Raises a reorder exception for each SKU whose alert holds, and forgets the alerts that
/// cleared, so that a SKU alerting again after a restock is a new exception (`queue` module doc).
async fn raise_reorders(
    service: &Service,
    client: &ClientCode,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let alerting = service.reorder_alerts(client).await?;
    let store = service.operations();
    let target = service.response_target(client)?;
    let mut holding = std::collections::BTreeSet::new();
    for line in alerting {
        let dedupe = format!("reorder:{}", line.sku.as_str());
        let mut detail = format!("{} available", line.available);
        if let Some(cover) = line.days_of_cover {
            detail.push_str(&format!(", {cover:.1} days of cover"));
        }
        if let Some(stockout) = line.projected_stockout {
            detail.push_str(&format!(", projected stock-out {stockout}"));
        }
        if let Some(by) = line.reorder_by {
            detail.push_str(&format!(", reorder by {by}"));
        }
        let entry = QueueEntry {
            id: 0,
            kind: QueueKind::Reorder,
            dedupe: dedupe.clone(),
            source: None,
            sku: Some(line.sku.clone()),
            order_id: None,
            line: None,
            units: line.available,
            detail: Some(detail),
            reason: None,
            key: None,
            ledger_id: None,
            journal_seq: None,
            first_seen: now,
            last_seen: now,
            count: 1,
            state: super::queue::WorkState::Open,
            assignee: None,
            due_at: now + target,
            resolution: None,
            trail: Vec::new(),
            escalated: false,
            reminded: false,
        };
        let (entry, new) = store.raise(client, entry)?;
        if new {
            tracing::info!(client = %client, sku = %line.sku, exception = entry.id, "a SKU's reorder alert was raised");
        }
        holding.insert(dedupe);
    }
    for held in store.held(client, "reorder:")? {
        if !holding.contains(&held) {
            store.clear(client, &held)?;
        }
    }
    Ok(())
}

/// An exception of a condition the service observed on a channel.
#[allow(clippy::too_many_arguments)]
fn observed(
    kind: QueueKind,
    dedupe: String,
    channel: &str,
    sku: Option<shelfsync_actors::ids::Sku>,
    detail: String,
    first_seen: DateTime<Utc>,
    last_seen: DateTime<Utc>,
    count: u64,
    target: chrono::Duration,
) -> QueueEntry {
    QueueEntry {
        id: 0,
        kind,
        dedupe,
        source: Some(format!("channel:{channel}")),
        sku,
        order_id: None,
        line: None,
        units: 0,
        detail: Some(detail),
        reason: None,
        key: None,
        ledger_id: None,
        journal_seq: None,
        first_seen,
        last_seen,
        count,
        state: super::queue::WorkState::Open,
        assignee: None,
        due_at: first_seen + target,
        resolution: None,
        trail: Vec::new(),
        escalated: false,
        reminded: false,
    }
}

/// Raises what the channels saw go wrong with their marketplaces (issue 15, "order
/// exceptions"): a channel whose calls are refused for good (`channel_failing`, or
/// `account_flagged`), a listing missing, suspended or refused as invalid, a listing drifting
/// again and again (`actors/src/channel/contact.rs`). A condition that no longer holds is
/// cleared (its exception stays for a person to resolve); a channel whose actor does not run
/// tells nothing, so its conditions stay as they were.
async fn raise_channel_problems(
    service: &Service,
    client: &ClientCode,
    _now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    use shelfsync_actors::channel::contact::{FailureClass, ProblemKind};
    use shelfsync_actors::inventory::history::RefusalReason;
    use shelfsync_actors::platform::PermanentKind;

    use crate::timestamp::from_unix_ms;

    let store = service.operations();
    let target = service.response_target(client)?;
    // The channels stamp with the system clock (what a person reads); so does this.
    let now_ms = shelfsync_actors::inventory::system_clock_ms();
    let mut holding = std::collections::BTreeSet::new();
    let mut answered = std::collections::BTreeSet::new();
    for record in service.channels().list(client)? {
        let Some(state) = service.channel_state(client, &record.id).await? else {
            continue;
        };
        let channel = record.id.as_str();
        answered.insert(channel.to_string());
        service.record_throttles(client, channel, state.throttled, service.now())?;
        if let Some(failure) = state.contact.failing() {
            if let FailureClass::Permanent(kind) = failure.class {
                let (queue_kind, dedupe) = match kind {
                    PermanentKind::AccountFlagged => {
                        (QueueKind::AccountFlagged, format!("account:{channel}"))
                    }
                    _ => (QueueKind::ChannelFailing, format!("channel:{channel}")),
                };
                let at = from_unix_ms(failure.at_ms);
                let entry = observed(
                    queue_kind,
                    dedupe.clone(),
                    channel,
                    None,
                    format!(
                        "{} refused: {}",
                        failure.operation.as_str(),
                        failure.message
                    ),
                    at,
                    at,
                    u64::from(state.contact.failures_in_a_row),
                    target,
                );
                let (entry, new) = store.observe(client, entry)?;
                if new {
                    tracing::warn!(client = %client, channel, exception = entry.id, kind = queue_kind.as_str(), "a channel's calls are refused for good; raised for a person");
                }
                holding.insert(dedupe);
            }
        }
        for (sku, problem) in state.contact.problems(now_ms) {
            let (queue_kind, what) = match problem.kind {
                ProblemKind::Refused(RefusalReason::NotFound) => (
                    QueueKind::ListingMissing,
                    "the marketplace has no such listing",
                ),
                ProblemKind::Refused(RefusalReason::ListingSuspended) => (
                    QueueKind::ListingSuspended,
                    "the marketplace suspended the listing",
                ),
                ProblemKind::Refused(RefusalReason::AccountFlagged) => (
                    QueueKind::AccountFlagged,
                    "the marketplace flagged the account",
                ),
                ProblemKind::Refused(RefusalReason::Invalid | RefusalReason::Auth) => {
                    (QueueKind::PushRefused, "the marketplace refuses its pushes")
                }
                ProblemKind::Drifting => (
                    QueueKind::RepeatedDrift,
                    "the marketplace showed another quantity than was pushed, again and again",
                ),
            };
            let dedupe = format!("listing:{channel}:{sku}:{}", queue_kind.as_str());
            let entry = observed(
                queue_kind,
                dedupe.clone(),
                channel,
                Some(sku.clone()),
                format!("{what} ({} times)", problem.count),
                from_unix_ms(problem.first_at_ms),
                from_unix_ms(problem.last_at_ms),
                u64::from(problem.count),
                target,
            );
            let (entry, new) = store.observe(client, entry)?;
            if new {
                tracing::warn!(client = %client, channel, sku = %sku, exception = entry.id, kind = queue_kind.as_str(), "a listing has a problem on its marketplace; raised for a person");
            }
            holding.insert(dedupe);
        }
    }
    for prefix in ["channel:", "account:", "listing:"] {
        for held in store.held(client, prefix)? {
            let channel = held.split(':').nth(1).unwrap_or_default();
            if answered.contains(channel) && !holding.contains(&held) {
                store.clear(client, &held)?;
            }
        }
    }
    Ok(())
}

fn observe_queue(client: &ClientCode, unresolved: &[QueueEntry], now: DateTime<Utc>) {
    let counts: Vec<(&'static str, u64)> = QueueKind::ALL
        .into_iter()
        .map(|kind| {
            let count = unresolved.iter().filter(|entry| entry.kind == kind).count();
            (kind.as_str(), count as u64)
        })
        .collect();
    let oldest_past_due = unresolved
        .iter()
        .filter(|entry| entry.overdue(now))
        .map(|entry| (now - entry.due_at).num_milliseconds() as f64 / 1000.0)
        .fold(0.0, f64::max);
    ExceptionQueueObserved {
        client: &client_label(client),
        unresolved: &counts,
        oldest_past_due_seconds: oldest_past_due,
    }
    .emit();
}

fn observe_credentials(
    service: &Service,
    client: &ClientCode,
    now: DateTime<Utc>,
) -> Result<(), ServiceError> {
    let credentials = service.clients().credentials(client)?;
    let states: Vec<Rotation> = credentials
        .iter()
        .map(|credential| rotation(credential.rotate_by, now))
        .collect();
    CredentialRotationObserved {
        client: &client_label(client),
        due_soon: states.iter().filter(|s| **s == Rotation::DueSoon).count() as u64,
        overdue: states.iter().filter(|s| **s == Rotation::Overdue).count() as u64,
    }
    .emit();
    Ok(())
}

/// Sends every pending delivery whose time has come.
async fn send_due(
    service: &Service,
    client: &ClientCode,
    rules: Option<&StoredRules>,
    options: OperationsOptions,
) -> Result<(), ServiceError> {
    let store = service.operations();
    let pending = store.pending_deliveries(client)?;
    if pending.is_empty() {
        return Ok(());
    }
    let label = client_label(client);
    let Some(rules) = rules else {
        // The rules were removed: nothing more goes to the client, and the log says why.
        for mut delivery in pending {
            delivery.state = DeliveryState::GaveUp;
            delivery.last_error = Some("the escalation rules were removed".into());
            store.put_delivery(client, &delivery)?;
            EscalationAttempted {
                client: &label,
                outcome: "gave_up",
            }
            .emit();
        }
        return Ok(());
    };
    let endpoint = open(service, client, ENDPOINT_NAME, &rules.endpoint_sealed)?;
    let secret = open(service, client, SECRET_NAME, &rules.secret_sealed)?;
    let url = reqwest::Url::parse(endpoint.expose())
        .map_err(|_| ServiceError::Invalid("the escalation endpoint does not parse".into()))?;
    for mut delivery in pending {
        let now = service.now();
        if delivery.next_attempt_at > now {
            continue;
        }
        let outcome = attempt(
            service,
            &url,
            &secret,
            rules.rules.format,
            &delivery,
            options,
        )
        .await;
        let now = service.now();
        delivery.record_attempt(outcome, now, options.backoff_base);
        store.put_delivery(client, &delivery)?;
        let outcome = match delivery.state {
            DeliveryState::Delivered => "delivered",
            DeliveryState::Pending => "failed",
            DeliveryState::GaveUp => "gave_up",
        };
        if delivery.state == DeliveryState::GaveUp {
            tracing::warn!(client = %client, delivery = %delivery.id, attempts = delivery.attempts, error = delivery.last_error.as_deref().unwrap_or(""), "an escalation was given up after its last attempt");
        } else if delivery.state == DeliveryState::Pending {
            tracing::info!(client = %client, delivery = %delivery.id, attempts = delivery.attempts, next = %delivery.next_attempt_at, "an escalation was not accepted; it is tried again");
        }
        EscalationAttempted {
            client: &label,
            outcome,
        }
        .emit();
    }
    Ok(())
}

fn open(
    service: &Service,
    client: &ClientCode,
    name: &str,
    sealed: &str,
) -> Result<Secret, ServiceError> {
    use base64::Engine as _;
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(sealed)
        .map_err(|_| ServiceError::Invalid(format!("the sealed {name} does not decode")))?;
    service
        .vault()
        .open_secret(client.as_str(), name, &bytes)
        .map_err(|error| ServiceError::Store(error.into()))
}

/// One attempt: the HTTP status, or why none came back (bounded text, never the URL).
async fn attempt(
    service: &Service,
    url: &reqwest::Url,
    secret: &Secret,
    format: Format,
    delivery: &Delivery,
    options: OperationsOptions,
) -> Result<u16, String> {
    let rule = service
        .egress()
        .check_url(None, url)
        .map_err(|error| error.to_string())?;
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(options.delivery_timeout)
        .dns_resolver(resolver(rule))
        .build()
        .map_err(|_| "the HTTP client could not be built".to_string())?;
    let timestamp = service.now().timestamp();
    let mut request = http
        .post(url.clone())
        .header("content-type", "application/json")
        .header("user-agent", "shelfsync-escalation/1")
        .header("webhook-id", &delivery.id)
        .header("webhook-timestamp", timestamp.to_string());
    if format == Format::Json {
        let signature = escalation::sign(
            secret.expose(),
            &delivery.id,
            timestamp,
            delivery.body.as_bytes(),
        )
        .ok_or_else(|| "the signing secret is not valid".to_string())?;
        request = request.header("webhook-signature", signature);
    }
    match request.body(delivery.body.clone()).send().await {
        Ok(response) => Ok(response.status().as_u16()),
        Err(error) if error.is_timeout() => Err("no answer in time".into()),
        Err(error) if error.is_connect() => Err("the endpoint refused the connection".into()),
        Err(_) => Err("the request failed".into()),
    }
}
