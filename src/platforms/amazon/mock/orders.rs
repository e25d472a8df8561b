//! The query of Orders v0 `getOrders` (reference §3.2), without HTTP: its filters, their rules,
//! the opaque `NextToken` and one page of the feed.
//!
//! Paging is by key, not by offset: the token carries the key (time, order number) of the last
//! order of the page, so that an order that leaves the window between two pages (a cancellation
//! moves its last-update time past the upper bound) does not shift the orders behind it out of
//! sight.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use chrono::{DateTime, Duration, Utc};

use crate::platforms::mock::world::{Order, OrderStatus};

/// The most orders one page holds, and the default (`MaxResultsPerPage`).
pub const MAX_RESULTS_PER_PAGE: usize = 100;
/// How far before now `CreatedBefore` and `LastUpdatedBefore` must be (reference §3.2).
pub const BEFORE_MARGIN: Duration = Duration::minutes(2);
/// The `OrderStatuses` the API accepts (reference §3.2).
pub const ORDER_STATUSES: [&str; 8] = [
    "Pending",
    "Unshipped",
    "PartiallyShipped",
    "Shipped",
    "Canceled",
    "Unfulfillable",
    "InvoiceUnconfirmed",
    "PendingAvailability",
];

/// The query parameters as (name, value) pairs; a repeated name counts as a comma list.
#[derive(Debug, Clone, Default)]
pub struct Params(Vec<(String, String)>);

impl Params {
    /// Parses a raw query string; `Err` is the message of the 400 reply.
    pub fn parse(query: &str) -> Result<Params, String> {
        actix_web::web::Query::<Vec<(String, String)>>::from_query(query)
            .map(|pairs| Params(pairs.into_inner()))
            .map_err(|error| format!("Invalid query string: {error}"))
    }

    /// The value of `name` (repeated names joined by commas), when given and not blank.
    pub fn get(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .0
            .iter()
            .filter(|(key, value)| key == name && !value.trim().is_empty())
            .map(|(_, value)| value.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    }

    /// The comma-separated list under `name` (empty when absent).
    pub fn list(&self, name: &str) -> Vec<String> {
        self.get(name)
            .map(|value| {
                value
                    .split(',')
                    .map(str::trim)
                    .filter(|item| !item.is_empty())
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Which time the feed filters and sorts on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedBy {
    /// `CreatedAfter` / `CreatedBefore`, on the purchase date.
    Created,
    /// `LastUpdatedAfter` / `LastUpdatedBefore`, on the last-update date.
    Updated,
}

/// One `getOrders` query, from its parameters or from a `NextToken`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feed {
    /// The time filtered on.
    pub by: FeedBy,
    /// The lower bound, inclusive.
    pub after: DateTime<Utc>,
    /// The upper bound, exclusive (the reply's `CreatedBefore` / `LastUpdatedBefore`, so that the
    /// next poll's `...After` starts exactly where this one ended).
    pub before: DateTime<Utc>,
    /// The statuses asked for (empty: all).
    pub statuses: Vec<String>,
    /// Orders per page.
    pub max: usize,
    /// The key of the last order of the previous page.
    pub resume: Option<(i64, u64)>,
}

/// Reads the query of a first page or a `NextToken`. `default_before` is the upper bound when the
/// query gives none (now, less the mock's lag, to whole milliseconds). `Err` is the message of the
/// 400 `InvalidInput` reply.
pub fn parse_feed(
    params: &Params,
    now: DateTime<Utc>,
    default_before: DateTime<Utc>,
) -> Result<Feed, String> {
    if let Some(token) = params.get("NextToken") {
        return Feed::from_token(&token);
    }
    let created = params.get("CreatedAfter");
    let updated = params.get("LastUpdatedAfter");
    let (by, after, before_name, other_before) = match (created, updated) {
        (Some(after), None) => (FeedBy::Created, after, "CreatedBefore", "LastUpdatedBefore"),
        (None, Some(after)) => (FeedBy::Updated, after, "LastUpdatedBefore", "CreatedBefore"),
        (Some(_), Some(_)) => {
            return Err("CreatedAfter and LastUpdatedAfter cannot be combined.".to_string())
        }
        (None, None) => {
            return Err("Either CreatedAfter or LastUpdatedAfter must be specified.".to_string())
        }
    };
    if params.get(other_before).is_some() {
        return Err(format!(
            "{other_before} cannot be used with {}.",
            after_name(by)
        ));
    }
    let after = parse_time(after_name(by), &after)?;
    let before = match params.get(before_name) {
        Some(value) => {
            let before = parse_time(before_name, &value)?;
            if before > now - BEFORE_MARGIN {
                return Err(format!(
                    "{before_name} must be at least 2 minutes before the time of the request."
                ));
            }
            before
        }
        None => default_before,
    };
    if before <= after {
        return Err(format!(
            "{before_name} must be later than {}.",
            after_name(by)
        ));
    }
    Ok(Feed {
        by,
        after,
        before,
        statuses: parse_statuses(params)?,
        max: parse_max(params)?,
        resume: None,
    })
}

fn after_name(by: FeedBy) -> &'static str {
    match by {
        FeedBy::Created => "CreatedAfter",
        FeedBy::Updated => "LastUpdatedAfter",
    }
}

/// The name of the reply's upper-bound field.
pub fn before_name(by: FeedBy) -> &'static str {
    match by {
        FeedBy::Created => "CreatedBefore",
        FeedBy::Updated => "LastUpdatedBefore",
    }
}

/// An ISO 8601 time: RFC 3339, or a bare date (midnight UTC).
pub fn parse_time(name: &str, value: &str) -> Result<DateTime<Utc>, String> {
    if let Ok(time) = DateTime::parse_from_rfc3339(value) {
        return Ok(time.with_timezone(&Utc));
    }
    chrono::NaiveDate::parse_from_str(value, "%Y-%m-%d")
        .ok()
        .and_then(|date| date.and_hms_opt(0, 0, 0))
        .map(|time| time.and_utc())
        .ok_or_else(|| format!("{name} '{value}' is not a valid ISO 8601 date-time."))
}

fn parse_statuses(params: &Params) -> Result<Vec<String>, String> {
    let statuses = params.list("OrderStatuses");
    match statuses
        .iter()
        .find(|status| !ORDER_STATUSES.contains(&status.as_str()))
    {
        Some(bad) => Err(format!(
            "OrderStatuses value '{bad}' is not one of {}.",
            ORDER_STATUSES.join(", ")
        )),
        None => Ok(statuses),
    }
}

fn parse_max(params: &Params) -> Result<usize, String> {
    let Some(value) = params.get("MaxResultsPerPage") else {
        return Ok(MAX_RESULTS_PER_PAGE);
    };
    match value.parse::<usize>() {
        Ok(max) if (1..=MAX_RESULTS_PER_PAGE).contains(&max) => Ok(max),
        _ => Err(format!(
            "MaxResultsPerPage '{value}' must be a whole number from 1 to {MAX_RESULTS_PER_PAGE}."
        )),
    }
}

/// The status an order shows on Amazon: a placed merchant-fulfilled order waits to ship.
pub fn order_status(order: &Order) -> &'static str {
    match order.status {
        OrderStatus::Placed => "Unshipped",
        OrderStatus::Cancelled => "Canceled",
    }
}

fn nanos(time: DateTime<Utc>) -> i64 {
    time.timestamp_nanos_opt().unwrap_or(i64::MAX)
}

impl Feed {
    /// The paging key of an order in this feed.
    pub fn key(&self, order: &Order) -> (i64, u64) {
        let time = match self.by {
            FeedBy::Created => order.created_at,
            FeedBy::Updated => order.updated_at,
        };
        (nanos(time), order.number)
    }

    /// One page out of the orders in the window (`candidates`, any order): the orders of the
    /// page, and the token of the next one when more remain.
    pub fn page<'a>(&self, candidates: Vec<&'a Order>) -> (Vec<&'a Order>, Option<String>) {
        let mut orders: Vec<&Order> = candidates
            .into_iter()
            .filter(|order| {
                self.statuses.is_empty()
                    || self
                        .statuses
                        .iter()
                        .any(|status| status == order_status(order))
            })
            .filter(|order| self.resume.is_none_or(|resume| self.key(order) > resume))
            .collect();
        orders.sort_by_key(|order| self.key(order));
        let more = orders.len() > self.max;
        orders.truncate(self.max);
        let token = match orders.last() {
            Some(last) if more => Some(
                Feed {
                    resume: Some(self.key(last)),
                    ..self.clone()
                }
                .to_token(),
            ),
            _ => None,
        };
        (orders, token)
    }

    /// The opaque `NextToken` of this query.
    pub fn to_token(&self) -> String {
        let by = match self.by {
            FeedBy::Created => "C",
            FeedBy::Updated => "U",
        };
        let (resume_time, resume_number) = self.resume.unwrap_or((i64::MIN, 0));
        let plain = format!(
            "1|{by}|{}|{}|{}|{}|{resume_time}|{resume_number}",
            nanos(self.after),
            nanos(self.before),
            self.max,
            self.statuses.join(","),
        );
        URL_SAFE_NO_PAD.encode(plain)
    }

    /// Reads a `NextToken`; `Err` is the message of the 400 reply.
    pub fn from_token(token: &str) -> Result<Feed, String> {
        Feed::decode(token).ok_or_else(|| "Invalid NextToken.".to_string())
    }

    fn decode(token: &str) -> Option<Feed> {
        let plain = String::from_utf8(URL_SAFE_NO_PAD.decode(token).ok()?).ok()?;
        let fields: Vec<&str> = plain.split('|').collect();
        let [version, by, after, before, max, statuses, resume_time, resume_number] =
            fields.as_slice()
        else {
            return None;
        };
        if *version != "1" {
            return None;
        }
        let by = match *by {
            "C" => FeedBy::Created,
            "U" => FeedBy::Updated,
            _ => return None,
        };
        let statuses: Vec<String> = statuses
            .split(',')
            .filter(|status| !status.is_empty())
            .map(str::to_string)
            .collect();
        if statuses
            .iter()
            .any(|status| !ORDER_STATUSES.contains(&status.as_str()))
        {
            return None;
        }
        let max: usize = max.parse().ok()?;
        if !(1..=MAX_RESULTS_PER_PAGE).contains(&max) {
            return None;
        }
        Some(Feed {
            by,
            after: DateTime::from_timestamp_nanos(after.parse().ok()?),
            before: DateTime::from_timestamp_nanos(before.parse().ok()?),
            statuses,
            max,
            resume: Some((resume_time.parse().ok()?, resume_number.parse().ok()?)),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(query: &str) -> Params {
        Params::parse(query).unwrap()
    }

    fn now() -> DateTime<Utc> {
        parse_time("now", "2026-11-21T12:00:00Z").unwrap()
    }

    fn order(number: u64, created: i64, updated: i64, status: OrderStatus) -> Order {
        let t0 = now() - Duration::hours(1);
        Order {
            number,
            order_id: format!("o{number}"),
            listing_number: 1,
            sku: "A".into(),
            quantity: 1,
            status,
            created_at: t0 + Duration::seconds(created),
            updated_at: t0 + Duration::seconds(updated),
        }
    }

    #[test]
    fn exactly_one_of_created_after_and_last_updated_after() {
        let (now, before) = (now(), now());
        assert!(parse_feed(&params("MarketplaceIds=X"), now, before).is_err());
        assert!(parse_feed(
            &params("CreatedAfter=2026-01-01T00:00:00Z&LastUpdatedAfter=2026-01-01T00:00:00Z"),
            now,
            before
        )
        .is_err());
        let feed = parse_feed(
            &params("LastUpdatedAfter=2026-01-01T00:00:00Z"),
            now,
            before,
        )
        .unwrap();
        assert_eq!(
            (feed.by, feed.before, feed.max),
            (FeedBy::Updated, now, 100)
        );
        assert!(parse_feed(
            &params("CreatedAfter=2026-01-01T00:00:00Z&LastUpdatedBefore=2026-01-01T10:00:00Z"),
            now,
            before
        )
        .is_err());
    }

    #[test]
    fn the_upper_bound_must_be_two_minutes_old() {
        let now = now();
        let at = |minutes: i64| rfc(now - Duration::minutes(minutes));
        let query = |before: String| {
            params(&format!(
                "CreatedAfter=2026-01-01&CreatedBefore={}",
                before.replace('+', "%2B")
            ))
        };
        assert!(parse_feed(&query(at(1)), now, now).is_err());
        let feed = parse_feed(&query(at(2)), now, now).unwrap();
        assert_eq!(feed.before, now - Duration::minutes(2));
        assert!(parse_feed(
            &params("CreatedAfter=2026-11-21T11:00:00Z&CreatedBefore=2026-11-21T10:00:00Z"),
            now,
            now
        )
        .is_err());
    }

    fn rfc(time: DateTime<Utc>) -> String {
        time.to_rfc3339()
    }

    #[test]
    fn page_size_and_statuses_are_checked() {
        let now = now();
        for bad in ["0", "101", "ten", "-1"] {
            let query = format!("CreatedAfter=2026-01-01&MaxResultsPerPage={bad}");
            assert!(parse_feed(&params(&query), now, now).is_err(), "{bad}");
        }
        assert!(parse_feed(
            &params("CreatedAfter=2026-01-01&OrderStatuses=Unshipped,Lost"),
            now,
            now
        )
        .is_err());
        let feed = parse_feed(
            &params("CreatedAfter=2026-01-01&OrderStatuses=Unshipped&OrderStatuses=Canceled&MaxResultsPerPage=1"),
            now,
            now,
        )
        .unwrap();
        assert_eq!((feed.statuses.len(), feed.max), (2, 1));
        assert!(parse_time("x", "yesterday").is_err());
    }

    #[test]
    fn pages_resume_after_the_last_key_even_when_an_order_leaves_the_window() {
        let feed = parse_feed(
            &params("LastUpdatedAfter=2026-01-01&MaxResultsPerPage=2"),
            now(),
            now(),
        )
        .unwrap();
        let orders = [
            order(1, 0, 0, OrderStatus::Placed),
            order(2, 1, 1, OrderStatus::Placed),
            order(3, 2, 2, OrderStatus::Placed),
        ];
        let (first, token) = feed.page(orders.iter().collect());
        assert_eq!(first.iter().map(|o| o.number).collect::<Vec<_>>(), [1, 2]);
        let token = token.unwrap();
        // Order 1 left the window (cancelled after the bound): order 3 is still the next one.
        let next = parse_feed(&params(&format!("NextToken={token}")), now(), now()).unwrap();
        let (second, more) = next.page(orders[1..].iter().collect());
        assert_eq!(second.iter().map(|o| o.number).collect::<Vec<_>>(), [3]);
        assert!(more.is_none());
    }

    #[test]
    fn tokens_round_trip_and_garbage_is_refused() {
        let mut feed = parse_feed(
            &params("CreatedAfter=2026-01-01&OrderStatuses=Canceled"),
            now(),
            now(),
        )
        .unwrap();
        feed.resume = Some((42, 7));
        assert_eq!(Feed::from_token(&feed.to_token()), Ok(feed));
        for bad in [
            "",
            "!!!",
            "MXxYfDB8MXwxfHx8MA",
            &URL_SAFE_NO_PAD.encode("1|U|0|1|500||0|0"),
        ] {
            assert!(Feed::from_token(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn statuses_filter_the_page() {
        let feed = parse_feed(
            &params("CreatedAfter=2026-01-01&OrderStatuses=Canceled"),
            now(),
            now(),
        )
        .unwrap();
        let orders = [
            order(1, 0, 0, OrderStatus::Placed),
            order(2, 1, 5, OrderStatus::Cancelled),
        ];
        let (page, _) = feed.page(orders.iter().collect());
        assert_eq!(page.iter().map(|o| o.number).collect::<Vec<_>>(), [2]);
    }
}
