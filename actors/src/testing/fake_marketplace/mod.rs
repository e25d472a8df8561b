//! An in-memory marketplace for the engine's actor tests.
//!
//! `FakeMarketplace` implements the [`Marketplace`] port for a chosen [`Platform`] and behaves the
//! way the engine must survive a real one behaving:
//!
//! - it holds one listed quantity per SKU and applies pushes to them, with Shopify-style
//!   compare-and-set when [`Platform::compare_and_set`] says so, refusing batches larger than
//!   [`Platform::batch_size`];
//! - it keeps its own token bucket and answers `Throttled` with a `retry_after` when it is empty;
//! - it sells units itself ([`FakeMarketplace::sell`]): only what the listing shows, decrementing
//!   the listing and logging an order event that [`Marketplace::fetch_orders`] returns;
//! - faults can be injected: throttle everything, fail everything, fail the next `n` calls, fail one
//!   SKU's items, and answer every call only after a latency.
//!
//! All time is tokio time ([`tokio::time::Instant`], [`tokio::time::sleep`]), so the fake is
//! deterministic under paused time: an idle runtime jumps straight to the next refill or answer.
//!
//! # How a call is answered
//!
//! A call does nothing until its future is polled. Once polled it first sleeps the configured
//! latency, then is answered atomically at that instant ("now" below), in this order:
//!
//! 1. [`FakeMarketplace::set_throttle_all`] → `Throttled` (no token taken);
//! 2. the token bucket: without enough tokens → `Throttled { retry_after: Some(wait) }`, `wait` being
//!    exactly the time until the call's cost is available; otherwise the tokens are taken;
//! 3. [`FakeMarketplace::fail_next`], then [`FakeMarketplace::set_fail_all`] → that error (the
//!    call got past the gateway, so its tokens are spent, and nothing is applied);
//! 4. validation (batch size, cursor) → `Permanent { kind: Invalid }` (tokens spent);
//! 5. the call itself: a push sets listings and logs each confirmed item with "now".
//!
//! Every answer is counted: [`FakeMarketplace::requests`] counts them all, and each falls into
//! exactly one of `throttled_replies`, `failed_replies`, `pushes`, `reads` or `fetches`. A
//! `Throttled` error injected through `fail_all`/`fail_next` counts as a throttled reply too.
//!
//! # Compare-and-set
//!
//! On a compare-and-set platform an item with `previous: Some(p)` is applied only when the listing
//! shows exactly `p`; otherwise it is answered `Stale { actual }` (`actual: None` when the SKU was
//! never listed) and the listing is left alone. An item with `previous: None` follows
//! [`NoPrevious`]: by default ([`NoPrevious::SetIfUnlisted`]) it is applied only when the SKU has
//! never been listed, so an engine that lost its confirmed quantity cannot blindly overwrite a
//! post-sale decrement in a test; [`NoPrevious::SetAlways`] models Shopify's literal
//! `changeFromQuantity: null` (check skipped). On other platforms `previous` is ignored.
//!
//! A push to a SKU that has no listing yet creates it (the fake treats every SKU as listed);
//! [`Marketplace::read_quantities`] leaves SKUs without a listing out of its answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::time::Instant;

use crate::channel::marketplace::{
    ListedQuantity, MarketFuture, Marketplace, MarketplaceError, OrderEvent, OrderEventKind,
    OrderPage, PermanentKind, PushItem, PushOutcome,
};
use crate::ids::Sku;
use crate::platform::Platform;

use self::bucket::Bucket;

mod bucket;

/// The `retry_after` of the replies throttled by [`FakeMarketplace::set_throttle_all`].
pub const THROTTLE_ALL_RETRY_AFTER: Duration = Duration::from_secs(1);

/// The default number of order events per [`Marketplace::fetch_orders`] page.
pub const DEFAULT_PAGE_SIZE: usize = 50;

/// A kind of marketplace call, for per-call token costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Call {
    /// [`Marketplace::push_quantities`].
    Push,
    /// [`Marketplace::read_quantities`].
    Read,
    /// [`Marketplace::fetch_orders`].
    Fetch,
}

/// What a compare-and-set platform does with an item whose `previous` is `None`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum NoPrevious {
    /// Applies the item only when the SKU has never been listed; otherwise answers `Stale`.
    #[default]
    SetIfUnlisted,
    /// Applies the item unconditionally (Shopify's `changeFromQuantity: null`).
    SetAlways,
}

/// One item the fake confirmed, with the tokio instant of the answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfirmedPush {
    /// The instant the push was answered (after any latency).
    pub at: Instant,
    /// The SKU.
    pub sku: Sku,
    /// The quantity now listed.
    pub quantity: u32,
    /// The ledger sequence number the engine sent with the item.
    pub ledger_seq: u64,
}

/// Why [`FakeMarketplace::sell`] refused a purchase.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SaleRefused {
    /// A purchase of zero units.
    #[error("a sale must be of at least one unit")]
    ZeroUnits,
    /// The listing shows fewer units than asked for.
    #[error("cannot sell {requested} of {sku}: the listing shows {listed}")]
    NotEnoughListed {
        /// The SKU.
        sku: Sku,
        /// The units the buyer asked for.
        requested: u32,
        /// What the listing shows (0 when never listed).
        listed: u32,
    },
}

#[derive(Debug)]
struct State {
    listings: HashMap<Sku, u32>,
    orders: Vec<OrderEvent>,
    push_log: Vec<ConfirmedPush>,
    bucket: Option<Bucket>,
    costs: HashMap<Call, u32>,
    page_size: usize,
    no_previous: NoPrevious,
    latency: Duration,
    throttle_all: bool,
    fail_all: Option<MarketplaceError>,
    fail_next: Option<(u32, MarketplaceError)>,
    item_failures: HashMap<Sku, MarketplaceError>,
    /// Calls each pushed item makes before the push (an Etsy listing read before its `PUT`),
    /// taken from the bucket with the push and reported by `push_extra_calls`.
    reads_before_push: u32,
    requests: u64,
    throttled_replies: u64,
    failed_replies: u64,
    pushes: u64,
    reads: u64,
    fetches: u64,
    /// When set, the only SKUs the connection lists (`Marketplace::lists`).
    only_lists: Option<std::collections::HashSet<Sku>>,
    /// How many events before its cursor every page repeats (Etsy's receipts cursor re-reads the
    /// last second on purpose).
    overlap: usize,
    /// Until when the feed can show nothing (Amazon's order-visibility lag).
    feed_hidden_until: Option<Instant>,
}

impl State {
    fn cost(&self, call: Call) -> u32 {
        self.costs.get(&call).copied().unwrap_or(1)
    }

    /// Runs the gates shared by every call (throttling and injected faults).
    fn admit(&mut self, call: Call, extra: u32, now: Instant) -> Result<(), MarketplaceError> {
        if self.throttle_all {
            return Err(MarketplaceError::Throttled {
                retry_after: Some(THROTTLE_ALL_RETRY_AFTER),
            });
        }
        let cost = self.cost(call).saturating_add(extra);
        if let Some(bucket) = &mut self.bucket {
            bucket
                .try_take(now, cost)
                .map_err(|wait| MarketplaceError::Throttled {
                    retry_after: Some(wait),
                })?;
        }
        if let Some((remaining, error)) = self.fail_next.take() {
            if remaining > 1 {
                self.fail_next = Some((remaining - 1, error.clone()));
            }
            if remaining > 0 {
                return Err(error);
            }
        }
        match &self.fail_all {
            Some(error) => Err(error.clone()),
            None => Ok(()),
        }
    }

    fn count(&mut self, call: Call, ok: bool, error: Option<&MarketplaceError>) {
        self.requests += 1;
        match error {
            Some(MarketplaceError::Throttled { .. }) => self.throttled_replies += 1,
            Some(_) => self.failed_replies += 1,
            None if ok => match call {
                Call::Push => self.pushes += 1,
                Call::Read => self.reads += 1,
                Call::Fetch => self.fetches += 1,
            },
            None => {}
        }
    }

    fn push(
        &mut self,
        platform: Platform,
        items: Vec<PushItem>,
        now: Instant,
    ) -> Result<Vec<PushOutcome>, MarketplaceError> {
        if items.len() > platform.batch_size() {
            return Err(invalid(format!(
                "{} items in one push; {platform} takes at most {}",
                items.len(),
                platform.batch_size()
            )));
        }
        let outcomes = items
            .into_iter()
            .map(|item| {
                if let Some(error) = self.item_failures.get(&item.sku) {
                    return PushOutcome::Failed {
                        sku: item.sku,
                        error: error.clone(),
                    };
                }
                let current = self.listings.get(&item.sku).copied();
                if platform.compare_and_set() {
                    let matches = match item.previous {
                        Some(previous) => current == Some(previous),
                        None => match self.no_previous {
                            NoPrevious::SetIfUnlisted => current.is_none(),
                            NoPrevious::SetAlways => true,
                        },
                    };
                    if !matches {
                        return PushOutcome::Stale {
                            sku: item.sku,
                            actual: current,
                        };
                    }
                }
                self.listings.insert(item.sku.clone(), item.quantity);
                self.push_log.push(ConfirmedPush {
                    at: now,
                    sku: item.sku.clone(),
                    quantity: item.quantity,
                    ledger_seq: item.ledger_seq,
                });
                PushOutcome::Confirmed {
                    sku: item.sku,
                    quantity: item.quantity,
                }
            })
            .collect();
        Ok(outcomes)
    }

    fn read(&self, skus: Vec<Sku>) -> Vec<ListedQuantity> {
        skus.into_iter()
            .filter_map(|sku| {
                let quantity = *self.listings.get(&sku)?;
                Some(ListedQuantity { sku, quantity })
            })
            .collect()
    }

    fn fetch(&self, cursor: Option<String>) -> Result<OrderPage, MarketplaceError> {
        let start = match cursor {
            None => 0,
            Some(cursor) => cursor
                .parse::<usize>()
                .ok()
                .filter(|&index| index <= self.orders.len())
                .ok_or_else(|| invalid(format!("unknown order cursor {cursor:?}")))?,
        };
        let end = (start + self.page_size).min(self.orders.len());
        Ok(OrderPage {
            events: self.orders[start.saturating_sub(self.overlap)..end].to_vec(),
            next_cursor: end.to_string(),
            more: end < self.orders.len(),
            skipped: false,
        })
    }
}

fn invalid(message: String) -> MarketplaceError {
    MarketplaceError::Permanent {
        kind: PermanentKind::Invalid,
        message,
    }
}

/// An in-memory marketplace whose clones share one state (see the module documentation).
#[derive(Debug, Clone)]
pub struct FakeMarketplace {
    platform: Platform,
    state: Arc<Mutex<State>>,
}

impl FakeMarketplace {
    /// Creates an empty marketplace of `platform`, without rate limit, latency or faults.
    pub fn new(platform: Platform) -> Self {
        Self {
            platform,
            state: Arc::new(Mutex::new(State {
                listings: HashMap::new(),
                orders: Vec::new(),
                push_log: Vec::new(),
                bucket: None,
                costs: HashMap::new(),
                page_size: DEFAULT_PAGE_SIZE,
                no_previous: NoPrevious::default(),
                latency: Duration::ZERO,
                throttle_all: false,
                fail_all: None,
                fail_next: None,
                item_failures: HashMap::new(),
                reads_before_push: 0,
                requests: 0,
                throttled_replies: 0,
                failed_replies: 0,
                pushes: 0,
                reads: 0,
                fetches: 0,
                only_lists: None,
                overlap: 0,
                feed_hidden_until: None,
            })),
        }
    }

    /// Lists only `skus` on this connection (a catalog that does not sell everything here).
    pub fn with_only_listed(self, skus: &[Sku]) -> Self {
        self.lock().only_lists = Some(skus.iter().cloned().collect());
        self
    }

    /// Gives the marketplace a full token bucket of `capacity` tokens refilled at `per_second`.
    ///
    /// Panics when `capacity` is 0, `per_second` is not positive, or a call cost exceeds `capacity`.
    pub fn with_bucket(self, capacity: u32, per_second: f64) -> Self {
        {
            let mut state = self.lock();
            assert!(
                state.costs.values().all(|&cost| cost <= capacity),
                "a call cost exceeds the bucket capacity"
            );
            state.bucket = Some(Bucket::new(capacity, per_second));
        }
        self
    }

    /// Sets how many tokens one `call` takes (1 by default).
    ///
    /// Panics when the cost exceeds the capacity of the bucket, as such a call could never pass.
    pub fn with_cost(self, call: Call, cost: u32) -> Self {
        {
            let mut state = self.lock();
            if let Some(bucket) = &state.bucket {
                assert!(
                    cost <= bucket.capacity,
                    "a call cost exceeds the bucket capacity"
                );
            }
            state.costs.insert(call, cost);
        }
        self
    }

    /// Makes every pushed item read its listing first: `reads` more calls, each costing a token
    /// of the bucket, which `Marketplace::push_extra_calls` reports so the engine can charge them.
    pub fn with_reads_before_push(self, reads: u32) -> Self {
        self.lock().reads_before_push = reads;
        self
    }

    /// Sets how many order events one `fetch_orders` page holds (panics on 0).
    pub fn with_page_size(self, page_size: usize) -> Self {
        assert!(page_size >= 1, "a page holds at least one event");
        self.lock().page_size = page_size;
        self
    }

    /// Makes every order page repeat the `overlap` events before its cursor, as a feed that
    /// reads part of the last page again (Etsy's receipts cursor re-reads the last second).
    pub fn with_overlap(self, overlap: usize) -> Self {
        self.lock().overlap = overlap;
        self
    }

    /// Hides the order feed until `until`: `Marketplace::order_feed_ready_in` says how long is
    /// left, and a fetch before then is answered with an empty page without being counted as a
    /// fetch (as the Amazon connector does during Amazon's order-visibility lag).
    pub fn hide_feed_until(&self, until: Instant) {
        self.lock().feed_hidden_until = Some(until);
    }

    /// Sets what compare-and-set does with `previous: None` (default `SetIfUnlisted`).
    pub fn with_no_previous(self, no_previous: NoPrevious) -> Self {
        self.lock().no_previous = no_previous;
        self
    }

    /// Lists `quantity` of `sku` as a seller's own edit would: no call, no push log entry.
    pub fn set_listing(&self, sku: &Sku, quantity: u32) {
        self.lock().listings.insert(sku.clone(), quantity);
    }

    /// Returns what the listing of `sku` shows (`None` when never listed).
    pub fn listing(&self, sku: &Sku) -> Option<u32> {
        self.lock().listings.get(sku).copied()
    }

    /// Returns a copy of every listing.
    pub fn listings(&self) -> HashMap<Sku, u32> {
        self.lock().listings.clone()
    }

    /// Sells `units` of `sku` to a buyer when the listing shows at least that many, decrementing
    /// the listing and logging a `Sale` event for `fetch_orders`.
    ///
    /// Sales bypass the rate limit and injected faults: buyers do not use the seller's API.
    pub fn sell(&self, sku: &Sku, units: u32) -> Result<OrderEvent, SaleRefused> {
        if units == 0 {
            return Err(SaleRefused::ZeroUnits);
        }
        let mut state = self.lock();
        let listed = state.listings.get(sku).copied().unwrap_or(0);
        if listed < units {
            return Err(SaleRefused::NotEnoughListed {
                sku: sku.clone(),
                requested: units,
                listed,
            });
        }
        state.listings.insert(sku.clone(), listed - units);
        let event = OrderEvent {
            external_order_id: format!("FAKE-{}", state.orders.len() + 1),
            line: 1,
            version: "1".to_string(),
            sku: sku.clone(),
            kind: OrderEventKind::Sale,
            quantity: units,
        };
        state.orders.push(event.clone());
        Ok(event)
    }

    /// Appends `event` to the order log as is (duplicates, cancels), leaving listings alone.
    pub fn inject_order(&self, event: OrderEvent) {
        self.lock().orders.push(event);
    }

    /// Returns a copy of the order log, oldest first.
    pub fn orders(&self) -> Vec<OrderEvent> {
        self.lock().orders.clone()
    }

    /// Throttles every call while `on`, answering `retry_after: THROTTLE_ALL_RETRY_AFTER`.
    pub fn set_throttle_all(&self, on: bool) {
        self.lock().throttle_all = on;
    }

    /// Fails every call that gets past throttling with `error` while `Some`.
    pub fn set_fail_all(&self, error: Option<MarketplaceError>) {
        self.lock().fail_all = error;
    }

    /// Fails the next `n` calls that get past throttling with `error` (replacing any earlier one).
    pub fn fail_next(&self, n: u32, error: MarketplaceError) {
        self.lock().fail_next = (n > 0).then_some((n, error));
    }

    /// Answers every item of `sku` in a push with `Failed { error }` while `Some` (eBay's 207).
    pub fn set_item_failure(&self, sku: &Sku, error: Option<MarketplaceError>) {
        let mut state = self.lock();
        match error {
            Some(error) => state.item_failures.insert(sku.clone(), error),
            None => state.item_failures.remove(sku),
        };
    }

    /// Makes every call sleep `latency` of tokio time before it is answered.
    pub fn set_latency(&self, latency: Duration) {
        self.lock().latency = latency;
    }

    /// Returns the tokens in the bucket now (`None` without a bucket).
    pub fn bucket_tokens(&self) -> Option<f64> {
        let now = Instant::now();
        self.lock().bucket.as_ref().map(|bucket| bucket.tokens(now))
    }

    /// Returns the number of calls answered, whatever the answer.
    pub fn requests(&self) -> u64 {
        self.lock().requests
    }

    /// Returns the number of calls answered `Throttled`.
    pub fn throttled_replies(&self) -> u64 {
        self.lock().throttled_replies
    }

    /// Returns the number of calls answered with an error other than `Throttled`.
    pub fn failed_replies(&self) -> u64 {
        self.lock().failed_replies
    }

    /// Returns the number of push calls accepted (answered with per-item outcomes).
    pub fn pushes(&self) -> u64 {
        self.lock().pushes
    }

    /// Returns the number of read calls answered successfully.
    pub fn reads(&self) -> u64 {
        self.lock().reads
    }

    /// Returns the number of order fetches answered successfully.
    pub fn fetches(&self) -> u64 {
        self.lock().fetches
    }

    /// Returns a copy of the log of confirmed push items, in confirmation order.
    pub fn push_log(&self) -> Vec<ConfirmedPush> {
        self.lock().push_log.clone()
    }

    /// Returns the confirmed push items of `sku`, in confirmation order.
    pub fn pushes_of(&self, sku: &Sku) -> Vec<ConfirmedPush> {
        self.lock()
            .push_log
            .iter()
            .filter(|push| &push.sku == sku)
            .cloned()
            .collect()
    }

    /// Returns the last confirmed push item of `sku`, if any.
    pub fn last_push(&self, sku: &Sku) -> Option<ConfirmedPush> {
        self.lock()
            .push_log
            .iter()
            .rev()
            .find(|push| &push.sku == sku)
            .cloned()
    }

    /// Returns when a push first confirmed `quantity` for `sku` (for example the zero-out).
    pub fn first_confirmed(&self, sku: &Sku, quantity: u32) -> Option<Instant> {
        self.lock()
            .push_log
            .iter()
            .find(|push| &push.sku == sku && push.quantity == quantity)
            .map(|push| push.at)
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Sleeps the latency, then answers `call` through the shared gates and `body`, counting it.
    async fn answer<T>(
        self,
        call: Call,
        body: impl FnOnce(&mut State, Instant) -> Result<T, MarketplaceError>,
    ) -> Result<T, MarketplaceError> {
        self.answer_costing(call, 0, body).await
    }

    /// [`Self::answer`] for a call that takes `extra` tokens beyond its cost (the reads a push
    /// makes first, see [`Self::with_reads_before_push`]).
    async fn answer_costing<T>(
        self,
        call: Call,
        extra: u32,
        body: impl FnOnce(&mut State, Instant) -> Result<T, MarketplaceError>,
    ) -> Result<T, MarketplaceError> {
        let latency = self.lock().latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
        let now = Instant::now();
        let mut state = self.lock();
        let result = state
            .admit(call, extra, now)
            .and_then(|()| body(&mut state, now));
        state.count(call, result.is_ok(), result.as_ref().err());
        result
    }
}

impl Marketplace for FakeMarketplace {
    fn platform(&self) -> Platform {
        self.platform
    }

    fn push_quantities(&self, items: Vec<PushItem>) -> MarketFuture<Vec<PushOutcome>> {
        let platform = self.platform;
        let extra = self.push_extra_calls(&items);
        Box::pin(
            self.clone()
                .answer_costing(Call::Push, extra, move |state, now| {
                    state.push(platform, items, now)
                }),
        )
    }

    fn push_extra_calls(&self, items: &[PushItem]) -> u32 {
        let per_item = self.lock().reads_before_push;
        per_item.saturating_mul(u32::try_from(items.len()).unwrap_or(u32::MAX))
    }

    fn read_quantities(&self, skus: Vec<Sku>) -> MarketFuture<Vec<ListedQuantity>> {
        Box::pin(
            self.clone()
                .answer(Call::Read, move |state, _| Ok(state.read(skus))),
        )
    }

    fn lists(&self, sku: &Sku) -> bool {
        self.lock()
            .only_lists
            .as_ref()
            .is_none_or(|listed| listed.contains(sku))
    }

    fn fetch_orders(&self, cursor: Option<String>) -> MarketFuture<OrderPage> {
        if self.order_feed_ready_in(cursor.as_deref()).is_some() {
            let page = OrderPage {
                events: Vec::new(),
                next_cursor: cursor.unwrap_or_else(|| "0".into()),
                more: false,
                skipped: true,
            };
            return Box::pin(async move { Ok(page) });
        }
        Box::pin(
            self.clone()
                .answer(Call::Fetch, move |state, _| state.fetch(cursor)),
        )
    }

    fn order_feed_ready_in(&self, _cursor: Option<&str>) -> Option<Duration> {
        let until = self.lock().feed_hidden_until?;
        let left = until.saturating_duration_since(Instant::now());
        (!left.is_zero()).then_some(left)
    }
}

#[cfg(test)]
mod tests;
