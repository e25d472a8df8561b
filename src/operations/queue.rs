//! The exception queue a person works (issue 15): what went wrong, for which client, since when
//! and how often, and where a person has got with it (open → acknowledged → resolved, with who,
//! when, why). Plain types and functions; [`super::store`] keeps them.
//!
//! **One queue per client, fed from two sides.** The ledger keeps the order exceptions it raises
//! in the same transaction as the movements they came with (`shelfsync_actors::inventory::
//! exceptions`): those are facts, and the queue imports each once, keyed by its ledger id. The
//! service raises the others itself (a SKU to reorder, …), keyed by what makes them one
//! exception ([`QueueEntry::dedupe`]). The queue adds the work: state, assignee, due time,
//! resolution, and the trail of every change.
//!
//! **Due time from the client's tier** (`reference/agency-operations.md`, "tiers with defined
//! inclusions and response times"): [`response_target`] unless the client's profile sets its own.
//!
//! **A condition that holds is one exception, not one per look.** A raised exception whose
//! condition is seen again bumps `count` and `last_seen`; only a condition that cleared and came
//! back opens a new one (the store forgets the dedupe key when it clears).

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};
use shelfsync_actors::ids::Sku;
use shelfsync_actors::inventory::exceptions::{
    bounded_text, ExceptionKind, OrderException, UnapplicableReason,
};
use shelfsync_actors::ratelimit::ServiceTier;

/// The longest note kept with a state change, in bytes.
pub const MAX_NOTE_BYTES: usize = 1_000;

/// What kind of exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QueueKind {
    /// A sale found too little available stock (from the ledger).
    Oversold,
    /// A marketplace told of an order that could not be applied (from the ledger).
    UnapplicableOrder,
    /// A SKU's projected stock-out falls within its lead time, or it is at its reorder point.
    Reorder,
    /// The marketplace no longer has a listing the catalog maps (its pushes are refused as not
    /// found).
    ListingMissing,
    /// The marketplace suspended a listing.
    ListingSuspended,
    /// The marketplace refuses a listing's pushes for good as invalid.
    PushRefused,
    /// A listing's read-back found another quantity than the channel believed again and again
    /// (something else edits it).
    RepeatedDrift,
    /// A channel's calls are refused for good (the credential, the account, the request).
    ChannelFailing,
    /// The marketplace flagged the seller account.
    AccountFlagged,
}

impl QueueKind {
    /// Every kind, for metrics and documentation.
    pub const ALL: [QueueKind; 9] = [
        QueueKind::Oversold,
        QueueKind::UnapplicableOrder,
        QueueKind::Reorder,
        QueueKind::ListingMissing,
        QueueKind::ListingSuspended,
        QueueKind::PushRefused,
        QueueKind::RepeatedDrift,
        QueueKind::ChannelFailing,
        QueueKind::AccountFlagged,
    ];

    /// The wire name, also the `kind` metric label.
    pub fn as_str(self) -> &'static str {
        match self {
            QueueKind::Oversold => "oversold",
            QueueKind::UnapplicableOrder => "unapplicable_order",
            QueueKind::Reorder => "reorder",
            QueueKind::ListingMissing => "listing_missing",
            QueueKind::ListingSuspended => "listing_suspended",
            QueueKind::PushRefused => "push_refused",
            QueueKind::RepeatedDrift => "repeated_drift",
            QueueKind::ChannelFailing => "channel_failing",
            QueueKind::AccountFlagged => "account_flagged",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<QueueKind> {
        QueueKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }
}

impl From<ExceptionKind> for QueueKind {
    fn from(kind: ExceptionKind) -> Self {
        match kind {
            ExceptionKind::Oversold => QueueKind::Oversold,
            ExceptionKind::UnapplicableOrder => QueueKind::UnapplicableOrder,
        }
    }
}

/// Where a person has got with an exception.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WorkState {
    /// Nobody has looked yet.
    Open,
    /// Someone looks after it.
    Acknowledged,
    /// Done, with a resolution.
    Resolved,
}

impl WorkState {
    /// Every state, in the order work goes.
    pub const ALL: [WorkState; 3] = [
        WorkState::Open,
        WorkState::Acknowledged,
        WorkState::Resolved,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            WorkState::Open => "open",
            WorkState::Acknowledged => "acknowledged",
            WorkState::Resolved => "resolved",
        }
    }

    /// Parses a wire name.
    pub fn parse(text: &str) -> Option<WorkState> {
        WorkState::ALL
            .into_iter()
            .find(|state| state.as_str() == text)
    }

    /// Not resolved: still a person's to do (what "open exceptions" counts).
    pub fn is_unresolved(self) -> bool {
        self != WorkState::Resolved
    }
}

/// How an exception was resolved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Resolution {
    /// The cause was fixed (a listing corrected, a mapping added).
    Fixed,
    /// Stock was received or counted.
    Restocked,
    /// The order was cancelled or refunded with the buyer.
    OrderCancelled,
    /// The client was told and takes it from here.
    ClientInformed,
    /// Nothing was wrong.
    NoActionNeeded,
}

/// What a person does to an exception.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// Takes it (open → acknowledged).
    Acknowledge,
    /// Gives it to a member (any unresolved state; acknowledges an open one).
    Assign {
        /// The member's id.
        assignee: String,
    },
    /// Closes it (open or acknowledged → resolved).
    Resolve {
        /// How.
        resolution: Resolution,
    },
    /// Opens a resolved one again (resolved → open).
    Reopen,
}

impl Transition {
    /// The wire name of the action.
    pub fn action(&self) -> &'static str {
        match self {
            Transition::Acknowledge => "acknowledge",
            Transition::Assign { .. } => "assign",
            Transition::Resolve { .. } => "resolve",
            Transition::Reopen => "reopen",
        }
    }
}

/// One change of an exception's work, kept in its trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StateChange {
    /// When.
    pub at: DateTime<Utc>,
    /// The member's id.
    pub member: String,
    /// The member's name at the time (members are disabled, not deleted, but names change).
    pub member_name: String,
    /// The action (`acknowledge`, `assign`, `resolve`, `reopen`).
    pub action: String,
    /// The state before.
    pub from: WorkState,
    /// The state after.
    pub to: WorkState,
    /// The assignee after an `assign`.
    #[serde(default)]
    pub assignee: Option<String>,
    /// The resolution of a `resolve`.
    #[serde(default)]
    pub resolution: Option<Resolution>,
    /// What the member wrote.
    #[serde(default)]
    pub note: Option<String>,
}

/// An exception as the queue keeps it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueEntry {
    /// Its id within the client's queue (ascending in the order raised).
    pub id: u64,
    /// What went wrong.
    pub kind: QueueKind,
    /// What makes it one exception: `ledger:{id}` for a ledger's, `reorder:{SKU}` for a reorder.
    pub dedupe: String,
    /// The channel concerned (`channel:<id>`, `api`, `import`), when one is.
    pub source: Option<String>,
    /// The SKU concerned.
    pub sku: Option<Sku>,
    /// The marketplace order, when one is concerned.
    pub order_id: Option<String>,
    /// The order line.
    pub line: Option<u32>,
    /// Units concerned (oversold units, units the line asked for, units available for a reorder).
    pub units: i64,
    /// What exactly, for a person.
    pub detail: Option<String>,
    /// Why an order could not be applied (unapplicable orders).
    #[serde(default)]
    pub reason: Option<UnapplicableReason>,
    /// The ledger key that makes a ledger exception one (the order line's, or the delivery's).
    #[serde(default)]
    pub key: Option<String>,
    /// The ledger's exception id (ledger kinds).
    pub ledger_id: Option<u64>,
    /// The journal entry behind it, when one is.
    pub journal_seq: Option<u64>,
    /// When it was first seen.
    pub first_seen: DateTime<Utc>,
    /// When it was last seen.
    pub last_seen: DateTime<Utc>,
    /// How many times it was seen.
    pub count: u64,
    /// Where the work is.
    pub state: WorkState,
    /// Who has it.
    pub assignee: Option<String>,
    /// When a first response is due (the tier's target after `first_seen`).
    pub due_at: DateTime<Utc>,
    /// How it was resolved (last resolution; cleared by a reopen).
    pub resolution: Option<Resolution>,
    /// Every change a person made, oldest first.
    pub trail: Vec<StateChange>,
    /// Whether the client was sent the exception (escalation).
    #[serde(default)]
    pub escalated: bool,
    /// Whether the client was sent a reminder that it is overdue.
    #[serde(default)]
    pub reminded: bool,
}

/// Why a transition is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueueError {
    /// The action does not apply in the current state.
    #[error("an exception that is {from} cannot be {action}d")]
    InvalidTransition {
        /// The current state.
        from: &'static str,
        /// The action.
        action: &'static str,
    },
    /// A note too long.
    #[error("note must be at most {MAX_NOTE_BYTES} bytes")]
    NoteTooLong,
}

impl QueueError {
    /// A stable, bounded name.
    pub fn kind(&self) -> &'static str {
        match self {
            QueueError::InvalidTransition { .. } => "invalid_transition",
            QueueError::NoteTooLong => "invalid_field",
        }
    }
}

/// How long the agency has to respond to a client's exception, by service tier, unless the
/// client's profile sets its own target: a day for standard, a working morning for premium, two
/// hours for enterprise. These are defaults an agency overrides per client, not promises.
pub fn response_target(tier: ServiceTier) -> Duration {
    match tier {
        ServiceTier::Standard => Duration::hours(24),
        ServiceTier::Premium => Duration::hours(8),
        ServiceTier::Enterprise => Duration::hours(2),
    }
}

/// Who acts, as the trail records them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The member's id.
    pub id: String,
    /// Its name.
    pub name: String,
}

impl QueueEntry {
    /// The queue entry of a ledger's order exception.
    pub fn from_ledger(id: u64, exception: &OrderException, target: Duration) -> QueueEntry {
        let first_seen = millis(exception.at_ms);
        QueueEntry {
            id,
            kind: exception.kind.into(),
            dedupe: format!("ledger:{}", exception.id),
            source: Some(exception.source.to_string()),
            sku: exception.sku.clone(),
            order_id: exception.order_id.clone(),
            line: exception.line,
            units: exception.units,
            detail: exception.detail.clone(),
            reason: exception.reason,
            key: Some(exception.key.as_str().to_string()),
            ledger_id: Some(exception.id),
            journal_seq: exception.seq,
            first_seen,
            last_seen: millis(exception.last_seen_ms.max(exception.at_ms)),
            count: exception.count.max(1),
            state: WorkState::Open,
            assignee: None,
            due_at: first_seen + target,
            resolution: None,
            trail: Vec::new(),
            escalated: false,
            reminded: false,
        }
    }

    /// Applies what a person does; refused (and nothing changed) when it does not apply.
    pub fn apply(
        &mut self,
        transition: Transition,
        who: &Actor,
        note: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<(), QueueError> {
        if note.is_some_and(|note| note.len() > MAX_NOTE_BYTES) {
            return Err(QueueError::NoteTooLong);
        }
        let from = self.state;
        let refused = || QueueError::InvalidTransition {
            from: from.as_str(),
            action: transition.action(),
        };
        let (to, assignee, resolution) = match (&transition, from) {
            (Transition::Acknowledge, WorkState::Open) => (WorkState::Acknowledged, None, None),
            (Transition::Assign { assignee }, WorkState::Open | WorkState::Acknowledged) => {
                (WorkState::Acknowledged, Some(assignee.clone()), None)
            }
            (Transition::Resolve { resolution }, WorkState::Open | WorkState::Acknowledged) => {
                (WorkState::Resolved, None, Some(*resolution))
            }
            (Transition::Reopen, WorkState::Resolved) => (WorkState::Open, None, None),
            _ => return Err(refused()),
        };
        self.state = to;
        if assignee.is_some() {
            self.assignee.clone_from(&assignee);
        }
        match transition {
            Transition::Resolve { .. } => self.resolution = resolution,
            Transition::Reopen => {
                self.resolution = None;
                // A reopened exception is the agency's again: the client is not told twice.
            }
            Transition::Acknowledge | Transition::Assign { .. } => {}
        }
        self.trail.push(StateChange {
            at: now,
            member: who.id.clone(),
            member_name: who.name.clone(),
            action: transition.action().to_string(),
            from,
            to,
            assignee,
            resolution,
            note: note.map(|note| bounded_text(note, MAX_NOTE_BYTES)),
        });
        Ok(())
    }

    /// Takes what the ledger has seen since the import: a platform's retry of the same order
    /// moves the ledger's `count` and `last_seen`, not the queue's.
    pub fn refresh_from_ledger(&mut self, exception: &OrderException) {
        if self.ledger_id == Some(exception.id) {
            self.count = exception.count.max(self.count);
            self.last_seen = self.last_seen.max(millis(exception.last_seen_ms));
        }
    }

    /// Whether a response is overdue at `now`: unresolved past its due time.
    pub fn overdue(&self, now: DateTime<Utc>) -> bool {
        self.state.is_unresolved() && now > self.due_at
    }

    /// When it was resolved (the last `resolve` of its trail), if it is.
    pub fn resolved_at(&self) -> Option<DateTime<Utc>> {
        if self.state != WorkState::Resolved {
            return None;
        }
        self.trail
            .iter()
            .rev()
            .find(|change| change.to == WorkState::Resolved)
            .map(|change| change.at)
    }
}

/// A time from milliseconds since the Unix epoch (the ledger's stamps), saturating.
pub fn millis(ms: u64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(i64::try_from(ms).unwrap_or(i64::MAX))
        .unwrap_or(DateTime::<Utc>::MAX_UTC)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry() -> QueueEntry {
        let at: DateTime<Utc> = "2026-12-01T10:00:00Z".parse().unwrap();
        QueueEntry {
            id: 1,
            kind: QueueKind::Oversold,
            dedupe: "ledger:1".into(),
            source: Some("channel:etsy".into()),
            sku: None,
            order_id: None,
            line: None,
            units: 1,
            detail: None,
            reason: None,
            key: None,
            ledger_id: Some(1),
            journal_seq: Some(3),
            first_seen: at,
            last_seen: at,
            count: 1,
            state: WorkState::Open,
            assignee: None,
            due_at: at + response_target(ServiceTier::Premium),
            resolution: None,
            trail: Vec::new(),
            escalated: false,
            reminded: false,
        }
    }

    fn dana() -> Actor {
        Actor {
            id: "m2".into(),
            name: "Dana".into(),
        }
    }

    #[test]
    fn the_work_goes_open_acknowledged_resolved_and_each_step_is_in_the_trail() {
        let mut entry = entry();
        let now = entry.first_seen + Duration::minutes(5);
        entry
            .apply(Transition::Acknowledge, &dana(), None, now)
            .unwrap();
        entry
            .apply(
                Transition::Assign {
                    assignee: "m3".into(),
                },
                &dana(),
                Some("Sam knows the supplier"),
                now,
            )
            .unwrap();
        entry
            .apply(
                Transition::Resolve {
                    resolution: Resolution::OrderCancelled,
                },
                &dana(),
                Some("buyer refunded"),
                now + Duration::hours(1),
            )
            .unwrap();
        assert_eq!(entry.state, WorkState::Resolved);
        assert_eq!(entry.assignee.as_deref(), Some("m3"));
        assert_eq!(entry.resolution, Some(Resolution::OrderCancelled));
        assert_eq!(entry.resolved_at(), Some(now + Duration::hours(1)));
        let actions: Vec<&str> = entry.trail.iter().map(|c| c.action.as_str()).collect();
        assert_eq!(actions, ["acknowledge", "assign", "resolve"]);
        assert_eq!(entry.trail[2].note.as_deref(), Some("buyer refunded"));
        assert_eq!(entry.trail[2].member_name, "Dana");
    }

    #[test]
    fn a_transition_that_does_not_apply_is_refused_and_changes_nothing() {
        let mut entry = entry();
        let now = entry.first_seen;
        let before = entry.clone();
        assert_eq!(
            entry.apply(Transition::Reopen, &dana(), None, now),
            Err(QueueError::InvalidTransition {
                from: "open",
                action: "reopen"
            })
        );
        let long = "x".repeat(MAX_NOTE_BYTES + 1);
        assert_eq!(
            entry.apply(Transition::Acknowledge, &dana(), Some(&long), now),
            Err(QueueError::NoteTooLong)
        );
        assert_eq!(entry, before);
        entry
            .apply(
                Transition::Resolve {
                    resolution: Resolution::Fixed,
                },
                &dana(),
                None,
                now,
            )
            .unwrap();
        let resolved = entry.clone();
        assert!(entry
            .apply(Transition::Acknowledge, &dana(), None, now)
            .is_err());
        assert_eq!(entry, resolved);
        entry.apply(Transition::Reopen, &dana(), None, now).unwrap();
        assert_eq!((entry.state, entry.resolution), (WorkState::Open, None));
    }

    #[test]
    fn due_time_follows_the_tier_and_overdue_ends_with_resolution() {
        let mut entry = entry();
        assert_eq!(entry.due_at - entry.first_seen, Duration::hours(8));
        let late = entry.due_at + Duration::seconds(1);
        assert!(entry.overdue(late));
        assert!(!entry.overdue(entry.due_at));
        entry
            .apply(
                Transition::Resolve {
                    resolution: Resolution::Fixed,
                },
                &dana(),
                None,
                late,
            )
            .unwrap();
        assert!(!entry.overdue(late + Duration::days(1)));
        assert!(response_target(ServiceTier::Enterprise) < response_target(ServiceTier::Standard));
    }

    #[test]
    fn kinds_have_stable_wire_names() {
        for kind in QueueKind::ALL {
            assert_eq!(QueueKind::parse(kind.as_str()), Some(kind));
            assert_eq!(
                serde_json::to_value(kind).unwrap(),
                serde_json::json!(kind.as_str())
            );
        }
        assert_eq!(QueueKind::parse("Oversold"), None);
    }
}
