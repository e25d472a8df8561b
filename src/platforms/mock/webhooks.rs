//! Webhook subscriptions and their delivery: one sender per mock posting each delivery to its
//! receiver, retrying failures on the platform's [`RetrySchedule`] (Shopify's by default: 8
//! retries with exponential backoff, reference §1.2, compressed from 4 hours to about 2 minutes so
//! that a test or a bench sees them), sending some twice and shuffling waiting ones when those
//! faults are set. What differs per platform (the schedule, a retry's fresh signature, a check of
//! a new subscription) comes from its [`PlatformMock`](super::PlatformMock); this module stays
//! platform-neutral.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::web::Bytes;
use rand::seq::SliceRandom;
use serde::Serialize;
use tokio::sync::mpsc;

use super::{MockError, MockState};
use crate::platforms::Platform;

/// Retries after a failed delivery (Shopify retries 8 times).
pub const RETRIES: u32 = 8;
/// The wait before the first retry; each further retry waits twice as long (0.5 s ... 64 s).
pub const FIRST_RETRY_DELAY: Duration = Duration::from_millis(500);
/// Shopify gives a receiver 1 s to connect and 5 s in all (reference §1.2).
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// See [`CONNECT_TIMEOUT`].
pub const DELIVERY_TIMEOUT: Duration = Duration::from_secs(5);
/// How long the sender gathers deliveries before shuffling them when `reorder_webhooks` is set.
const REORDER_WINDOW: Duration = Duration::from_millis(50);
/// The most subscriptions a mock keeps.
pub const MAX_SUBSCRIPTIONS: usize = 16;

/// When a platform tries a failed delivery again: the wait before each retry, in order (as many
/// retries as waits), compressed so that a test or a bench sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetrySchedule {
    waits: Vec<Duration>,
}

impl RetrySchedule {
    /// Shopify's: [`RETRIES`] retries, the first after [`FIRST_RETRY_DELAY`], each further one
    /// twice as long (§1.2 says 8 retries over 4 hours; compressed to about 2 minutes).
    pub fn shopify() -> RetrySchedule {
        RetrySchedule {
            waits: (0..RETRIES)
                .map(|attempt| FIRST_RETRY_DELAY * 2u32.pow(attempt))
                .collect(),
        }
    }

    /// A platform's documented waits, each divided by `compression`.
    pub fn compressed(documented: &[Duration], compression: u32) -> RetrySchedule {
        RetrySchedule {
            waits: documented
                .iter()
                .map(|wait| *wait / compression.max(1))
                .collect(),
        }
    }

    /// The wait before retrying a delivery whose attempt `attempt` (0: the first) failed;
    /// `None`: the platform gives up.
    pub fn wait_after(&self, attempt: u32) -> Option<Duration> {
        self.waits.get(attempt as usize).copied()
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

/// A receiver of the mock's webhooks.
#[derive(Debug, Clone)]
pub struct Subscription {
    /// Its id.
    pub id: u64,
    /// Where deliveries are posted (loopback in tests).
    pub url: String,
    /// The secret the platform signs with (Shopify: the app's client secret).
    pub secret: String,
}

/// A subscription as `GET /_mock/webhooks` shows it: never the secret.
#[derive(Debug, Clone, Serialize)]
pub struct SubscriptionView {
    /// Its id.
    pub id: u64,
    /// Its receiver.
    pub url: String,
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
    /// Adds a receiver; the URL must be http(s) and the secret non-empty.
    pub fn subscribe(&self, url: &str, secret: &str) -> Result<SubscriptionView, MockError> {
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
        });
        Ok(SubscriptionView {
            id,
            url: url.to_string(),
        })
    }

    /// The receivers, with their secrets (for the platform's signer).
    pub fn subscriptions(&self) -> Vec<Subscription> {
        self.subscriptions
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// The receivers as shown to a caller.
    pub fn views(&self) -> Vec<SubscriptionView> {
        self.subscriptions()
            .into_iter()
            .map(|subscription| SubscriptionView {
                id: subscription.id,
                url: subscription.url,
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

/// Posts one delivery; on failure schedules its retry (a later, separate attempt, so retries
/// arrive out of order as Shopify's do) or gives up after the last.
async fn send(state: &Arc<MockState>, client: &reqwest::Client, delivery: Delivery) {
    let mut request = client.post(&delivery.url).body(delivery.body.clone());
    for (name, value) in &delivery.headers {
        request = request.header(name, value);
    }
    let delivered = matches!(request.send().await, Ok(reply) if reply.status().is_success());
    let mut world = state.world();
    if delivered {
        world.stats.webhooks_delivered += 1;
        return;
    }
    world.stats.webhook_attempts_failed += 1;
    let Some(delay) = state
        .platform()
        .webhook_retries()
        .wait_after(delivery.attempt)
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
}
