//! The stages a call passes on one budget: governor limiters in a chain, each with the cells
//! its callers already paid ([`Stage`]), and the parts of a budget built from them ([`Part`]).

use std::collections::HashMap;
use std::num::NonZeroU32;
use std::time::Duration;

use governor::clock::{Clock, Reference};
use governor::middleware::NoOpMiddleware;
use governor::state::{InMemoryState, NotKeyed};
use governor::RateLimiter;

use super::super::defaults::{Pacing, Rate};
use crate::ids::ClientCode;
use crate::platform::Operation;

type DirectLimiter<C> =
    RateLimiter<NotKeyed, InMemoryState, C, NoOpMiddleware<<C as Clock>::Instant>>;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Window {
    ShortTerm,
    Daily,
}

/// One governor limiter in the chain a call passes, with the cells already paid for by callers
/// whose call a later stage refused.
///
/// Governor cannot test a limiter without consuming from it, and it has no refund. A call passes
/// several limiters in turn (share, daily, per second); when a later one refuses, the cells the
/// earlier ones took stay paid to that caller and are spent by its next try, so that no capacity
/// is lost and no share is skewed. The app's own short-term stage is checked last, so its cells
/// go out at the instant they are taken, except that a call of several cells pays for them one
/// at a time and spends them together: a second of the budget may then carry up to the largest
/// call's cost less one beyond burst plus rate (the pacing leaves room for it:
/// [`super::defaults::WINDOW_HEADROOM`]). A share's paid cell may be spent late; the shares are
/// for fairness, the app stages for the marketplace's limit.
pub(super) struct Stage<C: Clock> {
    pub(super) window: Window,
    pub(super) rate: Rate,
    pub(super) limiter: DirectLimiter<C>,
    pub(super) last_used: Option<C::Instant>,
    /// Cells paid per caller and operation: a client's order poll must not spend the cells its
    /// push paid for (that starved multi-cell pushes behind the same client's polls).
    pub(super) prepaid: HashMap<(ClientCode, Operation), u32>,
}

impl<C: Clock + Clone> Stage<C> {
    pub(super) fn new(window: Window, rate: Rate, clock: &C) -> Self {
        Stage {
            window,
            rate,
            limiter: RateLimiter::direct_with_clock(rate.quota(), clock.clone()),
            last_used: None,
            prepaid: HashMap::new(),
        }
    }

    /// Charges a call of `cost` (clamped to 1..=burst: a call bigger than the burst waits for a
    /// full bucket rather than never passing).
    pub(super) fn charge(&self, cost: u32) -> u32 {
        cost.clamp(1, self.rate.burst())
    }

    pub(super) fn pass(
        &mut self,
        payer: &(ClientCode, Operation),
        cost: u32,
        now: C::Instant,
    ) -> Result<(), Duration> {
        let charge = self.charge(cost);
        let prepaid = self.prepaid.get(payer).copied().unwrap_or(0);
        let Some(need) = NonZeroU32::new(charge.saturating_sub(prepaid)) else {
            return Ok(());
        };
        match self.limiter.check_n(need) {
            Ok(Ok(())) => {
                *self.prepaid.entry(payer.clone()).or_insert(0) += need.get();
                self.last_used = Some(now);
                Ok(())
            }
            Ok(Err(not_until)) => {
                if need.get() == 1 {
                    return Err(not_until.wait_time_from(now));
                }
                // A call of several cells pays what the limiter holds now and comes back when
                // the rest is due: it would otherwise wait for the bucket to hold all its cells
                // at once, which single-cell callers sharing the budget never leave (found by
                // the agency-100 bench: Etsy pushes, two calls each, never went out while 100
                // shops polled their receipts one call at a time). Paid cells stay paid to this
                // caller.
                let mut remaining = need.get();
                let mut chunk = remaining - 1;
                while chunk > 0 {
                    match NonZeroU32::new(chunk).map(|n| self.limiter.check_n(n)) {
                        Some(Ok(Ok(()))) => {
                            *self.prepaid.entry(payer.clone()).or_insert(0) += chunk;
                            self.last_used = Some(now);
                            remaining -= chunk;
                            chunk = chunk.min(remaining);
                        }
                        _ => chunk /= 2,
                    }
                }
                match NonZeroU32::new(remaining).map(|n| self.limiter.check_n(n)) {
                    Some(Ok(Err(rest))) => Err(rest.wait_time_from(now)),
                    Some(Ok(Ok(()))) | None => {
                        *self.prepaid.entry(payer.clone()).or_insert(0) += remaining;
                        self.last_used = Some(now);
                        Ok(())
                    }
                    Some(Err(_insufficient)) => Err(self.rate.refill_time()),
                }
            }
            // `need` never exceeds the burst; were it to, a full refill is the safe wait.
            Err(_insufficient) => Err(self.rate.refill_time()),
        }
    }

    pub(super) fn settle(&mut self, payer: &(ClientCode, Operation), cost: u32) {
        let charge = self.charge(cost);
        if let Some(prepaid) = self.prepaid.get_mut(payer) {
            *prepaid = prepaid.saturating_sub(charge);
            if *prepaid == 0 {
                self.prepaid.remove(payer);
            }
        }
    }

    pub(super) fn is_fresh(&self, now: C::Instant) -> bool {
        let refilled = match self.last_used {
            None => true,
            Some(used) => Duration::from(now.duration_since(used)) >= self.rate.refill_time(),
        };
        refilled && self.prepaid.is_empty()
    }
}

/// Builds the chain of a pacing: the daily stage first, the short-term stage last.
pub(super) fn stages<C: Clock + Clone>(pacing: Pacing, clock: &C) -> Vec<Stage<C>> {
    let daily = pacing
        .daily
        .map(|rate| Stage::new(Window::Daily, rate, clock));
    let short_term = pacing
        .short_term
        .map(|rate| Stage::new(Window::ShortTerm, rate, clock));
    daily.into_iter().chain(short_term).collect()
}

pub(super) fn share_of(pacing: Pacing, weight: u32, total: u32) -> Pacing {
    Pacing {
        short_term: pacing.short_term.map(|rate| rate.share(weight, total)),
        daily: pacing.daily.map(|rate| rate.share(weight, total)),
    }
}

/// A part of a budget, built for one pacing: a client's share of an app-wide budget, or an
/// operation's part of its owner's budget. Rebuilt (fresh) when the pacing it was built for
/// changes, as when a client joins or leaves the app.
pub(super) struct Part<C: Clock> {
    pub(super) pacing: Pacing,
    pub(super) stages: Vec<Stage<C>>,
}

impl<C: Clock + Clone> Part<C> {
    pub(super) fn new(pacing: Pacing, clock: &C) -> Self {
        Part {
            pacing,
            stages: stages(pacing, clock),
        }
    }

    /// The part of `key` in `parts`, built for `pacing` (rebuilt fresh if it was built for
    /// another pacing).
    pub(super) fn follow<'a, K: std::hash::Hash + Eq>(
        parts: &'a mut HashMap<K, Part<C>>,
        key: K,
        pacing: Pacing,
        clock: &C,
    ) -> &'a mut Part<C> {
        let part = parts.entry(key).or_insert_with(|| Part::new(pacing, clock));
        if part.pacing != pacing {
            *part = Part::new(pacing, clock);
        }
        part
    }

    pub(super) fn is_fresh(&self, now: C::Instant) -> bool {
        self.stages.iter().all(|stage| stage.is_fresh(now))
    }
}
