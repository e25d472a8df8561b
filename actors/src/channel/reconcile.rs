//! The ChannelActor's read-back: verifying the listings gone longest unseen, within the read
//! budget, and correcting drift.

use std::time::Duration;

use actix::prelude::*;
use tokio::time::Instant;

use super::marketplace::{ListedQuantity, MarketplaceError};
use super::messages::ReconcileTick;
use super::scheduler::ReadBack;
use super::waiting::{WaitReason, Waiting};
use super::{ChannelActor, GAUGE_INTERVAL};
use crate::inventory::history::ListingWhat;
use crate::inventory::system_clock_ms;
use crate::metrics::events::{ChannelLabels, DriftCorrected, InternalEvent};
use crate::ratelimit::Operation;

impl ChannelActor {
    /// Reads back the listings gone longest without the marketplace showing them, one call at a
    /// time as the read budget allows, so that every listing is verified about every
    /// `reconcile_interval` (pushes verify the listings they confirm); a listing that differs
    /// from what the channel believed is drift: counted, logged, and pushed again.
    pub(super) fn try_reconcile(&mut self, ctx: &mut Context<Self>) {
        if self.reconcile_in_flight.is_some() {
            return;
        }
        let now = Instant::now();
        let interval = self.config.reconcile_interval;
        let stale_before = now.checked_sub(interval).unwrap_or(now);
        let due = self
            .queue
            .due_for_verification(self.config.platform.read_batch_size(), stale_before);
        if due.is_empty() {
            // Nothing is due: look again when the least recently verified listing will be.
            let next = self
                .queue
                .oldest_unverified()
                .map_or(interval, |since| {
                    (since + interval).saturating_duration_since(now)
                })
                .max(GAUGE_INTERVAL);
            self.reconcile_wait = Some(Waiting::new(
                self.reconcile_wait,
                WaitReason::Interval,
                now,
                Some(now + next),
            ));
            self.reconcile_timer.schedule(ctx, next, ReconcileTick);
            return;
        }
        if let Err((reason, delay)) = self.take_budget(Operation::ReadQuantities) {
            self.reconcile_wait = Some(Waiting::new(
                self.reconcile_wait,
                reason,
                now,
                Some(now + delay),
            ));
            self.reconcile_timer.schedule(ctx, delay, ReconcileTick);
            return;
        }
        self.reconcile_in_flight = Some(now);
        self.reconcile_wait = Some(Waiting::new(
            self.reconcile_wait,
            WaitReason::InFlight,
            now,
            None,
        ));
        let read = self.marketplace.read_quantities(due);
        ctx.spawn(
            actix::fut::wrap_future::<_, Self>(read).map(move |result, actor, ctx| {
                actor.reconcile_in_flight = None;
                actor.on_read_back(result, now, ctx);
            }),
        );
    }

    fn on_read_back(
        &mut self,
        result: Result<Vec<ListedQuantity>, MarketplaceError>,
        sent_at: Instant,
        ctx: &mut Context<Self>,
    ) {
        let delay = match result {
            Ok(listed) => {
                self.heard(Operation::ReadQuantities, Ok(()));
                let now = Instant::now();
                let mut drifted = Vec::new();
                for item in listed {
                    let read = self.queue.read_back(&item.sku, item.quantity, sent_at, now);
                    if let ReadBack::Drift { believed, listed } = read {
                        self.counters.drift_corrected += 1;
                        DriftCorrected(ChannelLabels {
                            client: &self.client_label,
                            channel: self.config.channel.as_str(),
                        })
                        .emit();
                        tracing::warn!(client = %self.config.client, channel = %self.config.channel, sku = %item.sku, ?believed, listed, "the marketplace shows another quantity than the channel believed; correcting");
                        // What the marketplace showed, for the listing history (a read that
                        // agrees is not recorded: see `inventory::history`).
                        let what = ListingWhat::Read {
                            quantity: listed,
                            drift: true,
                        };
                        self.contact.listing_drifted(&item.sku, system_clock_ms());
                        drifted.push((item.sku.clone(), what));
                    }
                }
                self.record_history(drifted, ctx);
                self.try_push(ctx);
                Duration::ZERO
            }
            Err(error) => {
                self.heard(Operation::ReadQuantities, Err(&error));
                let delay = self.delay_after(Operation::ReadQuantities, &error, 1);
                self.last_error = Some(format!("read back: {error}"));
                delay
            }
        };
        self.reconcile_timer.schedule(ctx, delay, ReconcileTick);
        self.update_gauges();
    }
}
