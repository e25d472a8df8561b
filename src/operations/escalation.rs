//! Escalation to the client (issue 15): which exceptions the agency handles and which go to the
//! client at once, and how they are delivered. Plain types and functions; the sweep
//! ([`super::sweep`]) decides and sends, [`super::store`] keeps the rules and the delivery log.
//!
//! `reference/agency-operations.md`: *neither under-communicate (the client did not know of a
//! serious issue) nor over-communicate (pinged for every small task)*. So:
//! - a client's rules name the kinds that go to it; every other kind stays the agency's;
//! - an exception is sent **once** ([`QueueEntry::escalated`]), and once more as a **reminder**
//!   when it is still unresolved past its due time ([`QueueEntry::reminded`]); a condition seen
//!   again is the same exception (`queue` module doc), so a storm of identical events is one
//!   message;
//! - every delivery has an id (`webhook-id`) that stays the same across its retries, so the
//!   receiver de-duplicates a retry of a delivery it did take but whose answer was lost.
//!
//! **The wire** is Standard Webhooks (<https://www.standardwebhooks.com>, the scheme Etsy's
//! notifications use, `reference/marketplace-apis.md` §2): `webhook-id`, `webhook-timestamp` and
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">` under a `whsec_`
//! secret that shelfsync generates, shows once and keeps sealed in the vault. A receiver checks it
//! with any Standard Webhooks library. The Slack format posts `{"text": …}` to an incoming-webhook
//! URL (Slack ignores the signature headers; the URL is the secret there, kept sealed as well).
//!
//! **Retries**: a delivery not answered 2xx is tried again after [`backoff`] (doubling from the
//! base, capped at an hour) up to [`MAX_ATTEMPTS`] times, then given up: logged at `warn`,
//! counted, and shown as `gave_up` in the delivery log, never silently dropped.

use std::collections::BTreeSet;
use std::time::Duration;

use base64::Engine as _;
use chrono::{DateTime, Utc};
use hmac::{Hmac, Mac};
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::queue::{QueueEntry, QueueKind};
use crate::timestamp::rfc3339;

/// Attempts of one delivery before it is given up.
pub const MAX_ATTEMPTS: u32 = 10;
/// The longest wait between two attempts.
pub const MAX_BACKOFF: Duration = Duration::from_secs(3_600);
/// The prefix of a signing secret (Standard Webhooks).
pub const SECRET_PREFIX: &str = "whsec_";
/// The longest endpoint URL.
pub const MAX_ENDPOINT_LEN: usize = 2_048;

/// How deliveries are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// A signed JSON event (Standard Webhooks).
    #[default]
    Json,
    /// A Slack incoming-webhook message.
    Slack,
}

/// A client's escalation rules, as stored (the secret sealed apart, see [`super::store`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationRules {
    /// The kinds sent to the client at once; every other kind is the agency's.
    pub escalate: BTreeSet<QueueKind>,
    /// Whether an escalated exception still unresolved past its due time is sent once more.
    pub remind_when_overdue: bool,
    /// How deliveries are written.
    pub format: Format,
    /// When the rules were last changed.
    pub updated_at: DateTime<Utc>,
    /// The first month whose report is sent to the client when it ends (on the first of the
    /// next month, by the first pass of the sweep then); `None`: reports are not sent. Set to
    /// the month in which sending was turned on and kept while it stays on, so that turning it
    /// on mid-month sends that month's report at its end, not the month before's at once.
    #[serde(default)]
    pub monthly_report_from: Option<crate::report::Month>,
}

/// Why a delivery is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryReason {
    /// The exception was raised and its kind goes to the client.
    Raised,
    /// It is still unresolved past its due time.
    Overdue,
    /// A month ended: its report (`crate::report`).
    MonthlyReport,
}

impl DeliveryReason {
    /// The wire name (the event's `type` ends with it).
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryReason::Raised => "raised",
            DeliveryReason::Overdue => "overdue",
            DeliveryReason::MonthlyReport => "monthly_report",
        }
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DeliveryState {
    /// Not yet answered 2xx; tried again at `next_attempt_at`.
    Pending,
    /// Answered 2xx.
    Delivered,
    /// Not answered 2xx after [`MAX_ATTEMPTS`].
    GaveUp,
}

/// One delivery of the log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Delivery {
    /// Its id within the client's log.
    pub seq: u64,
    /// The `webhook-id` the receiver de-duplicates on (`esc_{client}_{exception}_{reason}`): the
    /// same on every attempt.
    pub id: String,
    /// The exception (0 for a monthly report, which is of no exception).
    pub exception_id: u64,
    /// Its kind (`None` for a monthly report).
    #[serde(default)]
    pub kind: Option<QueueKind>,
    /// The month of a monthly report.
    #[serde(default)]
    pub month: Option<crate::report::Month>,
    /// Why.
    pub reason: DeliveryReason,
    /// The body, as first written (every attempt sends these bytes).
    pub body: String,
    /// When it was queued.
    pub created_at: DateTime<Utc>,
    /// Attempts made.
    pub attempts: u32,
    /// Where it is.
    pub state: DeliveryState,
    /// When to try next (pending).
    pub next_attempt_at: DateTime<Utc>,
    /// The last attempt's HTTP status, if one came back.
    pub last_status: Option<u16>,
    /// The last attempt's failure, for a person (bounded; never a body or a secret).
    pub last_error: Option<String>,
    /// When it was answered 2xx.
    pub delivered_at: Option<DateTime<Utc>>,
}

impl Delivery {
    /// A new delivery of an exception's message, to be sent at once.
    pub fn of_exception(
        id: String,
        entry: &QueueEntry,
        reason: DeliveryReason,
        body: String,
        now: DateTime<Utc>,
    ) -> Delivery {
        Delivery {
            exception_id: entry.id,
            kind: Some(entry.kind),
            ..Delivery::pending(id, reason, body, now)
        }
    }

    /// A new delivery of `month`'s report, to be sent at once.
    pub fn of_report(
        id: String,
        month: crate::report::Month,
        body: String,
        now: DateTime<Utc>,
    ) -> Delivery {
        Delivery {
            month: Some(month),
            ..Delivery::pending(id, DeliveryReason::MonthlyReport, body, now)
        }
    }

    fn pending(id: String, reason: DeliveryReason, body: String, now: DateTime<Utc>) -> Delivery {
        Delivery {
            seq: 0,
            id,
            exception_id: 0,
            kind: None,
            month: None,
            reason,
            body,
            created_at: now,
            attempts: 0,
            state: DeliveryState::Pending,
            next_attempt_at: now,
            last_status: None,
            last_error: None,
            delivered_at: None,
        }
    }

    /// Records an attempt's outcome: 2xx delivers it; anything else schedules the next attempt
    /// after [`backoff`], or gives up after [`MAX_ATTEMPTS`].
    pub fn record_attempt(
        &mut self,
        outcome: Result<u16, String>,
        now: DateTime<Utc>,
        base: Duration,
    ) {
        self.attempts = self.attempts.saturating_add(1);
        match outcome {
            Ok(status) if (200..300).contains(&status) => {
                self.state = DeliveryState::Delivered;
                self.last_status = Some(status);
                self.last_error = None;
                self.delivered_at = Some(now);
            }
            other => {
                match other {
                    Ok(status) => {
                        self.last_status = Some(status);
                        self.last_error = Some(format!("answered {status}"));
                    }
                    Err(error) => {
                        self.last_status = None;
                        self.last_error = Some(error);
                    }
                }
                if self.attempts >= MAX_ATTEMPTS {
                    self.state = DeliveryState::GaveUp;
                } else {
                    let wait = chrono::Duration::from_std(backoff(base, self.attempts))
                        .unwrap_or(chrono::Duration::hours(1));
                    self.next_attempt_at = now + wait;
                }
            }
        }
    }
}

/// The wait after `attempts` failed attempts: `base`, doubling, capped at [`MAX_BACKOFF`].
pub fn backoff(base: Duration, attempts: u32) -> Duration {
    let factor = 1u32 << attempts.saturating_sub(1).min(20);
    base.saturating_mul(factor).min(MAX_BACKOFF)
}

/// What the sweep should send for `entry` now, if anything: the first message of an escalated
/// kind, or the one reminder when it is overdue. Never more (see the module doc).
pub fn due_delivery(
    entry: &QueueEntry,
    rules: &EscalationRules,
    now: DateTime<Utc>,
) -> Option<DeliveryReason> {
    if !rules.escalate.contains(&entry.kind) || !entry.state.is_unresolved() {
        return None;
    }
    if !entry.escalated {
        return Some(DeliveryReason::Raised);
    }
    if rules.remind_when_overdue && !entry.reminded && entry.overdue(now) {
        return Some(DeliveryReason::Overdue);
    }
    None
}

/// The delivery id of an exception's message: stable, so a retry carries the same one.
pub fn delivery_id(client: &str, exception: u64, reason: DeliveryReason) -> String {
    format!("esc_{client}_{exception}_{}", reason.as_str())
}

/// The event a JSON delivery carries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EscalationEvent {
    /// `exception.raised` or `exception.overdue`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The delivery id (also the `webhook-id` header).
    pub id: String,
    /// The client's code.
    pub client: String,
    /// The exception.
    pub exception: EventException,
}

/// The exception as the client is told of it: what happened, never anything of another client
/// or a secret.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventException {
    /// Its id in the client's queue.
    pub id: u64,
    /// Its kind.
    pub kind: QueueKind,
    /// The SKU.
    pub sku: Option<String>,
    /// The order.
    pub order_id: Option<String>,
    /// Where it came from.
    pub source: Option<String>,
    /// Units concerned.
    pub units: i64,
    /// What exactly.
    pub detail: Option<String>,
    /// When it was first seen (RFC 3339).
    pub first_seen: String,
    /// When the agency's response is due (RFC 3339).
    pub due_at: String,
    /// Where the work is.
    pub state: String,
}

/// The body of a delivery, in the rules' format.
pub fn body(
    format: Format,
    client: &str,
    id: &str,
    entry: &QueueEntry,
    reason: DeliveryReason,
) -> String {
    let exception = EventException {
        id: entry.id,
        kind: entry.kind,
        sku: entry.sku.as_ref().map(|sku| sku.as_str().to_string()),
        order_id: entry.order_id.clone(),
        source: entry.source.clone(),
        units: entry.units,
        detail: entry.detail.clone(),
        first_seen: rfc3339(entry.first_seen),
        due_at: rfc3339(entry.due_at),
        state: entry.state.as_str().to_string(),
    };
    match format {
        Format::Json => serde_json::to_string(&EscalationEvent {
            event_type: format!("exception.{}", reason.as_str()),
            id: id.to_string(),
            client: client.to_string(),
            exception,
        })
        .unwrap_or_default(),
        Format::Slack => {
            let what = match reason {
                DeliveryReason::Raised => "New",
                DeliveryReason::Overdue => "Still open past its due time:",
                // Reports have their own body (`report_body`).
                DeliveryReason::MonthlyReport => "Report:",
            };
            let mut text = format!(
                "{what} {} for {client}",
                exception.kind.as_str().replace('_', " ")
            );
            if let Some(sku) = &exception.sku {
                text.push_str(&format!(", SKU {sku}"));
            }
            if let Some(order) = &exception.order_id {
                text.push_str(&format!(", order {order}"));
            }
            text.push_str(&format!(
                " ({} units; first seen {}, response due {}; ref {id})",
                exception.units, exception.first_seen, exception.due_at
            ));
            if let Some(detail) = &exception.detail {
                text.push_str(&format!(": {detail}"));
            }
            serde_json::json!({ "text": text }).to_string()
        }
    }
}

/// The delivery id of a month's report: stable, so a retry carries the same one.
pub fn report_delivery_id(client: &str, month: crate::report::Month) -> String {
    format!("rep_{client}_{month}")
}

/// The event a JSON delivery of a monthly report carries: its summary lines and the whole
/// report (the same figures `GET …/reports/{month}` answers).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReportEvent {
    /// `report.monthly`.
    #[serde(rename = "type")]
    pub event_type: String,
    /// The delivery id (also the `webhook-id` header).
    pub id: String,
    /// The client's code.
    pub client: String,
    /// `YYYY-MM`.
    pub month: String,
    /// The report's headline figures, `label: value`.
    pub summary: Vec<String>,
    /// The report.
    pub report: crate::report::MonthlyReport,
}

/// The body of a month's report delivery in `format`.
pub fn report_body(format: Format, id: &str, report: &crate::report::MonthlyReport) -> String {
    let summary: Vec<String> = crate::report::pdf::summary_lines(report)
        .into_iter()
        .map(|(label, value)| format!("{label}: {value}"))
        .collect();
    match format {
        Format::Json => serde_json::to_string(&ReportEvent {
            event_type: "report.monthly".into(),
            id: id.to_string(),
            client: report.client.clone(),
            month: report.month.clone(),
            summary,
            report: report.clone(),
        })
        .unwrap_or_default(),
        Format::Slack => {
            let text = format!(
                "Monthly report of {} ({}) for {} (ref {id}):\n{}",
                report.client_name,
                report.client,
                report.month,
                summary.join("\n")
            );
            serde_json::json!({ "text": text }).to_string()
        }
    }
}

/// A new signing secret: `whsec_` and 32 random bytes in base64.
pub fn new_secret() -> String {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    format!(
        "{SECRET_PREFIX}{}",
        base64::engine::general_purpose::STANDARD.encode(key)
    )
}

/// The `webhook-signature` of a body: `v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`
/// keyed by the secret's bytes; `None` for a secret that is not `whsec_` + base64.
pub fn sign(secret: &str, id: &str, timestamp: i64, body: &[u8]) -> Option<String> {
    let key = secret
        .strip_prefix(SECRET_PREFIX)
        .and_then(|key| base64::engine::general_purpose::STANDARD.decode(key).ok())
        .filter(|key| !key.is_empty())?;
    let mut mac = Hmac::<Sha256>::new_from_slice(&key).ok()?;
    mac.update(format!("{id}.{timestamp}.").as_bytes());
    mac.update(body);
    Some(format!(
        "v1,{}",
        base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::operations::queue::{Actor, Resolution, Transition, WorkState};

    fn rules(kinds: &[QueueKind]) -> EscalationRules {
        EscalationRules {
            escalate: kinds.iter().copied().collect(),
            remind_when_overdue: true,
            format: Format::Json,
            updated_at: DateTime::UNIX_EPOCH,
            monthly_report_from: None,
        }
    }

    fn entry(kind: QueueKind) -> QueueEntry {
        let at: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        QueueEntry {
            id: 7,
            kind,
            dedupe: "ledger:7".into(),
            source: Some("channel:etsy".into()),
            sku: Some(shelfsync_actors::ids::Sku::parse("ACME-MUG").unwrap()),
            order_id: Some("1001".into()),
            line: Some(1),
            units: 2,
            detail: None,
            reason: None,
            key: None,
            ledger_id: Some(7),
            journal_seq: Some(9),
            first_seen: at,
            last_seen: at,
            count: 1,
            state: WorkState::Open,
            assignee: None,
            due_at: at + chrono::Duration::hours(2),
            resolution: None,
            trail: Vec::new(),
            escalated: false,
            reminded: false,
        }
    }

    #[test]
    fn an_escalated_kind_is_sent_once_then_reminded_once_when_overdue() {
        let rules = rules(&[QueueKind::Oversold]);
        let mut entry = entry(QueueKind::Oversold);
        let now = entry.first_seen;
        assert_eq!(
            due_delivery(&entry, &rules, now),
            Some(DeliveryReason::Raised)
        );
        entry.escalated = true;
        assert_eq!(due_delivery(&entry, &rules, now), None);
        let late = entry.due_at + chrono::Duration::seconds(1);
        assert_eq!(
            due_delivery(&entry, &rules, late),
            Some(DeliveryReason::Overdue)
        );
        entry.reminded = true;
        assert_eq!(due_delivery(&entry, &rules, late), None);
    }

    #[test]
    fn the_agency_keeps_other_kinds_and_resolved_ones_are_not_sent() {
        let rules = rules(&[QueueKind::Reorder]);
        let entry_oversold = entry(QueueKind::Oversold);
        assert_eq!(
            due_delivery(&entry_oversold, &rules, entry_oversold.first_seen),
            None
        );
        let mut reorder = entry(QueueKind::Reorder);
        reorder
            .apply(
                Transition::Resolve {
                    resolution: Resolution::ClientInformed,
                },
                &Actor {
                    id: "m1".into(),
                    name: "A".into(),
                },
                None,
                reorder.first_seen,
            )
            .unwrap();
        assert_eq!(due_delivery(&reorder, &rules, reorder.first_seen), None);
    }

    #[test]
    fn retries_back_off_doubling_and_give_up_after_the_last_attempt() {
        let base = Duration::from_secs(5);
        assert_eq!(backoff(base, 1), Duration::from_secs(5));
        assert_eq!(backoff(base, 2), Duration::from_secs(10));
        assert_eq!(backoff(base, 4), Duration::from_secs(40));
        assert_eq!(backoff(base, 30), MAX_BACKOFF);
        let now: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        let mut delivery = Delivery {
            seq: 1,
            id: "esc_ACME_7_raised".into(),
            exception_id: 7,
            kind: Some(QueueKind::Oversold),
            month: None,
            reason: DeliveryReason::Raised,
            body: "{}".into(),
            created_at: now,
            attempts: 0,
            state: DeliveryState::Pending,
            next_attempt_at: now,
            last_status: None,
            last_error: None,
            delivered_at: None,
        };
        delivery.record_attempt(Ok(500), now, base);
        assert_eq!(delivery.state, DeliveryState::Pending);
        assert_eq!(delivery.next_attempt_at, now + chrono::Duration::seconds(5));
        assert_eq!(delivery.last_status, Some(500));
        delivery.record_attempt(Err("connection refused".into()), now, base);
        assert_eq!(
            delivery.next_attempt_at,
            now + chrono::Duration::seconds(10)
        );
        delivery.record_attempt(Ok(204), now, base);
        assert_eq!(delivery.state, DeliveryState::Delivered);
        assert_eq!(delivery.attempts, 3);
        let mut failing = delivery.clone();
        failing.state = DeliveryState::Pending;
        failing.attempts = MAX_ATTEMPTS - 1;
        failing.record_attempt(Ok(503), now, base);
        assert_eq!(failing.state, DeliveryState::GaveUp);
    }

    #[test]
    fn the_signature_is_standard_webhooks_and_depends_on_every_part() {
        let secret = new_secret();
        assert!(secret.starts_with(SECRET_PREFIX));
        let signature = sign(&secret, "esc_1", 1_700_000_000, b"{}").unwrap();
        assert!(signature.starts_with("v1,"));
        assert_ne!(
            sign(&secret, "esc_2", 1_700_000_000, b"{}"),
            Some(signature.clone())
        );
        assert_ne!(
            sign(&secret, "esc_1", 1_700_000_001, b"{}"),
            Some(signature.clone())
        );
        assert_ne!(
            sign(&secret, "esc_1", 1_700_000_000, b"{ }"),
            Some(signature.clone())
        );
        assert_ne!(
            sign(&new_secret(), "esc_1", 1_700_000_000, b"{}"),
            Some(signature)
        );
        assert_eq!(sign("not-a-secret", "esc_1", 1, b"{}"), None);
        // The test vector of the Standard Webhooks specification.
        assert_eq!(
            sign(
                "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1614265330,
                br#"{"test": 2432232314}"#
            )
            .as_deref(),
            Some("v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
        );
    }

    #[test]
    fn bodies_name_the_exception_and_the_delivery_id() {
        let entry = entry(QueueKind::Oversold);
        let json = body(
            Format::Json,
            "ACME",
            "esc_ACME_7_raised",
            &entry,
            DeliveryReason::Raised,
        );
        let event: EscalationEvent = serde_json::from_str(&json).unwrap();
        assert_eq!(event.event_type, "exception.raised");
        assert_eq!(event.id, "esc_ACME_7_raised");
        assert_eq!(event.exception.sku.as_deref(), Some("ACME-MUG"));
        let slack: serde_json::Value = serde_json::from_str(&body(
            Format::Slack,
            "ACME",
            "esc_ACME_7_overdue",
            &entry,
            DeliveryReason::Overdue,
        ))
        .unwrap();
        let text = slack["text"].as_str().unwrap();
        assert!(
            text.contains("oversold for ACME") && text.contains("ACME-MUG"),
            "{text}"
        );
        assert!(text.contains("esc_ACME_7_overdue"), "{text}");
    }

    #[test]
    fn a_monthly_report_is_one_event_or_one_slack_message_with_its_summary() {
        let month = crate::report::Month::parse("2026-11").unwrap();
        let inputs = crate::report::ReportInputs {
            client: "ACME".into(),
            client_name: "Acme Mugs".into(),
            tier: "standard".into(),
            response_target: chrono::Duration::hours(24),
            channels: Vec::new(),
            opening: Default::default(),
            journal: Vec::new(),
            listing_events: Vec::new(),
            queue: Vec::new(),
            throttled: Default::default(),
        };
        let now = "2026-12-01T00:00:00Z".parse().unwrap();
        let report = crate::report::build(month, &inputs, now);
        let id = report_delivery_id("ACME", month);
        assert_eq!(id, "rep_ACME_2026-11");
        let json: serde_json::Value =
            serde_json::from_str(&report_body(Format::Json, &id, &report)).unwrap();
        assert_eq!(json["type"], "report.monthly");
        assert_eq!(json["id"], id);
        assert_eq!(json["report"]["month"], "2026-11");
        assert!(json["summary"]
            .as_array()
            .unwrap()
            .contains(&serde_json::json!("Units sold: 0")));
        let slack: serde_json::Value =
            serde_json::from_str(&report_body(Format::Slack, &id, &report)).unwrap();
        let text = slack["text"].as_str().unwrap();
        assert!(
            text.starts_with("Monthly report of Acme Mugs (ACME) for 2026-11")
                && text.contains("\nOrders: 0\n")
                && text.contains(&id),
            "{text}"
        );
    }
}
