//! What every platform connector shares (issue 5): its configuration, the SKU → listing map, the
//! HTTP client with its timeouts, and the mapping of transport failures and HTTP statuses onto the
//! engine's [`MarketplaceError`] kinds. Each platform's connector lives in
//! `src/platforms/<platform>/connector` and implements the engine's `Marketplace` port itself,
//! against the platform's real wire format (the same one its mock speaks); `super::registry`
//! builds them. A connector is a cheap handle (its settings and HTTP client shared), cloned into
//! each call's future, since the port's futures own what they use.
//!
//! Order intake contract, the same on every platform: each order line yields one `Sale` event
//! (version `placed`) and, once the order is cancelled, one `Cancel` event (version `cancelled`).
//! Re-reading an order yields the same events again, so the ledger's idempotency keys
//! (`order_event(channel, order, line, version)`) make overlapping pages harmless; a cursor may
//! therefore start a little before what was last read and never skip anything.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use serde_json::Value;
use shelfsync_actors::channel::marketplace::{
    ListedQuantity, MarketplaceError, OrderEvent, OrderEventKind, PermanentKind, PushItem,
    PushOutcome,
};
use shelfsync_actors::ids::Sku;

use super::egress::{EgressError, EgressPolicy};
use super::Platform;
use crate::vault::Secret;

/// How long a connector waits for a marketplace by default (connect and whole call).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection attempt may take.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);

/// Errors of building a connector from its settings.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The base URL is not an http(s) URL.
    #[error("base_url {url:?} is not an http or https URL")]
    BadBaseUrl {
        /// The URL given.
        url: String,
    },
    /// A platform account id the connector needs is missing or not a string.
    #[error("account.{field} is required for {platform} (a string)")]
    MissingAccountField {
        /// The platform.
        platform: Platform,
        /// The field.
        field: &'static str,
    },
    /// An optional platform account setting has a value the connector cannot use.
    #[error("account.{field} of {platform} must be {expected}")]
    BadAccountField {
        /// The platform.
        platform: Platform,
        /// The field.
        field: &'static str,
        /// What it must be.
        expected: &'static str,
    },
    /// The deployment's egress policy refuses the base URL (its scheme, host or address).
    #[error(transparent)]
    Egress(#[from] EgressError),
    /// The HTTP client could not be built.
    #[error("the HTTP client could not be built: {0}")]
    Client(String),
}

impl ConnectorError {
    /// The stable code of the error.
    pub fn kind(&self) -> &'static str {
        match self {
            ConnectorError::BadBaseUrl { .. } => "bad_base_url",
            ConnectorError::MissingAccountField { .. } => "missing_account_field",
            ConnectorError::BadAccountField { .. } => "bad_account_field",
            ConnectorError::Egress(error) => error.kind(),
            ConnectorError::Client(_) => "http_client",
        }
    }
}

/// Which listing of a channel each SKU is: the `listing_ref` of the catalog import. Shared with
/// the catalog so that a new mapping reaches the connector at once. Kept both ways: an order line
/// names the listing, and [`ListingMap::sku_of`] runs for every line of every order, so it is a
/// lookup, not a scan of the channel's catalog.
#[derive(Debug, Clone, Default)]
pub struct ListingMap(Arc<RwLock<Listings>>);

/// The two directions of a [`ListingMap`], changed together under one lock.
#[derive(Debug, Default)]
pub struct Listings {
    by_sku: HashMap<Sku, String>,
    by_ref: HashMap<String, Sku>,
}

impl ListingMap {
    fn read(&self) -> std::sync::RwLockReadGuard<'_, Listings> {
        self.0.read().unwrap_or_else(|p| p.into_inner())
    }

    /// Maps `sku` to `listing_ref`. A listing the SKU had before no longer names it; a listing
    /// named again for another SKU names the latest one (as the catalog's last row says).
    pub fn insert(&self, sku: Sku, listing_ref: String) {
        let mut listings = self.0.write().unwrap_or_else(|p| p.into_inner());
        if let Some(old) = listings.by_sku.insert(sku.clone(), listing_ref.clone()) {
            if listings.by_ref.get(&old) == Some(&sku) {
                listings.by_ref.remove(&old);
            }
        }
        listings.by_ref.insert(listing_ref, sku);
    }

    /// The listing of `sku`.
    pub fn get(&self, sku: &Sku) -> Option<String> {
        self.read().by_sku.get(sku).cloned()
    }

    /// Whether `sku` is mapped to a listing: a connector lists exactly the SKUs of its map, so
    /// that the channel neither keeps a target for nor pushes a SKU the client does not sell there
    /// (`Marketplace::lists`).
    pub fn contains(&self, sku: &Sku) -> bool {
        self.read().by_sku.contains_key(sku)
    }

    /// The SKU whose listing is `listing_ref`.
    pub fn sku_of(&self, listing_ref: &str) -> Option<Sku> {
        self.read().by_ref.get(listing_ref).cloned()
    }

    /// How many SKUs are mapped.
    pub fn len(&self) -> usize {
        self.read().by_sku.len()
    }

    /// Whether no SKU is mapped.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A connector's settings.
#[derive(Debug, Clone)]
pub struct ConnectorConfig {
    /// The platform's API root (the mock's `http://127.0.0.1:PORT` in tests and the demo).
    pub base_url: reqwest::Url,
    /// The credential, sent only in the platform's auth header.
    pub credential: Secret,
    /// The platform's account ids (shop id, location id, seller id, keystring, ...).
    pub account: Value,
    /// SKU → listing.
    pub listings: ListingMap,
    /// The whole-call timeout.
    pub timeout: Duration,
    /// Where the HTTP client may connect (safe by default: public hosts over https only).
    pub egress: EgressPolicy,
}

impl ConnectorConfig {
    /// Settings with the default timeout and the default (safe) egress policy; the base URL must
    /// be http(s).
    pub fn new(
        base_url: &str,
        credential: Secret,
        account: Value,
        listings: ListingMap,
    ) -> Result<ConnectorConfig, ConnectorError> {
        let url = reqwest::Url::parse(base_url.trim_end_matches('/')).map_err(|_| {
            ConnectorError::BadBaseUrl {
                url: base_url.to_string(),
            }
        })?;
        if !matches!(url.scheme(), "http" | "https") || url.host().is_none() {
            return Err(ConnectorError::BadBaseUrl {
                url: base_url.to_string(),
            });
        }
        Ok(ConnectorConfig {
            base_url: url,
            credential,
            account,
            listings,
            timeout: DEFAULT_TIMEOUT,
            egress: EgressPolicy::default(),
        })
    }

    /// The same settings under another egress policy (mocks on loopback need
    /// [`EgressPolicy::LOOPBACK_MOCKS`]).
    pub fn with_egress(mut self, egress: EgressPolicy) -> ConnectorConfig {
        self.egress = egress;
        self
    }

    /// `base_url` joined with `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base_url.as_str().trim_end_matches('/'), path)
    }

    /// The account id `field`, required.
    pub fn account_str(
        &self,
        platform: Platform,
        field: &'static str,
    ) -> Result<String, ConnectorError> {
        match self.account.get(field) {
            Some(Value::String(value)) if !value.is_empty() => Ok(value.clone()),
            Some(Value::Number(number)) => Ok(number.to_string()),
            _ => Err(ConnectorError::MissingAccountField { platform, field }),
        }
    }

    /// The optional account setting `field`, a whole number of seconds from 0 to `max`;
    /// `default` when it is absent or null.
    pub fn account_secs(
        &self,
        platform: Platform,
        field: &'static str,
        default: Duration,
        max: Duration,
    ) -> Result<Duration, ConnectorError> {
        match self.account.get(field) {
            None | Some(Value::Null) => Ok(default),
            Some(value) => value
                .as_u64()
                .map(Duration::from_secs)
                .filter(|secs| *secs <= max)
                .ok_or(ConnectorError::BadAccountField {
                    platform,
                    field,
                    expected: "a whole number of seconds within its range",
                }),
        }
    }

    /// The HTTP client of the connector, with its timeouts, and bound to the base URL's host:
    ///
    /// - **no redirect is followed**: reqwest follows up to ten by default and forwards custom
    ///   headers across hosts (it strips only `Authorization` and cookies), so a redirect would
    ///   carry `X-Shopify-Access-Token`, `x-api-key`, `x-amz-access-token` or
    ///   `WM_SEC.ACCESS_TOKEN` to wherever the marketplace, or whoever answers in its place,
    ///   points. A 3xx is an error of the call instead (see `platforms::egress`);
    /// - **the egress policy holds at every connection**: a literal IP is checked here (no
    ///   resolver sees it), a host name by the [`super::egress::GuardedResolver`] each time it is
    ///   resolved, so DNS rebinding cannot reach a private address;
    /// - **no proxy from the environment**: a proxy would resolve names where the resolver cannot
    ///   check them.
    pub fn http_client(&self) -> Result<reqwest::Client, ConnectorError> {
        let rule = self.egress.check_url(None, &self.base_url)?;
        reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT.min(self.timeout))
            .timeout(self.timeout)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .dns_resolver(super::egress::resolver(rule))
            .build()
            .map_err(|error| ConnectorError::Client(error.to_string()))
    }
}

/// A transport failure in the engine's terms: no answer in time is a `Timeout` (the call may have
/// been applied), anything else (refused, reset) is `Transient`.
pub fn send_error(error: &reqwest::Error) -> MarketplaceError {
    if error.is_timeout() {
        MarketplaceError::Timeout
    } else {
        MarketplaceError::Transient(format!("transport: {error}"))
    }
}

/// The `Retry-After` header in seconds (Shopify sends `2.0`, Etsy whole seconds).
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
    let seconds: f64 = value.trim().parse().ok()?;
    (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(86_400.0)))
}

/// Sends `request` and reads its reply whole: the status and body of a 2xx, else the engine's
/// error of the reply (`throttled` of its headers for a 429, each platform saying how long to wait
/// its own way; [`status_error`] with `summary` of the body for any other status). A transport
/// failure is [`send_error`]'s.
pub async fn success_body(
    request: reqwest::RequestBuilder,
    throttled: fn(&HeaderMap) -> MarketplaceError,
    summary: fn(&str) -> String,
) -> Result<(StatusCode, String), MarketplaceError> {
    let reply = request.send().await.map_err(|error| send_error(&error))?;
    let status = reply.status();
    let headers = reply.headers().clone();
    let body = reply.text().await.map_err(|error| send_error(&error))?;
    if status == StatusCode::TOO_MANY_REQUESTS {
        return Err(throttled(&headers));
    }
    if !status.is_success() {
        return Err(status_error(status, &headers, &summary(&body)));
    }
    Ok((status, body))
}

/// A 429 whose wait is the `Retry-After` header, when sent.
pub fn throttled_after(headers: &HeaderMap) -> MarketplaceError {
    MarketplaceError::Throttled {
        retry_after: retry_after(headers),
    }
}

/// A non-2xx status in the engine's terms, for platforms whose reply says nothing more precise:
/// 429 throttled (with `Retry-After` when sent), 5xx and 408 transient, 401/403 auth, 404 not
/// found, other 4xx invalid. `body` goes into the message, cut short.
pub fn status_error(status: StatusCode, headers: &HeaderMap, body: &str) -> MarketplaceError {
    let message = || {
        format!(
            "HTTP {}: {}",
            status.as_u16(),
            body.chars().take(300).collect::<String>()
        )
    };
    match status.as_u16() {
        429 => throttled_after(headers),
        408 | 500..=599 => MarketplaceError::Transient(message()),
        401 | 403 => MarketplaceError::Permanent {
            kind: PermanentKind::Auth,
            message: message(),
        },
        404 => MarketplaceError::Permanent {
            kind: PermanentKind::NotFound,
            message: message(),
        },
        _ => MarketplaceError::Permanent {
            kind: PermanentKind::Invalid,
            message: message(),
        },
    }
}

/// Reads a quantity a marketplace reports a listing shows (a signed number in its reply) as the
/// engine's `u32`: negative is 0 and beyond `u32` is `u32::MAX`, never truncated (`as u32` turned
/// 4 294 967 301 into 5; issue 12).
pub fn shown_quantity(reported: i64) -> u32 {
    u32::try_from(reported.max(0)).unwrap_or(u32::MAX)
}

/// A SKU as a marketplace wrote it, in the engine's form; `None` (and a warning) when it is not a
/// valid SKU, so that one bad line does not stop the feed.
pub fn parse_sku(platform: Platform, raw: &str) -> Option<Sku> {
    match Sku::parse(raw) {
        Ok(sku) => Some(sku),
        Err(error) => {
            tracing::warn!(%platform, %error, "an order line has a SKU the engine does not accept; skipped");
            None
        }
    }
}

/// The event version of a line's sale (the order intake contract, see the module).
pub const PLACED: &str = "placed";
/// The event version of a line's cancellation.
pub const CANCELLED: &str = "cancelled";

/// The events of one order line (1-based `line`, its position in the order) under the order
/// intake contract (see the module): a sale, and a cancellation once the order is cancelled. A
/// connector's poll and its notifications both build events here, so the same order gives the
/// same events (and ledger keys) whichever way it arrives.
pub fn line_events(
    order_id: &str,
    line: u32,
    sku: &Sku,
    quantity: u32,
    cancelled: bool,
) -> Vec<OrderEvent> {
    let event = |kind, version: &str| OrderEvent {
        external_order_id: order_id.to_string(),
        line,
        version: version.to_string(),
        sku: sku.clone(),
        kind,
        quantity,
    };
    let mut events = vec![event(OrderEventKind::Sale, PLACED)];
    if cancelled {
        events.push(event(OrderEventKind::Cancel, CANCELLED));
    }
    events
}

/// Pushes items one call each, for platforms that set one listing per call: a retryable failure
/// (throttle, outage) stops the call so that the engine retries the batch; a permanent one fails
/// its item and the rest go on.
pub async fn push_each<F, Fut>(
    items: Vec<PushItem>,
    mut push_one: F,
) -> Result<Vec<PushOutcome>, MarketplaceError>
where
    F: FnMut(PushItem) -> Fut,
    Fut: Future<Output = Result<PushOutcome, MarketplaceError>>,
{
    let mut outcomes = Vec::with_capacity(items.len());
    for item in items {
        let sku = item.sku.clone();
        match push_one(item).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(error) if error.is_retryable() => return Err(error),
            Err(error) => outcomes.push(PushOutcome::Failed { sku, error }),
        }
    }
    Ok(outcomes)
}

/// Reads listings one call each, in order, for platforms that read one listing per call; the
/// first failure fails the read (the engine reads them again later).
pub async fn read_each<F, Fut>(
    skus: Vec<Sku>,
    mut read_one: F,
) -> Result<Vec<ListedQuantity>, MarketplaceError>
where
    F: FnMut(Sku) -> Fut,
    Fut: Future<Output = Result<ListedQuantity, MarketplaceError>>,
{
    let mut listed = Vec::with_capacity(skus.len());
    for sku in skus {
        listed.push(read_one(sku).await?);
    }
    Ok(listed)
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    #[test]
    fn a_shown_quantity_is_clamped_to_what_a_listing_can_show_never_truncated() {
        for (reported, shown) in [
            (i64::MIN, 0),
            (-1, 0),
            (0, 0),
            (7, 7),
            (i64::from(u32::MAX), u32::MAX),
            (4_294_967_301, u32::MAX),
            (i64::MAX, u32::MAX),
        ] {
            assert_eq!(shown_quantity(reported), shown, "{reported}");
        }
    }

    #[test]
    fn statuses_map_to_engine_kinds() {
        let mut headers = HeaderMap::new();
        headers.insert(
            reqwest::header::RETRY_AFTER,
            HeaderValue::from_static("2.0"),
        );
        assert_eq!(
            status_error(StatusCode::TOO_MANY_REQUESTS, &headers, ""),
            MarketplaceError::Throttled {
                retry_after: Some(Duration::from_secs(2))
            }
        );
        let none = HeaderMap::new();
        assert_eq!(
            status_error(StatusCode::BAD_GATEWAY, &none, "x").kind(),
            "transient"
        );
        assert_eq!(
            status_error(StatusCode::UNAUTHORIZED, &none, "x").kind(),
            "auth"
        );
        assert_eq!(
            status_error(StatusCode::FORBIDDEN, &none, "x").kind(),
            "auth"
        );
        assert_eq!(
            status_error(StatusCode::NOT_FOUND, &none, "x").kind(),
            "not_found"
        );
        assert_eq!(
            status_error(StatusCode::BAD_REQUEST, &none, "x").kind(),
            "invalid"
        );
    }

    #[test]
    fn retry_after_reads_seconds_and_ignores_nonsense() {
        let mut headers = HeaderMap::new();
        assert_eq!(retry_after(&headers), None);
        headers.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("7"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(7)));
        headers.insert(reqwest::header::RETRY_AFTER, HeaderValue::from_static("-1"));
        assert_eq!(retry_after(&headers), None);
    }

    #[test]
    fn the_base_url_must_be_http() {
        let new = |url: &str| {
            ConnectorConfig::new(url, Secret::new("t"), Value::Null, ListingMap::default())
        };
        assert!(new("http://127.0.0.1:8080/").is_ok());
        assert_eq!(new("ftp://x").unwrap_err().kind(), "bad_base_url");
        assert_eq!(new("not a url").unwrap_err().kind(), "bad_base_url");
        assert_eq!(
            new("http://127.0.0.1:8080/").unwrap().url("/v3/inventory"),
            "http://127.0.0.1:8080/v3/inventory"
        );
    }

    #[test]
    fn listing_map_both_ways() {
        let map = ListingMap::default();
        let sku = Sku::parse("ACME-MUG-RED").unwrap();
        map.insert(sku.clone(), "123".into());
        assert_eq!(map.get(&sku).as_deref(), Some("123"));
        assert_eq!(map.sku_of("123"), Some(sku));
        assert_eq!(map.len(), 1);
    }

    #[test]
    fn a_remapped_listing_names_only_its_latest_sku() {
        let map = ListingMap::default();
        let red = Sku::parse("ACME-MUG-RED").unwrap();
        let blue = Sku::parse("ACME-MUG-BLUE").unwrap();
        map.insert(red.clone(), "123".into());
        map.insert(red.clone(), "456".into());
        assert_eq!(
            map.sku_of("123"),
            None,
            "the SKU's old listing names it no more"
        );
        assert_eq!(map.sku_of("456"), Some(red.clone()));
        map.insert(blue.clone(), "456".into());
        assert_eq!(map.sku_of("456"), Some(blue));
        // Moving red away again must not drop blue's claim on 456.
        map.insert(red.clone(), "789".into());
        assert_eq!(
            map.sku_of("456").as_ref().map(Sku::as_str),
            Some("ACME-MUG-BLUE")
        );
        assert_eq!((map.get(&red).as_deref(), map.len()), (Some("789"), 2));
    }
}
