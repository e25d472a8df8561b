//! The registry of limiters: one per budget, keyed the way the marketplace scopes it, with fair
//! shares of app-wide budgets and the marketplace's throttle on top.
//!
//! Each budget is paced by governor limiters built on an injected [`Clock`] (reliability.md §5:
//! `FakeRelativeClock` in tests, because governor's default clock is real time). The registry
//! only answers "may this call go now, and if not, how long to wait"; it never sleeps, since the
//! actor schedules its own retry on actix/tokio time (governor's futures do not follow tokio's
//! paused time).
//!
//! Governor keyed limiters hold one quota for every key, while here quotas differ per key (channel
//! overrides, tier shares), so each key gets a direct limiter of its own and this registry does
//! governor's `retain_recent` housekeeping itself: a limiter unused for as long as its burst
//! takes to refill is indistinguishable from a new one and is dropped.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::num::NonZeroU32;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use governor::clock::{Clock, DefaultClock, Reference};

use super::defaults::{Pacing, RateLimitSpec};
use super::overrides::{OverrideTarget, RateLimitConfigError, RateLimitOverrides};
use super::throttle::{ThrottleGate, ThrottleSignal};
use crate::ids::{ChannelId, ClientCode};
use crate::platform::MarketplaceError;
use crate::platform::Platform;
use crate::platform::{Bucket, Operation, RemoteLimit};

mod keys;
mod stage;

pub use self::keys::{AppId, LimiterKey, Owner, RequestKey, ServiceTier, Wait, WaitReason};
use self::stage::{share_of, stages, Part, Stage, Window};

/// Everything the registry keeps for one budget key.
struct BucketState<C: Clock> {
    remote: RemoteLimit,
    gate: ThrottleGate<C::Instant>,
    guards: Vec<Stage<C>>,
    /// Each client's share of an app-wide budget.
    shares: HashMap<ClientCode, Part<C>>,
    /// The part of the owner's budget that order polls and read-backs of each client may take.
    operations: HashMap<(ClientCode, Operation), Part<C>>,
    /// The clients refused by the app's own limit although their share had room: they wait for
    /// their turn. While one waits, no other client borrows; among the clients within their
    /// share, the turn goes by start-time fair queueing ([`FairQueue`]), so that a client with a
    /// full burst cannot take every cell of the app while another, within its share, waits. A
    /// client leaves when it is served, or when it has not asked for a whole
    /// [`BucketState::contention_window`].
    waiting: HashMap<ClientCode, Waiter<C::Instant>>,
    /// The virtual times of start-time fair queueing among the app's clients.
    queue: FairQueue,
}

impl<C: Clock + Clone> BucketState<C> {
    fn new(remote: RemoteLimit, clock: &C) -> Self {
        BucketState {
            remote,
            gate: ThrottleGate::new(),
            guards: stages(remote.pacing(), clock),
            shares: HashMap::new(),
            operations: HashMap::new(),
            waiting: HashMap::new(),
            queue: FairQueue::default(),
        }
    }

    /// Rebuilds the limiters when the configured limit changed since they were built; the
    /// throttle gate stays, since the marketplace's word does not change with our configuration.
    fn follow(&mut self, remote: RemoteLimit, clock: &C) {
        if self.remote != remote {
            self.remote = remote;
            self.guards = stages(remote.pacing(), clock);
            self.shares.clear();
            self.operations.clear();
            self.waiting.clear();
        }
    }

    /// How long past the wait it was told a waiting client keeps its place: two of the budget's
    /// slowest intervals; at least a second, at most five minutes.
    fn contention_window(&self) -> Duration {
        let slowest = self
            .guards
            .iter()
            .map(|stage| stage.rate.interval())
            .max()
            .unwrap_or_default();
        slowest
            .saturating_mul(2)
            .clamp(MIN_CONTENTION_WINDOW, MAX_CONTENTION_WINDOW)
    }

    /// Forgets the waiting clients that did not come back when they were told to (and a
    /// contention window more): they stopped asking.
    fn forget_gone_waiters(&mut self, now: C::Instant) {
        let grace = self.contention_window();
        self.waiting.retain(|_, waiter| {
            Duration::from(now.duration_since(waiter.asked)) < waiter.told.saturating_add(grace)
        });
    }

    /// Tells whether another client than `client` waits for its turn.
    fn others_waiting(&self, client: &ClientCode) -> bool {
        self.waiting.keys().any(|other| other != client)
    }

    /// When a waiting client other than `client` has the earlier turn: how long until the first
    /// of them is due back, at least the app's shortest interval (the soonest a cell refills).
    ///
    /// Not the app's *slowest* interval: with Etsy's daily stage that is 9 s, and two clients
    /// that each found the other waiting sent one call per 9 s between them while 500 cells of
    /// the daily burst sat unused (issue 12, `two_clients_pushing_and_polling_use_the_apps_budget`).
    fn turn_of_others(&self, client: &ClientCode, now: C::Instant) -> Option<Duration> {
        let own = self.queue.start(client);
        let due = self
            .waiting
            .iter()
            .filter(|(other, _)| *other != client && self.queue.start(other) < own)
            .map(|(_, waiter)| {
                waiter
                    .told
                    .saturating_sub(Duration::from(now.duration_since(waiter.asked)))
            })
            .min()?;
        let soonest = self
            .guards
            .iter()
            .map(|stage| stage.rate.interval())
            .min()
            .unwrap_or(MIN_CONTENTION_WINDOW);
        Some(due.max(soonest))
    }

    /// Records that `client`, within its share, was refused by the app's limit at `now` and
    /// told to come back after `told`.
    fn wait_turn(&mut self, client: &ClientCode, now: C::Instant, told: Duration) {
        self.waiting
            .insert(client.clone(), Waiter { asked: now, told });
    }

    fn is_idle(&self, now: C::Instant) -> bool {
        self.gate.is_open(now)
            && self.shares.is_empty()
            && self.operations.is_empty()
            && self.waiting.is_empty()
            && self.guards.iter().all(|stage| stage.is_fresh(now))
    }
}

/// A client waiting for its turn on an app-wide budget.
#[derive(Debug, Clone, Copy)]
struct Waiter<I> {
    /// When it last asked.
    asked: I,
    /// How long it was told to wait then.
    told: Duration,
}

/// Start-time fair queueing (Goyal, Vin and Cheng, 1996) over the clients of an app-wide
/// budget: each served call advances its client's virtual time by cost / weight, a client's next
/// call starts at the later of its own virtual time and the queue's, and among waiting clients
/// the earliest start goes first. A client that was idle starts at the queue's time (it gets no
/// credit for idleness); a client that borrowed idle capacity has a later start and lets the
/// others go first once they want their share. Over any busy period the clients are served in
/// proportion to their weights.
#[derive(Debug, Default)]
struct FairQueue {
    /// The start tag of the call served last.
    now: f64,
    /// Each client's virtual finish time.
    finish: HashMap<ClientCode, f64>,
}

impl FairQueue {
    /// The start tag of `client`'s next call.
    fn start(&self, client: &ClientCode) -> f64 {
        self.finish
            .get(client)
            .copied()
            .unwrap_or(0.0)
            .max(self.now)
    }

    /// Records that `client`, of weight `weight`, was served a call of `cost`.
    fn served(&mut self, client: &ClientCode, cost: u32, weight: u32) {
        let start = self.start(client);
        self.now = start;
        self.finish.insert(
            client.clone(),
            start + f64::from(cost.max(1)) / f64::from(weight.max(1)),
        );
    }

    /// Forgets clients whose virtual time the queue has passed: they would start at the queue's
    /// time anyway.
    fn forget_idle(&mut self) {
        let now = self.now;
        self.finish.retain(|_, finish| *finish > now);
    }
}

/// The shortest time a waiting client that stopped asking keeps its place.
const MIN_CONTENTION_WINDOW: Duration = Duration::from_secs(1);
/// The longest time a waiting client that stopped asking keeps its place.
const MAX_CONTENTION_WINDOW: Duration = Duration::from_secs(300);

struct ChannelEntry {
    platform: Platform,
    app: AppId,
    remotes: BTreeMap<Bucket, RemoteLimit>,
}

struct Registry<C: Clock> {
    channels: HashMap<(ClientCode, ChannelId), ChannelEntry>,
    apps: HashMap<(Platform, AppId), BTreeMap<Bucket, RemoteLimit>>,
    weights: HashMap<ClientCode, NonZeroU32>,
    members: HashMap<(Platform, AppId), BTreeSet<ClientCode>>,
    buckets: HashMap<LimiterKey, BucketState<C>>,
}

impl<C: Clock> Registry<C> {
    /// Returns the limit a request's bucket has: the app's or the channel's override, or the
    /// default.
    fn remote_for(&self, request: &RequestKey) -> RemoteLimit {
        let bucket = request.bucket;
        let configured = if bucket.scope().is_app_wide() {
            self.apps
                .get(&(request.platform(), request.app.clone()))
                .and_then(|remotes| remotes.get(&bucket))
        } else {
            self.channels
                .get(&(request.client.clone(), request.channel.clone()))
                .filter(|entry| entry.platform == request.platform() && entry.app == request.app)
                .and_then(|entry| entry.remotes.get(&bucket))
        };
        configured
            .copied()
            .unwrap_or_else(|| bucket.default_limit())
    }

    fn weight(&self, client: &ClientCode) -> u32 {
        self.weights
            .get(client)
            .copied()
            .unwrap_or_else(|| ServiceTier::Standard.weight())
            .get()
    }

    /// Returns the client's weight and the total weight of the app's clients, the client
    /// included even if it never registered.
    fn share_weights(&self, request: &RequestKey) -> (u32, u32) {
        let own = self.weight(&request.client);
        let others: u32 = self
            .members
            .get(&(request.platform(), request.app.clone()))
            .into_iter()
            .flatten()
            .filter(|member| **member != request.client)
            .map(|member| self.weight(member))
            .sum();
        (own, own + others)
    }

    /// Drops the client from the app's members unless another of its channels still uses it.
    fn leave_app_if_unused(&mut self, client: &ClientCode, platform: Platform, app: &AppId) {
        let still_used = self.channels.iter().any(|((other_client, _), entry)| {
            other_client == client && entry.platform == platform && entry.app == *app
        });
        if !still_used {
            if let Some(members) = self.members.get_mut(&(platform, app.clone())) {
                members.remove(client);
                if members.is_empty() {
                    self.members.remove(&(platform, app.clone()));
                }
            }
        }
    }
}

/// The engine's rate limiters: a registry of budgets keyed the way each platform scopes them,
/// shared by every ChannelActor (wrap it in an `Arc`). Generic over governor's [`Clock`] so that
/// tests run on `FakeRelativeClock`.
pub struct RateLimiters<C: Clock = DefaultClock> {
    clock: C,
    registry: Mutex<Registry<C>>,
}

impl RateLimiters<DefaultClock> {
    /// Creates an empty registry on the real clock.
    pub fn new() -> Self {
        Self::with_clock(DefaultClock::default())
    }
}

impl Default for RateLimiters<DefaultClock> {
    fn default() -> Self {
        Self::new()
    }
}

impl<C: Clock> fmt::Debug for RateLimiters<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let registry = self.lock();
        f.debug_struct("RateLimiters")
            .field("channels", &registry.channels.len())
            .field("apps", &registry.apps.len())
            .field("keys", &registry.buckets.len())
            .finish()
    }
}

impl<C: Clock> RateLimiters<C> {
    fn lock(&self) -> MutexGuard<'_, Registry<C>> {
        // Every update leaves the registry consistent before anything can panic, so a poisoned
        // lock still guards valid state.
        self.registry.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl<C: Clock + Clone> RateLimiters<C> {
    /// Creates an empty registry on `clock`.
    pub fn with_clock(clock: C) -> Self {
        RateLimiters {
            clock,
            registry: Mutex::new(Registry {
                channels: HashMap::new(),
                apps: HashMap::new(),
                weights: HashMap::new(),
                members: HashMap::new(),
                buckets: HashMap::new(),
            }),
        }
    }

    /// Returns the registry's clock.
    pub fn clock(&self) -> &C {
        &self.clock
    }

    /// Registers a channel with its overrides (validated: errors say what is wrong) and makes its
    /// client a member of the app's shared budgets. Registering again with the same settings
    /// changes nothing, so a restarted actor does not get a fresh burst.
    pub fn register_channel(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
        platform: Platform,
        app: &AppId,
        overrides: &RateLimitOverrides,
    ) -> Result<(), RateLimitConfigError> {
        let remotes = overrides.resolve(platform, OverrideTarget::Channel)?;
        let mut registry = self.lock();
        let previous = registry.channels.insert(
            (client.clone(), channel.clone()),
            ChannelEntry {
                platform,
                app: app.clone(),
                remotes,
            },
        );
        if let Some(previous) = previous {
            registry.leave_app_if_unused(client, previous.platform, &previous.app);
        }
        registry
            .members
            .entry((platform, app.clone()))
            .or_default()
            .insert(client.clone());
        Ok(())
    }

    /// Forgets a channel; its client leaves the app's shared budgets unless another of its
    /// channels uses the same app, and the remaining clients' shares grow.
    pub fn remove_channel(&self, client: &ClientCode, channel: &ChannelId) {
        let mut registry = self.lock();
        if let Some(entry) = registry.channels.remove(&(client.clone(), channel.clone())) {
            registry.leave_app_if_unused(client, entry.platform, &entry.app);
        }
    }

    /// Sets the overrides of an app's shared budgets (Etsy's QPS and QPD, eBay's daily quotas),
    /// validated: errors say what is wrong.
    pub fn configure_app(
        &self,
        platform: Platform,
        app: &AppId,
        overrides: &RateLimitOverrides,
    ) -> Result<(), RateLimitConfigError> {
        let remotes = overrides.resolve(platform, OverrideTarget::App)?;
        self.lock().apps.insert((platform, app.clone()), remotes);
        Ok(())
    }

    /// Sets a client's weight in shared budgets from its service tier.
    pub fn set_tier(&self, client: &ClientCode, tier: ServiceTier) {
        self.set_share_weight(client, tier.weight());
    }

    /// Sets a client's weight in shared budgets.
    pub fn set_share_weight(&self, client: &ClientCode, weight: NonZeroU32) {
        self.lock().weights.insert(client.clone(), weight);
    }

    /// Forgets a client: its channels, weight, memberships and limiter state.
    pub fn remove_client(&self, client: &ClientCode) {
        let mut registry = self.lock();
        registry
            .channels
            .retain(|(channel_client, _), _| channel_client != client);
        registry.weights.remove(client);
        registry.members.retain(|_, members| {
            members.remove(client);
            !members.is_empty()
        });
        registry.buckets.retain(|key, state| {
            state.shares.remove(client);
            state.operations.retain(|(owner, _), _| owner != client);
            state.waiting.remove(client);
            !matches!(&key.owner, Owner::Channel { client: owner, .. } if owner == client)
        });
    }

    /// Returns the spec a request is limited by: the default with the channel's or app's
    /// override applied.
    pub fn effective_spec(&self, request: &RequestKey) -> RateLimitSpec {
        let remote = self.lock().remote_for(request);
        RateLimitSpec {
            remote,
            ..RateLimitSpec::for_bucket(request.bucket, request.operation)
        }
    }

    /// Returns the pacing the request's client is guaranteed: its share of an app-wide budget
    /// (it may borrow beyond it while no other client waits for its turn), or the whole budget of
    /// its own store or seller. An operation with its own part of the budget
    /// ([`Bucket::operation_share`]) gets that part of it.
    pub fn pacing(&self, request: &RequestKey) -> Pacing {
        let registry = self.lock();
        let pacing = registry.remote_for(request).pacing();
        let own = if request.bucket.scope().is_app_wide() {
            let (weight, total) = registry.share_weights(request);
            share_of(pacing, weight, total)
        } else {
            pacing
        };
        match request.bucket.operation_share(request.operation) {
            Some((part, whole)) => share_of(own, part, whole),
            None => own,
        }
    }

    /// Takes `cost` (in the bucket's unit: points on Shopify GraphQL, calls elsewhere) from the
    /// request's budget if the call may go now; otherwise says how long to wait, and takes
    /// nothing that would be lost.
    ///
    /// A call passes, in order: the marketplace's own throttle; the operation's part of the
    /// budget (order polls and read-backs on a budget several operations share,
    /// [`Bucket::operation_share`]); the client's share of an app-wide budget, which a client
    /// may exceed by borrowing what the others leave idle unless another client waits for its
    /// turn; the turns of the clients refused by the app's limit within their share (fair
    /// queueing by weight); and the budget's own pacing (daily, then short-term), which
    /// holds the sum of every client under the marketplace's limit.
    ///
    /// A client that calls before registering is made a member of the app's shared budgets with
    /// its current weight (Standard unless set), so that every caller has a share.
    pub fn check(&self, request: &RequestKey, cost: u32) -> Result<(), Wait> {
        let now = self.clock.now();
        let mut registry = self.lock();
        let remote = registry.remote_for(request);
        let app_wide = request.bucket.scope().is_app_wide();
        let weights = if app_wide {
            registry
                .members
                .entry((request.platform(), request.app.clone()))
                .or_default()
                .insert(request.client.clone());
            Some(registry.share_weights(request))
        } else {
            None
        };
        let state = registry
            .buckets
            .entry(request.limiter_key())
            .or_insert_with(|| BucketState::new(remote, &self.clock));
        state.follow(remote, &self.clock);
        if let Some(duration) = state.gate.wait_from(now) {
            return Err(Wait {
                duration,
                reason: WaitReason::Throttled,
            });
        }

        let client = &request.client;
        let payer = (client.clone(), request.operation);
        // The budget this client may use as its own: its share of an app-wide budget, or the
        // whole budget of its store or seller.
        let own_pacing = match weights {
            Some((weight, total)) => share_of(state.remote.pacing(), weight, total),
            None => state.remote.pacing(),
        };
        if let Some((part, whole)) = request.bucket.operation_share(request.operation) {
            let pacing = share_of(own_pacing, part, whole);
            let operation = Part::follow(&mut state.operations, payer.clone(), pacing, &self.clock);
            for stage in &mut operation.stages {
                stage.pass(&payer, cost, now).map_err(|duration| Wait {
                    duration,
                    reason: WaitReason::OperationShare,
                })?;
            }
        }
        // Whether the call goes beyond the client's share, on capacity the others leave idle.
        let mut borrowing = false;
        if weights.is_some() {
            state.forget_gone_waiters(now);
            let contended = state.others_waiting(client);
            let share = Part::follow(&mut state.shares, client.clone(), own_pacing, &self.clock);
            for stage in &mut share.stages {
                if let Err(duration) = stage.pass(&payer, cost, now) {
                    if contended {
                        return Err(Wait {
                            duration,
                            reason: WaitReason::FairShare,
                        });
                    }
                    borrowing = true;
                    break;
                }
            }
            let behind = if borrowing {
                None
            } else {
                state.turn_of_others(client, now)
            };
            if let Some(duration) = behind {
                // Within its share, but another waiting client has the earlier turn: it goes
                // first, this one comes back when that one is due.
                state.wait_turn(client, now, duration);
                return Err(Wait {
                    duration,
                    reason: WaitReason::FairShare,
                });
            }
        }
        let refused = state.guards.iter_mut().find_map(|stage| {
            stage.pass(&payer, cost, now).err().map(|duration| Wait {
                duration,
                reason: match stage.window {
                    Window::Daily => WaitReason::DailyQuota,
                    Window::ShortTerm => WaitReason::Pacing,
                },
            })
        });
        if let Some(wait) = refused {
            if app_wide && !borrowing {
                // Refused by the app's limit while within its share: it waits for its turn,
                // and nobody borrows until it got it.
                state.wait_turn(client, now, wait.duration);
            }
            return Err(wait);
        }

        // Every stage passed: the cells paid for this call are spent.
        let parts = state
            .operations
            .get_mut(&payer)
            .into_iter()
            .chain(state.shares.get_mut(client));
        for part in parts {
            for stage in &mut part.stages {
                stage.settle(&payer, cost);
            }
        }
        for stage in &mut state.guards {
            stage.settle(&payer, cost);
        }
        state.waiting.remove(client);
        if let Some((weight, _)) = weights {
            state.queue.served(client, cost, weight);
        }
        Ok(())
    }

    /// Closes the request's key for as long as the marketplace said (or the default 1 s), so
    /// nothing is sent on it until then; other keys are untouched. Returns the wait.
    pub fn throttled(&self, request: &RequestKey, signal: ThrottleSignal) -> Duration {
        let wait = signal.wait();
        let now = self.clock.now();
        let mut registry = self.lock();
        let remote = registry.remote_for(request);
        registry
            .buckets
            .entry(request.limiter_key())
            .or_insert_with(|| BucketState::new(remote, &self.clock))
            .gate
            .close_for(now, wait);
        wait
    }

    /// Applies a failed call's throttle, if the error is one, and returns the wait it imposed.
    pub fn record_error(&self, request: &RequestKey, error: &MarketplaceError) -> Option<Duration> {
        ThrottleSignal::from_error(error).map(|signal| self.throttled(request, signal))
    }

    /// Drops the state of keys that are indistinguishable from new ones (unused for as long as
    /// their bursts take to refill, no throttle pending, nothing prepaid), so that keys do not
    /// pile up (reliability.md §5, "Memory"). Call it on a timer, every few minutes.
    pub fn retain_recent(&self) {
        let now = self.clock.now();
        let mut registry = self.lock();
        registry.buckets.retain(|_, state| {
            state.shares.retain(|_, share| !share.is_fresh(now));
            state.operations.retain(|_, part| !part.is_fresh(now));
            state.forget_gone_waiters(now);
            state.queue.forget_idle();
            !state.is_idle(now)
        });
        registry.buckets.shrink_to_fit();
    }

    /// Returns the number of budget keys holding limiter state.
    pub fn len(&self) -> usize {
        self.lock().buckets.len()
    }

    /// Tells whether no budget key holds limiter state.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
