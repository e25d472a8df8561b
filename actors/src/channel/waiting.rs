//! Why a channel is not doing something right now (DESIGN §4, "A waiting channel says why").
//!
//! A channel with pending changes that does not push, an order feed that is not read, a
//! reconciliation that cannot run: each has a reason and, where it is a wait, until when. The
//! ChannelActor keeps one [`Waiting`] per activity and shows it in its state (and so in
//! `GET …/channels`); a change pending for longer than the channel's limit is logged at `warn`
//! with the reason and counted ([`StallWatch`]). Before this, a channel whose client's share of
//! Etsy's daily budget ran dry sat with pending changes, no error and nothing on stderr for
//! minutes (issue 12).
//!
//! Plain data, no actix; instants are tokio's, so paused-time tests drive them.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use crate::ratelimit::WaitReason as LimitReason;

/// Why an activity of the channel waits. The snake_case name is the `reason` label of
/// `shelfsync_channel_stalls_total` and what `GET …/channels` shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WaitReason {
    /// A call is in flight; its answer is awaited.
    InFlight,
    /// The client's share of an app-wide budget (Etsy's app, eBay's) is used up while another
    /// client of the app wants the rest.
    ClientShare,
    /// The budget's short-term pacing (the app's, store's or seller's) is used up.
    Budget,
    /// The budget's daily quota pacing is used up.
    DailyQuota,
    /// The operation's part of a budget shared by several operations is used up (order polls
    /// and read-backs never take all of it, so that pushes keep room).
    OperationShare,
    /// The marketplace throttled a call and said when to come back (or 1 s when it did not).
    RetryAfter,
    /// The last call failed; the channel backs off before trying again.
    Backoff,
    /// An increase waits until the order feed has been read past the previous push of its SKU,
    /// so that it never overwrites a sale the marketplace made meanwhile (the no-re-raise rule).
    OrderFeed,
    /// The marketplace cannot show new orders yet (Amazon's order-visibility lag): the poll would
    /// be a request for nothing.
    FeedLag,
    /// Nothing is due yet: the next poll or read-back waits for its interval.
    Interval,
}

impl WaitReason {
    /// Every reason, in a fixed order.
    pub const ALL: [WaitReason; 10] = [
        WaitReason::InFlight,
        WaitReason::ClientShare,
        WaitReason::Budget,
        WaitReason::DailyQuota,
        WaitReason::OperationShare,
        WaitReason::RetryAfter,
        WaitReason::Backoff,
        WaitReason::OrderFeed,
        WaitReason::FeedLag,
        WaitReason::Interval,
    ];

    /// Returns the reason's stable name.
    pub fn as_str(self) -> &'static str {
        match self {
            WaitReason::InFlight => "in_flight",
            WaitReason::ClientShare => "client_share",
            WaitReason::Budget => "budget",
            WaitReason::DailyQuota => "daily_quota",
            WaitReason::OperationShare => "operation_share",
            WaitReason::RetryAfter => "retry_after",
            WaitReason::Backoff => "backoff",
            WaitReason::OrderFeed => "order_feed",
            WaitReason::FeedLag => "feed_lag",
            WaitReason::Interval => "interval",
        }
    }
}

impl From<LimitReason> for WaitReason {
    fn from(reason: LimitReason) -> Self {
        match reason {
            LimitReason::Throttled => WaitReason::RetryAfter,
            LimitReason::Pacing => WaitReason::Budget,
            LimitReason::DailyQuota => WaitReason::DailyQuota,
            LimitReason::FairShare => WaitReason::ClientShare,
            LimitReason::OperationShare => WaitReason::OperationShare,
        }
    }
}

/// One activity's wait: why, since when, and until when if it is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Waiting {
    /// Why.
    pub reason: WaitReason,
    /// Since when (kept while the reason stays the same).
    pub since: Instant,
    /// When the activity will be tried again, if known.
    pub until: Option<Instant>,
}

impl Waiting {
    /// A wait for `reason` from `now`, until `until` if known; `previous` keeps its start when
    /// the reason did not change.
    pub fn new(
        previous: Option<Waiting>,
        reason: WaitReason,
        now: Instant,
        until: Option<Instant>,
    ) -> Waiting {
        let since = previous
            .filter(|previous| previous.reason == reason)
            .map_or(now, |previous| previous.since);
        Waiting {
            reason,
            since,
            until,
        }
    }

    /// The wait as the channel's state shows it, at `now`.
    pub fn view(&self, now: Instant) -> WaitView {
        WaitView {
            reason: self.reason,
            for_ms: duration_ms(now.saturating_duration_since(self.since)),
            remaining_ms: self
                .until
                .map(|until| duration_ms(until.saturating_duration_since(now))),
        }
    }
}

/// A wait as shown in the channel's state (relative times: the state is read on another clock
/// than the actor's).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct WaitView {
    /// Why.
    pub reason: WaitReason,
    /// How long the activity has waited for this reason, in milliseconds.
    pub for_ms: u64,
    /// How long until it is tried again, in milliseconds, if known.
    pub remaining_ms: Option<u64>,
}

/// Milliseconds of a duration, saturating.
pub fn duration_ms(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

/// Decides when a change pending for too long is reported: once when the oldest pending change
/// passes the limit, then again each time its age doubles (60 s, 120 s, 240 s…), so that a
/// long stall stays visible in the log without a line per second; a channel back in step starts
/// over.
#[derive(Debug, Clone)]
pub struct StallWatch {
    limit: Duration,
    next_report: Duration,
}

impl StallWatch {
    /// Reports changes pending for longer than `limit`.
    pub fn new(limit: Duration) -> Self {
        Self {
            limit,
            next_report: limit,
        }
    }

    /// The limit.
    pub fn limit(&self) -> Duration {
        self.limit
    }

    /// Looks at the age of the oldest pending change (`None`: nothing pending); returns true
    /// when it is time to report it.
    pub fn observe(&mut self, oldest_pending: Option<Duration>) -> bool {
        match oldest_pending {
            Some(age) if age >= self.next_report => {
                while self.next_report <= age {
                    self.next_report = self.next_report.saturating_mul(2);
                }
                true
            }
            Some(age) if age >= self.limit => false,
            _ => {
                self.next_report = self.limit;
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stall_is_reported_when_it_passes_the_limit_then_as_its_age_doubles() {
        let mut watch = StallWatch::new(Duration::from_secs(60));
        let secs = |s| Some(Duration::from_secs(s));
        assert!(!watch.observe(secs(59)));
        assert!(watch.observe(secs(60)));
        assert!(!watch.observe(secs(61)));
        assert!(!watch.observe(secs(119)));
        assert!(watch.observe(secs(121)));
        assert!(!watch.observe(secs(200)));
        assert!(watch.observe(secs(500)), "past 240");
        assert!(!watch.observe(secs(510)));
        // Back in step: the next stall is reported at the limit again.
        assert!(!watch.observe(None));
        assert!(watch.observe(secs(60)));
    }

    #[test]
    fn a_wait_keeps_its_start_while_its_reason_stays() {
        let start = Instant::now();
        let later = start + Duration::from_secs(5);
        let first = Waiting::new(None, WaitReason::DailyQuota, start, None);
        let same = Waiting::new(Some(first), WaitReason::DailyQuota, later, Some(later));
        assert_eq!(same.since, start);
        let other = Waiting::new(Some(same), WaitReason::Backoff, later, None);
        assert_eq!(other.since, later);
        let view = same.view(start + Duration::from_secs(3));
        assert_eq!((view.for_ms, view.remaining_ms), (3000, Some(2000)));
    }

    #[test]
    fn every_limiter_reason_has_a_channel_reason() {
        for (limit, channel) in [
            (LimitReason::Throttled, WaitReason::RetryAfter),
            (LimitReason::Pacing, WaitReason::Budget),
            (LimitReason::DailyQuota, WaitReason::DailyQuota),
            (LimitReason::FairShare, WaitReason::ClientShare),
            (LimitReason::OperationShare, WaitReason::OperationShare),
        ] {
            assert_eq!(WaitReason::from(limit), channel);
        }
        let names: std::collections::BTreeSet<&str> = WaitReason::ALL
            .iter()
            .map(|reason| reason.as_str())
            .collect();
        assert_eq!(names.len(), WaitReason::ALL.len());
    }
}
