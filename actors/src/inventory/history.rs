//! The listing history of a client (issue 15: "why did Etsy show 3 at 14:02"): every push a
//! channel sent (with the ledger sequence number and the policy it was computed from), what the
//! marketplace confirmed or refused, and every read-back that found the marketplace showing
//! something the channel did not believe; and the explain computation that answers, for one
//! listing and one instant, what the marketplace showed, since when, which ledger entries and
//! policy made that number, and whether a newer number was pending and why.
//!
//! Plain types and functions, no sled and no actix: the store keeps the events under its `h`
//! prefix (`store/layout.rs`) and feeds them here.
//!
//! # What is kept, and for how long
//!
//! Events are appended, never rewritten. A listing's history is bounded two ways
//! ([`prune_plan`]):
//!
//! - **Retention**: events older than [`HISTORY_RETENTION_DAYS`] are dropped, except the last
//!   event that set what the listing showed before that limit. A listing that has not changed
//!   for longer than the retention still shows a number, and the explanation of it must survive
//!   (dropping it would answer "unknown" for the quietest, best-behaved listings).
//! - **A cap per listing**: at most [`MAX_EVENTS_PER_LISTING`] events, the oldest dropped first.
//!   A listing whose stock moves every few seconds for months would otherwise grow without bound
//!   inside the retention; the cap keeps the history of one listing (and so one explain query,
//!   which reads it whole) a bounded read.
//!
//! Pruning is amortised: a listing is pruned when one of its new events gets an id that is a
//! multiple of [`PRUNE_EVERY`], so a round does not scan every listing it touches; the cap may
//! therefore be exceeded by about that many events between prunes.
//!
//! A read-back that shows what the channel believed is not recorded: it changes neither the number
//! shown nor since when, and a read every five minutes would grow the history with time instead
//! of with changes (26 000 events per listing in 90 days). A read that differs (drift) is.

use serde::{Deserialize, Serialize};

use crate::channel::policy::ListingPolicy;
use crate::ids::{ChannelId, Sku};
use crate::inventory::ledger::JournalEntry;
use crate::platform::{MarketplaceError, PermanentKind};

/// How long listing history is kept, in days (see the module doc).
pub const HISTORY_RETENTION_DAYS: u64 = 90;

/// [`HISTORY_RETENTION_DAYS`] in milliseconds.
pub const HISTORY_RETENTION_MS: u64 = HISTORY_RETENTION_DAYS * 24 * 60 * 60 * 1000;

/// The most events kept per listing (see the module doc).
pub const MAX_EVENTS_PER_LISTING: usize = 5_000;

/// A listing is pruned when one of its new events has an id that is a multiple of this.
pub const PRUNE_EVERY: u64 = 32;

/// The most events one history page returns.
pub const MAX_HISTORY_PAGE: usize = 1_000;

/// The most journal entries an explanation lists (the last ones before its sequence number).
pub const MAX_EXPLAIN_ENTRIES: usize = 50;

/// The journal entries of the SKU an explanation reads at most, newest first: enough to reach
/// back to the push behind any listing that is kept in step (a push follows a change within
/// seconds); beyond it, the stock level at an older sequence number is reported unknown.
pub const EXPLAIN_WINDOW: usize = 10_000;

/// Why a marketplace refused a push for good. A throttle, a timeout or a 5xx is not a refusal
/// (the push is retried); only what retrying will not fix is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefusalReason {
    /// The marketplace refused the request as invalid.
    Invalid,
    /// The listing or account does not exist.
    NotFound,
    /// The credentials were refused.
    Auth,
    /// The marketplace suspended the listing.
    ListingSuspended,
    /// The marketplace flagged the seller account.
    AccountFlagged,
}

impl RefusalReason {
    /// The refusal a failed push stands for, `None` for a failure that is retried.
    pub fn of(error: &MarketplaceError) -> Option<Self> {
        match error {
            MarketplaceError::Permanent { kind, .. } => Some(match kind {
                PermanentKind::Invalid => RefusalReason::Invalid,
                PermanentKind::NotFound => RefusalReason::NotFound,
                PermanentKind::Auth => RefusalReason::Auth,
                PermanentKind::ListingSuspended => RefusalReason::ListingSuspended,
                PermanentKind::AccountFlagged => RefusalReason::AccountFlagged,
            }),
            MarketplaceError::Throttled { .. }
            | MarketplaceError::Transient(_)
            | MarketplaceError::Timeout
            | MarketplaceError::Stale => None,
        }
    }
}

/// What happened to a listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ListingWhat {
    /// A push of `quantity`, computed from the ledger at `ledger_seq` by `policy` (the channel's
    /// policy with the platform's own maximum folded into `max`), was sent.
    Sent {
        quantity: u32,
        ledger_seq: u64,
        policy: ListingPolicy,
    },
    /// The marketplace confirmed it lists `quantity` (computed from `ledger_seq`).
    Confirmed { quantity: u32, ledger_seq: u64 },
    /// The marketplace refused the push for good.
    Refused {
        quantity: u32,
        ledger_seq: u64,
        reason: RefusalReason,
    },
    /// A read of the marketplace showed `quantity`; `drift` when the channel believed another
    /// number (a read-back), false when the channel adopted it (a catalog export).
    Read { quantity: u32, drift: bool },
}

impl ListingWhat {
    /// The quantity the marketplace showed from this event on, for the events that tell it.
    pub fn shown(&self) -> Option<u32> {
        match *self {
            ListingWhat::Confirmed { quantity, .. } | ListingWhat::Read { quantity, .. } => {
                Some(quantity)
            }
            ListingWhat::Sent { .. } | ListingWhat::Refused { .. } => None,
        }
    }
}

/// One event of a listing, as a channel reports it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingEvent {
    /// The channel of the listing.
    pub channel: ChannelId,
    /// The SKU of the listing.
    pub sku: Sku,
    /// When it happened, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// What happened.
    #[serde(flatten)]
    pub what: ListingWhat,
}

/// An event as stored: with its id, which orders a client's events in the order they were
/// recorded (and pages a listing's history).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordedEvent {
    /// The id (from the client's history counter, `m/hhead`).
    pub id: u64,
    /// The event.
    #[serde(flatten)]
    pub event: ListingEvent,
}

/// Which stored events of one listing to drop at `now_ms`: `events` are `(id, at_ms, shows)`
/// oldest first (`shows`: the event tells what the marketplace showed). See the module doc.
pub fn prune_plan(events: &[(u64, u64, bool)], now_ms: u64) -> Vec<u64> {
    let cutoff = now_ms.saturating_sub(HISTORY_RETENTION_MS);
    let over_cap = events.len().saturating_sub(MAX_EVENTS_PER_LISTING);
    // The last event older than the cutoff that tells what was shown: it explains the listing at
    // the cutoff, so it stays unless the cap drops it.
    let keep = events
        .iter()
        .filter(|(_, at_ms, shows)| *at_ms < cutoff && *shows)
        .map(|(id, _, _)| *id)
        .next_back();
    events
        .iter()
        .enumerate()
        .filter(|(index, (id, at_ms, _))| {
            *index < over_cap || (*at_ms < cutoff && Some(*id) != keep)
        })
        .map(|(_, (id, _, _))| *id)
        .collect()
}

/// A SKU's stock at one sequence number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct LevelAt {
    pub on_hand: i64,
    pub reserved: i64,
    pub available: i64,
}

impl LevelAt {
    fn of(on_hand: i64, reserved: i64) -> Self {
        Self {
            on_hand,
            reserved,
            available: on_hand.saturating_sub(reserved),
        }
    }
}

/// What made the number shown: the ledger state and policy a confirmed push was computed from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComputedFrom {
    /// The ledger sequence number the pushed quantity was computed from.
    pub ledger_seq: u64,
    /// The policy it was computed by (`None`: the push's sent event is not in the history).
    pub policy: Option<ListingPolicy>,
    /// The SKU's stock at `ledger_seq` (`None`: older than the journal window read).
    pub available_at_seq: Option<LevelAt>,
    /// The SKU's journal entries up to `ledger_seq`, the last [`MAX_EXPLAIN_ENTRIES`] of them.
    pub entries: Vec<JournalEntry>,
    /// Whether older entries of the SKU exist that `entries` leaves out.
    pub entries_cut: bool,
}

/// Why a newer number had not reached the marketplace by the instant asked about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PendingWhy {
    /// A push was sent and not confirmed by then (`confirmed_at_ms`: when it was, later).
    SentNotConfirmed {
        sent_at_ms: u64,
        quantity: u32,
        ledger_seq: u64,
        confirmed_at_ms: Option<u64>,
    },
    /// The last push was refused for good.
    Refused {
        at_ms: u64,
        quantity: u32,
        reason: RefusalReason,
    },
    /// No push had been sent since the change (the channel was waiting: its rate limit, a
    /// backoff, the order feed before an increase; the live reason is the channel's state).
    NotSent,
}

/// A newer number the ledger asked for that the marketplace did not show yet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The last journal entry of the SKU by then.
    pub ledger_seq: u64,
    /// The SKU's available stock after it.
    pub available: i64,
    /// The quantity the policy lists for it.
    pub target: u32,
    /// Since when the target has differed from what was shown.
    pub since_ms: u64,
    /// Why it was not shown.
    pub why: PendingWhy,
}

/// The answer of the explain query.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Explanation {
    /// What the marketplace showed (`None`: the history tells nothing of the listing by then).
    pub shown: Option<u32>,
    /// Since when it showed it (the first of the events in a row that showed that number).
    pub since_ms: Option<u64>,
    /// The latest event that tells it (a confirmed push or a read).
    pub evidence: Option<RecordedEvent>,
    /// The ledger state and policy behind it (`None` for a read: the marketplace's own number).
    pub computed_from: Option<ComputedFrom>,
    /// A newer number pending by then.
    pub pending: Option<Pending>,
}

/// What the explain computation reads.
#[derive(Debug, Clone, Copy)]
pub struct ExplainInput<'a> {
    /// The instant asked about, in milliseconds since the Unix epoch.
    pub at_ms: u64,
    /// The listing's history, in id order.
    pub events: &'a [RecordedEvent],
    /// The SKU's last journal entries (at most [`EXPLAIN_WINDOW`]), in sequence order, ending
    /// at the head.
    pub entries: &'a [JournalEntry],
    /// Whether older entries of the SKU exist before `entries`.
    pub window_cut: bool,
    /// The SKU's stock now (after the last of `entries`).
    pub on_hand: i64,
    /// Reserved units now.
    pub reserved: i64,
    /// The channel's policy now, used when the history holds no sent event to take it from.
    pub policy_now: ListingPolicy,
}

/// The SKU's stock after each entry of the window, and before the first: the stock now, with
/// each entry's delta taken back in turn (exact whatever came before the window).
fn levels_after(input: &ExplainInput<'_>) -> (LevelAt, Vec<LevelAt>) {
    let mut on_hand = input.on_hand;
    let mut reserved = input.reserved;
    let mut after = vec![LevelAt::of(on_hand, reserved); input.entries.len()];
    for (index, entry) in input.entries.iter().enumerate().rev() {
        after[index] = LevelAt::of(on_hand, reserved);
        on_hand = on_hand.saturating_sub(entry.on_hand_delta);
        reserved = reserved.saturating_sub(entry.reserved_delta);
    }
    (LevelAt::of(on_hand, reserved), after)
}

/// Answers what the listing showed at `input.at_ms` and why (see [`Explanation`]).
pub fn explain(input: &ExplainInput<'_>) -> Explanation {
    let at = input.at_ms;
    let known: Vec<&RecordedEvent> = input
        .events
        .iter()
        .filter(|event| event.event.at_ms <= at)
        .collect();
    let Some(evidence_index) = known
        .iter()
        .rposition(|event| event.event.what.shown().is_some())
    else {
        return Explanation {
            shown: None,
            since_ms: None,
            evidence: None,
            computed_from: None,
            pending: None,
        };
    };
    let evidence = known[evidence_index];
    let shown = evidence.event.what.shown().unwrap_or_default();
    // Since: back over the events in a row that showed the same number.
    let mut since_ms = evidence.event.at_ms;
    for event in known[..evidence_index].iter().rev() {
        match event.event.what.shown() {
            Some(quantity) if quantity == shown => since_ms = event.event.at_ms,
            Some(_) => break,
            None => {}
        }
    }
    let (before_window, after) = levels_after(input);
    let level_at = |seq: u64| -> Option<LevelAt> {
        match input.entries.iter().rposition(|entry| entry.seq <= seq) {
            Some(index) => Some(after[index]),
            None if !input.window_cut => Some(before_window),
            None => None,
        }
    };
    // The sent event of a confirmed push: the last one before it of the same sequence number.
    let sent_policy = |ledger_seq: u64, before_id: u64| {
        known
            .iter()
            .rev()
            .filter(|event| event.id < before_id)
            .find_map(|event| match event.event.what {
                ListingWhat::Sent {
                    ledger_seq: sent_seq,
                    policy,
                    ..
                } if sent_seq == ledger_seq => Some(policy),
                _ => None,
            })
    };
    let (base_seq, computed_from) = match evidence.event.what {
        ListingWhat::Confirmed { ledger_seq, .. } => {
            let upto: Vec<&JournalEntry> = input
                .entries
                .iter()
                .filter(|entry| entry.seq <= ledger_seq)
                .collect();
            let skip = upto.len().saturating_sub(MAX_EXPLAIN_ENTRIES);
            let computed = ComputedFrom {
                ledger_seq,
                policy: sent_policy(ledger_seq, evidence.id),
                available_at_seq: level_at(ledger_seq),
                entries: upto[skip..].iter().map(|entry| (*entry).clone()).collect(),
                entries_cut: skip > 0 || (input.window_cut && !upto.is_empty()),
            };
            (Some(ledger_seq), Some(computed))
        }
        // The marketplace's own number: the ledger as it stood when it was read.
        _ => {
            let seq = input
                .entries
                .iter()
                .rev()
                .find(|entry| entry.at_ms <= evidence.event.at_ms)
                .map(|entry| entry.seq)
                .or((!input.window_cut).then_some(0));
            (seq, None)
        }
    };
    let policy = known
        .iter()
        .rev()
        .find_map(|event| match event.event.what {
            ListingWhat::Sent { policy, .. } => Some(policy),
            _ => None,
        })
        .unwrap_or(input.policy_now);
    let pending = base_seq.and_then(|base_seq| {
        let base_level = level_at(base_seq)?;
        let mut diverged =
            (policy.target(base_level.available) != shown).then_some(evidence.event.at_ms);
        let mut last = (base_seq, base_level);
        for (index, entry) in input.entries.iter().enumerate() {
            if entry.seq <= base_seq || entry.at_ms > at {
                continue;
            }
            last = (entry.seq, after[index]);
            if policy.target(after[index].available) == shown {
                diverged = None;
            } else if diverged.is_none() {
                diverged = Some(entry.at_ms);
            }
        }
        let since_ms = diverged?;
        Some(Pending {
            ledger_seq: last.0,
            available: last.1.available,
            target: policy.target(last.1.available),
            since_ms,
            why: pending_why(input.events, evidence.id, at),
        })
    });
    Explanation {
        shown: Some(shown),
        since_ms: Some(since_ms),
        evidence: Some(evidence.clone()),
        computed_from,
        pending,
    }
}

/// Why the last push after the evidence had not changed what was shown by `at`.
fn pending_why(events: &[RecordedEvent], evidence_id: u64, at: u64) -> PendingWhy {
    let attempt = events
        .iter()
        .filter(|event| event.id > evidence_id && event.event.at_ms <= at)
        .rev()
        .find(|event| {
            matches!(
                event.event.what,
                ListingWhat::Sent { .. } | ListingWhat::Refused { .. }
            )
        });
    match attempt.map(|event| (event.id, event.event.at_ms, event.event.what)) {
        Some((
            id,
            sent_at_ms,
            ListingWhat::Sent {
                quantity,
                ledger_seq,
                ..
            },
        )) => PendingWhy::SentNotConfirmed {
            sent_at_ms,
            quantity,
            ledger_seq,
            // Confirmed later (after `at`), if it was.
            confirmed_at_ms: events
                .iter()
                .filter(|event| event.id > id)
                .find_map(|event| match event.event.what {
                    ListingWhat::Confirmed {
                        ledger_seq: confirmed_seq,
                        ..
                    } if confirmed_seq == ledger_seq => Some(event.event.at_ms),
                    _ => None,
                }),
        },
        Some((
            _,
            at_ms,
            ListingWhat::Refused {
                quantity, reason, ..
            },
        )) => PendingWhy::Refused {
            at_ms,
            quantity,
            reason,
        },
        Some(_) | None => PendingWhy::NotSent,
    }
}

#[cfg(test)]
#[path = "history_tests.rs"]
mod tests;
