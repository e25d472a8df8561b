//! Listing policy: how a channel turns the ledger's `available` into the quantity it lists.
//! Pure functions, property-tested.

use serde::{Deserialize, Serialize};

/// Why a policy is not valid.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    /// `percent` is above 100.
    #[error("percent {0} is out of range: expected 0 to 100")]
    PercentOutOfRange(u8),
}

impl PolicyError {
    /// Returns a stable, bounded name of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            PolicyError::PercentOutOfRange(_) => "percent_out_of_range",
        }
    }
}

/// The listing policy of one channel.
///
/// The steps, in order: below `zero_below` units available the channel lists 0 (a store that is
/// nearly out stops selling everywhere rather than oversell); otherwise it holds back `buffer`
/// units, lists `percent` of the rest rounded down, and never more than `max`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ListingPolicy {
    /// Units held back from this channel (safety stock).
    #[serde(default)]
    pub buffer: u32,
    /// Percent of the remaining units listed, 0–100, rounded down.
    #[serde(default = "full_percent")]
    pub percent: u8,
    /// The most units ever listed; `None` lists without a cap.
    #[serde(default)]
    pub max: Option<u32>,
    /// List 0 while fewer than this many units are available.
    #[serde(default)]
    pub zero_below: u32,
}

const fn full_percent() -> u8 {
    100
}

impl Default for ListingPolicy {
    /// Lists everything available: no buffer, 100 %, no cap, no threshold.
    fn default() -> Self {
        Self {
            buffer: 0,
            percent: full_percent(),
            max: None,
            zero_below: 0,
        }
    }
}

impl ListingPolicy {
    /// Checks the policy's fields.
    pub fn validate(&self) -> Result<(), PolicyError> {
        if self.percent > 100 {
            return Err(PolicyError::PercentOutOfRange(self.percent));
        }
        Ok(())
    }

    /// Returns the quantity to list when the ledger shows `available` (negative after an
    /// oversell). Never negative, never above `available`, never above `max`.
    pub fn target(&self, available: i64) -> u32 {
        if available < i64::from(self.zero_below) || available <= 0 {
            return 0;
        }
        let after_buffer = (available - i64::from(self.buffer)).max(0);
        let percent = i64::from(self.percent.min(100));
        // `available` is bounded by the ledger (±10^15), so the product cannot overflow.
        let share = after_buffer * percent / 100;
        let capped = match self.max {
            Some(max) => share.min(i64::from(max)),
            None => share,
        };
        u32::try_from(capped).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn each_step_in_order() {
        let policy = ListingPolicy {
            buffer: 2,
            percent: 50,
            max: Some(10),
            zero_below: 3,
        };
        assert_eq!(policy.target(2), 0, "below the threshold");
        assert_eq!(policy.target(3), 0, "(3 − 2) × 50 % rounds down to 0");
        assert_eq!(policy.target(7), 2, "(7 − 2) × 50 % = 2.5, rounded down");
        assert_eq!(policy.target(100), 10, "capped");
        assert_eq!(
            ListingPolicy::default().target(-4),
            0,
            "an oversold SKU lists 0"
        );
        assert_eq!(ListingPolicy::default().target(5), 5);
    }

    #[test]
    fn percent_above_100_is_rejected() {
        let policy = ListingPolicy {
            percent: 101,
            ..ListingPolicy::default()
        };
        assert_eq!(
            policy.validate().unwrap_err().to_string(),
            "percent 101 is out of range: expected 0 to 100"
        );
        assert!(ListingPolicy::default().validate().is_ok());
    }

    #[test]
    fn policy_fields_default_when_omitted() {
        let policy: ListingPolicy = serde_json::from_str(r#"{"buffer": 1}"#).unwrap();
        assert_eq!(
            policy,
            ListingPolicy {
                buffer: 1,
                ..ListingPolicy::default()
            }
        );
        assert!(serde_json::from_str::<ListingPolicy>(r#"{"bufer": 1}"#).is_err());
    }

    fn policies() -> impl Strategy<Value = ListingPolicy> {
        (0..20u32, 0..=100u8, prop::option::of(0..50u32), 0..10u32).prop_map(
            |(buffer, percent, max, zero_below)| ListingPolicy {
                buffer,
                percent,
                max,
                zero_below,
            },
        )
    }

    proptest! {
        #[test]
        fn never_lists_more_than_available_or_max(policy in policies(), available in -100..1000i64) {
            let target = i64::from(policy.target(available));
            prop_assert!(target <= available.max(0));
            prop_assert!(policy.max.is_none_or(|max| target <= i64::from(max)));
            prop_assert!(target <= (available - i64::from(policy.buffer)).max(0));
        }

        #[test]
        fn more_stock_never_lists_less(policy in policies(), available in -100..1000i64, more in 0..100i64) {
            prop_assert!(policy.target(available + more) >= policy.target(available));
        }

        #[test]
        fn below_the_threshold_lists_zero(policy in policies(), available in -100..1000i64) {
            if available < i64::from(policy.zero_below) {
                prop_assert_eq!(policy.target(available), 0);
            }
        }

        #[test]
        fn full_policy_lists_exactly_available(available in 0..1_000_000i64) {
            prop_assert_eq!(i64::from(ListingPolicy::default().target(available)), available);
        }
    }
}
