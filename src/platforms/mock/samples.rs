//! Signed sample deliveries of the mocks that sign them (Shopify, Etsy, eBay), made by each
//! mock's own `order_changed` and signing code, for the check of those signatures with the
//! platforms' official verification libraries (`.ci/sdk-verify`, issue 14 must-show 2). The
//! hidden command `shelfsync sdk-samples` prints them as JSON; each mock runs without a server,
//! and its queued delivery is taken from its webhook hub instead of being posted.

use serde_json::{json, Map, Value};

use super::world::NewListing;
use super::{platform_mock, MockError, MockOptions, MockState};
use crate::platforms::ebay::mock::notify::{expected_response, NotificationKey};
use crate::platforms::Platform;

/// Where the samples say they were sent (never contacted).
pub const RECEIVER: &str = "http://127.0.0.1:9/webhooks";
/// The secret each platform's sample is signed with: Shopify's app secret, Etsy's `whsec_`
/// secret, eBay's verification token (eBay signs with its own key).
pub const SECRETS: [(Platform, &str); 3] = [
    (Platform::Shopify, "shpss_sdk-sample-app-secret"),
    (Platform::Etsy, "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"),
    (Platform::Ebay, "sdk-sample-verification-token-0123456789"),
];
const SKU: &str = "SDK-1";

/// The first delivery a mock of `platform` seeded `seed` queues for one order of 2 units, sent
/// to [`RECEIVER`] subscribed with `secret`.
fn sample(platform: Platform, secret: &str, seed: u64) -> Result<Value, MockError> {
    let options = MockOptions {
        seed,
        ..MockOptions::default()
    };
    let state = MockState::new(platform_mock(platform, &options)?, options);
    state.webhooks().subscribe(RECEIVER, secret)?;
    let listing = [NewListing {
        sku: SKU.to_string(),
        quantity: 5,
    }];
    let now = state.now();
    state
        .world()
        .create_listings(&listing, now, |number, sku| {
            state.platform().listing_identity(number, sku)
        })?;
    let order = state
        .place_order(SKU, 2)
        .map_err(|refusal| MockError::BadControlRequest {
            message: format!("the sample order was refused: {refusal:?}"),
        })?;
    let delivery = state
        .webhooks()
        .take_queued()
        .into_iter()
        .next()
        .ok_or_else(|| MockError::Start {
            message: format!("the {platform} mock queued no delivery"),
        })?;
    let headers: Map<String, Value> = delivery
        .headers
        .into_iter()
        .map(|(name, value)| (name, Value::String(value)))
        .collect();
    Ok(json!({
        "order_id": order.order_id,
        "secret": secret,
        "url": delivery.url,
        "headers": headers,
        "body": String::from_utf8_lossy(&delivery.body),
    }))
}

/// One sample per signing platform, keyed by platform name; eBay's also carries the public key
/// as its Notification API serves it, and a challenge with the answer the mock accepts.
pub fn sdk_samples(seed: u64) -> Result<Value, MockError> {
    let mut samples = Map::new();
    for (platform, secret) in SECRETS {
        samples.insert(
            platform.as_str().to_string(),
            sample(platform, secret, seed)?,
        );
    }
    let key = NotificationKey::from_seed(seed);
    let code = "sdk-sample-challenge-code";
    let token = SECRETS[2].1;
    if let Some(ebay) = samples.get_mut(Platform::Ebay.as_str()) {
        ebay["kid"] = json!(key.kid());
        ebay["public_key"] = key.public_key_json();
        ebay["challenge"] = json!({
            "challenge_code": code,
            "verification_token": token,
            "endpoint": RECEIVER,
            "expected_response": expected_response(code, token, RECEIVER),
        });
    }
    Ok(Value::Object(samples))
}
