//! Push scheduling for one channel: per SKU the target listed quantity and the last quantity the
//! marketplace confirmed; pending changes coalesce (only the latest target is ever sent); batches
//! fill to the platform's batch size in **risk-first** order (zero-outs, then restores of
//! listings at 0, then decreases by exposure, then increases), with FIFO kept as the baseline
//! the bench compares against. Why restores, and why increases are not aged: see `risk_rank`.
//!
//! The no-re-raise rule (DESIGN §4) lives here too: a push never overwrites a marketplace's own
//! post-sale decrement with a stale higher number. On a compare-and-set platform every push
//! carries the last confirmed quantity and the marketplace refuses a stale one; elsewhere an
//! increase waits until the channel's order feed has been read past the previous push of that
//! SKU, so any sale the marketplace made meanwhile is already in the ledger and in the target.
//!
//! Plain data and functions, no actix and no clock of its own: every call takes `now`.

use std::cmp::Reverse;
use std::collections::{HashMap, HashSet};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::marketplace::PushItem;
use crate::ids::Sku;

/// The order in which pending changes are pushed when the rate limit binds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushOrder {
    /// Zero-outs first, then listings at 0 (or maybe at 0) that should list stock, then
    /// decreases by exposure (largest first), then increases (oldest first): the units a buyer
    /// could buy that the client does not have go away first, and no listing turns buyers away
    /// for long while the client has stock.
    #[default]
    RiskFirst,
    /// In the order the changes became pending: the baseline of the bench.
    Fifo,
}

/// What the scheduler knows of one SKU's listing on this channel.
#[derive(Debug, Clone)]
struct Listing {
    target: u32,
    ledger_seq: u64,
    /// The quantity the marketplace last confirmed (`None`: never confirmed).
    confirmed: Option<u32>,
    /// When it was confirmed (or learnt).
    confirmed_at: Option<Instant>,
    /// Units the marketplace sold of this listing, read from its feed, that may have come before
    /// or after the confirmed quantity (a push of ours may have overwritten them): the listing
    /// shows between `confirmed - unsure_sales` and `confirmed`.
    unsure_sales: u32,
    /// The quantity of the push in flight, if any.
    in_flight: Option<u32>,
    /// When the SKU last became out of step with the marketplace (pending or in flight).
    pending_since: Option<Instant>,
    /// When the target last changed: the start of the sync lag.
    target_changed_at: Instant,
    /// When this SKU was last pushed (for the no-re-raise rule).
    last_push_at: Option<Instant>,
    /// Position in FIFO order.
    fifo_position: u64,
    /// When the marketplace last showed this listing's quantity to us: a confirmed push or a
    /// read-back that matched (or corrected) the belief.
    verified_at: Option<Instant>,
    /// When the queue learnt of the listing: its age of being unverified counts from here until
    /// the first verification.
    known_since: Instant,
}

impl Listing {
    /// The quantity the marketplace may be showing: an in-flight push may already have landed.
    fn listed_at_most(&self) -> Option<u32> {
        match (self.confirmed, self.in_flight) {
            (Some(confirmed), Some(in_flight)) => Some(confirmed.max(in_flight)),
            (confirmed, in_flight) => confirmed.or(in_flight),
        }
    }

    /// The least the marketplace may be showing (`None`: never confirmed).
    fn listed_at_least(&self) -> Option<u32> {
        self.confirmed
            .map(|confirmed| confirmed.saturating_sub(self.unsure_sales))
    }

    /// Takes `quantity` as what the marketplace shows, learnt at `now`: newer than any sale
    /// whose order against the previous belief was unsure.
    fn believe(&mut self, quantity: u32, now: Instant) {
        self.confirmed = Some(quantity);
        self.confirmed_at = Some(now);
        self.unsure_sales = 0;
    }

    /// A listing the queue has just learnt of: a target, nothing confirmed or sent yet.
    fn new(target: u32, ledger_seq: u64, now: Instant) -> Self {
        Self {
            target,
            ledger_seq,
            confirmed: None,
            confirmed_at: None,
            unsure_sales: 0,
            in_flight: None,
            pending_since: None,
            target_changed_at: now,
            last_push_at: None,
            fifo_position: 0,
            verified_at: None,
            known_since: now,
        }
    }

    /// Since when the belief about this listing has gone unchecked.
    fn unverified_since(&self) -> Instant {
        self.verified_at.unwrap_or(self.known_since)
    }

    fn needs_push(&self) -> bool {
        self.in_flight.is_none() && self.confirmed != Some(self.target)
    }

    fn out_of_step(&self) -> bool {
        self.in_flight.is_some() || self.confirmed != Some(self.target)
    }

    /// Units listed beyond the target (0 when unknown or at or below target).
    fn exposure(&self) -> u32 {
        self.listed_at_most()
            .map_or(0, |listed| listed.saturating_sub(self.target))
    }
}

/// A sample of sync lag: a target became confirmed by the marketplace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Confirmed {
    /// The SKU.
    pub sku: Sku,
    /// From the target change to the marketplace's confirmation.
    pub lag: Duration,
}

/// Exposure and staleness of a channel, for its gauges and its state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct QueueStats {
    /// SKUs whose listing is out of step with the target (pending or in flight).
    pub pending: usize,
    /// SKUs with a push in flight.
    pub in_flight: usize,
    /// Σ over SKUs of max(0, listed − target).
    pub exposure_units: u64,
    /// SKUs whose listed quantity may be above target.
    pub skus_at_risk: usize,
    /// Age of the oldest change not yet confirmed, in milliseconds.
    pub oldest_pending_ms: Option<u64>,
    /// How long the least recently verified listing has gone without the marketplace showing
    /// its quantity (a confirmed push or a read-back), in milliseconds: what reconciliation has
    /// not been able to afford.
    pub oldest_unverified_ms: Option<u64>,
}

/// What a read-back of one listing found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReadBack {
    /// The marketplace shows what the queue believed.
    InStep,
    /// The marketplace shows another quantity than the one believed confirmed (`None`: nothing
    /// was believed): the belief now follows the marketplace, and the listing is pushed again if
    /// it differs from the target.
    Drift {
        /// What the queue believed the marketplace showed.
        believed: Option<u32>,
        /// What it shows.
        listed: u32,
    },
    /// A push or a sale noted since the read was sent makes the read older than what the queue
    /// knows: ignored.
    Superseded,
    /// The queue does not know the SKU.
    Unknown,
}

/// The push queue of one channel.
#[derive(Debug)]
pub struct PushQueue {
    order: PushOrder,
    compare_and_set: bool,
    listings: HashMap<Sku, Listing>,
    /// SKUs that are out of step, so a batch never scans settled SKUs.
    out_of_step: HashSet<Sku>,
    next_fifo_position: u64,
    /// The order feed has been read through this moment.
    feed_read_through: Option<Instant>,
}

impl PushQueue {
    /// Creates an empty queue. `compare_and_set` tells whether the platform refuses a push whose
    /// `previous` is stale ([`crate::platform::Platform::compare_and_set`]).
    pub fn new(order: PushOrder, compare_and_set: bool) -> Self {
        Self {
            order,
            compare_and_set,
            listings: HashMap::new(),
            out_of_step: HashSet::new(),
            next_fifo_position: 0,
            feed_read_through: None,
        }
    }

    /// Returns the push order in force.
    pub fn order(&self) -> PushOrder {
        self.order
    }

    /// Records what the marketplace is known to list for `sku` (recovered from durable state),
    /// without changing the target. A read-back goes through [`PushQueue::read_back`].
    pub fn set_confirmed(&mut self, sku: &Sku, quantity: u32, now: Instant) {
        if let Some(listing) = self.listings.get_mut(sku) {
            listing.believe(quantity, now);
            self.refresh(sku, now);
        }
    }

    /// Adopts what the marketplace is said to list for `sku` (a catalog import exported from the
    /// marketplace itself), before the ledger has a stock for it: a SKU the queue does not know
    /// yet gets `quantity` as both listed and provisional target (ledger sequence 0, so the first
    /// real target replaces it), and then pushes nothing unless the policy wants another
    /// quantity. A push in flight is left alone: its answer is newer knowledge. Returns whether the
    /// quantity was adopted.
    pub fn adopt_listed(&mut self, sku: &Sku, quantity: u32, now: Instant) -> bool {
        let listing = self
            .listings
            .entry(sku.clone())
            .or_insert_with(|| Listing::new(quantity, 0, now));
        if listing.in_flight.is_some() {
            return false;
        }
        listing.believe(quantity, now);
        self.refresh(sku, now);
        true
    }

    /// Sets the target of `sku`, computed from the ledger at `ledger_seq`. Coalesces: a SKU
    /// already pending keeps its place and only the latest target is ever sent. A target computed
    /// from an older ledger state than the one already known is ignored (a stock snapshot and a
    /// change notification may arrive in either order).
    pub fn set_target(&mut self, sku: &Sku, target: u32, ledger_seq: u64, now: Instant) {
        let listing = self
            .listings
            .entry(sku.clone())
            .or_insert_with(|| Listing::new(target, ledger_seq, now));
        if ledger_seq < listing.ledger_seq {
            return;
        }
        if listing.target != target {
            listing.target = target;
            listing.target_changed_at = now;
        }
        listing.ledger_seq = ledger_seq;
        self.refresh(sku, now);
    }

    /// Records a sale the marketplace made itself after `sold_after`: it has already decremented
    /// its own listing, so the confirmed quantity drops by the units sold. Only when the listing's
    /// confirmed quantity is known to predate the sale (confirmed no later than `sold_after`, no
    /// push in flight); otherwise a push of ours may have overwritten the decrement, and keeping
    /// the higher confirmed value makes the next push correct the listing.
    pub fn note_marketplace_sale(
        &mut self,
        sku: &Sku,
        units: u32,
        sold_after: Instant,
        now: Instant,
    ) {
        if let Some(listing) = self.listings.get_mut(sku) {
            let confirmed_before_sale = listing
                .confirmed_at
                .is_some_and(|confirmed_at| confirmed_at <= sold_after);
            if listing.in_flight.is_none() && confirmed_before_sale {
                listing.confirmed = listing
                    .confirmed
                    .map(|confirmed| confirmed.saturating_sub(units));
                listing.confirmed_at = Some(now);
                self.refresh(sku, now);
            } else {
                // The push's quantity stays the belief (the no-re-raise rule needs the higher
                // one), but the listing may now be lower: risk-first ranks it by that.
                listing.unsure_sales = listing.unsure_sales.saturating_add(units);
            }
        }
    }

    /// Records a sale the marketplace made itself at a time the channel cannot place (one read
    /// because a notification named it: the notification may come hours late, on a retry), so
    /// the listing may be lower than believed. The confirmed quantity stays (a push of ours may
    /// have overwritten the marketplace's decrement; the next push of the new target corrects
    /// the listing either way) and risk-first ranks the listing by the units it may have lost.
    pub fn note_unplaced_sale(&mut self, sku: &Sku, units: u32) {
        if let Some(listing) = self.listings.get_mut(sku) {
            listing.unsure_sales = listing.unsure_sales.saturating_add(units);
        }
    }

    /// Records that the channel's order feed has been read through `at`: every sale the
    /// marketplace made before `at` is in the ledger.
    pub fn note_feed_read(&mut self, at: Instant) {
        self.feed_read_through = Some(self.feed_read_through.map_or(at, |before| before.max(at)));
    }

    /// Takes the next batch of at most `max_items` pushes, in the queue's order, and marks them
    /// in flight. Increases held by the no-re-raise rule are skipped.
    pub fn next_batch(&mut self, max_items: usize, now: Instant) -> Vec<PushItem> {
        let batch = self.peek_batch(max_items);
        self.mark_sent(&batch, now);
        batch
    }

    /// The batch [`Self::next_batch`] would take, without taking it: the engine prices a batch
    /// (a connector may need calls beyond the push itself, see
    /// `Marketplace::push_extra_calls`) before it knows whether the budget affords it.
    pub fn peek_batch(&self, max_items: usize) -> Vec<PushItem> {
        let mut candidates: Vec<&Listing> = Vec::new();
        let mut candidate_skus: Vec<&Sku> = Vec::new();
        for sku in &self.out_of_step {
            let listing = &self.listings[sku];
            if listing.needs_push() && self.may_push(listing) {
                candidates.push(listing);
                candidate_skus.push(sku);
            }
        }
        let mut ranked: Vec<usize> = (0..candidates.len()).collect();
        match self.order {
            PushOrder::Fifo => ranked.sort_by_key(|&index| candidates[index].fifo_position),
            PushOrder::RiskFirst => ranked.sort_by_key(|&index| risk_rank(candidates[index])),
        }
        ranked
            .into_iter()
            .take(max_items)
            .map(|index| {
                let listing = candidates[index];
                PushItem {
                    quantity: listing.target,
                    previous: listing.confirmed,
                    ledger_seq: listing.ledger_seq,
                    sku: candidate_skus[index].clone(),
                }
            })
            .collect()
    }

    /// Marks the pushes of `batch` (taken by [`Self::peek_batch`]) in flight, sent at `now`.
    pub fn mark_sent(&mut self, batch: &[PushItem], now: Instant) {
        for item in batch {
            if let Some(listing) = self.listings.get_mut(&item.sku) {
                listing.in_flight = Some(item.quantity);
                listing.last_push_at = Some(now);
            }
        }
    }

    /// Tells whether any listing is out of step with no push in flight: a change waiting to be
    /// pushed (now, or once the no-re-raise rule lets it).
    pub fn has_pending_push(&self) -> bool {
        self.out_of_step
            .iter()
            .any(|sku| self.listings[sku].needs_push())
    }

    /// Tells whether any push could be sent now.
    pub fn has_sendable(&self) -> bool {
        self.out_of_step.iter().any(|sku| {
            let listing = &self.listings[sku];
            listing.needs_push() && self.may_push(listing)
        })
    }

    /// Records that the marketplace confirmed `quantity` for `sku`. Returns a sync-lag sample
    /// when the listing is now in step with the target.
    pub fn confirm(&mut self, sku: &Sku, quantity: u32, now: Instant) -> Option<Confirmed> {
        let listing = self.listings.get_mut(sku)?;
        listing.in_flight = None;
        listing.believe(quantity, now);
        listing.verified_at = Some(now);
        let in_step = listing.target == quantity;
        let lag = now.saturating_duration_since(listing.target_changed_at);
        self.refresh(sku, now);
        in_step.then(|| Confirmed {
            sku: sku.clone(),
            lag,
        })
    }

    /// Records that compare-and-set lost: the listing shows `actual` (if known). The SKU is pushed
    /// again, against the new value.
    pub fn stale(&mut self, sku: &Sku, actual: Option<u32>, now: Instant) {
        if let Some(listing) = self.listings.get_mut(sku) {
            listing.in_flight = None;
            if let Some(actual) = actual {
                listing.believe(actual, now);
                listing.verified_at = Some(now);
            }
            self.refresh(sku, now);
        }
    }

    /// Records that a push failed without a verdict on the listing: it goes back to pending.
    pub fn failed(&mut self, sku: &Sku, now: Instant) {
        if let Some(listing) = self.listings.get_mut(sku) {
            listing.in_flight = None;
            self.refresh(sku, now);
        }
    }

    /// Records what a read-back sent at `read_sent_at` showed for `sku`. A read is taken only if
    /// nothing newer is known: no push in flight and no confirmation or noted sale since it was
    /// sent (those are fresher than the read).
    pub fn read_back(
        &mut self,
        sku: &Sku,
        listed: u32,
        read_sent_at: Instant,
        now: Instant,
    ) -> ReadBack {
        let Some(listing) = self.listings.get_mut(sku) else {
            return ReadBack::Unknown;
        };
        let newer_known = listing
            .confirmed_at
            .is_some_and(|confirmed_at| confirmed_at > read_sent_at);
        if listing.in_flight.is_some() || newer_known {
            return ReadBack::Superseded;
        }
        listing.verified_at = Some(now);
        if listing.confirmed == Some(listed) {
            return ReadBack::InStep;
        }
        let believed = listing.confirmed;
        listing.believe(listed, now);
        self.refresh(sku, now);
        ReadBack::Drift { believed, listed }
    }

    /// Returns up to `max` SKUs whose listing has gone unverified since `before` or longer,
    /// least recently verified first, leaving out those with a push in flight (its answer will
    /// verify them).
    pub fn due_for_verification(&self, max: usize, before: Instant) -> Vec<Sku> {
        let mut due: Vec<(Instant, &Sku)> = self
            .listings
            .iter()
            .filter(|(_, listing)| listing.in_flight.is_none())
            .map(|(sku, listing)| (listing.unverified_since(), sku))
            .filter(|(since, _)| *since <= before)
            .collect();
        due.sort();
        due.into_iter()
            .take(max)
            .map(|(_, sku)| sku.clone())
            .collect()
    }

    /// Returns since when the least recently verified listing has gone unverified.
    pub fn oldest_unverified(&self) -> Option<Instant> {
        self.listings.values().map(Listing::unverified_since).min()
    }

    /// Returns the target, confirmed quantity and in-flight quantity of `sku`.
    pub fn listing(&self, sku: &Sku) -> Option<(u32, Option<u32>, Option<u32>)> {
        self.listings
            .get(sku)
            .map(|listing| (listing.target, listing.confirmed, listing.in_flight))
    }

    /// Returns every SKU the queue knows, in SKU order.
    pub fn skus(&self) -> Vec<Sku> {
        let mut skus: Vec<Sku> = self.listings.keys().cloned().collect();
        skus.sort();
        skus
    }

    /// Returns exposure and staleness figures.
    pub fn stats(&self, now: Instant) -> QueueStats {
        let mut stats = QueueStats {
            pending: self.out_of_step.len(),
            ..QueueStats::default()
        };
        let mut oldest: Option<Instant> = None;
        for sku in &self.out_of_step {
            let listing = &self.listings[sku];
            if listing.in_flight.is_some() {
                stats.in_flight += 1;
            }
            let exposure = listing.exposure();
            if exposure > 0 {
                stats.exposure_units += u64::from(exposure);
                stats.skus_at_risk += 1;
            }
            if let Some(since) = listing.pending_since {
                oldest = Some(oldest.map_or(since, |before| before.min(since)));
            }
        }
        stats.oldest_pending_ms =
            oldest.map(|since| now.saturating_duration_since(since).as_millis() as u64);
        stats.oldest_unverified_ms = self
            .oldest_unverified()
            .map(|since| now.saturating_duration_since(since).as_millis() as u64);
        stats
    }

    fn may_push(&self, listing: &Listing) -> bool {
        let increase = listing
            .confirmed
            .is_some_and(|confirmed| listing.target > confirmed);
        if self.compare_and_set || !increase {
            return true;
        }
        match (listing.last_push_at, self.feed_read_through) {
            (None, _) => true,
            (Some(pushed), Some(read)) => read >= pushed,
            (Some(_), None) => false,
        }
    }

    /// Keeps `out_of_step`, `pending_since` and the FIFO position in line with the listing.
    fn refresh(&mut self, sku: &Sku, now: Instant) {
        let Some(listing) = self.listings.get_mut(sku) else {
            return;
        };
        if listing.out_of_step() {
            if listing.pending_since.is_none() {
                listing.pending_since = Some(now);
                listing.fifo_position = self.next_fifo_position;
                self.next_fifo_position += 1;
            }
            self.out_of_step.insert(sku.clone());
        } else {
            listing.pending_since = None;
            self.out_of_step.remove(sku);
        }
    }
}

/// The classes of risk-first order, most urgent first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Urgency {
    /// The target is 0 and the marketplace may list more: its next shopper buys a unit that does
    /// not exist.
    ZeroOut,
    /// The target is above 0 and the marketplace lists 0, or may (its own sales since our last
    /// push may have taken the last unit): every shopper there is turned away while the client
    /// has stock.
    Restore,
    /// The marketplace lists more than the target.
    Decrease,
    /// The marketplace lists less than the target but surely above 0: shoppers still buy, so no
    /// sale is lost until the listing runs out, and then it is a restore.
    Increase,
}

/// Sort key of risk-first order: zero-outs, then restores (listings at 0, or maybe at 0, that
/// should list stock), then decreases by exposure (largest first), then the other increases;
/// ties go to the oldest change. A listing never confirmed counts as a decrease of unknown, so
/// maximal, exposure: the marketplace may show anything.
///
/// Why: an increase is ranked by the sales it loses while it waits. A shopper buys from any
/// listing above 0, so those sales are lost only where the listing is at 0; the queue knows where
/// that is (or may be) without a demand rate, and such listings are few (at most one per receipt
/// or sell-out and channel), so they cost the decreases little. An increase from a listing that
/// still sells waits behind the decreases until it runs out, and then it is a restore. Measured
/// with the scheduler bench (part 1, seed 1, 2 pushes/s per channel against about 2.8 wanted),
/// risk-first / FIFO:
///
/// | risk-first order | exposure unit-s vs truth | turned away while stock existed | increase lag p50 / p99 |
/// |---|---:|---:|---:|
/// | every decrease before any increase (before) | 77 325 / 310 166 (24.9 %) | 506 / 106 | 50.7 / 159.6 s |
/// | restores only where the belief is 0 | 93 373 / 310 166 (30.1 %) | 24 / 106 | 20.6 / 178.4 s |
/// | restores also where maybe at 0 (this order) | 93 684 / 310 166 (30.2 %) | 8 / 106 | 21.1 / 181.3 s |
///
/// Of the middle row's 24, 19 were listings the queue believed above 0 after a marketplace sale
/// it could not place before or after our push; seeds 2 and 3 lost more there than FIFO (192 /
/// 172, 195 / 171) until those counted as maybe at 0 (22 / 172, 21 / 171).
///
/// Aging increases instead (any increase pending longer than a bound goes before the decreases)
/// was measured and rejected: it gives up the exposure gain, because under a standing overload
/// every aged increase takes a push slot from a decrease and the aged ones keep coming. On seed
/// 1 a bound of 20 s put exposure at 114 % of FIFO's, 60 s at 54 %, 120 s at 35 %; a bound of
/// 240 s, never reached on seed 1, put it at 135 % with 2 shoppers/s (60 % without a bound) and
/// at 72 % with uniform popularity (17 % without).
fn risk_rank(listing: &Listing) -> (Urgency, Reverse<u32>, u64) {
    let urgency = match listing.confirmed {
        Some(listed) if listing.target == 0 && listed > 0 => Urgency::ZeroOut,
        None if listing.target == 0 => Urgency::ZeroOut,
        Some(listed) if listing.target < listed => Urgency::Decrease,
        None => Urgency::Decrease,
        Some(_) if listing.listed_at_least() == Some(0) => Urgency::Restore,
        Some(_) => Urgency::Increase,
    };
    let exposure = listing
        .confirmed
        .map_or(u32::MAX, |listed| listed.saturating_sub(listing.target));
    (urgency, Reverse(exposure), listing.fifo_position)
}

#[cfg(test)]
#[path = "scheduler_tests.rs"]
mod tests;
