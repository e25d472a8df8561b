//! What a channel last heard from its marketplace (issue 15, the launch checklist): when a call
//! was last answered, when a read (a read-back of listed quantities or a page of the order feed)
//! last succeeded, and the last failure with its class. The launch checklist reads it to say
//! "verified by a live read" only while nothing has failed since, so a credential the seller
//! revokes turns the channel's item red at the next call the marketplace refuses.
//!
//! Plain data updated by the channel actor at each answer; wall-clock milliseconds, because a
//! person reads them ("last read 14:02").

use serde::{Deserialize, Serialize};

use crate::platform::{MarketplaceError, Operation, PermanentKind};

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
