//! Rate limits (DESIGN §4, "Rate limits by governor"): how fast the engine may call each
//! marketplace, so that steady state causes zero 429s, and what it does when a marketplace
//! throttles or fails anyway. Plain types, no actix: the ChannelActor asks
//! [`RateLimiters::check`] before a call and, on [`Wait`], schedules its own retry.
//!
//! - [`defaults`]: the table of platform defaults. Each engine [`Operation`] maps onto the
//!   platform's own call and its rate-limit [`Bucket`]; each bucket carries what the marketplace
//!   documents ([`RemoteLimit`], numbers cited from `reference/marketplace-apis.md`) and the
//!   engine paces itself below it ([`Pacing`]: 90 % of the rate, a burst under the remote's).
//! - [`overrides`]: per-channel (and per-app) overrides of the documented limits, validated.
//! - [`limiter`]: the registry. Budgets are keyed as each platform scopes them: Shopify per
//!   app+store, Amazon per seller and operation, Walmart per seller and endpoint, Etsy per app key
//!   and eBay per app and API, the last two shared by every client using the app.
//! - [`throttle`]: the marketplace's own throttle (`Retry-After`, Shopify's `throttleStatus`) on
//!   top of governor, per key.
//! - [`backoff`]: exponential backoff with seeded jitter for 5xx and timeouts.
//!
//! Decisions:
//!
//! - **Strict shares.** Where clients share an app budget (Etsy, eBay), each client gets the
//!   share weight / total weight of both the short-term rate and the daily quota, by service tier
//!   (Standard 1, Premium 2, Enterprise 4). A client's unused share is not lent to others:
//!   lending would need a priority scheme to give it back without starving the lender, and strict
//!   shares make "one busy client cannot starve the others" hold by construction. Shares are
//!   recomputed when a client joins or leaves the app or changes weight. On top of the shares,
//!   the app's whole budget is enforced too, so the sum never exceeds it even when rounding each
//!   share up to a burst of one call would.
//! - **Overrides state the marketplace's limit** (what its portal or headers say), and the
//!   engine keeps its usual headroom below it.
//! - **Costs above a burst are clamped**: a call costing more than a limiter's burst (a large
//!   Shopify query) waits for a full bucket instead of never passing.
//! - **A throttle without a wait costs 1 s** (Shopify's advice), capped at a day.

pub mod backoff;
pub mod defaults;
pub mod limiter;
pub mod overrides;
pub mod throttle;

#[cfg(test)]
mod tests;

pub use self::backoff::{Backoff, BackoffConfig, Jitter};
pub use self::defaults::{
    Bucket, Operation, Pacing, Rate, RateLimitSpec, RemoteLimit, Scope, ShortTermLimit, Unit,
};
pub use self::limiter::{
    AppId, LimiterKey, Owner, RateLimiters, RequestKey, ServiceTier, Wait, WaitReason,
};
pub use self::overrides::{
    OverrideTarget, RateLimitConfigError, RateLimitOverride, RateLimitOverrides,
};
pub use self::throttle::{ThrottleGate, ThrottleSignal, DEFAULT_THROTTLE_WAIT, MAX_THROTTLE_WAIT};
