//! Rate-limit overrides: what an operator writes when a channel's (or an app's) marketplace allows
//! something other than the default, for example a Shopify Plus store (1000 points/s) or an Etsy
//! app with 150 QPS / 100,000 QPD (reference §1.3, §2.3).
//!
//! An override states the *marketplace's* limit, as its portal or headers show it; the engine
//! keeps the same headroom below it as below the defaults ([`super::defaults::RATE_HEADROOM`]), so
//! an override never makes the engine run at the remote's edge.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::platform::Platform;
use crate::platform::{Bucket, Operation, RemoteLimit, ShortTermLimit};

/// The slowest accepted rate: about one call per 28 hours (Amazon's slowest documented plan,
/// `createFeed`, is 0.0083/s).
pub const MIN_PER_SECOND: f64 = 1e-5;

/// The fastest accepted rate; no marketplace documents anything near it.
pub const MAX_PER_SECOND: f64 = 1e6;

/// The longest time a burst may take to refill; a bigger burst at a slow rate is a typo.
pub const MAX_REFILL_SECONDS: f64 = 7.0 * 24.0 * 3600.0;

/// Why a rate-limit override was refused. Each message says which value is wrong and why.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RateLimitConfigError {
    /// A number is NaN or infinite.
    #[error("{field} must be a finite number, got {value}")]
    NotFinite {
        /// The field.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A number is zero or negative.
    #[error("{field} must be above 0, got {value}")]
    NotPositive {
        /// The field.
        field: &'static str,
        /// The value given.
        value: f64,
    },
    /// A number is outside the accepted range.
    #[error("{field} must be between {min} and {max}, got {value}")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value given.
        value: f64,
        /// The smallest accepted value.
        min: f64,
        /// The largest accepted value.
        max: f64,
    },
    /// The burst would take longer than [`MAX_REFILL_SECONDS`] to refill at the rate.
    #[error(
        "burst {burst} takes {seconds:.0} s to refill at {per_second}/s; at most 7 days is allowed"
    )]
    RefillTooSlow {
        /// The burst.
        burst: u32,
        /// The rate.
        per_second: f64,
        /// The refill time.
        seconds: f64,
    },
    /// A burst was given for a limit that has no separate burst.
    #[error("{bucket} counts whole calls in each second: set per_second, not burst")]
    BurstOnWindow {
        /// The bucket.
        bucket: Bucket,
    },
    /// A per-second counter was given a fraction of a call.
    #[error(
        "{bucket} counts whole calls in each second: per_second must be at least 1, got {value}"
    )]
    FractionalWindow {
        /// The bucket.
        bucket: Bucket,
        /// The value given.
        value: f64,
    },
    /// A burst was given where there is no per-second rate to go with it.
    #[error("{bucket} has no per-second limit: give per_second along with burst")]
    BurstWithoutRate {
        /// The bucket.
        bucket: Bucket,
    },
    /// A channel override targets a budget shared by every client of the app.
    #[error(
        "{operation} on {platform} draws on {bucket}, shared by every client of the app key: \
         set it on the app, not on a channel"
    )]
    AppWideBucket {
        /// The platform.
        platform: Platform,
        /// The operation.
        operation: Operation,
        /// The bucket.
        bucket: Bucket,
    },
    /// An app override targets a budget that belongs to each channel.
    #[error(
        "{operation} on {platform} draws on {bucket}, a budget of each store or seller: \
         set it on the channel, not on the app"
    )]
    ChannelBucket {
        /// The platform.
        platform: Platform,
        /// The operation.
        operation: Operation,
        /// The bucket.
        bucket: Bucket,
    },
    /// Two operations sharing one bucket were both given an override.
    #[error("{first} and {second} share {bucket} on {platform}: give the override once")]
    SharedBucket {
        /// The platform.
        platform: Platform,
        /// The bucket.
        bucket: Bucket,
        /// The first operation.
        first: Operation,
        /// The second operation.
        second: Operation,
    },
    /// An error in the override of one operation.
    #[error("{operation}: {source}")]
    InOperation {
        /// The operation whose override is wrong.
        operation: Operation,
        /// What is wrong with it.
        source: Box<RateLimitConfigError>,
    },
}

impl RateLimitConfigError {
    /// Returns a stable, bounded name of the error, for API error codes.
    pub fn kind(&self) -> &'static str {
        match self {
            RateLimitConfigError::NotFinite { .. } => "not_finite",
            RateLimitConfigError::NotPositive { .. } => "not_positive",
            RateLimitConfigError::OutOfRange { .. } => "out_of_range",
            RateLimitConfigError::RefillTooSlow { .. } => "refill_too_slow",
            RateLimitConfigError::BurstOnWindow { .. } => "burst_on_window",
            RateLimitConfigError::FractionalWindow { .. } => "fractional_window",
            RateLimitConfigError::BurstWithoutRate { .. } => "burst_without_rate",
            RateLimitConfigError::AppWideBucket { .. } => "app_wide_bucket",
            RateLimitConfigError::ChannelBucket { .. } => "channel_bucket",
            RateLimitConfigError::SharedBucket { .. } => "shared_bucket",
            RateLimitConfigError::InOperation { source, .. } => source.kind(),
        }
    }
}

/// A change to one budget's documented limit: each field given replaces the default's.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimitOverride {
    /// The sustained rate per second (Shopify: points restored per second; Etsy: QPS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_second: Option<f64>,
    /// The bucket's depth (Shopify: `maximumAvailable`; Amazon: burst).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub burst: Option<u32>,
    /// The daily quota (Etsy QPD; eBay's daily call limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_day: Option<u32>,
}

impl RateLimitOverride {
    /// Checks each number on its own: positive, finite and within the accepted range.
    pub fn validate(&self) -> Result<(), RateLimitConfigError> {
        if let Some(per_second) = self.per_second {
            check_per_second(per_second)?;
        }
        if self.burst == Some(0) {
            return Err(RateLimitConfigError::NotPositive {
                field: "burst",
                value: 0.0,
            });
        }
        if self.per_day == Some(0) {
            return Err(RateLimitConfigError::NotPositive {
                field: "per_day",
                value: 0.0,
            });
        }
        Ok(())
    }

    /// Returns `remote` with this override applied to `bucket`, or says why it does not fit.
    pub fn apply(
        &self,
        bucket: Bucket,
        remote: RemoteLimit,
    ) -> Result<RemoteLimit, RateLimitConfigError> {
        self.validate()?;
        let short_term = match (remote.short_term, self.per_second, self.burst) {
            (Some(ShortTermLimit::PerSecondWindow { .. }), _, Some(_)) => {
                return Err(RateLimitConfigError::BurstOnWindow { bucket });
            }
            (Some(ShortTermLimit::PerSecondWindow { per_second }), per_second_override, None) => {
                let per_second = match per_second_override {
                    None => per_second,
                    Some(value) if value < 1.0 => {
                        return Err(RateLimitConfigError::FractionalWindow { bucket, value });
                    }
                    // A fraction of a call is rounded down: the counter only holds whole calls.
                    Some(value) => value.floor() as u32,
                };
                Some(ShortTermLimit::PerSecondWindow { per_second })
            }
            (Some(ShortTermLimit::TokenBucket { per_second, burst }), rate, new_burst) => {
                Some(ShortTermLimit::TokenBucket {
                    per_second: rate.unwrap_or(per_second),
                    burst: new_burst.unwrap_or(burst),
                })
            }
            // A budget without a short-term limit (eBay) may be given one; its burst defaults
            // to one second's worth.
            (None, Some(per_second), burst) => Some(ShortTermLimit::TokenBucket {
                per_second,
                burst: burst.unwrap_or(per_second.ceil() as u32).max(1),
            }),
            (None, None, Some(_)) => {
                return Err(RateLimitConfigError::BurstWithoutRate { bucket });
            }
            (None, None, None) => None,
        };
        if let Some(ShortTermLimit::TokenBucket { per_second, burst }) = short_term {
            let seconds = f64::from(burst) / per_second;
            if seconds > MAX_REFILL_SECONDS {
                return Err(RateLimitConfigError::RefillTooSlow {
                    burst,
                    per_second,
                    seconds,
                });
            }
        }
        Ok(RemoteLimit {
            short_term,
            per_day: self.per_day.or(remote.per_day),
        })
    }
}

fn check_per_second(value: f64) -> Result<(), RateLimitConfigError> {
    let field = "per_second";
    if !value.is_finite() {
        return Err(RateLimitConfigError::NotFinite { field, value });
    }
    if value <= 0.0 {
        return Err(RateLimitConfigError::NotPositive { field, value });
    }
    if !(MIN_PER_SECOND..=MAX_PER_SECOND).contains(&value) {
        return Err(RateLimitConfigError::OutOfRange {
            field,
            value,
            min: MIN_PER_SECOND,
            max: MAX_PER_SECOND,
        });
    }
    Ok(())
}

/// Where a set of overrides is configured, which decides the buckets it may touch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OverrideTarget {
    /// On one channel: budgets of one store or seller.
    Channel,
    /// On an app key: budgets shared by every client using the app (Etsy, eBay).
    App,
}

/// The overrides of one channel or app, by operation (configuration:
/// `{ "push_quantities": { "per_second": 1000, "burst": 2000 } }`). Operations that share a bucket
/// (all three on Shopify GraphQL and Etsy; push and read on eBay) take one override between them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RateLimitOverrides(pub BTreeMap<Operation, RateLimitOverride>);

impl RateLimitOverrides {
    /// Returns the limit each overridden bucket of `platform` ends up with, or says what is
    /// wrong: a bad number, a bucket the target may not set, or one bucket given twice.
    pub fn resolve(
        &self,
        platform: Platform,
        target: OverrideTarget,
    ) -> Result<BTreeMap<Bucket, RemoteLimit>, RateLimitConfigError> {
        let mut resolved: BTreeMap<Bucket, (Operation, RemoteLimit)> = BTreeMap::new();
        for (&operation, change) in &self.0 {
            let bucket = Bucket::for_operation(platform, operation);
            match (target, bucket.scope().is_app_wide()) {
                (OverrideTarget::Channel, true) => {
                    return Err(RateLimitConfigError::AppWideBucket {
                        platform,
                        operation,
                        bucket,
                    });
                }
                (OverrideTarget::App, false) => {
                    return Err(RateLimitConfigError::ChannelBucket {
                        platform,
                        operation,
                        bucket,
                    });
                }
                _ => {}
            }
            if let Some(&(first, _)) = resolved.get(&bucket) {
                return Err(RateLimitConfigError::SharedBucket {
                    platform,
                    bucket,
                    first,
                    second: operation,
                });
            }
            let remote = change
                .apply(bucket, bucket.default_limit())
                .map_err(|error| RateLimitConfigError::InOperation {
                    operation,
                    source: Box::new(error),
                })?;
            resolved.insert(bucket, (operation, remote));
        }
        Ok(resolved
            .into_iter()
            .map(|(bucket, (_, remote))| (bucket, remote))
            .collect())
    }
}
