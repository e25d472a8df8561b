//! Why a marketplace call failed, in the engine's terms: on the ground floor because both the
//! `Marketplace` port (`channel::marketplace`) and the rate limits (`ratelimit`, which read a
//! throttle out of it) speak of it.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// Why a permanent error will not go away by retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PermanentKind {
    /// The credentials were refused.
    Auth,
    /// The listing or account does not exist.
    NotFound,
    /// The marketplace suspended the listing.
    ListingSuspended,
    /// The marketplace flagged the seller account.
    AccountFlagged,
    /// The marketplace refused the request as invalid.
    Invalid,
}

/// Why a marketplace call failed, in the engine's terms. Connectors map each platform's throttle
/// signals and errors onto these.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MarketplaceError {
    /// The marketplace throttled the call; `retry_after` is its own word on when to come back.
    #[error("throttled by the marketplace (retry after {retry_after:?})")]
    Throttled {
        /// The wait the marketplace asked for, if it said.
        retry_after: Option<Duration>,
    },
    /// A failure worth retrying with backoff (5xx, connection reset).
    #[error("transient marketplace failure: {0}")]
    Transient(String),
    /// No answer in time; the call may or may not have been applied.
    #[error("the marketplace did not answer in time")]
    Timeout,
    /// Compare-and-set lost for a whole call.
    #[error("the listing changed since the last confirmed quantity")]
    Stale,
    /// A failure retrying will not fix.
    #[error("permanent marketplace failure ({kind:?}): {message}")]
    Permanent {
        /// Which kind.
        kind: PermanentKind,
        /// The marketplace's message, for logs and the channel's last error (never a label).
        message: String,
    },
}

impl MarketplaceError {
    /// Returns a stable, bounded name of the error, for metric labels.
    pub fn kind(&self) -> &'static str {
        match self {
            MarketplaceError::Throttled { .. } => "throttled",
            MarketplaceError::Transient(_) => "transient",
            MarketplaceError::Timeout => "timeout",
            MarketplaceError::Stale => "stale",
            MarketplaceError::Permanent { kind, .. } => match kind {
                PermanentKind::Auth => "auth",
                PermanentKind::NotFound => "not_found",
                PermanentKind::ListingSuspended => "listing_suspended",
                PermanentKind::AccountFlagged => "account_flagged",
                PermanentKind::Invalid => "invalid",
            },
        }
    }

    /// Returns the `outcome` label of `shelfsync_marketplace_requests_total` for this error.
    pub fn outcome(&self) -> &'static str {
        match self {
            MarketplaceError::Throttled { .. } => "throttled",
            MarketplaceError::Timeout => "timeout",
            _ => "error",
        }
    }

    /// Tells whether retrying later may succeed.
    pub fn is_retryable(&self) -> bool {
        !matches!(self, MarketplaceError::Permanent { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_map_to_bounded_kinds_and_outcomes() {
        let throttled = MarketplaceError::Throttled {
            retry_after: Some(Duration::from_secs(2)),
        };
        assert_eq!(
            (throttled.kind(), throttled.outcome()),
            ("throttled", "throttled")
        );
        assert_eq!(MarketplaceError::Timeout.outcome(), "timeout");
        let suspended = MarketplaceError::Permanent {
            kind: PermanentKind::ListingSuspended,
            message: "listing 123 suspended".into(),
        };
        assert_eq!(
            (suspended.kind(), suspended.outcome()),
            ("listing_suspended", "error")
        );
        assert!(!suspended.is_retryable());
        assert!(MarketplaceError::Transient("502".into()).is_retryable());
    }
}
