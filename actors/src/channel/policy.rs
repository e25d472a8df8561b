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
    /// oversell). Never negative, never above `available`, never above `max`, and correct for
    /// every `i64` (issue 12: a wrapped `available` near `i64::MAX` overflowed the percent
    /// product). A listing cannot show more than `u32::MAX` units, so more than that available
    /// lists `u32::MAX` (still never above `available`).
    pub fn target(&self, available: i64) -> u32 {
        if available <= 0 || available < i64::from(self.zero_below) {
            return 0;
        }
        // In i128, where `available − buffer` and its product with a percent cannot overflow for
        // any i64 and u32: exact, with no bound to trust from the ledger.
        let after_buffer = (i128::from(available) - i128::from(self.buffer)).max(0);
        let share = after_buffer * i128::from(self.percent.min(100)) / 100;
        let capped = match self.max {
            Some(max) => share.min(i128::from(max)),
            None => share,
        };
        u32::try_from(capped).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::testing::ledger::EDGE_QUANTITIES;

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

    /// The finding of issue 12: `available` near i64::MAX overflowed the percent product (a
    /// panic in debug, a wrapped target in release).
    #[test]
    fn the_target_of_i64_max_and_i64_min_does_not_overflow() {
        let policy = ListingPolicy {
            buffer: 3,
            percent: 50,
            max: None,
            zero_below: 0,
        };
        assert_eq!(policy.target(i64::MAX), u32::MAX);
        assert_eq!(policy.target(i64::MIN), 0);
        let capped = ListingPolicy {
            max: Some(7),
            ..policy
        };
        assert_eq!(capped.target(i64::MAX), 7);
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

    /// Any policy, the field edges included (a percent above 100 is refused by `validate` but
    /// `target` must still be safe with it).
    fn any_policy() -> impl Strategy<Value = ListingPolicy> {
        let edge_u32 = || {
            prop_oneof![
                Just(0u32),
                Just(1),
                Just(u32::MAX - 1),
                Just(u32::MAX),
                any::<u32>()
            ]
        };
        (
            edge_u32(),
            prop_oneof![
                Just(0u8),
                Just(1),
                Just(99),
                Just(100),
                Just(101),
                Just(u8::MAX),
                any::<u8>()
            ],
            prop::option::of(edge_u32()),
            edge_u32(),
        )
            .prop_map(|(buffer, percent, max, zero_below)| ListingPolicy {
                buffer,
                percent,
                max,
                zero_below,
            })
    }

    /// Any `available`, the edges most of the time: issue 12's, and one past 2³² (where a cast
    /// to u32 would land on 1).
    fn any_available() -> impl Strategy<Value = i64> {
        let edges = [&EDGE_QUANTITIES[..], &[(1 << 32) + 1]].concat();
        prop_oneof![3 => prop::sample::select(edges), 1 => any::<i64>()]
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

        /// Every i64 and every policy: the target is what exact arithmetic gives (computed here
        /// in u128 from the policy's steps, apart from the i128 code under test), within every
        /// bound, and monotonic.
        #[test]
        fn the_target_is_exact_for_every_i64(
            policy in any_policy(),
            available in any_available(),
            more in prop_oneof![Just(0i64), Just(1), Just(i64::MAX), any::<i64>().prop_map(i64::unsigned_abs).prop_map(|more| (more / 2) as i64)],
        ) {
            let target = policy.target(available);
            let expected = if available <= 0 || available < i64::from(policy.zero_below) {
                0
            } else {
                let available = available.unsigned_abs() as u128;
                let after_buffer = available.saturating_sub(u128::from(policy.buffer));
                let share = after_buffer * u128::from(policy.percent.min(100)) / 100;
                let capped = policy.max.map_or(share, |max| share.min(u128::from(max)));
                capped.min(u128::from(u32::MAX))
            };
            prop_assert_eq!(u128::from(target), expected);
            prop_assert!(i128::from(target) <= i128::from(available).max(0));
            prop_assert!(policy.max.is_none_or(|max| target <= max));
            prop_assert!(
                i128::from(target) <= (i128::from(available) - i128::from(policy.buffer)).max(0)
            );
            let larger = available.saturating_add(more);
            prop_assert!(policy.target(larger) >= target, "{larger} lists less than {available}");
        }
    }
}
