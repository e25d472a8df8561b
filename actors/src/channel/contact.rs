//! What a channel last heard from its marketplace (issue 15, the launch checklist): when a call
//! was last answered, when a read (a read-back of listed quantities or a page of the order feed)
//! last succeeded, and the last failure with its class. The launch checklist reads it to say
//! "verified by a live read" only while nothing has failed since, so a credential the seller
//! revokes turns the channel's item red at the next call the marketplace refuses.
//!
//! It also keeps the listings the marketplace has a problem with (issue 15, "order exceptions"):
//! a push of the listing refused for good (the listing missing, suspended, invalid, the account
//! flagged), until a push of it is confirmed again; and a listing whose read-back found another
//! quantity than the channel believed again and again ([`REPEATED_DRIFT`] times within
//! [`DRIFT_WINDOW_MS`]). The service's sweep turns each into an exception a person works.
//!
//! Plain data updated by the channel actor at each answer; wall-clock milliseconds, because a
//! person reads them ("last read 14:02").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::ids::Sku;
use crate::inventory::history::RefusalReason;
use crate::platform::{MarketplaceError, Operation, PermanentKind};

/// How many drift corrections of one listing within [`DRIFT_WINDOW_MS`] make it a problem: once
/// is a sale the channel had not heard of yet; three times in a day is something else editing
/// the listing (another tool, a person in the seller's back office).
pub const REPEATED_DRIFT: u32 = 3;

/// The window of [`REPEATED_DRIFT`]: a day.
pub const DRIFT_WINDOW_MS: u64 = 24 * 60 * 60 * 1000;

/// The most listings with a problem kept per channel (a marketplace refusing a whole catalog
/// must not grow the channel's memory without bound; the count of those left out is kept).
pub const MAX_PROBLEMS: usize = 1_000;

/// What is wrong with one listing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "problem", content = "reason")]
pub enum ProblemKind {
    /// Its pushes are refused for good, for this reason.
    Refused(RefusalReason),
    /// It drifted [`REPEATED_DRIFT`] times or more within [`DRIFT_WINDOW_MS`].
    Drifting,
}

/// One listing's problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ListingProblem {
    /// What.
    pub kind: ProblemKind,
    /// When it was first seen (Unix milliseconds).
    pub first_at_ms: u64,
    /// When it was last seen.
    pub last_at_ms: u64,
    /// How many times (refusals, or drift corrections within the window).
    pub count: u32,
}

/// How many failures in a row make a channel failing even when each one is worth a retry (a
/// marketplace down for minutes, a host that does not answer).
pub const FAILING_AFTER: u32 = 3;

/// The class of a failed call, as a person and the checklist need it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// A permanent refusal (the credentials, a missing listing or account, a suspension, a
    /// flag, an invalid request): retrying will not fix it.
    Permanent(PermanentKind),
    /// Throttled: the channel waits as told.
    Throttled,
    /// A 5xx, a reset connection, no answer in time, a lost compare-and-set.
    Transient,
}

impl FailureClass {
    /// The class of `error`.
    pub fn of(error: &MarketplaceError) -> Self {
        match error {
            MarketplaceError::Permanent { kind, .. } => FailureClass::Permanent(*kind),
            MarketplaceError::Throttled { .. } => FailureClass::Throttled,
            MarketplaceError::Transient(_)
            | MarketplaceError::Timeout
            | MarketplaceError::Stale => FailureClass::Transient,
        }
    }
}

/// One failed call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallFailure {
    /// When (Unix milliseconds).
    pub at_ms: u64,
    /// Which call.
    pub operation: Operation,
    /// Its class.
    pub class: FailureClass,
    /// The error, for a person.
    pub message: String,
}

/// What the channel last heard from its marketplace.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// When the marketplace last answered a call (Unix milliseconds).
    pub last_ok_ms: Option<u64>,
    /// When a read (read-back or order feed) last succeeded: the channel's live read.
    pub last_read_ok_ms: Option<u64>,
    /// The last failed call (kept after a success; `failing` says whether it still counts).
    pub last_failure: Option<CallFailure>,
    /// Failed calls since the last answered one.
    pub failures_in_a_row: u32,
    /// Listings whose pushes are refused for good, until one is confirmed.
    #[serde(default)]
    pub refused: BTreeMap<Sku, ListingProblem>,
    /// Per listing, when its recent drift corrections were seen (within the window).
    #[serde(default)]
    pub drifts: BTreeMap<Sku, Vec<u64>>,
    /// Problems not kept because [`MAX_PROBLEMS`] were.
    #[serde(default)]
    pub problems_left_out: u64,
}

impl Contact {
    /// Notes a call the marketplace answered.
    pub fn answered(&mut self, operation: Operation, at_ms: u64) {
        self.last_ok_ms = Some(at_ms);
        if matches!(
            operation,
            Operation::ReadQuantities | Operation::FetchOrders | Operation::ReadNotifiedOrder
        ) {
            self.last_read_ok_ms = Some(at_ms);
        }
        self.failures_in_a_row = 0;
    }

    /// Notes a failed call. A throttle is the marketplace answering (it knows the credential),
    /// so it neither counts towards failing nor clears it.
    pub fn failed(&mut self, operation: Operation, error: &MarketplaceError, at_ms: u64) {
        let class = FailureClass::of(error);
        if class != FailureClass::Throttled {
            self.failures_in_a_row = self.failures_in_a_row.saturating_add(1);
        }
        self.last_failure = Some(CallFailure {
            at_ms,
            operation,
            class,
            message: error.to_string(),
        });
    }

    /// Notes a push of `sku` the marketplace refused for good.
    pub fn listing_refused(&mut self, sku: &Sku, reason: RefusalReason, at_ms: u64) {
        if let Some(problem) = self.refused.get_mut(sku) {
            problem.kind = ProblemKind::Refused(reason);
            problem.last_at_ms = at_ms;
            problem.count = problem.count.saturating_add(1);
            return;
        }
        if self.refused.len() >= MAX_PROBLEMS {
            self.problems_left_out = self.problems_left_out.saturating_add(1);
            return;
        }
        self.refused.insert(
            sku.clone(),
            ListingProblem {
                kind: ProblemKind::Refused(reason),
                first_at_ms: at_ms,
                last_at_ms: at_ms,
                count: 1,
            },
        );
    }

    /// Notes a confirmed push of `sku`: a refusal of it is over.
    pub fn listing_confirmed(&mut self, sku: &Sku) {
        self.refused.remove(sku);
    }

    /// Notes a drift correction of `sku` at `at_ms`.
    pub fn listing_drifted(&mut self, sku: &Sku, at_ms: u64) {
        let since = at_ms.saturating_sub(DRIFT_WINDOW_MS);
        self.drifts.retain(|_, seen| {
            seen.retain(|at| *at > since);
            !seen.is_empty()
        });
        if !self.drifts.contains_key(sku) && self.drifts.len() >= MAX_PROBLEMS {
            self.problems_left_out = self.problems_left_out.saturating_add(1);
            return;
        }
        let seen = self.drifts.entry(sku.clone()).or_default();
        seen.push(at_ms);
        // Only the window's worth matters; a listing drifting every read keeps a bounded list.
        if seen.len() > 2 * REPEATED_DRIFT as usize {
            seen.remove(0);
        }
    }

    /// Every listing with a problem at `now_ms`: the refused ones, and those that drifted
    /// [`REPEATED_DRIFT`] times within the window before `now_ms`.
    pub fn problems(&self, now_ms: u64) -> Vec<(Sku, ListingProblem)> {
        let since = now_ms.saturating_sub(DRIFT_WINDOW_MS);
        let mut found: Vec<(Sku, ListingProblem)> = self
            .refused
            .iter()
            .map(|(sku, problem)| (sku.clone(), problem.clone()))
            .collect();
        for (sku, seen) in &self.drifts {
            let recent: Vec<u64> = seen.iter().copied().filter(|at| *at > since).collect();
            if recent.len() >= REPEATED_DRIFT as usize {
                found.push((
                    sku.clone(),
                    ListingProblem {
                        kind: ProblemKind::Drifting,
                        first_at_ms: recent[0],
                        last_at_ms: recent[recent.len() - 1],
                        count: recent.len() as u32,
                    },
                ));
            }
        }
        found
    }

    /// The failure that makes the channel failing now: the last call was refused for good, or
    /// [`FAILING_AFTER`] calls in a row failed. `None` when the last answer was a success.
    pub fn failing(&self) -> Option<&CallFailure> {
        let failure = self.last_failure.as_ref()?;
        if self.failures_in_a_row == 0 {
            return None;
        }
        let permanent = matches!(failure.class, FailureClass::Permanent(_));
        (permanent || self.failures_in_a_row >= FAILING_AFTER).then_some(failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn auth() -> MarketplaceError {
        MarketplaceError::Permanent {
            kind: PermanentKind::Auth,
            message: "invalid token".into(),
        }
    }

    #[test]
    fn a_read_verifies_and_a_refused_credential_fails_until_the_next_answer() {
        let mut contact = Contact::default();
        contact.answered(Operation::PushQuantities, 1);
        assert_eq!(contact.last_read_ok_ms, None, "a push is not a read");
        contact.answered(Operation::ReadQuantities, 2);
        assert_eq!(contact.last_read_ok_ms, Some(2));
        assert!(contact.failing().is_none());

        contact.failed(Operation::PushQuantities, &auth(), 3);
        let failing = contact.failing().expect("an auth refusal fails at once");
        assert_eq!(failing.class, FailureClass::Permanent(PermanentKind::Auth));
        assert_eq!(failing.at_ms, 3);

        contact.answered(Operation::FetchOrders, 4);
        assert!(contact.failing().is_none(), "an answer after it clears it");
        assert_eq!(contact.last_failure.as_ref().map(|f| f.at_ms), Some(3));
    }

    fn sku(text: &str) -> Sku {
        Sku::parse(text).unwrap()
    }

    #[test]
    fn a_refused_listing_is_a_problem_until_a_push_of_it_is_confirmed() {
        let mut contact = Contact::default();
        contact.listing_refused(&sku("A"), RefusalReason::NotFound, 10);
        contact.listing_refused(&sku("A"), RefusalReason::NotFound, 20);
        contact.listing_refused(&sku("B"), RefusalReason::ListingSuspended, 15);
        let problems = contact.problems(30);
        assert_eq!(problems.len(), 2);
        assert_eq!(
            (
                problems[0].1.count,
                problems[0].1.first_at_ms,
                problems[0].1.last_at_ms
            ),
            (2, 10, 20)
        );
        contact.listing_confirmed(&sku("A"));
        let problems = contact.problems(30);
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems[0].1.kind,
            ProblemKind::Refused(RefusalReason::ListingSuspended)
        );
    }

    #[test]
    fn a_listing_drifting_three_times_within_a_day_is_a_problem_and_stops_being_one() {
        let mut contact = Contact::default();
        let hour = 60 * 60 * 1000;
        contact.listing_drifted(&sku("A"), hour);
        contact.listing_drifted(&sku("A"), 2 * hour);
        assert!(
            contact.problems(2 * hour).is_empty(),
            "twice is not again and again"
        );
        contact.listing_drifted(&sku("A"), 3 * hour);
        let problems = contact.problems(3 * hour);
        assert_eq!(problems.len(), 1);
        assert_eq!(
            (problems[0].1.kind, problems[0].1.count),
            (ProblemKind::Drifting, 3)
        );
        // A day after the first, only two are within the window.
        assert!(contact.problems(hour + DRIFT_WINDOW_MS).is_empty());
    }

    #[test]
    fn problems_kept_are_bounded() {
        let mut contact = Contact::default();
        for n in 0..(MAX_PROBLEMS + 5) {
            contact.listing_refused(&sku(&format!("S{n}")), RefusalReason::Invalid, 1);
        }
        assert_eq!(contact.refused.len(), MAX_PROBLEMS);
        assert_eq!(contact.problems_left_out, 5);
    }

    #[test]
    fn transient_failures_fail_only_in_a_row_and_throttles_never() {
        let mut contact = Contact::default();
        for at in 0..10 {
            contact.failed(
                Operation::PushQuantities,
                &MarketplaceError::Throttled { retry_after: None },
                at,
            );
        }
        assert!(contact.failing().is_none(), "throttled is answered");
        contact.failed(Operation::ReadQuantities, &MarketplaceError::Timeout, 10);
        contact.failed(Operation::ReadQuantities, &MarketplaceError::Timeout, 11);
        assert!(contact.failing().is_none());
        contact.failed(Operation::ReadQuantities, &MarketplaceError::Timeout, 12);
        assert_eq!(
            contact.failing().map(|f| f.class),
            Some(FailureClass::Transient)
        );
    }
}
