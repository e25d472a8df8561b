//! Catalog import: `PUT /v1/clients/{code}/catalog`, JSON or CSV. Each row is checked by itself
//! (a bad row is rejected alone, with its line and a stable code); the good rows' listing
//! mappings and on-hand counts are written through the client's InventoryActor, and the reply
//! names the marketplace listings that rejected rows leave unmanaged.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use actix_web::{web, HttpRequest, HttpResponse};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use shelfsync_actors::channel::marketplace::ListedQuantity;
use shelfsync_actors::ids::{ChannelId, ClientCode, Sku};
use shelfsync_actors::inventory::ledger::{Change, IdempotencyKey, Movement, MovementKind, Source};
use shelfsync_actors::inventory::messages::MAX_BATCH;

use utoipa::ToSchema;

use super::clients::{visible_client, ClientPath};
use super::error::{ApiError, Code};
use super::openapi::responses::{
    BadRequest, BodyTimeout, Conflict, Forbidden, NotFound, TooLarge, Unauthorized, Unavailable,
    UnsupportedMediaType,
};
use super::openapi::schemas;
use super::{parse_json, read_body, ApiState, Caller};
use crate::auth::Action;

/// The longest listing reference of a catalog row.
const MAX_LISTING_REF: usize = 200;

/// A row the import refused, and why.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RejectedRow {
    /// The JSON item (1-based) or CSV line (the header is line 1).
    pub line: usize,
    /// A stable code.
    pub code: Code,
    /// What is wrong.
    pub message: String,
    /// The row as written, for the listings it leaves unmanaged (not part of the reply).
    #[serde(skip)]
    pub written: WrittenRow,
}

/// A row's SKU and listings as written, before any check: what a refused row meant to manage.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WrittenRow {
    /// The SKU as written (the CSV cell trimmed; a JSON value that is not a string as its JSON
    /// text; empty when missing).
    pub sku: String,
    /// `(channel as written, listing ref)` for every non-empty listing cell.
    pub listings: Vec<(String, String)>,
}

/// A marketplace listing a refused row named and that no SKU manages after the import: the
/// channel will neither push to it nor read it back, so it sells whatever it showed before.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct UnmanagedListing {
    /// The channel, as the row wrote it.
    pub channel: String,
    /// The listing reference.
    pub listing: String,
    /// The refused row's line.
    pub line: usize,
    /// The row's SKU as written.
    pub sku: String,
}

/// A catalog row, checked.
#[derive(Debug)]
struct CatalogRow {
    line: usize,
    sku: Sku,
    /// The on-hand to set: a count, checked by the ledger's own rule.
    count: Change,
    listings: Vec<(ChannelId, String)>,
    /// What the marketplace of each channel lists now, when the row says (JSON `listed`).
    listed: Vec<(ChannelId, u32)>,
    /// The row as written, for a later refusal (a duplicate SKU).
    written: WrittenRow,
}

/// A JSON catalog item as sent.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogItem {
    #[schema(schema_with = schemas::sku)]
    pub sku: String,
    /// The on-hand count to set.
    #[schema(minimum = 0, maximum = 1_000_000_000)]
    pub on_hand: i64,
    /// The marketplace listing of each channel (by channel id) that sells this SKU.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub listings: BTreeMap<String, String>,
    /// What each mapped listing shows on its marketplace now, for a catalog exported from the
    /// marketplaces: the channel adopts it and pushes only where the stock differs.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schema(value_type = BTreeMap<String, u32>)]
    pub listed: BTreeMap<String, i64>,
}

/// The JSON catalog body. Items are read one by one (a bad one is rejected alone, in the reply's
/// `rejected`), so the body takes any item; the document shows what a good one is.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct CatalogBody {
    #[schema(schema_with = catalog_items)]
    pub items: Vec<Value>,
}

impl CatalogBody {
    /// The body of `items`.
    pub fn of(items: &[CatalogItem]) -> CatalogBody {
        CatalogBody {
            items: items
                .iter()
                .map(|item| serde_json::to_value(item).unwrap_or(Value::Null))
                .collect(),
        }
    }
}

/// The items of a catalog: [`CatalogItem`]s, or any other JSON value, which is rejected alone.
fn catalog_items() -> utoipa::openapi::schema::Array {
    use utoipa::openapi::schema::{AnyOfBuilder, ObjectBuilder, SchemaType};
    utoipa::openapi::schema::Array::new(
        AnyOfBuilder::new()
            .item(utoipa::openapi::Ref::from_schema_name("CatalogItem"))
            .item(ObjectBuilder::new().schema_type(SchemaType::AnyValue))
            .description(Some(
                "A CatalogItem; an item that is not one is rejected alone (the reply's `rejected`)",
            )),
    )
}

/// The reply of a catalog import.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ImportReply {
    /// The rows imported.
    pub imported: usize,
    /// Per channel, the listings whose marketplace quantity (`listed`) was adopted.
    pub adopted: BTreeMap<String, Option<usize>>,
    /// The rows refused, each with its line and code.
    pub rejected: Vec<RejectedRow>,
    /// The listings refused rows leave without a SKU.
    pub unmanaged: Vec<UnmanagedListing>,
}

fn reject(line: usize, code: Code, message: impl Into<String>) -> RejectedRow {
    RejectedRow {
        line,
        code,
        message: message.into(),
        written: WrittenRow::default(),
    }
}

impl WrittenRow {
    /// The non-empty listing cells of `listings`, trimmed, in the order written.
    fn new(sku: String, listings: impl IntoIterator<Item = (String, String)>) -> Self {
        Self {
            sku,
            listings: listings
                .into_iter()
                .map(|(channel, listing)| (channel, listing.trim().to_string()))
                .filter(|(_, listing)| !listing.is_empty())
                .collect(),
        }
    }

    /// What a JSON item that could not be read as a catalog item still says: its `sku` and the
    /// string (or number) values of its `listings` object.
    fn from_json(item: &Value) -> Self {
        let sku = match item.get("sku") {
            Some(Value::String(sku)) => sku.clone(),
            Some(other) => other.to_string(),
            None => String::new(),
        };
        let listings = item
            .get("listings")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
            .filter_map(|(channel, listing)| match listing {
                Value::String(listing) => Some((channel.clone(), listing.clone())),
                Value::Number(listing) => Some((channel.clone(), listing.to_string())),
                _ => None,
            });
        Self::new(sku, listings)
    }
}

/// The listings that refused rows named and that no SKU manages once the import is done:
/// neither an accepted row of this import nor an earlier mapping (`managed`, per channel id as
/// written) maps them. Sorted by line, then as written.
fn unmanaged_listings(
    rejected: &[RejectedRow],
    managed: &HashSet<(String, String)>,
) -> Vec<UnmanagedListing> {
    let mut unmanaged = Vec::new();
    let mut reported = HashSet::new();
    for row in rejected {
        for (channel, listing) in &row.written.listings {
            let named = (channel.clone(), listing.clone());
            if managed.contains(&named) || !reported.insert(named) {
                continue;
            }
            unmanaged.push(UnmanagedListing {
                channel: channel.clone(),
                listing: listing.clone(),
                line: row.line,
                sku: row.written.sku.clone(),
            });
        }
    }
    unmanaged
}

/// Logs one warning for an import that left listings unmanaged: counts and the client only,
/// never a listing or a SKU (the reply lists them for the caller).
fn warn_unmanaged(code: &ClientCode, unmanaged: &[UnmanagedListing]) {
    if unmanaged.is_empty() {
        return;
    }
    let rows = unmanaged
        .iter()
        .map(|listing| listing.line)
        .collect::<HashSet<_>>()
        .len();
    tracing::warn!(
        client = %code,
        rows,
        listings = unmanaged.len(),
        "catalog import refused rows that name marketplace listings: those listings are not \
         managed (see the reply's `unmanaged`)"
    );
}

/// Checks one row: the SKU, the quantity, each channel and listing.
fn check_row(
    line: usize,
    sku: &str,
    on_hand: i64,
    listings: impl IntoIterator<Item = (String, String)>,
    listed: BTreeMap<String, i64>,
    channels: &HashSet<ChannelId>,
) -> Result<CatalogRow, RejectedRow> {
    let sku = Sku::parse(sku).map_err(|error| reject(line, Code::InvalidSku, error.to_string()))?;
    // The on-hand becomes a count movement: the ledger's rule for counts decides, here, before
    // anything of the row is written (a count the ledger refused later would fail the whole
    // import after its mappings were stored).
    let count = Change::new(MovementKind::Count, on_hand)
        .map_err(|error| reject(line, Code::InvalidQuantity, format!("on_hand: {error}")))?;
    let mut checked = Vec::new();
    for (channel, listing) in listings {
        let listing = listing.trim().to_string();
        if listing.is_empty() {
            continue;
        }
        let id = ChannelId::parse(&channel)
            .ok()
            .filter(|id| channels.contains(id))
            .ok_or_else(|| {
                reject(
                    line,
                    Code::UnknownChannel,
                    format!("the client has no channel {channel:?}"),
                )
            })?;
        if listing.len() > MAX_LISTING_REF || listing.chars().any(char::is_control) {
            return Err(reject(
                line,
                Code::InvalidField,
                format!("the listing of {id} must be 1 to {MAX_LISTING_REF} printable characters"),
            ));
        }
        checked.push((id, listing));
    }
    let mut shown = Vec::with_capacity(listed.len());
    for (channel, quantity) in listed {
        let id = checked
            .iter()
            .map(|(id, _)| id)
            .find(|id| id.as_str() == channel)
            .ok_or_else(|| {
                reject(
                    line,
                    Code::InvalidField,
                    format!("listed names {channel:?}, which this row maps no listing on"),
                )
            })?;
        let quantity = u32::try_from(quantity).map_err(|_| {
            reject(
                line,
                Code::InvalidQuantity,
                format!("listed {quantity} on {channel} is not a quantity a listing can show"),
            )
        })?;
        shown.push((id.clone(), quantity));
    }
    Ok(CatalogRow {
        line,
        sku,
        count,
        listings: checked,
        listed: shown,
        written: WrittenRow::default(),
    })
}

/// Parses a JSON catalog into checked rows and rejected rows. A body that is not the catalog's
/// shape is refused whole; a row with a bad value is rejected alone.
fn json_rows(
    body: &[u8],
    channels: &HashSet<ChannelId>,
) -> Result<(Vec<CatalogRow>, Vec<RejectedRow>), ApiError> {
    let body: CatalogBody = parse_json(body)?;
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    for (index, item) in body.items.into_iter().enumerate() {
        let line = index + 1;
        let written = WrittenRow::from_json(&item);
        let item: CatalogItem = match serde_json::from_value(item) {
            Ok(item) => item,
            Err(error) => {
                rejected.push(RejectedRow {
                    written,
                    ..reject(line, Code::InvalidField, error.to_string())
                });
                continue;
            }
        };
        match check_row(
            line,
            &item.sku,
            item.on_hand,
            item.listings,
            item.listed,
            channels,
        ) {
            Ok(row) => rows.push(CatalogRow { written, ..row }),
            Err(row) => rejected.push(RejectedRow { written, ..row }),
        }
    }
    Ok((rows, rejected))
}

/// Parses a CSV catalog (`sku,on_hand,<channel id>…`; an empty cell: not listed there). A header
/// without `sku` and `on_hand` first, or naming a channel the client lacks, refuses the file.
fn csv_rows(
    body: &[u8],
    channels: &HashSet<ChannelId>,
) -> Result<(Vec<CatalogRow>, Vec<RejectedRow>), ApiError> {
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(body);
    let header = reader
        .headers()
        .map_err(|error| ApiError::invalid(format!("the CSV header: {error}")))?
        .clone();
    if header.get(0) != Some("sku") || header.get(1) != Some("on_hand") {
        return Err(ApiError::new(
            Code::InvalidField,
            "the CSV header must start with sku,on_hand followed by channel ids",
        ));
    }
    let mut columns = Vec::new();
    for name in header.iter().skip(2) {
        match ChannelId::parse(name)
            .ok()
            .filter(|id| channels.contains(id))
        {
            Some(id) => columns.push(id),
            None => {
                return Err(ApiError::new(
                    Code::UnknownChannel,
                    format!("the CSV header names {name:?}, which is not a channel of the client"),
                ))
            }
        }
    }
    let mut rows = Vec::new();
    let mut rejected = Vec::new();
    for (index, record) in reader.records().enumerate() {
        let line = index + 2;
        let record = match record {
            Ok(record) => record,
            Err(error) => {
                rejected.push(reject(line, Code::InvalidField, error.to_string()));
                continue;
            }
        };
        let listings: Vec<(String, String)> = columns
            .iter()
            .enumerate()
            .map(|(column, id)| {
                (
                    id.as_str().to_string(),
                    record.get(column + 2).unwrap_or("").to_string(),
                )
            })
            .collect();
        let written = WrittenRow::new(record.get(0).unwrap_or("").to_string(), listings.clone());
        if record.len() > header.len() {
            rejected.push(RejectedRow {
                written,
                ..reject(
                    line,
                    Code::InvalidField,
                    format!("{} cells, the header has {}", record.len(), header.len()),
                )
            });
            continue;
        }
        let on_hand = match record.get(1).unwrap_or("").parse::<i64>() {
            Ok(on_hand) => on_hand,
            Err(_) => {
                rejected.push(RejectedRow {
                    written,
                    ..reject(
                        line,
                        Code::InvalidQuantity,
                        format!(
                            "on_hand {:?} is not a whole number",
                            record.get(1).unwrap_or("")
                        ),
                    )
                });
                continue;
            }
        };
        match check_row(
            line,
            record.get(0).unwrap_or(""),
            on_hand,
            listings,
            BTreeMap::new(),
            channels,
        ) {
            Ok(row) => rows.push(CatalogRow { written, ..row }),
            Err(row) => rejected.push(RejectedRow { written, ..row }),
        }
    }
    Ok((rows, rejected))
}

/// `PUT /v1/clients/{code}/catalog`: sets on-hand (a count) and maps listings, per row. Good rows
/// are imported, bad rows reported; a body that is not a catalog changes nothing. The listings a
/// bad row named stay unmanaged (nothing pushes to them), so the reply's `unmanaged` names each
/// one no SKU maps afterwards and one warning is logged: a refused row must never leave a listing
/// selling stale stock in silence (issue 12).
#[utoipa::path(
    put,
    path = "/v1/clients/{code}/catalog",
    operation_id = "import_catalog",
    tag = "stock",
    security(("bearer" = [])),
    params(ClientPath),
    request_body(
        description = "JSON `{items}`, or CSV with a header `sku,on_hand,<channel id>...` and a \
                       listing reference per channel cell",
        content(
            (CatalogBody = "application/json"),
            (String = "text/csv"),
        )
    ),
    responses(
        (status = 200, description = "Good rows imported, bad rows reported", body = ImportReply),
        BadRequest, Unauthorized, Forbidden, NotFound, BodyTimeout, Conflict, TooLarge,
        UnsupportedMediaType, Unavailable,
    )
)]
pub async fn import_catalog(
    caller: Caller,
    state: web::Data<ApiState>,
    path: web::Path<ClientPath>,
    request: HttpRequest,
    payload: web::Payload,
) -> Result<HttpResponse, ApiError> {
    let code = visible_client(&caller, &state, &path.code, Action::Write)?;
    let content_type = request
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or("application/json")
        .to_string();
    let is_csv = content_type.starts_with("text/csv");
    if !is_csv && !content_type.starts_with("application/json") {
        return Err(ApiError::new(
            Code::UnsupportedMediaType,
            format!("expected application/json or text/csv, got {content_type}"),
        ));
    }
    let body = read_body(&state, payload).await?;
    let channels: HashSet<ChannelId> = state
        .service
        .channels()
        .list(&code)?
        .into_iter()
        .map(|record| record.id)
        .collect();
    let (rows, mut rejected) = if is_csv {
        csv_rows(&body, &channels)?
    } else {
        json_rows(&body, &channels)?
    };
    let mut seen = HashSet::new();
    let mut good = Vec::with_capacity(rows.len());
    for row in rows {
        if seen.insert(row.sku.clone()) {
            good.push(row);
        } else {
            rejected.push(RejectedRow {
                written: row.written.clone(),
                ..reject(
                    row.line,
                    Code::DuplicateSku,
                    format!("{} appears earlier in this import", row.sku),
                )
            });
        }
    }
    rejected.sort_by_key(|row| row.line);
    // The ledger runs (a restarting client refuses the import before anything is written).
    state.service.inventory(&code).await?;
    let mappings: Vec<(ChannelId, Sku, String)> = good
        .iter()
        .flat_map(|row| {
            row.listings
                .iter()
                .map(|(channel, listing)| (channel.clone(), row.sku.clone(), listing.clone()))
        })
        .collect();
    let unmanaged = unmanaged_after(&state, &code, &rejected, &mappings)?;
    // Mappings first: the stock change the counts cause then finds every channel listing the SKU.
    state.service.put_listings(&code, &mappings)?;
    // Then what the marketplaces show, before the counts: a channel that already lists the
    // counted quantity then finds itself in step and spends no call of its budget on it.
    let mut shown: BTreeMap<ChannelId, Vec<ListedQuantity>> = BTreeMap::new();
    for row in &good {
        for (channel, quantity) in &row.listed {
            shown
                .entry(channel.clone())
                .or_default()
                .push(ListedQuantity {
                    sku: row.sku.clone(),
                    quantity: *quantity,
                });
        }
    }
    let mut adopted = BTreeMap::new();
    for (channel, listings) in shown {
        let count = state
            .service
            .adopt_listed(&code, &channel, listings)
            .await?;
        adopted.insert(channel.to_string(), count);
    }
    let import = format!("{:016x}", rand::random::<u64>());
    for chunk in good.chunks(MAX_BATCH) {
        let movements = chunk
            .iter()
            .map(|row| {
                Ok(Movement {
                    key: IdempotencyKey::parse(&format!("import:{import}:{}", row.line))?,
                    source: Source::Import,
                    sku: row.sku.clone(),
                    change: row.count,
                    order: None,
                })
            })
            .collect::<Result<_, ApiError>>()?;
        state.service.apply_movements(&code, movements).await??;
    }
    warn_unmanaged(&code, &unmanaged);
    let reply = ImportReply {
        imported: good.len(),
        adopted,
        rejected,
        unmanaged,
    };
    // What the launch checklist's catalog item reads: refused rows and listings they left
    // unmanaged keep it open until an import is clean.
    state.service.operations().put_import(
        &code,
        &crate::operations::checklist::ImportSummary {
            at: state.service.now(),
            imported: reply.imported,
            rejected: reply.rejected.len(),
            unmanaged: reply.unmanaged.len(),
        },
    )?;
    super::audit::record(
        &state,
        &caller,
        Some(&code),
        "import_catalog",
        "catalog".into(),
        None,
        Some(serde_json::json!({
            "imported": reply.imported,
            "skus": good.iter().map(|row| row.sku.as_str()).collect::<Vec<_>>(),
            "rejected": reply.rejected.len(),
            "adopted": reply.adopted,
        })),
    );
    Ok(HttpResponse::Ok().json(reply))
}

/// The listings refused rows leave unmanaged once `mappings` (this import's accepted rows) are
/// stored over the client's earlier mappings: a listing is managed when some SKU maps to it
/// afterwards. Reads the earlier mappings only of the channels a refused row names.
fn unmanaged_after(
    state: &ApiState,
    code: &ClientCode,
    rejected: &[RejectedRow],
    mappings: &[(ChannelId, Sku, String)],
) -> Result<Vec<UnmanagedListing>, ApiError> {
    let named: BTreeSet<&str> = rejected
        .iter()
        .flat_map(|row| {
            row.written
                .listings
                .iter()
                .map(|(channel, _)| channel.as_str())
        })
        .collect();
    // (channel, SKU) → listing, as it will be stored: earlier mappings, then this import's,
    // which replace an earlier listing of the same SKU.
    let mut after: BTreeMap<(String, Sku), String> = BTreeMap::new();
    for channel in named {
        // A channel the client lacks has no mappings: its listings are all unmanaged.
        let Ok(id) = ChannelId::parse(channel) else {
            continue;
        };
        let earlier = state.service.channels().listings(code, &id)?;
        after.extend(
            earlier
                .into_iter()
                .map(|(sku, listing)| ((channel.to_string(), sku), listing)),
        );
    }
    for (channel, sku, listing) in mappings {
        after.insert((channel.as_str().to_string(), sku.clone()), listing.clone());
    }
    let managed: HashSet<(String, String)> = after
        .into_iter()
        .map(|((channel, _), listing)| (channel, listing))
        .collect();
    Ok(unmanaged_listings(rejected, &managed))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn channels() -> HashSet<ChannelId> {
        ["shop", "etsy"]
            .into_iter()
            .map(|id| ChannelId::parse(id).unwrap())
            .collect()
    }

    #[test]
    fn csv_rows_are_checked_one_by_one() {
        let body = b"sku,on_hand,shop,etsy\nACME-MUG,5,gid-1,111\n,3,,\nACME-CUP,-1,,\nacme-pen,2,,222\nACME-BAD,x,,\n";
        let (rows, rejected) = csv_rows(body, &channels()).unwrap();
        let skus: Vec<&str> = rows.iter().map(|row| row.sku.as_str()).collect();
        assert_eq!(skus, ["ACME-MUG", "ACME-PEN"]);
        assert_eq!(rows[0].listings.len(), 2);
        assert_eq!(rows[1].listings.len(), 1, "an empty cell is not a listing");
        let codes: Vec<(usize, &str)> = rejected
            .iter()
            .map(|row| (row.line, row.code.name()))
            .collect();
        assert_eq!(
            codes,
            [
                (3, "invalid_sku"),
                (4, "invalid_quantity"),
                (6, "invalid_quantity")
            ]
        );
    }

    #[test]
    fn refused_rows_keep_what_they_named_and_report_only_unmanaged_listings() {
        let body = b"sku,on_hand,shop,etsy\nACME-MUG,5,gid-1,111\nACME-CUP,-1,gid-2, \nACME-PEN,x,gid-1,333\n";
        let (rows, rejected) = csv_rows(body, &channels()).unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(
            rejected[0].written,
            WrittenRow {
                sku: "ACME-CUP".into(),
                listings: vec![("shop".into(), "gid-2".into())],
            },
            "an empty cell names no listing"
        );
        let managed: HashSet<(String, String)> = [("shop".to_string(), "gid-1".to_string())].into();
        let unmanaged = unmanaged_listings(&rejected, &managed);
        let named: Vec<(&str, &str, usize)> = unmanaged
            .iter()
            .map(|listing| {
                (
                    listing.channel.as_str(),
                    listing.listing.as_str(),
                    listing.line,
                )
            })
            .collect();
        assert_eq!(named, [("shop", "gid-2", 3), ("etsy", "333", 4)]);
        let item =
            json!({"sku": 7, "on_hand": 1, "listings": {"shop": " gid-9 ", "etsy": 12, "x": null}});
        assert_eq!(
            WrittenRow::from_json(&item),
            WrittenRow {
                sku: "7".into(),
                listings: vec![
                    ("etsy".into(), "12".into()),
                    ("shop".into(), "gid-9".into())
                ],
            }
        );
    }

    /// A writer the test reads back.
    #[derive(Clone, Default)]
    struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

    impl std::io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn an_import_that_leaves_listings_unmanaged_logs_one_warning_with_counts_only() {
        let captured = Captured::default();
        let writer = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        let listing = |listing: &str, line| UnmanagedListing {
            channel: "shop".into(),
            listing: listing.into(),
            line,
            sku: "ACME-MUG".into(),
        };
        let unmanaged = [
            listing("gid-71", 2),
            listing("gid-72", 2),
            listing("gid-73", 5),
        ];
        let code = ClientCode::parse("ACME").unwrap();
        tracing::subscriber::with_default(subscriber, || {
            warn_unmanaged(&code, &unmanaged);
            warn_unmanaged(&code, &[]);
        });
        let text = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
        assert_eq!(text.lines().count(), 1, "{text}");
        for part in ["WARN", "client=ACME", "rows=2", "listings=3"] {
            assert!(text.contains(part), "{part} in {text}");
        }
        for hidden in ["gid-7", "ACME-MUG"] {
            assert!(!text.contains(hidden), "{hidden} in {text}");
        }
    }

    #[test]
    fn a_csv_header_naming_an_unknown_channel_refuses_the_file() {
        let error = csv_rows(b"sku,on_hand,ebay\nA,1,x\n", &channels()).unwrap_err();
        assert_eq!(error.code, "unknown_channel");
        let error = csv_rows(b"on_hand,sku\n1,A\n", &channels()).unwrap_err();
        assert_eq!(error.code, "invalid_field");
    }

    #[test]
    fn json_rows_reject_bad_items_alone() {
        let body = br#"{"items":[
            {"sku":"ACME-MUG","on_hand":4,"listings":{"shop":"gid-1"}},
            {"sku":"ACME-CUP","on_hand":4,"listings":{"ebay":"9"}},
            {"sku":"ACME-PEN","on_hand":"four"},
            {"sku":"ACME-INK","on_hand":1,"colour":"red"}
        ]}"#;
        let (rows, rejected) = json_rows(body, &channels()).unwrap();
        assert_eq!(rows.len(), 1);
        let codes: Vec<(usize, &str)> = rejected
            .iter()
            .map(|row| (row.line, row.code.name()))
            .collect();
        assert_eq!(
            codes,
            [
                (2, "unknown_channel"),
                (3, "invalid_field"),
                (4, "invalid_field")
            ]
        );
        assert_eq!(
            json_rows(br#"{"rows":[]}"#, &channels()).unwrap_err().code,
            "invalid_field"
        );
    }
}
