//! Paging of the list routes (`GET /v1/members`, `/v1/clients`, `…/channels`, `…/stock`; issue
//! 13, item 5): `?cursor=&limit=` in, `{items, next}` out. Items come in key order (member id,
//! client code, channel id, SKU); `next` is the cursor of the following page, `null` on the last
//! one, so a reader asks again with `cursor=<next>` until `next` is `null`. A cursor is the last
//! key of the page it came from: a position, not an offset, so a page read while items are added
//! or removed neither repeats nor skips the items that stayed. The journal routes (`…/ledger`,
//! `…/orders`, `…/exceptions`) page by sequence number instead (`after_seq`, `after_id`), as they
//! did before.

use actix_web::web;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::error::{ApiError, Code};
use super::openapi::schemas;

/// The page size when the query names none.
pub const DEFAULT_LIMIT: usize = 100;
/// The largest page.
pub const MAX_LIMIT: usize = 1000;
/// The longest cursor accepted (every key the lists page by is shorter).
pub const MAX_CURSOR: usize = 128;

/// The query of a paged list keyed by an id or code.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// The `next` of the previous page (absent: from the first item).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(schema_with = schemas::cursor)]
    pub cursor: Option<String>,
    /// At most this many items (1 to 1000, 100 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// The query of a paged list keyed by SKU (`…/stock`): the cursor is a SKU.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SkuPageQuery {
    /// The `next` of the previous page (absent: from the first SKU).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(schema_with = schemas::sku)]
    pub cursor: Option<String>,
    /// At most this many items (1 to 1000, 100 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// The query of a list paged by a sequence number (the audit log, a delivery log): the cursor
/// is the `next` of the previous page, a number, so the document says so and a word is refused
/// by the query parser, not by a rule the schema does not state.
#[derive(Debug, Clone, Default, Serialize, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct NumberPageQuery {
    /// The `next` of the previous page (absent: from the first item). A signed 64-bit number as
    /// the document says (sequence numbers never come near its top).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 0, maximum = 9223372036854775807_i64)]
    pub cursor: Option<i64>,
    /// At most this many items (1 to 1000, 100 by default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

impl NumberPageQuery {
    /// The request of a `?cursor=<n>&limit=` query, or a 400 `invalid_field`.
    pub fn checked(
        query: Result<web::Query<NumberPageQuery>, actix_web::Error>,
    ) -> Result<PageRequest<u64>, ApiError> {
        let query = query_of(query)?;
        let after = query
            .cursor
            .map(|cursor| {
                u64::try_from(cursor).map_err(|_| {
                    ApiError::new(
                        Code::InvalidField,
                        "cursor must be the `next` of a previous page",
                    )
                })
            })
            .transpose()?;
        Ok(PageRequest {
            after,
            limit: checked_limit(query.limit)?,
        })
    }
}

/// A page request, checked: start after `after`, at most `limit` items.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageRequest<K> {
    /// The last key of the previous page.
    pub after: Option<K>,
    /// At most this many.
    pub limit: usize,
}

/// A page of a list.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Page<T> {
    /// The items, in key order.
    pub items: Vec<T>,
    /// The cursor of the next page; `null` when this page is the last.
    pub next: Option<String>,
}

fn checked_limit(limit: Option<usize>) -> Result<usize, ApiError> {
    let limit = limit.unwrap_or(DEFAULT_LIMIT);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::new(
            Code::InvalidField,
            format!("limit must be 1 to {MAX_LIMIT}"),
        ));
    }
    Ok(limit)
}

fn query_of<Q>(query: Result<web::Query<Q>, actix_web::Error>) -> Result<Q, ApiError> {
    query
        .map(web::Query::into_inner)
        .map_err(|error| ApiError::invalid(format!("the query: {error}")))
}

impl PageQuery {
    /// The request of a `?cursor=&limit=` query, or a 400 `invalid_field`.
    pub fn checked(
        query: Result<web::Query<PageQuery>, actix_web::Error>,
    ) -> Result<PageRequest<String>, ApiError> {
        let query = query_of(query)?;
        if let Some(cursor) = &query.cursor {
            if cursor.is_empty()
                || cursor.chars().count() > MAX_CURSOR
                || cursor.chars().any(char::is_control)
            {
                return Err(ApiError::new(
                    Code::InvalidField,
                    format!("cursor must be 1 to {MAX_CURSOR} printable characters"),
                ));
            }
        }
        Ok(PageRequest {
            after: query.cursor,
            limit: checked_limit(query.limit)?,
        })
    }
}

impl SkuPageQuery {
    /// The request of a `?cursor=<sku>&limit=` query, or a 400 (`invalid_sku`, `invalid_field`).
    pub fn checked(
        query: Result<web::Query<SkuPageQuery>, actix_web::Error>,
    ) -> Result<PageRequest<shelfsync_actors::ids::Sku>, ApiError> {
        let query = query_of(query)?;
        Ok(PageRequest {
            after: query
                .cursor
                .as_deref()
                .map(super::stock::path_sku)
                .transpose()?,
            limit: checked_limit(query.limit)?,
        })
    }
}

impl<K> PageRequest<K> {
    /// The page of `items` (in key order, every one of them; `key` gives an item's key) that
    /// starts after the cursor. For lists a store hands over whole (members, clients, a client's
    /// channels: hundreds at most).
    pub fn page_of<T, Q>(
        &self,
        items: impl IntoIterator<Item = T>,
        key: impl Fn(&T) -> &Q,
    ) -> Page<T>
    where
        K: std::borrow::Borrow<Q>,
        Q: Ord + ToString + ?Sized,
    {
        let after = self.after.as_ref().map(std::borrow::Borrow::borrow);
        let rest = items
            .into_iter()
            .filter(|item| after.is_none_or(|after| key(item) > after));
        self.page_from(rest, |item| key(item).to_string())
    }

    /// The page of `items`, which already start after the cursor (a store read them from there,
    /// at most `limit + 1` of them so that a full page knows whether another follows).
    pub fn page_from<T>(
        &self,
        items: impl IntoIterator<Item = T>,
        cursor_of: impl Fn(&T) -> String,
    ) -> Page<T> {
        let mut items: Vec<T> = items.into_iter().take(self.limit + 1).collect();
        let more = items.len() > self.limit;
        items.truncate(self.limit);
        let next = if more {
            items.last().map(cursor_of)
        } else {
            None
        };
        Page { items, next }
    }
}

impl<T> Page<T> {
    /// The page with its items turned into their views.
    pub fn map<U>(self, view: impl FnMut(T) -> U) -> Page<U> {
        Page {
            items: self.items.into_iter().map(view).collect(),
            next: self.next,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(after: Option<&str>, limit: usize) -> PageRequest<String> {
        PageRequest {
            after: after.map(str::to_string),
            limit,
        }
    }

    #[test]
    fn pages_walk_every_item_once_in_key_order() {
        let keys: Vec<String> = (0..7).map(|n| format!("k{n}")).collect();
        let mut seen = Vec::new();
        let mut cursor: Option<String> = None;
        for _ in 0..10 {
            let page = request(cursor.as_deref(), 3).page_of(keys.clone(), |key| key.as_str());
            seen.extend(page.items);
            cursor = page.next;
            if cursor.is_none() {
                break;
            }
        }
        assert_eq!(seen, keys);
    }

    #[test]
    fn a_page_that_ends_the_list_has_no_next_even_when_full() {
        let keys = vec!["a".to_string(), "b".to_string()];
        let page = request(None, 2).page_of(keys.clone(), |key| key.as_str());
        assert_eq!(page.items, keys);
        assert_eq!(page.next, None);
        let page = request(None, 1).page_of(keys, |key| key.as_str());
        assert_eq!(page.next.as_deref(), Some("a"));
    }

    #[test]
    fn a_cursor_between_keys_starts_at_the_next_key() {
        // The item the cursor named was removed meanwhile: the page starts at the one after it.
        let keys = vec!["a".to_string(), "c".to_string(), "d".to_string()];
        let page = request(Some("b"), 10).page_of(keys, |key| key.as_str());
        assert_eq!(page.items, ["c", "d"]);
    }
}
