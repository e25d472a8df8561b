//! Webhook subscriptions and their delivery: one sender per mock posting each delivery to its
//! receiver, retrying failures with backoff on its platform's schedule ([`RetrySchedule`]),
//! sending some twice and shuffling waiting ones when those faults are set.
//!
//! The platforms' schedules are hours long; a mock compresses each about 120× (Shopify's 4 hours
//! become about 2 minutes) so that a test or a bench sees them. The table (the sources are in
//! `src/service/webhooks.rs`'s module doc; [U] where the reference is unsure):
//!
//! | schedule | retries | waits | in all |
//! |---|---|---|---|
//! | [`RetrySchedule::SHOPIFY`] | 8 (reference §1.2) | 0.5 s doubling | about 2 minutes (4 hours) |
//! | [`RetrySchedule::WALMART`] | 2 ([U]: "two more tries, three in all") | 0.5 s, 1 s | 1.5 s |
//! | [`RetrySchedule::AMAZON_EVENTBRIDGE`] | 184 ([U]: EventBridge's 185 attempts in 24 hours) | 0.5 s doubling, at most 4 s | about 12 minutes (24 hours); a 4xx other than 401, 407, 409 and 429 is not retried |
//!
//! What else differs per platform (a retry's fresh signature, a check of a new subscription)
//! comes from its [`PlatformMock`](super::PlatformMock); this module stays platform-neutral.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web::Bytes;
use rand::seq::SliceRandom;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use super::{MockError, MockState};
use crate::platforms::Platform;

/// Shopify's retries after a failed delivery (it retries 8 times).
pub const RETRIES: u32 = 8;
/// Shopify's wait before the first retry; each further retry waits twice as long (0.5 s ... 64 s).
pub const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);

/// When a platform tries a failed delivery again: the wait before each retry, in order (as many
/// retries as waits), compressed so that a test or a bench sees them, and which client errors it
/// retries at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    waits: Vec<Duration>,
    /// When set, the only 4xx statuses retried; any other 4xx ends the delivery at once
    /// (EventBridge API destinations). `None`: every failure is retried.
    retried_client_errors: Option<&'static [u16]>,
}

impl RetrySchedule {
    /// Shopify's: [`RETRIES`] retries, the first after [`FIRST_RETRY_DELAY`], each further one
    /// twice as long (§1.2 says 8 retries over 4 hours; compressed to about 2 minutes).
    pub fn shopify() -> RetrySchedule {
        RetrySchedule::doubling(RETRIES, Duration::from_secs(64))
    }

    /// Walmart's [U]: three attempts in all, compressed like Shopify's (0.5 s, then 1 s).
    pub fn walmart() -> RetrySchedule {
        RetrySchedule::doubling(2, Duration::from_secs(64))
    }

    /// Amazon's EventBridge API destinations [U]: 185 attempts within 24 hours, compressed 120×
    /// like Shopify's (0.5 s doubling up to 4 s: about 12 minutes); 401, 407, 409, 429 and 5xx
    /// are retried, any other 4xx drops the event.
    pub fn amazon_eventbridge() -> RetrySchedule {
        RetrySchedule {
            retried_client_errors: Some(&[401, 407, 409, 429]),
            ..RetrySchedule::doubling(184, Duration::from_secs(4))
        }
    }

    /// `retries` waits from [`FIRST_RETRY_DELAY`], each twice the one before, at most `max`.
    fn doubling(retries: u32, max: Duration) -> RetrySchedule {
        RetrySchedule {
            waits: (0..retries)
                .map(|retry| {
                    FIRST_RETRY_DELAY
                        .checked_mul(2u32.saturating_pow(retry))
                        .unwrap_or(max)
                        .min(max)
                })
                .collect(),
            retried_client_errors: None,
        }
    }

    /// A platform's documented waits, each divided by `compression`.
    pub fn compressed(documented: &[Duration], compression: u32) -> RetrySchedule {
        RetrySchedule {
            waits: documented
                .iter()
                .map(|wait| *wait / compression.max(1))
                .collect(),
            retried_client_errors: None,
        }
    }

    /// The wait before retrying a delivery whose attempt `attempt` (0: the first) failed;
    /// `None`: the platform gives up.
    pub fn wait_after(&self, attempt: u32) -> Option<Duration> {
        self.waits.get(attempt as usize).copied()
    }

    /// The wait before retrying a delivery whose attempt `attempt` was answered `status`
    /// (`None`: no answer); `None`: the platform gives up (no retry left, or a client error it
    /// does not retry).
    pub fn retry_after(&self, attempt: u32, status: Option<u16>) -> Option<Duration> {
        let dropped = match (status, self.retried_client_errors) {
            (Some(status @ 400..=499), Some(retried)) => !retried.contains(&status),
            _ => false,
        };
        if dropped {
            None
        } else {
            self.wait_after(attempt)
        }
    }

    /// How many retries follow a failed first attempt.
    pub fn retries(&self) -> u32 {
        u32::try_from(self.waits.len()).unwrap_or(u32::MAX)
    }

    /// The waits added up: how long after a first failure the platform gives up.
    pub fn total(&self) -> Duration {
        self.waits.iter().sum()
    }
}

/// Shopify gives a receiver 1 s to connect and 5 s in all (reference §1.2).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// See [`CONNECT_TIMEOUT`].
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the sender gathers deliveries before shuffling them when `reorder_webhooks` is set.
const REORDER_WINDOW: Duration = Duration::from_millis(50);
/// The most subscriptions a mock keeps.
pub const MAX_SUBSCRIPTIONS: usize = 16;

/// How a subscription's deliveries are authenticated, where the platform lets the receiver
/// choose (Walmart's destinations, reference §4.2). A platform without the choice refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum WebhookAuth {
    /// `Authorization: Basic`; the secret is `user:password`.
    Basic,
    /// A signature with the secret (Walmart: the client secret).
    Hmac,
}

/// A receiver of the mock's webhooks.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Its id.
    pub id: u64,
    /// Where deliveries are posted (loopback in tests).
    pub url: String,
    /// The secret the platform signs with (Shopify: the app's client secret).
    pub secret: String,
    /// The method the receiver chose, where the platform offers a choice (`None`: its default).
    pub auth: Option<WebhookAuth>,
}

/// A subscription as `GET /_mock/webhooks` shows it: never the secret.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionView {
    /// Its id.
    pub id: u64,
    /// Its receiver.
    pub url: String,
    /// The method the receiver chose, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth: Option<WebhookAuth>,
}

/// One delivery: the signed request, and which attempt this is.
#[derive(Debug, Clone)]
pub struct Delivery {
    /// The receiver.
    pub url: String,
    /// Headers, the signature among them.
    pub headers: Vec<(String, String)>,
    /// The raw body the signature covers.
    pub body: Bytes,
    /// 0 for the first attempt, then the retry number.
    pub attempt: u32,
}

impl Delivery {
    /// The value of header `name` (as the platform wrote its name), if the delivery has it.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(header, _)| header == name)
            .map(|(_, value)| value.as_str())
    }
}

/// The subscriptions of one mock and the queue of its sender.
#[derive(Debug)]
pub struct WebhookHub {
    subscriptions: Mutex<Vec<Subscription>>,
    queue: mpsc::UnboundedSender<Delivery>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Delivery>>>,
}

impl Default for WebhookHub {
    fn default() -> WebhookHub {
        let (queue, receiver) = mpsc::unbounded_channel();
        WebhookHub {
            subscriptions: Mutex::new(Vec::new()),
            queue,
            receiver: Mutex::new(Some(receiver)),
        }
    }
}

impl WebhookHub {
    /// Adds a receiver with the platform's own authentication; the URL must be http(s) and the
    /// secret non-empty.
    pub fn subscribe(&self, url: &str, secret: &str) -> Result<SubscriptionView, MockError> {
        self.subscribe_with_auth(url, secret, None)
    }

    /// Adds a receiver that chose `auth` (checked by the platform beforehand).
    pub fn subscribe_with_auth(
        &self,
        url: &str,
        secret: &str,
        auth: Option<WebhookAuth>,
    ) -> Result<SubscriptionView, MockError> {
        let bad = |message: String| MockError::BadControlRequest { message };
        let parsed =
            reqwest::Url::parse(url).map_err(|error| bad(format!("url {url:?}: {error}")))?;
        if !matches!(parsed.scheme(), "http" | "https") {
            return Err(bad(format!("url {url:?} is not http or https")));
        }
        if secret.is_empty() {
            return Err(bad("secret is empty".to_string()));
        }
        let mut subscriptions = self.subscriptions.lock().unwrap_or_else(|p| p.into_inner());
        if subscriptions.len() >= MAX_SUBSCRIPTIONS {
            return Err(bad(format!(
                "a mock keeps at most {MAX_SUBSCRIPTIONS} subscriptions"
            )));
        }
        let id = subscriptions.last().map_or(1, |last| last.id + 1);
        subscriptions.push(Subscription {
            id,
            url: url.to_string(),
            secret: secret.to_string(),
            auth,
        });
        Ok(SubscriptionView {
            id,
            url: url.to_string(),
            auth,
        })
    }

    /// The receivers, with their secrets (for the platform's signer).
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.subscriptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The secret of the subscription at `url` that `signed_with` recognizes (the hub keeps no
    /// secret per delivery: a retry finds the secret that made its first signature, so that it
    /// can sign again at its own time).
    pub fn secret_that_signed(
        &self,
        url: &str,
        signed_with: impl Fn(&str) -> bool,
    ) -> Option<String> {
        self.subscriptions()
            .into_iter()
            .filter(|subscription| subscription.url == url)
            .map(|subscription| subscription.secret)
            .find(|secret| signed_with(secret))
    }

    /// The receivers as shown to a caller.
    pub fn views(&self) -> Vec<SubscriptionView> {
        self.subscriptions()
            .into_iter()
            .map(|subscription| SubscriptionView {
                id: subscription.id,
                url: subscription.url,
                auth: subscription.auth,
            })
            .collect()
    }

    /// Queues a delivery for the sender.
    pub fn enqueue(&self, delivery: Delivery) {
        // The receiver lives as long as the mock's runtime; after it, nothing is delivered anyway.
        let _ = self.queue.send(delivery);
    }

    /// The deliveries queued and not sent, taken off the queue; empty once a sender runs. For a
    /// mock without a server: the signed samples of `.ci/sdk-verify` ([`super::samples`]).
    pub fn take_queued(&self) -> Vec<Delivery> {
        let mut receiver = self.receiver.lock().unwrap_or_else(|p| p.into_inner());
        let Some(receiver) = receiver.as_mut() else {
            return Vec::new();
        };
        std::iter::from_fn(|| receiver.try_recv().ok()).collect()
    }

    fn take_receiver(&self) -> Option<mpsc::UnboundedReceiver<Delivery>> {
        self.receiver
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take()
    }
}

/// Runs the sender of `state`'s webhooks until the mock stops.
pub async fn run(state: Arc<MockState>) {
    let Some(mut receiver) = state.webhooks().take_receiver() else {
        return;
    };
    let client = match reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(DELIVERY_TIMEOUT)
        .build()
    {
        Ok(client) => client,
        Err(error) => {
            tracing::error!(%error, "the webhook sender has no HTTP client; no webhook is sent");
            return;
        }
    };
    while let Some(first) = receiver.recv().await {
        let mut batch = vec![first];
        if state.faults().reorder_webhooks() {
            actix_rt::time::sleep(REORDER_WINDOW).await;
            while let Ok(more) = receiver.try_recv() {
                batch.push(more);
            }
            batch.shuffle(state.faults().rng());
        }
        for delivery in batch {
            let twice = state.faults().duplicate_webhook();
            if twice {
                state.world().stats.webhooks_duplicated += 1;
                send(&state, &client, delivery.clone()).await;
            }
            send(&state, &client, delivery).await;
        }
    }
}

/// Posts one delivery; on failure schedules its retry on the
/// platform's [`RetrySchedule`] (a later, separate attempt, so retries arrive out of order as
/// Shopify's do) or gives up.
async fn send(state: &Arc<MockState>, client: &reqwest::Client, delivery: Delivery) {
    let mut request = client.post(&delivery.url).body(delivery.body.clone());
    for (name, value) in &delivery.headers {
        request = request.header(name, value);
    }
    let status = request
        .send()
        .await
        .ok()
        .map(|reply| reply.status().as_u16());
    let mut world = state.world();
    if status.is_some_and(|status| (200..300).contains(&status)) {
        world.stats.webhooks_delivered += 1;
        return;
    }
    world.stats.webhook_attempts_failed += 1;
    let Some(delay) = state
        .platform()
        .webhook_retries()
        .retry_after(delivery.attempt, status)
    else {
        world.stats.webhooks_given_up += 1;
        return;
    };
    drop(world);
    let mut retry = Delivery {
        attempt: delivery.attempt + 1,
        ..delivery
    };
    let state = Arc::clone(state);
    actix_rt::spawn(async move {
        actix_rt::time::sleep(delay).await;
        // Signed at the retry's own time where the platform's scheme signs a time.
        state.platform().prepare_retry(&state, &mut retry);
        state.webhooks().enqueue(retry);
    });
}

/// A notification secret in the form `platform` takes it, made from `seed` (the demo, the bench
/// and the tests subscribe their channels with one): Etsy's is a `whsec_` base64 key (Standard
/// Webhooks), Walmart's a basic-auth `user:password` (the subscription says `"auth": "basic"`),
/// every other platform's an opaque string (Shopify's client secret, eBay's verification token,
/// the API destination's key, TikTok Shop's app secret).
pub fn sample_secret(platform: Platform, seed: u128) -> String {
    use base64::Engine as _;
    match platform {
        Platform::Etsy => format!(
            "whsec_{}",
            base64::engine::general_purpose::STANDARD.encode(seed.to_be_bytes())
        ),
        Platform::Walmart => format!("shelfsync:{seed:032x}"),
        other => format!("{other}-{seed:032x}"),
    }
}

/// The body of `POST /_mock/webhooks` that subscribes `url` with `secret` (Walmart's destination
/// authenticates with basic auth, matching [`sample_secret`]).
pub fn subscription(platform: Platform, url: &str, secret: &str) -> serde_json::Value {
    let mut body = serde_json::json!({ "url": url, "secret": secret });
    if platform == Platform::Walmart {
        body["auth"] = serde_json::json!("basic");
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subscriptions_need_an_http_url_and_a_secret_and_never_show_it() {
        let hub = WebhookHub::default();
        assert!(hub.subscribe("ftp://127.0.0.1/x", "s").is_err());
        assert!(hub.subscribe("not a url", "s").is_err());
        assert!(hub.subscribe("http://127.0.0.1:9/hook", "").is_err());
        let view = hub.subscribe("http://127.0.0.1:9/hook", "shh").unwrap();
        assert_eq!(view.id, 1);
        let shown = serde_json::to_string(&hub.views()).unwrap();
        assert!(!shown.contains("shh"), "{shown}");
        assert_eq!(hub.subscriptions()[0].secret, "shh");
    }

    #[test]
    fn retries_back_off_to_about_two_minutes_in_all() {
        let total: Duration = (0..RETRIES)
            .map(|attempt| FIRST_RETRY_DELAY * 2u32.pow(attempt))
            .sum();
        assert_eq!(total, Duration::from_millis(127_500));
        let shopify = RetrySchedule::shopify();
        assert_eq!(shopify.total(), total);
        assert_eq!(shopify.retries(), RETRIES);
        assert_eq!(shopify.wait_after(0), Some(FIRST_RETRY_DELAY));
        assert_eq!(shopify.wait_after(RETRIES), None);
    }

    #[test]
    fn a_documented_schedule_is_compressed_wait_by_wait() {
        let schedule = RetrySchedule::compressed(
            &[
                Duration::ZERO,
                Duration::from_secs(5),
                Duration::from_secs(300),
            ],
            100,
        );
        assert_eq!(schedule.retries(), 3);
        assert_eq!(schedule.wait_after(0), Some(Duration::ZERO));
        assert_eq!(schedule.wait_after(2), Some(Duration::from_secs(3)));
        assert_eq!(schedule.wait_after(3), None);
    }

    #[test]
    fn walmart_and_eventbridge_schedules_add_up_as_documented() {
        assert_eq!(
            RetrySchedule::walmart().total(),
            Duration::from_millis(1_500)
        );
        // 0.5 + 1 + 2 s, then 181 × 4 s: 24 hours compressed 120× is 720 s.
        assert_eq!(
            RetrySchedule::amazon_eventbridge().total(),
            Duration::from_millis(727_500)
        );
    }

    #[test]
    fn each_schedule_stops_after_its_retries_and_eventbridge_drops_most_4xx() {
        for schedule in [RetrySchedule::shopify(), RetrySchedule::walmart()] {
            let last = schedule.retries() - 1;
            assert!(schedule.retry_after(last, Some(400)).is_some());
            assert!(schedule.retry_after(0, None).is_some());
            assert!(schedule.retry_after(last + 1, Some(500)).is_none());
        }
        let eventbridge = RetrySchedule::amazon_eventbridge();
        for retried in [
            None,
            Some(401),
            Some(407),
            Some(409),
            Some(429),
            Some(500),
            Some(503),
        ] {
            assert!(eventbridge.retry_after(0, retried).is_some(), "{retried:?}");
        }
        for dropped in [400, 403, 404, 413] {
            assert!(
                eventbridge.retry_after(0, Some(dropped)).is_none(),
                "{dropped}"
            );
        }
        assert!(eventbridge.retry_after(184, Some(500)).is_none());
    }
}
