//! The ChannelActor's inbound side: reading the marketplace's order feed and applying each page
//! to the ledger with the feed's cursor in one command ([`super::intake`]), noting the
//! marketplace's own sales on the push queue first.

use std::time::Duration;

use actix::prelude::*;
use tokio::time::Instant;

use super::intake::apply_order_events;
use super::marketplace::{MarketplaceError, OrderEventKind, OrderPage};
use super::messages::PollTick;
use super::waiting::{WaitReason, Waiting};
use super::{ChannelActor, ChannelError};
use crate::ids::ChannelId;
use crate::inventory::messages::{ApplyMovements, CursorUpdate};
use crate::inventory::system_clock_ms;
use crate::ratelimit::Operation;

impl ChannelActor {
    /// Schedules the next read of the order feed after `delay`, waiting for `reason`.
    pub(super) fn schedule_poll(
        &mut self,
        ctx: &mut Context<Self>,
        reason: WaitReason,
        delay: Duration,
    ) {
        let now = Instant::now();
        self.poll_wait = Some(Waiting::new(self.poll_wait, reason, now, Some(now + delay)));
        self.poll_timer.schedule(ctx, delay, PollTick);
    }

    /// Reads the next page of the order feed and applies it to the ledger with its cursor.
    pub(super) fn try_poll(&mut self, ctx: &mut Context<Self>) {
        if self.poll_in_flight {
            return;
        }
        if let Some(lag) = self.marketplace.order_feed_ready_in(self.cursor.as_deref()) {
            // The marketplace cannot show anything new yet: no call, no budget spent.
            self.count_request(Operation::FetchOrders, "skipped");
            return self.schedule_poll(ctx, WaitReason::FeedLag, lag);
        }
        if let Err((reason, delay)) = self.take_budget(Operation::FetchOrders) {
            return self.schedule_poll(ctx, reason, delay);
        }
        self.poll_in_flight = true;
        let sent_at = Instant::now();
        self.poll_wait = Some(Waiting::new(
            self.poll_wait,
            WaitReason::InFlight,
            sent_at,
            None,
        ));
        let fetch = self.marketplace.fetch_orders(self.cursor.clone());
        ctx.spawn(
            actix::fut::wrap_future::<_, Self>(fetch).map(move |result, actor, ctx| {
                actor.on_fetched(result, sent_at, ctx);
            }),
        );
    }

    /// A page arrived: the marketplace's own sales in it are noted on the queue *before* the
    /// ledger hears of them, so the stock change they cause finds this channel already in step
    /// and pushes nothing back to the marketplace that made the sale. A sale is noted only the
    /// first time the channel sees it ([`feed::SeenEvents`]): connectors deliver some events
    /// again (Etsy re-reads the last second of its receipts on every poll).
    fn on_fetched(
        &mut self,
        result: Result<OrderPage, MarketplaceError>,
        sent_at: Instant,
        ctx: &mut Context<Self>,
    ) {
        let page = match result {
            Ok(page) => page,
            Err(error) => return self.on_page(Err(PollFailure::Marketplace(error)), sent_at, ctx),
        };
        let now = Instant::now();
        let sold_after = self.feed_read_at;
        for event in &page.events {
            let first_sight = self.seen.first_sight(event);
            if let (true, Some(sold_after)) = (first_sight, sold_after) {
                if event.kind == OrderEventKind::Sale {
                    self.queue
                        .note_marketplace_sale(&event.sku, event.quantity, sold_after, now);
                }
            }
        }
        if page.events.is_empty() && self.cursor.as_ref() == Some(&page.next_cursor) {
            // Nothing new and the cursor stands: no ledger write (an idle channel would
            // otherwise cost a transaction and a flush per poll).
            return self.on_page(
                Ok(AppliedPage {
                    page,
                    skipped: None,
                }),
                sent_at,
                ctx,
            );
        }
        let apply = apply_page(page, self.ledger.apply.clone(), self.config.channel.clone());
        ctx.spawn(
            actix::fut::wrap_future::<_, Self>(apply).map(move |result, actor, ctx| {
                actor.on_page(result, sent_at, ctx);
            }),
        );
    }

    fn on_page(
        &mut self,
        result: Result<AppliedPage, PollFailure>,
        sent_at: Instant,
        ctx: &mut Context<Self>,
    ) {
        self.poll_in_flight = false;
        let (reason, next_poll) = match result {
            Ok(applied) => {
                let outcome = if applied.page.skipped {
                    "skipped"
                } else {
                    "ok"
                };
                self.count_request(Operation::FetchOrders, outcome);
                self.contact
                    .answered(Operation::FetchOrders, system_clock_ms());
                self.counters.pages_applied += 1;
                self.poll_failures = 0;
                if let Some(skipped) = applied.skipped {
                    self.last_error = Some(skipped);
                }
                self.cursor = Some(applied.page.next_cursor);
                self.feed_read_at = Some(sent_at);
                self.queue.note_feed_read(sent_at);
                if applied.page.more {
                    (WaitReason::Interval, Duration::ZERO)
                } else {
                    (WaitReason::Interval, self.config.poll_interval)
                }
            }
            Err(PollFailure::Marketplace(error)) => {
                self.heard(Operation::FetchOrders, Err(&error));
                let delay = self.delay_after(Operation::FetchOrders, &error, self.poll_failures);
                self.poll_failures += 1;
                let reason = match error {
                    MarketplaceError::Throttled { .. } => WaitReason::RetryAfter,
                    _ => WaitReason::Backoff,
                };
                (
                    reason,
                    delay.max(self.config.poll_interval.min(Duration::from_secs(1))),
                )
            }
            Err(PollFailure::Ledger(error)) => {
                self.last_error = Some(format!("applying orders: {error}"));
                self.poll_failures += 1;
                (
                    WaitReason::Backoff,
                    self.backoff.next_delay(self.poll_failures),
                )
            }
        };
        self.schedule_poll(ctx, reason, next_poll);
        // The feed was read (or not): a held increase may go now, or still waits for the next
        // poll, which `try_push` reports.
        self.try_push(ctx);
        self.update_gauges();
    }
}

/// A page of orders as the ledger took it.
#[derive(Debug)]
struct AppliedPage {
    page: OrderPage,
    /// Events the ledger refused and that were left out, described for the channel's last error.
    skipped: Option<String>,
}

/// Why reading the order feed failed.
#[derive(Debug)]
enum PollFailure {
    Marketplace(MarketplaceError),
    Ledger(ChannelError),
}

/// Applies a page with its cursor in one ledger command (see [`apply_order_events`]).
async fn apply_page(
    page: OrderPage,
    ledger: Recipient<ApplyMovements>,
    channel: ChannelId,
) -> Result<AppliedPage, PollFailure> {
    let cursor = CursorUpdate {
        channel: channel.clone(),
        cursor: page.next_cursor.clone(),
    };
    let applied = apply_order_events(&channel, page.events.clone(), Some(cursor), &ledger)
        .await
        .map_err(PollFailure::Ledger)?;
    let skipped = (!applied.skipped.is_empty())
        .then(|| format!("skipped order events: {}", applied.skipped.join("; ")));
    Ok(AppliedPage { page, skipped })
}
