//! The marketplace's own word on top of governor: when a call is throttled, nothing more is sent
//! on that key until the marketplace said to come back (reliability.md §5, "Scope": governor
//! paces our requests but does not know the server's state).

use std::time::Duration;

use governor::clock::Reference;
use governor::nanos::Nanos;

use crate::platform::MarketplaceError;

/// The wait after a throttle that did not say how long: Shopify's advice to back off 1 s
/// (reference §1.3), also used for Etsy, Amazon and eBay 429s without `Retry-After` (§2.3, §3.3,
/// §5.3).
pub const DEFAULT_THROTTLE_WAIT: Duration = Duration::from_secs(1);

/// The longest wait a throttle may impose: a day covers eBay's daily quota reset and Etsy's QPD
/// window (reference §2.3, §5.3); anything longer is a broken header, not a plan.
pub const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(24 * 60 * 60);

/// What a marketplace said when it throttled a call.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ThrottleSignal {
    /// A throttled reply with its `Retry-After`, if it had one: HTTP 429 from Shopify REST
    /// (`Retry-After: 2.0`), Etsy (`retry-after`), Amazon (`QuotaExceeded`), Walmart (the
    /// connector turns `X-Next-Replenishment-Time` into this wait) and eBay (`errorId 2001`).
    RetryAfter(Option<Duration>),
    /// Shopify GraphQL's `THROTTLED` with its `throttleStatus` (reference §1.3).
    ShopifyThrottleStatus {
        /// `requestedQueryCost` of the refused query.
        requested_cost: f64,
        /// `currentlyAvailable` points.
        currently_available: f64,
        /// `restoreRate` in points per second.
        restore_rate: f64,
    },
}

impl ThrottleSignal {
    /// Returns the signal carried by a marketplace error, if it is a throttle.
    pub fn from_error(error: &MarketplaceError) -> Option<ThrottleSignal> {
        match error {
            MarketplaceError::Throttled { retry_after } => {
                Some(ThrottleSignal::RetryAfter(*retry_after))
            }
            _ => None,
        }
    }

    /// Returns how long nothing may be sent: the marketplace's own wait, or
    /// [`DEFAULT_THROTTLE_WAIT`] when it gave none (or zero), capped at [`MAX_THROTTLE_WAIT`].
    pub fn wait(&self) -> Duration {
        let wait = match *self {
            ThrottleSignal::RetryAfter(retry_after) => retry_after.unwrap_or(Duration::ZERO),
            // §1.3: "The wait is (requestedCost − currentlyAvailable) / restoreRate".
            ThrottleSignal::ShopifyThrottleStatus {
                requested_cost,
                currently_available,
                restore_rate,
            } => {
                let seconds = (requested_cost - currently_available) / restore_rate;
                if seconds.is_finite() && seconds > 0.0 {
                    Duration::try_from_secs_f64(seconds).unwrap_or(MAX_THROTTLE_WAIT)
                } else {
                    Duration::ZERO
                }
            }
        };
        // A throttle that names no wait (or zero) still costs a pause: coming straight back
        // would only be throttled again.
        if wait.is_zero() {
            DEFAULT_THROTTLE_WAIT
        } else {
            wait.min(MAX_THROTTLE_WAIT)
        }
    }
}

/// The marketplace's throttle on one key: closed until an instant, open after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ThrottleGate<I> {
    closed_until: Option<I>,
}

impl<I> Default for ThrottleGate<I> {
    fn default() -> Self {
        ThrottleGate { closed_until: None }
    }
}

impl<I: Reference> ThrottleGate<I> {
    /// Creates an open gate.
    pub fn new() -> Self {
        Self::default()
    }

    /// Closes the gate for `wait` (at most [`MAX_THROTTLE_WAIT`]) from `now`; a gate already
    /// closed for longer stays so, since the marketplace's longer word still holds.
    pub fn close_for(&mut self, now: I, wait: Duration) {
        let until = now + Nanos::from(wait.min(MAX_THROTTLE_WAIT));
        self.closed_until = Some(match self.closed_until {
            Some(current) => current.max(until),
            None => until,
        });
    }

    /// Returns how long the gate stays closed from `now`, or `None` when it is open.
    pub fn wait_from(&self, now: I) -> Option<Duration> {
        let until = self.closed_until?;
        (until > now).then(|| Duration::from(until.duration_since(now)))
    }

    /// Tells whether the gate is open at `now`.
    pub fn is_open(&self, now: I) -> bool {
        self.wait_from(now).is_none()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shopify_throttle_status_gives_the_wait_for_the_missing_points() {
        // The community example of §1.3: 752 requested, 666 available, 50 points/s.
        let signal = ThrottleSignal::ShopifyThrottleStatus {
            requested_cost: 752.0,
            currently_available: 666.0,
            restore_rate: 50.0,
        };
        assert_eq!(signal.wait(), Duration::from_millis(1720));
    }

    #[test]
    fn a_throttle_without_a_wait_uses_the_default_and_huge_waits_are_capped() {
        assert_eq!(
            ThrottleSignal::RetryAfter(None).wait(),
            DEFAULT_THROTTLE_WAIT
        );
        assert_eq!(
            ThrottleSignal::RetryAfter(Some(Duration::ZERO)).wait(),
            DEFAULT_THROTTLE_WAIT
        );
        assert_eq!(
            ThrottleSignal::RetryAfter(Some(Duration::from_secs(2))).wait(),
            Duration::from_secs(2)
        );
        assert_eq!(
            ThrottleSignal::RetryAfter(Some(Duration::from_secs(10 * 86_400))).wait(),
            MAX_THROTTLE_WAIT
        );
        let broken = ThrottleSignal::ShopifyThrottleStatus {
            requested_cost: 10.0,
            currently_available: 0.0,
            restore_rate: 0.0,
        };
        assert_eq!(broken.wait(), DEFAULT_THROTTLE_WAIT);
    }

    #[test]
    fn only_throttles_carry_a_signal() {
        let throttled = MarketplaceError::Throttled {
            retry_after: Some(Duration::from_secs(3)),
        };
        assert_eq!(
            ThrottleSignal::from_error(&throttled),
            Some(ThrottleSignal::RetryAfter(Some(Duration::from_secs(3))))
        );
        assert_eq!(ThrottleSignal::from_error(&MarketplaceError::Timeout), None);
    }

    #[test]
    fn a_gate_opens_after_its_wait_and_never_shortens() {
        let start = Nanos::from(0);
        let mut gate = ThrottleGate::new();
        assert!(gate.is_open(start));
        gate.close_for(start, Duration::from_secs(5));
        gate.close_for(start, Duration::from_secs(1));
        assert_eq!(gate.wait_from(start), Some(Duration::from_secs(5)));
        let later = start + Nanos::from(Duration::from_secs(5));
        assert!(gate.is_open(later));
    }
}
