//! The mock marketplaces' shared core (DESIGN §7): listings, shoppers, faults, webhooks, the
//! `/_mock/` control surface and the server that runs one mock. Each platform's wire format lives
//! in its own folder (`src/platforms/<platform>/mock/`) behind [`PlatformMock`]; everything
//! shoppers and tests see the same way on every mock lives here.
//!
//! All of it, and every platform's `mock/`, is compiled only with the `mocks` cargo feature (on by
//! default: the demo, `mock-marketplace`, the tests and the bench need it). `cargo check -p
//! shelfsync --no-default-features` builds the service without a line of mock code, and CI runs
//! it, so no production module can come to depend on a mock.

pub mod control;
pub mod faults;
pub mod samples;
pub mod server;
pub mod shoppers;
pub mod throttle;
pub mod webhooks;
pub mod world;

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use actix_web::http::StatusCode;
use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde_json::Value;
use shelfsync_actors::platform::Platform;
use tokio::sync::watch;

pub use self::faults::{FaultDecision, FaultSettings};
pub use self::server::{start_mocks, MockServer};
pub use self::shoppers::ShopperSettings;
pub use self::webhooks::{Delivery, RetrySchedule, WebhookAuth, WebhookHub};
pub use self::world::{ListingIdentity, Order, OrderChange, OrderRefusal, World};

/// The credential a mock accepts when none is given (`--token`).
pub const DEFAULT_TOKEN: &str = "mock-token";
/// The plan every platform offers besides its real ones: limits so high they never bind, for load
/// tests of the engine where the mock must not be the bottleneck.
pub const UNLIMITED_PLAN: &str = "unlimited";

/// How to start one mock.
#[derive(Debug, Clone)]
pub struct MockOptions {
    /// Where to listen; port 0 picks a free port. Loopback by default.
    pub listen: std::net::SocketAddr,
    /// The one credential the mock accepts, in the platform's own auth header(s).
    pub token: String,
    /// The platform plan whose limits apply (`default` unless the platform names others;
    /// [`UNLIMITED_PLAN`] everywhere).
    pub plan: String,
    /// Seed of every random draw of the mock (shoppers unless they bring their own, faults).
    pub seed: u64,
    /// actix-web worker threads.
    pub workers: usize,
    /// Whether the server stops on SIGINT/SIGTERM (the standalone command) or only when told
    /// (in-process mocks of tests and the demo).
    pub handle_signals: bool,
}

impl Default for MockOptions {
    fn default() -> MockOptions {
        MockOptions {
            listen: std::net::SocketAddr::from(([127, 0, 0, 1], 0)),
            token: DEFAULT_TOKEN.to_string(),
            plan: "default".to_string(),
            seed: 1,
            workers: 2,
            handle_signals: false,
        }
    }
}

/// Errors of the mock core, each with a stable `kind()` used as the control surface's `code`.
#[derive(Debug, thiserror::Error)]
pub enum MockError {
    /// A listing of a `POST /_mock/listings` is malformed.
    #[error("listing {index}: {message}")]
    BadListing {
        /// Its position in the request.
        index: usize,
        /// What is wrong.
        message: String,
    },
    /// The SKU is listed already (or twice in the request).
    #[error("sku {sku:?} is already listed")]
    DuplicateSku {
        /// The SKU.
        sku: String,
    },
    /// The mock would hold more listings than it allows.
    #[error("a mock holds at most {max} listings")]
    TooManyListings {
        /// The limit.
        max: usize,
    },
    /// No listing has the SKU.
    #[error("no listing has sku {sku:?}")]
    UnknownSku {
        /// The SKU.
        sku: String,
    },
    /// No order has the id.
    #[error("no order has id {order_id:?}")]
    UnknownOrder {
        /// The id.
        order_id: String,
    },
    /// The order was cancelled already.
    #[error("order {order_id:?} is already cancelled")]
    AlreadyCancelled {
        /// The id.
        order_id: String,
    },
    /// A control request is malformed or out of range.
    #[error("{message}")]
    BadControlRequest {
        /// What is wrong.
        message: String,
    },
    /// The platform has no such plan.
    #[error("{platform} has no plan {plan:?} (known: {known})")]
    UnknownPlan {
        /// The platform.
        platform: Platform,
        /// The plan asked for.
        plan: String,
        /// The plans it has.
        known: String,
    },
    /// The platform sends no webhooks (orders are polled).
    #[error("{platform} sends no webhooks in this mock: its orders are polled")]
    WebhooksUnsupported {
        /// The platform.
        platform: Platform,
    },
    /// The listen address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The server thread failed to start.
    #[error("the mock server did not start: {message}")]
    Start {
        /// Why.
        message: String,
    },
}

impl MockError {
    /// The stable code of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            MockError::BadListing { .. } => "bad_listing",
            MockError::DuplicateSku { .. } => "duplicate_sku",
            MockError::TooManyListings { .. } => "too_many_listings",
            MockError::UnknownSku { .. } => "unknown_sku",
            MockError::UnknownOrder { .. } => "unknown_order",
            MockError::AlreadyCancelled { .. } => "already_cancelled",
            MockError::BadControlRequest { .. } => "bad_request",
            MockError::UnknownPlan { .. } => "unknown_plan",
            MockError::WebhooksUnsupported { .. } => "webhooks_unsupported",
            MockError::Bind { .. } => "bind_failed",
            MockError::Start { .. } => "start_failed",
        }
    }

    /// The HTTP status of the error on the control surface.
    pub fn status(&self) -> StatusCode {
        match self {
            MockError::BadListing { .. }
            | MockError::BadControlRequest { .. }
            | MockError::TooManyListings { .. }
            | MockError::UnknownPlan { .. } => StatusCode::BAD_REQUEST,
            MockError::DuplicateSku { .. } | MockError::AlreadyCancelled { .. } => {
                StatusCode::CONFLICT
            }
            MockError::UnknownSku { .. }
            | MockError::UnknownOrder { .. }
            | MockError::WebhooksUnsupported { .. } => StatusCode::NOT_FOUND,
            MockError::Bind { .. } | MockError::Start { .. } => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl actix_web::ResponseError for MockError {
    fn status_code(&self) -> StatusCode {
        self.status()
    }

    fn error_response(&self) -> HttpResponse {
        HttpResponse::build(self.status())
            .json(serde_json::json!({ "code": self.kind(), "message": self.to_string() }))
    }
}

/// One platform's wire format on a mock: its ids, its routes, its replies. Implemented in
/// `src/platforms/<platform>/mock/`; shared state (limiters, caches) lives behind `Arc`s inside
/// the implementation because [`PlatformMock::configure`] runs once per server worker.
pub trait PlatformMock: Send + Sync + std::fmt::Debug + 'static {
    /// The platform.
    fn platform(&self) -> Platform;
    /// The API version the mock speaks (shown in `/_mock/info`).
    fn api_version(&self) -> &'static str;
    /// The account ids a connector needs (shop id, seller id, location id, ...).
    fn account(&self) -> Value;
    /// The plan's limits, for `/_mock/info`.
    fn limits(&self) -> Value;
    /// The platform ids and `listing_ref` of listing `number` with `sku`.
    fn listing_identity(&self, number: u64, sku: &str) -> ListingIdentity;
    /// The platform's id of order `number`.
    fn order_id(&self, number: u64) -> String;
    /// Adds the platform's routes (auth, limits and wire format are theirs).
    fn configure(&self, cfg: &mut web::ServiceConfig);
    /// The platform's throttled reply, sent while a throttle storm is injected.
    fn throttled_reply(&self) -> HttpResponse;
    /// The platform's reply to an injected server error (500) or downtime (503).
    fn server_error_reply(&self, status: StatusCode) -> HttpResponse;
    /// Whether the platform pushes order notifications to subscribed receivers.
    fn sends_webhooks(&self) -> bool {
        false
    }
    /// Checks a subscription's `auth` choice and its secret. The default: the platform
    /// authenticates its own way and offers no choice, so any `auth` is refused.
    fn check_auth(&self, auth: Option<WebhookAuth>, _secret: &str) -> Result<(), MockError> {
        match auth {
            None => Ok(()),
            Some(auth) => Err(MockError::BadControlRequest {
                message: format!(
                    "{} offers no choice of webhook auth ({auth:?} asked)",
                    self.platform()
                ),
            }),
        }
    }
    /// Called after an order is placed or cancelled, outside the world lock; the platforms
    /// with notifications send them from here.
    fn order_changed(&self, _state: &MockState, _order: &Order, _change: OrderChange) {}
    /// When the platform retries a failed delivery (Shopify's schedule unless it says otherwise).
    fn webhook_retries(&self) -> RetrySchedule {
        RetrySchedule::shopify()
    }
    /// Rewrites a delivery just before it is retried (a scheme that signs a time signs the retry
    /// anew); by default a retry carries the original request, as Shopify's do.
    fn prepare_retry(&self, _state: &MockState, _delivery: &mut Delivery) {}
    /// Checks a receiver before `POST /_mock/webhooks` subscribes it (eBay challenges the
    /// endpoint first); `Err` refuses the subscription. By default every receiver is taken.
    fn check_subscription<'a>(&'a self, _url: &'a str, _secret: &'a str) -> SubscriptionCheck<'a> {
        Box::pin(async { Ok(()) })
    }
}

/// The future of [`PlatformMock::check_subscription`] (awaited by the control handler).
pub type SubscriptionCheck<'a> =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), MockError>> + 'a>>;

/// The state of one running mock, shared by its workers, shoppers and webhook sender.
#[derive(Debug)]
pub struct MockState {
    platform: Arc<dyn PlatformMock>,
    options: MockOptions,
    world: Mutex<World>,
    faults: Mutex<faults::Faults>,
    shoppers: watch::Sender<ShopperSettings>,
    webhooks: WebhookHub,
    /// Whether the seller revoked the agency's access (`POST /_mock/credential`): every call
    /// is then refused as the platform refuses a bad token, until access is granted again.
    credential_revoked: std::sync::atomic::AtomicBool,
}

impl MockState {
    /// The state of a new mock of `platform` (its shoppers and webhook sender start with the
    /// server).
    pub fn new(platform: Arc<dyn PlatformMock>, options: MockOptions) -> MockState {
        let seed = options.seed;
        MockState {
            platform,
            options,
            world: Mutex::new(World::default()),
            faults: Mutex::new(faults::Faults::new(seed)),
            shoppers: watch::Sender::new(ShopperSettings::stopped()),
            webhooks: WebhookHub::default(),
            credential_revoked: std::sync::atomic::AtomicBool::new(false),
        }
    }

    /// Whether the seller revoked the agency's access: each platform's auth check refuses
    /// every token while it is.
    pub fn credential_revoked(&self) -> bool {
        self.credential_revoked
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Revokes the agency's access (`true`) or grants it again (`false`).
    pub fn set_credential_revoked(&self, revoked: bool) {
        self.credential_revoked
            .store(revoked, std::sync::atomic::Ordering::Relaxed);
    }

    /// The platform's wire format.
    pub fn platform(&self) -> &Arc<dyn PlatformMock> {
        &self.platform
    }

    /// How the mock was started.
    pub fn options(&self) -> &MockOptions {
        &self.options
    }

    /// `http://ADDR`, the address the mock really listens on (what its payloads link to).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.options.listen)
    }

    /// The listings, orders and ground truth. Holders must not await while holding it.
    pub fn world(&self) -> MutexGuard<'_, World> {
        // A panic while holding the lock leaves plain data behind; the mock keeps serving it.
        self.world
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The fault settings and their random source.
    pub fn faults(&self) -> MutexGuard<'_, faults::Faults> {
        self.faults
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The webhook subscriptions and delivery queue.
    pub fn webhooks(&self) -> &WebhookHub {
        &self.webhooks
    }

    /// The shoppers' settings channel.
    pub fn shoppers(&self) -> &watch::Sender<ShopperSettings> {
        &self.shoppers
    }

    /// The wall clock of orders and listing changes.
    pub fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    /// The first step of every platform request: counts it under `operation`, adds the injected
    /// latency and applies downtime, throttle storms and injected errors. `Err` is the reply to
    /// send instead of serving the request.
    pub async fn admit(&self, operation: &str) -> Result<(), HttpResponse> {
        self.world().count_request(operation);
        let (latency, decision) = self.faults().decide(Instant::now());
        if !latency.is_zero() {
            actix_rt::time::sleep(latency).await;
        }
        match decision {
            FaultDecision::Pass => Ok(()),
            FaultDecision::Throttle => {
                self.world().count_throttled(operation);
                Err(self.platform.throttled_reply())
            }
            FaultDecision::Down => {
                self.world().count_faulted(operation);
                Err(self
                    .platform
                    .server_error_reply(StatusCode::SERVICE_UNAVAILABLE))
            }
            FaultDecision::ServerError => {
                self.world().count_faulted(operation);
                Err(self
                    .platform
                    .server_error_reply(StatusCode::INTERNAL_SERVER_ERROR))
            }
        }
    }

    /// Counts a request refused for its credential and passes the platform's reply through.
    pub fn refuse_auth(&self, operation: &str, reply: HttpResponse) -> HttpResponse {
        self.world().count_auth_refused(operation);
        reply
    }

    /// Counts a throttled reply of the platform's own limiter and passes it through.
    pub fn throttle(&self, operation: &str, reply: HttpResponse) -> HttpResponse {
        self.world().count_throttled(operation);
        reply
    }

    /// Places one order and tells the platform (webhooks), outside the world lock.
    pub fn place_order(&self, sku: &str, quantity: i64) -> Result<Order, OrderRefusal> {
        let now = self.now();
        let order = self
            .world()
            .place_order(sku, quantity, now, |number| self.platform.order_id(number))?;
        self.platform
            .order_changed(self, &order, OrderChange::Created);
        Ok(order)
    }

    /// Cancels one order, restocks its listing and tells the platform.
    pub fn cancel_order(&self, order_id: &str) -> Result<Order, MockError> {
        let now = self.now();
        let order = self.world().cancel_order(order_id, now)?;
        self.platform
            .order_changed(self, &order, OrderChange::Cancelled);
        Ok(order)
    }
}

/// The value of header `name`, when present and valid text.
pub fn header<'r>(request: &'r HttpRequest, name: &str) -> Option<&'r str> {
    request
        .headers()
        .get(name)
        .and_then(|value| value.to_str().ok())
}

/// Compares two byte strings in time independent of where they differ (credentials).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// Percent-encodes a query value for a paging link (dates carry `:` and `+`).
pub fn query_value(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

/// Formats a time the way the platforms' JSON does (RFC 3339, UTC, milliseconds).
pub fn rfc3339(time: DateTime<Utc>) -> String {
    crate::timestamp::rfc3339(time)
}

/// The wire format of `platform`'s mock, with the plan of `options` (an unknown plan is refused).
pub fn platform_mock(
    platform: Platform,
    options: &MockOptions,
) -> Result<Arc<dyn PlatformMock>, MockError> {
    crate::platforms::registry::mock(platform)(options)
}

/// Refuses a plan `platform` does not have; `known` lists its plans.
pub fn check_plan(platform: Platform, plan: &str, known: &[&str]) -> Result<(), MockError> {
    if known.contains(&plan) {
        Ok(())
    } else {
        Err(MockError::UnknownPlan {
            platform,
            plan: plan.to_string(),
            known: known.join(", "),
        })
    }
}
