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
//! - **Shares by weight, without waste.** Where clients share an app budget (Etsy, eBay), each
//!   client is guaranteed weight / total weight of both the short-term rate and the daily quota,
//!   by service tier (Standard 1, Premium 2, Enterprise 4), and may **borrow** what the others
//!   leave idle: a call beyond its share goes when the app's own limit has room, unless another
//!   client was refused by the app's limit while within its own share in the last two of the
//!   budget's intervals (it was crowded out); then shares are strict until that client got its
//!   turn. Strict shares at all times (the first design) starved a standard-tier Etsy shop for
//!   minutes while the other shop's share and the app's budget sat idle (issue 12). Shares are
//!   recomputed when a client joins or leaves the app or changes weight; the app's whole budget
//!   is enforced on top, so the sum never exceeds it.
//! - **Polls and read-backs take a part, pushes the rest.** On a budget several operations share
//!   (Shopify GraphQL, Etsy, eBay's Inventory API), order polls may take at most
//!   [`defaults::ORDER_POLL_SHARE`] and read-backs [`defaults::READ_BACK_SHARE`] of the client's
//!   own budget: a poll runs only as often as the quota affords (a channel asks for a poll every
//!   `poll_interval` and waits longer when its part says so), and pushes are never starved by the
//!   same client's polls. Pushes have no part of their own and may borrow.
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
pub use self::defaults::{Pacing, Rate, RateLimitSpec};
pub use self::limiter::{
    AppId, LimiterKey, Owner, RateLimiters, RequestKey, ServiceTier, Wait, WaitReason,
};
pub use self::overrides::{
    OverrideTarget, RateLimitConfigError, RateLimitOverride, RateLimitOverrides,
};
// The documented limits and the vocabulary they are written in are the platforms' description,
// on the engine's ground floor; the rate limits read them.
pub use self::throttle::{ThrottleGate, ThrottleSignal, DEFAULT_THROTTLE_WAIT, MAX_THROTTLE_WAIT};
pub use crate::platform::{Bucket, Operation, RemoteLimit, Scope, ShortTermLimit, Unit};
