//! Marketplace webhook deliveries (`POST /webhooks/{client}/{channel}`): verified the platform's
//! way on the raw body before anything is parsed, turned into the same order events (and so the
//! same ledger idempotency keys) as the channel's polled feed, and applied to the ledger; the
//! caller acknowledges only once that write is durable. A redelivery, or an order the poll saw
//! first, changes nothing.
//!
//! # What the reply makes the sender do
//!
//! A platform treats anything but a 2xx as a failed delivery and sends it again; after enough
//! failures it stops sending, sometimes for good. So the reply is chosen by what shelfsync can
//! promise, not by whether it liked the content:
//!
//! - **2xx** once everything the delivery told is durable in the client's ledger: the order lines
//!   that apply as movements, and every line or order that cannot apply (the same order line again
//!   with other content, no line items, a line without SKU, a quantity of 0, negative, 2³² or
//!   above the ledger's bound, a cancellation of more than is reserved, a body that is not an
//!   order) as an **order exception** with its reason, in the same transaction
//!   ([`shelfsync_actors::channel::intake`]). A retry of the same delivery finds the same
//!   exception and counts a sighting; it never raises a second one. `GET
//!   /v1/clients/{code}/exceptions` shows them.
//! - **503** only when nothing can be recorded durably right now (the client's ledger is down or
//!   restarting, its storage fails): the platform's retry is then exactly what is wanted.
//! - **401 `bad_signature`**, the same status and the same body byte for byte, for every delivery
//!   that is not authenticated: unknown client, unknown channel, a channel whose platform sends no
//!   webhooks here, a channel without webhook secret, a missing or wrong signature. The same work
//!   is done on each path (the HMAC over the whole body, and a vault open, of a decoy secret when
//!   there is no real one), so neither the reply nor its timing tells a caller which clients and
//!   channels exist; the real reason is logged here, never the signature or the body.
//!
//! Per platform ([U]: not stated by `reference/marketplace-apis.md` or `reference/reliability.md`;
//! what is given there for it comes from the vendors' public pages and must be checked before a
//! connector relies on it):
//!
//! | platform | push channel | on a non-2xx | when it gives up |
//! |---|---|---|---|
//! | Shopify (received here) | HTTPS webhooks `orders/create`, `orders/cancelled`, HMAC-SHA256 of the body (§1.2) | no 2xx within 5 s is a failure (reliability §3.2); retried **8 times over 4 hours** with exponential backoff, with the original payload (§1.2, reliability §3.2) | subscriptions created through the Admin API are **removed** after persistent failure, with a warning e-mail to the partner (reliability §3.2); the threshold is [U] |
//! | Etsy | webhooks `order.paid`, `order.canceled`, … set up in the Webhook portal, Standard-Webhooks signature (§2.2) | retried immediately, then after 5 s, 5 min, 30 min, 2 h, 5 h, 10 h and 10 h, about 28 hours in all (§2.2) | after the last retry the event is only in the portal's manual replay / "Recover" (§2.2); disabling the endpoint: [U] |
//! | eBay | Notification API `ORDER_CONFIRMATION`, ECC signature in `X-EBAY-SIGNATURE` (§5.2) | [U] retry schedule (eBay's notification status types list "Failed", "Rejected", "MarkedDown", a destination can be marked down) | [U] |
//! | Walmart | Notifications API `ORDER_UPDATES`, Basic, HMAC or OAuth at the destination (§4.2) | [U] (Walmart's supplier pages say two more tries, three in all; its marketplace pages say repeated failures e-mail the account's administrators) | [U] |
//! | Amazon | no HTTP webhooks: `ORDER_CHANGE` goes to SQS or EventBridge only (§3.2); an EventBridge **API destination** would POST here | [U] EventBridge retries a failed target for up to 24 hours and 185 attempts by default, with backoff; AWS says API destinations retry 401, 407, 409, 429 and 5xx and do not retry other 4xx | [U] after the retry policy, the event is dropped unless a dead-letter queue is set |
//! | TikTok Shop | webhooks (type 1 order status change, …), `Authorization` = hex HMAC-SHA256 of app key + body (§6.2) | [U] (TikTok's developer webhooks: anything but 200 is retried for up to 72 hours with exponential backoff) | [U] after 72 hours the event is discarded |
//!
//! Every platform's deliveries are received here, each authenticated and read by its own
//! receiver ([`crate::platforms::registry::receiver`], in the platform's connector folder).
//! Shopify's carry whole orders, applied at once; every other platform's are thin notices that
//! name an order, which the channel reads through its connection within the budget's share for
//! such reads ([`shelfsync_actors::channel::NOTIFIED_READ_MAX_WAIT`]) before the events are
//! applied and the delivery acknowledged. A read that cannot be made now (budget, throttle, a
//! failing or lagging marketplace) answers 503 with `Retry-After`, so the platform retries; the
//! poll, now a backstop, reads the same order anyway. A read the marketplace refuses for good
//! (credentials, a refused request) is recorded as an order exception and acknowledged. For
//! Amazon's API destinations a 4xx for an authentic event would mean the event is dropped at
//! once, which is one more reason never to answer 4xx to an authentic delivery.

use shelfsync_actors::channel::intake::{OrderIntake, UnusableOrder};
use shelfsync_actors::channel::messages::{NotifiedReadError, ReadNotifiedOrder};
use shelfsync_actors::ids::{ChannelId, ClientCode};
use shelfsync_actors::inventory::exceptions::{bounded_text, digest_key, UnapplicableReason};
use shelfsync_actors::metrics::events::{InternalEvent, NotificationReceived};
use shelfsync_actors::platform::{MarketplaceError, Platform};

use super::{Service, ServiceError};
use crate::clients::channels::ChannelRecord;
use crate::platforms::connector::{ConnectorConfig, ListingMap};
use crate::platforms::notify::{Delivery, Notice, Recipient, Refusal};
use crate::platforms::registry::{challenge, receiver};
use crate::platforms::shopify::connector::verify_webhook;
use crate::vault::{Secret, Vault};

/// Why a delivery was not authenticated. Never told to the caller (they all get the same reply);
/// logged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unauthenticated {
    /// The client code of the path is not a client.
    UnknownClient,
    /// The client has no such channel.
    UnknownChannel,
    /// The channel's platform delivers no webhooks here.
    NoWebhooks(Platform),
    /// The channel has no webhook secret.
    NoSecret,
    /// The channel's webhook secret could not be opened (deleted, or the vault key changed): an
    /// operator's problem, logged as an error.
    SecretUnavailable,
    /// The platform's receiver refused it (no signature, a wrong one, a replay, ...).
    Refused(Refusal),
}

impl Unauthenticated {
    /// A stable, bounded name of the reason, for the log.
    pub fn kind(self) -> &'static str {
        match self {
            Unauthenticated::UnknownClient => "unknown_client",
            Unauthenticated::UnknownChannel => "unknown_channel",
            Unauthenticated::NoWebhooks(_) => "webhooks_unsupported",
            Unauthenticated::NoSecret => "webhooks_not_configured",
            Unauthenticated::SecretUnavailable => "secret_unavailable",
            Unauthenticated::Refused(refusal) => refusal.kind(),
        }
    }
}

/// Why a delivery was not acknowledged.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// Not authenticated, for whichever reason (the caller is told nothing more).
    #[error("the webhook signature does not match the body")]
    Unauthenticated(Unauthenticated),
    /// Nothing could be recorded now (the platform retries).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl WebhookError {
    /// A stable, bounded name of the error as the caller may see it: every unauthenticated
    /// delivery is `bad_signature`.
    pub fn kind(&self) -> &'static str {
        match self {
            WebhookError::Unauthenticated(_) => "bad_signature",
            WebhookError::Service(error) => error.kind(),
        }
    }
}

/// What a delivery did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct WebhookOutcome {
    /// Order events in the delivery.
    pub events: usize,
    /// Events new to the ledger.
    pub applied: usize,
    /// Events the ledger had already (a redelivery, or seen by the poll first).
    pub duplicates: usize,
    /// Order exceptions recorded (raised, or seen again on a retry) for what could not apply.
    pub exceptions: usize,
    /// Orders read through the channel's connection because the delivery named them.
    pub orders_read: usize,
    /// A topic acknowledged and ignored.
    pub ignored_topic: Option<String>,
}

/// The name the decoy secret is sealed under (a client code never holds `-`, so it cannot be a
/// real credential's associated data).
const DECOY_CLIENT: &str = "-webhook-decoy-";
const DECOY_NAME: &str = "decoy";
/// The longest piece of a path segment written to the log.
const LOGGED_BYTES: usize = 40;

/// A secret sealed by the service's own vault, opened instead of a channel's webhook secret when
/// the delivery names no channel with one, so that every unauthenticated path pays one vault
/// open and one HMAC over the whole body, like the path of a known channel with a wrong
/// signature. What remains different (the lookups of the client's records, an in-memory read of
/// sled each) costs microseconds, far under the jitter of a network request.
#[derive(Debug, Clone)]
pub struct WebhookDecoy {
    sealed: Vec<u8>,
}

impl WebhookDecoy {
    /// Seals a random decoy secret with `vault`.
    pub fn new(vault: &Vault) -> Self {
        use rand::Rng as _;
        let secret: String = rand::thread_rng()
            .sample_iter(rand::distributions::Alphanumeric)
            .take(32)
            .map(char::from)
            .collect();
        Self {
            sealed: vault.seal(DECOY_CLIENT, DECOY_NAME, &Secret::new(secret)),
        }
    }

    /// Opens the decoy (the same AEAD work as opening a channel's secret).
    fn open(&self, vault: &Vault) -> Secret {
        vault
            .open_secret(DECOY_CLIENT, DECOY_NAME, &self.sealed)
            .unwrap_or_else(|_| Secret::new(String::new()))
    }
}

impl Service {
    /// Authenticates one marketplace delivery the channel's platform way and records what it
    /// tells; returns once that is durable in the ledger (applied, or recorded as order
    /// exceptions).
    pub async fn receive_webhook(
        &self,
        client: &str,
        channel: &str,
        delivery: Delivery<'_>,
    ) -> Result<WebhookOutcome, WebhookError> {
        let mut platform = None;
        let result = self
            .receive_delivery(client, channel, delivery, &mut platform)
            .await;
        let outcome = match &result {
            Ok(done) if done.ignored_topic.is_some() => "ignored",
            Ok(_) => "recorded",
            Err(WebhookError::Unauthenticated(_)) => "refused",
            Err(WebhookError::Service(_)) => "retry_later",
        };
        // A refusal is counted without its channel's platform: `/metrics` is public, and a
        // count that moved under `etsy` would tell a prober the path names an Etsy channel.
        let platform = match outcome {
            "refused" => None,
            _ => platform,
        };
        NotificationReceived {
            platform: platform.map_or("unknown", Platform::as_str),
            outcome,
        }
        .emit();
        result
    }

    /// [`Service::receive_webhook`], telling `platform` once the path names a channel.
    async fn receive_delivery(
        &self,
        client: &str,
        channel: &str,
        delivery: Delivery<'_>,
        platform: &mut Option<Platform>,
    ) -> Result<WebhookOutcome, WebhookError> {
        let (target, secret) = self.webhook_target(client, channel)?;
        let (code, record) = match target {
            Ok(found) => found,
            Err(reason) => {
                // The same HMAC over the whole body as a known channel's check costs (with the
                // decoy secret), so the answer's timing does not tell which channels exist.
                let hmac = delivery.header("x-shopify-hmac-sha256").unwrap_or_default();
                let _ = verify_webhook(secret.expose().as_bytes(), delivery.body, hmac);
                return Err(refused(client, channel, reason));
            }
        };
        let id = record.id.clone();
        *platform = Some(record.platform);
        let Some(receive) = receiver(record.platform) else {
            return Err(refused(
                client,
                channel,
                Unauthenticated::NoWebhooks(record.platform),
            ));
        };
        let connection = self.notification_connection(&code, &record)?;
        let recipient = Recipient {
            secret: secret.expose(),
            connection: &connection,
        };
        // Checked on the raw bytes before any parsing (DESIGN §6).
        let notice = receive(delivery, recipient)
            .await
            .map_err(|refusal| refused(client, channel, Unauthenticated::Refused(refusal)))?;
        self.notifications_seen
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert((code.clone(), id.clone()), self.now());
        let (mut intake, orders_read) = match notice {
            Notice::Ignored(topic) => {
                return Ok(WebhookOutcome {
                    ignored_topic: Some(topic),
                    ..WebhookOutcome::default()
                })
            }
            Notice::Orders(intake) => (intake, 0),
            Notice::Read(order_ids) => {
                let count = order_ids.len();
                (
                    self.read_notified_orders(&code, &id, order_ids).await?,
                    count,
                )
            }
        };
        // A retry carries the original payload byte for byte (Shopify §1.2; the others sign a
        // fresh timestamp in headers, not in the body), so the digest of the signed body names
        // the delivery across retries; webhook ids are not used, since Shopify's was seen to
        // change between retries (reliability §3.2).
        let topic = delivery.header("x-shopify-topic").unwrap_or_default();
        intake.delivery = Some(digest_key(
            "delivery",
            &id,
            &[topic.as_bytes(), delivery.body],
        ));
        let events = intake.events.len();
        // Bounded (issue 12 §3): a 503 leaves nothing in the ledger, and the platform's retry
        // brings the delivery again under the same keys.
        let applied = self.apply_order_intake(&code, &id, intake).await?;
        let duplicates = applied
            .outcome
            .results
            .iter()
            .filter(|result| result.duplicate)
            .count();
        if !applied.exceptions.is_empty() {
            tracing::warn!(client = %code, channel = %id, exceptions = applied.exceptions.len(), "a webhook delivery held orders that cannot be applied; recorded as order exceptions");
        }
        Ok(WebhookOutcome {
            events,
            applied: applied.outcome.results.len() - duplicates,
            duplicates,
            exceptions: applied.exceptions.len(),
            orders_read,
            ignored_topic: None,
        })
    }

    /// Answers a platform's check of the channel's endpoint (eBay's `GET ?challenge_code=`,
    /// §5.2) with the channel's notification secret. Every channel that cannot answer one (none,
    /// no secret, a platform without the check) is refused like an unauthenticated delivery.
    pub fn answer_challenge(
        &self,
        client: &str,
        channel: &str,
        challenge_code: &str,
        endpoint: &str,
    ) -> Result<serde_json::Value, WebhookError> {
        let (target, secret) = self.webhook_target(client, channel)?;
        let record = match target {
            Ok((_, record)) => record,
            Err(reason) => return Err(refused(client, channel, reason)),
        };
        match challenge(record.platform) {
            Some(answer) => Ok(answer(challenge_code, secret.expose(), endpoint)),
            None => Err(refused(
                client,
                channel,
                Unauthenticated::NoWebhooks(record.platform),
            )),
        }
    }

    /// The channel's connection as its receiver needs it: base URL, credential and account ids
    /// with their secrets opened in memory for the channel's origin only (no listing map: a
    /// receiver reads no listing).
    fn notification_connection(
        &self,
        client: &ClientCode,
        record: &ChannelRecord,
    ) -> Result<ConnectorConfig, ServiceError> {
        let (credential, account) = self.channel_secrets(client, record)?;
        Ok(
            ConnectorConfig::new(&record.base_url, credential, account, ListingMap::default())?
                .with_egress(self.options.egress),
        )
    }

    /// Reads each notified order through the channel's actor (within its budget's share) into
    /// one intake. A read that cannot be made now is a 503 with `Retry-After` (the platform
    /// retries; nothing was written); one the marketplace refuses for good is an order exception
    /// of that order, acknowledged, since a retry would be refused the same way and the poll
    /// reads the order once the cause is fixed.
    async fn read_notified_orders(
        &self,
        client: &ClientCode,
        channel: &ChannelId,
        order_ids: Vec<String>,
    ) -> Result<OrderIntake, ServiceError> {
        let actor = self
            .channel_actor(client, channel)
            .await?
            .ok_or_else(|| ServiceError::Unavailable(format!("channel {channel} of {client}")))?;
        let mut intake = OrderIntake::default();
        for order_id in order_ids {
            let read = ReadNotifiedOrder {
                order_id: order_id.clone(),
            };
            match self.ask(&actor, read).await? {
                Ok(order) => intake.events.extend(order.events),
                Err(NotifiedReadError::Busy(retry_after)) => {
                    return Err(ServiceError::TimedOut {
                        what: format!("the read budget of channel {channel}"),
                        retry_after,
                    })
                }
                Err(NotifiedReadError::Marketplace(MarketplaceError::Permanent {
                    kind,
                    message,
                })) if kind != shelfsync_actors::platform::PermanentKind::NotFound => {
                    intake.unusable.push(UnusableOrder {
                        order_id: Some(order_id),
                        line: None,
                        version: None,
                        sku: None,
                        quantity: None,
                        reason: UnapplicableReason::Refused,
                        detail: bounded_text(
                            &format!(
                                "the marketplace refused the read of the notified order: {message}"
                            ),
                            200,
                        ),
                    });
                }
                // Not found yet (a marketplace that shows an order a moment after notifying it),
                // throttled, failing or slow: the platform's retry comes back later.
                Err(NotifiedReadError::Marketplace(error)) => {
                    tracing::info!(client = %client, channel = %channel, kind = error.kind(), "a notified order could not be read now; answered 503");
                    return Err(ServiceError::Unavailable(format!(
                        "the marketplace of channel {channel} ({})",
                        error.kind()
                    )));
                }
            }
        }
        Ok(intake)
    }

    /// The channel a delivery names and the secret to check it with, or why it cannot be
    /// authenticated together with the decoy secret to check it with all the same. Only a failing
    /// store is an error.
    #[allow(clippy::type_complexity)]
    fn webhook_target(
        &self,
        client: &str,
        channel: &str,
    ) -> Result<(Result<(ClientCode, ChannelRecord), Unauthenticated>, Secret), ServiceError> {
        let decoy = |reason| Ok((Err(reason), self.webhook_decoy.open(self.vault())));
        let (Ok(code), Ok(id)) = (ClientCode::parse(client), ChannelId::parse(channel)) else {
            return decoy(Unauthenticated::UnknownClient);
        };
        if self.clients().get(&code)?.is_none() {
            return decoy(Unauthenticated::UnknownClient);
        }
        let Some(record) = self.channels().get(&code, &id)? else {
            return decoy(Unauthenticated::UnknownChannel);
        };
        if receiver(record.platform).is_none() {
            return decoy(Unauthenticated::NoWebhooks(record.platform));
        }
        let Some(name) = record.webhook_credential.as_deref() else {
            return decoy(Unauthenticated::NoSecret);
        };
        match self.clients().secret(self.vault(), &code, name) {
            Ok(secret) => Ok((Ok((code, record)), secret)),
            Err(_) => decoy(Unauthenticated::SecretUnavailable),
        }
    }
}

/// Logs why a delivery was refused (the path's names cleaned and cut: they come from anyone;
/// never the signature or the body) and returns the error every such delivery gets.
fn refused(client: &str, channel: &str, reason: Unauthenticated) -> WebhookError {
    let client = bounded_text(client, LOGGED_BYTES);
    let channel = bounded_text(channel, LOGGED_BYTES);
    if reason == Unauthenticated::SecretUnavailable {
        tracing::error!(
            ?client,
            ?channel,
            reason = reason.kind(),
            "a channel's webhook secret cannot be opened; its deliveries are refused"
        );
    } else {
        tracing::info!(
            ?client,
            ?channel,
            reason = reason.kind(),
            "webhook delivery refused"
        );
    }
    WebhookError::Unauthenticated(reason)
}
