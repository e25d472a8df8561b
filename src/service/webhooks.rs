//! Marketplace webhook deliveries (`POST /webhooks/{client}/{channel}`): verified the platform's
//! way on the raw body before anything is parsed, turned into the same order events (and so the
//! same ledger idempotency keys) as the channel's polled feed, and applied to the ledger; the
//! caller acknowledges only once that write is durable. A redelivery, or an order the poll saw
//! first, changes nothing.
//!
//! Only Shopify pushes order webhooks among the platforms modelled (its `orders/create` and
//! `orders/cancelled`, `reference/marketplace-apis.md` §1.5); the other platforms' orders are
//! polled, and a delivery for one of their channels is refused.

use shelfsync_actors::channel::platform::Platform;
use shelfsync_actors::ids::{ChannelId, ClientCode};

use super::{Service, ServiceError};
use crate::platforms::shopify::connector::{
    verify_webhook, webhook_events, WebhookError as ShopifyWebhookError,
};

/// Why a delivery was refused.
#[derive(Debug, thiserror::Error)]
pub enum WebhookError {
    /// No such client or channel.
    #[error("no channel {channel} of client {client}")]
    UnknownChannel {
        /// The client code of the path.
        client: String,
        /// The channel id of the path.
        channel: String,
    },
    /// The channel's platform does not deliver webhooks here.
    #[error("{0} channels take no webhooks (their orders are polled)")]
    Unsupported(Platform),
    /// The channel has no webhook secret, so no delivery can be verified.
    #[error("the channel has no webhook secret; connect it with webhook_secret")]
    NotConfigured,
    /// The signature header is missing or does not match the raw body.
    #[error("the webhook signature does not match the body")]
    BadSignature,
    /// Verified, but not an order body.
    #[error("{0}")]
    Malformed(String),
    /// The service could not take it now (the platform retries).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl WebhookError {
    /// A stable, bounded name of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            WebhookError::UnknownChannel { .. } => "not_found",
            WebhookError::Unsupported(_) => "webhooks_unsupported",
            WebhookError::NotConfigured => "webhooks_not_configured",
            WebhookError::BadSignature => "bad_signature",
            WebhookError::Malformed(_) => "invalid_field",
            WebhookError::Service(error) => error.kind(),
        }
    }
}

/// The delivery's headers the service looks at.
#[derive(Debug, Clone, Copy, Default)]
pub struct WebhookHeaders<'a> {
    /// Shopify's `X-Shopify-Hmac-Sha256`.
    pub hmac: Option<&'a str>,
    /// Shopify's `X-Shopify-Topic`.
    pub topic: Option<&'a str>,
}

/// What a delivery did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct WebhookOutcome {
    /// Order events in the delivery.
    pub events: usize,
    /// Events new to the ledger.
    pub applied: usize,
    /// Events the ledger had already (a redelivery, or seen by the poll first).
    pub duplicates: usize,
    /// Events the ledger refused, described.
    pub skipped: Vec<String>,
    /// A topic acknowledged and ignored.
    pub ignored_topic: Option<String>,
}

impl Service {
    /// Verifies and applies one webhook delivery; returns once it is durable in the ledger.
    pub async fn receive_webhook(
        &self,
        client: &str,
        channel: &str,
        headers: WebhookHeaders<'_>,
        raw_body: &[u8],
    ) -> Result<WebhookOutcome, WebhookError> {
        let unknown = || WebhookError::UnknownChannel {
            client: client.to_string(),
            channel: channel.to_string(),
        };
        let code = ClientCode::parse(client).map_err(|_| unknown())?;
        let id = ChannelId::parse(channel).map_err(|_| unknown())?;
        let record = self
            .channels()
            .get(&code, &id)
            .map_err(ServiceError::from)?
            .ok_or_else(unknown)?;
        if record.platform != Platform::Shopify {
            return Err(WebhookError::Unsupported(record.platform));
        }
        let name = record
            .webhook_credential
            .as_deref()
            .ok_or(WebhookError::NotConfigured)?;
        let secret = self
            .clients()
            .secret(self.vault(), &code, name)
            .map_err(ServiceError::from)?;
        // The signature is checked on the raw bytes before any parsing (DESIGN §6).
        let signed = headers
            .hmac
            .is_some_and(|hmac| verify_webhook(secret.expose().as_bytes(), raw_body, hmac));
        if !signed {
            return Err(WebhookError::BadSignature);
        }
        let topic = headers.topic.unwrap_or_default();
        let events = match webhook_events(topic, raw_body) {
            Ok(events) => events,
            Err(ShopifyWebhookError::UnsupportedTopic(topic)) => {
                return Ok(WebhookOutcome {
                    ignored_topic: Some(topic),
                    ..WebhookOutcome::default()
                })
            }
            Err(error) => return Err(WebhookError::Malformed(error.to_string())),
        };
        // Bounded (issue 12): a 503 leaves nothing in the ledger, and the platform's retry
        // brings the delivery again under the same keys.
        let applied = self.apply_order_events(&code, &id, events.clone()).await?;
        let duplicates = applied
            .outcome
            .results
            .iter()
            .filter(|result| result.duplicate)
            .count();
        Ok(WebhookOutcome {
            events: events.len(),
            applied: applied.outcome.results.len() - duplicates,
            duplicates,
            skipped: applied.skipped,
            ignored_topic: None,
        })
    }
}
