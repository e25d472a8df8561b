//! `inventorySetQuantities` without HTTP (reference §1.1): the API version rules of its
//! compare-and-swap, reading and checking the input, applying it all-or-nothing to the world,
//! and the bounded cache behind `@idempotent(key:)`.

use std::collections::{HashMap, HashSet, VecDeque};

use chrono::{DateTime, Utc};
use serde_json::{json, Value};

use super::graphql::{GqlError, MAX_PAGE_SIZE};
use super::ids;
use crate::platforms::mock::World;

/// The largest quantity Shopify accepts (`INVALID_QUANTITY_TOO_HIGH` above it).
pub const MAX_QUANTITY: i64 = 1_000_000_000;

/// Shopify's inventory reasons (`INVALID_REASON` for any other).
pub const REASONS: &[&str] = &[
    "correction",
    "cycle_count_available",
    "damaged",
    "movement_canceled",
    "movement_created",
    "movement_received",
    "movement_updated",
    "other",
    "promotion",
    "quality_control",
    "received",
    "reservation_created",
    "reservation_deleted",
    "reservation_updated",
    "restock",
    "safety_stock",
    "shrinkage",
];

/// An Admin API version: `YYYY-MM` (quarterly) or `unstable` (newer than every stable one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct ApiVersion {
    year: u16,
    month: u8,
}

impl ApiVersion {
    /// 2026-01: `changeFromQuantity` added (optional), `@idempotent` optional.
    pub const V2026_01: ApiVersion = ApiVersion {
        year: 2026,
        month: 1,
    };
    /// 2026-04: `changeFromQuantity` on every quantity and `@idempotent` required;
    /// `compareQuantity` gone.
    pub const V2026_04: ApiVersion = ApiVersion {
        year: 2026,
        month: 4,
    };
    /// The oldest version the mock serves.
    pub const OLDEST: ApiVersion = ApiVersion {
        year: 2024,
        month: 1,
    };

    /// Parses a path segment; `None` for anything but a quarterly `YYYY-MM` from 2024 or
    /// `unstable`.
    pub fn parse(text: &str) -> Option<ApiVersion> {
        if text == "unstable" {
            return Some(ApiVersion {
                year: u16::MAX,
                month: 12,
            });
        }
        let (year, month) = text.split_once('-')?;
        if year.len() != 4 || month.len() != 2 {
            return None;
        }
        let version = ApiVersion {
            year: year.parse().ok()?,
            month: month.parse().ok()?,
        };
        (matches!(version.month, 1 | 4 | 7 | 10) && version >= ApiVersion::OLDEST)
            .then_some(version)
    }

    /// Whether `@idempotent(key:)` is required (from 2026-04).
    pub fn idempotency_required(self) -> bool {
        self >= ApiVersion::V2026_04
    }
}

/// The compare-and-swap of one quantity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cas {
    /// No check (`changeFromQuantity: null`, or `ignoreCompareQuantity: true` before 2026-04).
    None,
    /// `changeFromQuantity`: set only if the current value equals it.
    ChangeFrom(i64),
    /// `compareQuantity` (before 2026-04): the same check under its old error code.
    Compare(i64),
}

/// One entry of `quantities`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QuantityInput {
    /// `inventoryItemId`.
    pub inventory_item_id: String,
    /// `locationId`.
    pub location_id: String,
    /// `quantity`.
    pub quantity: i64,
    /// The check before setting.
    pub cas: Cas,
}

/// `InventorySetQuantitiesInput`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetInput {
    /// `name`.
    pub name: String,
    /// `reason`.
    pub reason: String,
    /// `referenceDocumentUri`.
    pub reference_document_uri: Option<String>,
    /// `quantities`.
    pub quantities: Vec<QuantityInput>,
}

/// A shape problem of the input: where, and what (Shopify's `INVALID_VARIABLE` problems).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// Path inside the input.
    pub path: Vec<Value>,
    /// What is wrong.
    pub explanation: String,
}

fn problem(path: &[Value], explanation: impl Into<String>) -> Problem {
    Problem {
        path: path.to_vec(),
        explanation: explanation.into(),
    }
}

fn string_field(
    object: &serde_json::Map<String, Value>,
    key: &str,
    path: &[Value],
    required: bool,
) -> Result<Option<String>, Problem> {
    let mut at = path.to_vec();
    at.push(json!(key));
    match object.get(key) {
        Some(Value::String(text)) => Ok(Some(text.clone())),
        None | Some(Value::Null) if !required => Ok(None),
        None | Some(Value::Null) => Err(problem(&at, "Expected value to not be null")),
        Some(_) => Err(problem(&at, "Could not coerce value to String")),
    }
}

/// A GraphQL `Int` (32 bits): `Ok(None)` for null or absent.
fn int_field(
    object: &serde_json::Map<String, Value>,
    key: &str,
    path: &[Value],
) -> Result<Option<i64>, Problem> {
    let mut at = path.to_vec();
    at.push(json!(key));
    match object.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_i64()
            .filter(|number| i32::try_from(*number).is_ok())
            .map(Some)
            .ok_or_else(|| problem(&at, "Could not coerce value to Int")),
    }
}

const QUANTITY_FIELDS_2026_04: &[&str] = &[
    "inventoryItemId",
    "locationId",
    "quantity",
    "changeFromQuantity",
];
const QUANTITY_FIELDS_2026_01: &[&str] = &[
    "inventoryItemId",
    "locationId",
    "quantity",
    "changeFromQuantity",
    "compareQuantity",
];
const QUANTITY_FIELDS_OLD: &[&str] = &[
    "inventoryItemId",
    "locationId",
    "quantity",
    "compareQuantity",
];

/// Reads the input of `version`. `Err(Ok(problem))` is a shape error (the whole request fails
/// with `INVALID_VARIABLE`); `Err(Err(error))` is a top-level error of its own
/// (`MAX_INPUT_SIZE_EXCEEDED`).
pub fn parse_set_input(
    value: &Value,
    version: ApiVersion,
) -> Result<SetInput, Result<Problem, GqlError>> {
    let Value::Object(object) = value else {
        return Err(Ok(problem(&[], "Expected value to be an object")));
    };
    let top_fields: &[&str] = if version >= ApiVersion::V2026_04 {
        &["name", "reason", "referenceDocumentUri", "quantities"]
    } else {
        &[
            "name",
            "reason",
            "referenceDocumentUri",
            "quantities",
            "ignoreCompareQuantity",
        ]
    };
    if let Some(unknown) = object
        .keys()
        .find(|key| !top_fields.contains(&key.as_str()))
    {
        return Err(Ok(problem(
            &[json!(unknown)],
            "Field is not defined on InventorySetQuantitiesInput",
        )));
    }
    let name = string_field(object, "name", &[], true)
        .map_err(Ok)?
        .unwrap_or_default();
    let reason = string_field(object, "reason", &[], true)
        .map_err(Ok)?
        .unwrap_or_default();
    let reference_document_uri =
        string_field(object, "referenceDocumentUri", &[], false).map_err(Ok)?;
    let ignore_compare = match object.get("ignoreCompareQuantity") {
        None | Some(Value::Null) => false,
        Some(Value::Bool(flag)) => *flag,
        Some(_) => {
            return Err(Ok(problem(
                &[json!("ignoreCompareQuantity")],
                "Could not coerce value to Boolean",
            )))
        }
    };
    let items = match object.get("quantities") {
        Some(Value::Array(items)) => items,
        None | Some(Value::Null) => {
            return Err(Ok(problem(
                &[json!("quantities")],
                "Expected value to not be null",
            )))
        }
        Some(_) => {
            return Err(Ok(problem(
                &[json!("quantities")],
                "Expected value to be a list",
            )))
        }
    };
    if items.len() as i64 > MAX_PAGE_SIZE {
        return Err(Err(GqlError::coded(
            format!(
                "The input array size of {} is greater than the maximum allowed of {MAX_PAGE_SIZE}.",
                items.len()
            ),
            "MAX_INPUT_SIZE_EXCEEDED",
        )));
    }
    let quantities = items
        .iter()
        .enumerate()
        .map(|(index, item)| parse_quantity(item, index, version, ignore_compare))
        .collect::<Result<_, _>>()
        .map_err(Ok)?;
    Ok(SetInput {
        name,
        reason,
        reference_document_uri,
        quantities,
    })
}

fn parse_quantity(
    item: &Value,
    index: usize,
    version: ApiVersion,
    ignore_compare: bool,
) -> Result<QuantityInput, Problem> {
    let path = [json!("quantities"), json!(index)];
    let Value::Object(object) = item else {
        return Err(problem(&path, "Expected value to be an object"));
    };
    let allowed = if version >= ApiVersion::V2026_04 {
        QUANTITY_FIELDS_2026_04
    } else if version >= ApiVersion::V2026_01 {
        QUANTITY_FIELDS_2026_01
    } else {
        QUANTITY_FIELDS_OLD
    };
    if let Some(unknown) = object.keys().find(|key| !allowed.contains(&key.as_str())) {
        let mut at = path.to_vec();
        at.push(json!(unknown));
        return Err(problem(
            &at,
            "Field is not defined on InventoryQuantityInput",
        ));
    }
    let inventory_item_id =
        string_field(object, "inventoryItemId", &path, true)?.unwrap_or_default();
    let location_id = string_field(object, "locationId", &path, true)?.unwrap_or_default();
    let Some(quantity) = int_field(object, "quantity", &path)? else {
        let mut at = path.to_vec();
        at.push(json!("quantity"));
        return Err(problem(&at, "Expected value to not be null"));
    };
    let change_from = int_field(object, "changeFromQuantity", &path)?;
    let compare = int_field(object, "compareQuantity", &path)?;
    if version >= ApiVersion::V2026_04 && !object.contains_key("changeFromQuantity") {
        // From 2026-04 the field must be given on every quantity; null is an explicit "no check".
        let mut at = path.to_vec();
        at.push(json!("changeFromQuantity"));
        return Err(problem(
            &at,
            "Expected changeFromQuantity to be provided (null skips the check)",
        ));
    }
    let cas = match (change_from, compare) {
        (Some(from), _) => Cas::ChangeFrom(from),
        (None, _) if object.contains_key("changeFromQuantity") => Cas::None,
        (None, Some(_)) if ignore_compare => Cas::None,
        (None, Some(compare)) => Cas::Compare(compare),
        (None, None) => Cas::None,
    };
    Ok(QuantityInput {
        inventory_item_id,
        location_id,
        quantity,
        cas,
    })
}

/// One entry of `userErrors`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserError {
    /// `code`.
    pub code: &'static str,
    /// `field`: the path of the input field, indices as strings.
    pub field: Vec<String>,
    /// `message`.
    pub message: String,
}

fn user_error(code: &'static str, field: &[&str], message: impl Into<String>) -> UserError {
    UserError {
        code,
        field: field.iter().map(|part| part.to_string()).collect(),
        message: message.into(),
    }
}

/// One quantity change of an adjustment group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// `name` (`available` or `on_hand`).
    pub name: String,
    /// `delta`.
    pub delta: i64,
    /// `quantityAfterChange`.
    pub quantity_after_change: i64,
    /// The listing's number.
    pub listing: u64,
    /// Its SKU.
    pub sku: String,
}

/// The `inventoryAdjustmentGroup` of an applied call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdjustmentGroup {
    /// Its numeric id.
    pub id: u64,
    /// When it was applied.
    pub created_at: DateTime<Utc>,
    /// `reason`.
    pub reason: String,
    /// `referenceDocumentUri`.
    pub reference_document_uri: Option<String>,
    /// `changes`.
    pub changes: Vec<Change>,
}

/// The payload of one call: a group when applied, else the user errors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetPayload {
    /// `inventoryAdjustmentGroup`.
    pub group: Option<AdjustmentGroup>,
    /// `userErrors`.
    pub user_errors: Vec<UserError>,
}

/// A write that passed every check: (listing number, SKU, quantity before, quantity after).
type Planned = (u64, String, i64, i64);

/// Checks every quantity against the world; `Err` holds the user errors and whether a stale
/// compare-and-swap was among them. Nothing is written.
fn plan(input: &SetInput, world: &World) -> Result<Vec<Planned>, (Vec<UserError>, bool)> {
    let mut errors = Vec::new();
    let mut stale = false;
    if !matches!(input.name.as_str(), "available" | "on_hand") {
        errors.push(user_error(
            "INVALID_NAME",
            &["input", "name"],
            "The quantity name must be either 'available' or 'on_hand'.",
        ));
    }
    if !REASONS.contains(&input.reason.as_str()) {
        errors.push(user_error(
            "INVALID_REASON",
            &["input", "reason"],
            "The specified reason is invalid.",
        ));
    }
    let location = ids::location_gid();
    let mut seen = HashSet::new();
    let mut planned = Vec::new();
    for (index, quantity) in input.quantities.iter().enumerate() {
        let index = index.to_string();
        let field = |name: &'static str| ["input", "quantities", index.as_str(), name];
        let listing = world.listing_by_ref(&quantity.inventory_item_id);
        let Some(listing) = listing else {
            errors.push(user_error(
                "INVALID_INVENTORY_ITEM",
                &field("inventoryItemId"),
                "The specified inventory item could not be found.",
            ));
            continue;
        };
        if quantity.location_id != location {
            errors.push(user_error(
                "INVALID_LOCATION",
                &field("locationId"),
                "The specified location could not be found.",
            ));
            continue;
        }
        if !seen.insert(listing.number) {
            errors.push(user_error(
                "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR",
                &field("inventoryItemId"),
                "The combination of inventoryItemId and locationId must be unique.",
            ));
            continue;
        }
        if quantity.quantity < 0 {
            errors.push(user_error(
                "INVALID_QUANTITY_NEGATIVE",
                &field("quantity"),
                "The quantity can't be negative.",
            ));
            continue;
        }
        if quantity.quantity > MAX_QUANTITY {
            errors.push(user_error(
                "INVALID_QUANTITY_TOO_HIGH",
                &field("quantity"),
                "The quantity can't be higher than 1,000,000,000.",
            ));
            continue;
        }
        let stale_error = match quantity.cas {
            Cas::ChangeFrom(expected) if expected != listing.quantity => Some(user_error(
                "CHANGE_FROM_QUANTITY_STALE",
                &field("changeFromQuantity"),
                "The changeFromQuantity argument no longer matches the persisted quantity.",
            )),
            Cas::Compare(expected) if expected != listing.quantity => Some(user_error(
                "COMPARE_QUANTITY_STALE",
                &field("compareQuantity"),
                "The compareQuantity argument no longer matches the persisted quantity.",
            )),
            _ => None,
        };
        if let Some(error) = stale_error {
            stale = true;
            errors.push(error);
            continue;
        }
        planned.push((
            listing.number,
            listing.sku.clone(),
            listing.quantity,
            quantity.quantity,
        ));
    }
    if errors.is_empty() {
        Ok(planned)
    } else {
        Err((errors, stale))
    }
}

/// Runs one call against the world, all or nothing: any user error applies nothing, and a stale
/// compare-and-swap counts one conflict. `group_id` numbers the adjustment group.
pub fn set_quantities(
    input: &SetInput,
    world: &mut World,
    now: DateTime<Utc>,
    group_id: u64,
) -> SetPayload {
    match plan(input, world) {
        Err((user_errors, stale)) => {
            if stale {
                world.stats.cas_conflicts += 1;
            }
            SetPayload {
                group: None,
                user_errors,
            }
        }
        Ok(planned) => {
            let mut changes = Vec::new();
            for (number, sku, before, after) in planned {
                world.set_quantity(number, after, now);
                // With no committed units in the mock, available and on_hand move together, and
                // Shopify reports both changes of an `available` set.
                let names: &[&str] = if input.name == "available" {
                    &["available", "on_hand"]
                } else {
                    &["on_hand", "available"]
                };
                for name in names {
                    changes.push(Change {
                        name: name.to_string(),
                        delta: after - before,
                        quantity_after_change: after,
                        listing: number,
                        sku: sku.clone(),
                    });
                }
            }
            SetPayload {
                group: Some(AdjustmentGroup {
                    id: group_id,
                    created_at: now,
                    reason: input.reason.clone(),
                    reference_document_uri: input.reference_document_uri.clone(),
                    changes,
                }),
                user_errors: Vec::new(),
            }
        }
    }
}

/// What a key of `@idempotent` finds.
#[derive(Debug, Clone, PartialEq)]
pub enum Replay {
    /// Not seen: run the call.
    New,
    /// Seen with the same input: the first result.
    Same(SetPayload),
    /// Seen with a different input: refused.
    Mismatch,
}

/// The results of idempotent calls by key, the oldest forgotten first beyond `capacity`.
#[derive(Debug)]
pub struct IdempotencyCache {
    capacity: usize,
    entries: HashMap<String, (String, SetPayload)>,
    order: VecDeque<String>,
}

impl IdempotencyCache {
    /// An empty cache holding at most `capacity` keys.
    pub fn new(capacity: usize) -> IdempotencyCache {
        IdempotencyCache {
            capacity: capacity.max(1),
            entries: HashMap::new(),
            order: VecDeque::new(),
        }
    }

    /// What `key` with the input `fingerprint` finds.
    pub fn lookup(&self, key: &str, fingerprint: &str) -> Replay {
        match self.entries.get(key) {
            None => Replay::New,
            Some((seen, payload)) if seen == fingerprint => Replay::Same(payload.clone()),
            Some(_) => Replay::Mismatch,
        }
    }

    /// Keeps the first result of `key`.
    pub fn store(&mut self, key: &str, fingerprint: &str, payload: SetPayload) {
        if self.entries.contains_key(key) {
            return;
        }
        while self.entries.len() >= self.capacity {
            match self.order.pop_front() {
                Some(oldest) => {
                    self.entries.remove(&oldest);
                }
                None => break,
            }
        }
        self.order.push_back(key.to_string());
        self.entries
            .insert(key.to_string(), (fingerprint.to_string(), payload));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platforms::mock::world::NewListing;
    use crate::platforms::mock::ListingIdentity;

    fn world_with(quantity: i64) -> World {
        let mut world = World::default();
        world
            .create_listings(
                &[NewListing {
                    sku: "SKU-1".into(),
                    quantity,
                }],
                Utc::now(),
                |number, _| ListingIdentity {
                    ids: json!({}),
                    listing_ref: ids::gid("InventoryItem", ids::inventory_item_id(number)),
                },
            )
            .unwrap();
        world
    }

    fn input(quantity: i64, change_from: Value) -> Value {
        json!({
            "name": "available", "reason": "correction",
            "quantities": [{
                "inventoryItemId": ids::gid("InventoryItem", ids::inventory_item_id(1)),
                "locationId": ids::location_gid(),
                "quantity": quantity, "changeFromQuantity": change_from,
            }],
        })
    }

    #[test]
    fn versions_parse_and_order() {
        assert!(ApiVersion::parse("2026-04").unwrap().idempotency_required());
        assert!(!ApiVersion::parse("2026-01").unwrap().idempotency_required());
        assert!(ApiVersion::parse("unstable")
            .unwrap()
            .idempotency_required());
        for bad in ["2026-02", "2023-10", "26-04", "latest", "2026-4"] {
            assert_eq!(ApiVersion::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn change_from_quantity_must_be_present_from_2026_04() {
        let mut value = input(5, Value::Null);
        value["quantities"][0]
            .as_object_mut()
            .unwrap()
            .remove("changeFromQuantity");
        assert!(parse_set_input(&value, ApiVersion::V2026_04).is_err());
        assert!(parse_set_input(&value, ApiVersion::V2026_01).is_ok());
        let null_allowed = parse_set_input(&input(5, Value::Null), ApiVersion::V2026_04).unwrap();
        assert_eq!(null_allowed.quantities[0].cas, Cas::None);
        let mut compare = input(5, Value::Null);
        compare["quantities"][0]["compareQuantity"] = json!(1);
        assert!(parse_set_input(&compare, ApiVersion::V2026_04).is_err());
        assert!(parse_set_input(&compare, ApiVersion::V2026_01).is_ok());
    }

    #[test]
    fn more_than_250_quantities_is_a_top_level_error() {
        let mut value = input(1, Value::Null);
        let one = value["quantities"][0].clone();
        value["quantities"] = Value::Array(vec![one; 251]);
        let error = parse_set_input(&value, ApiVersion::V2026_04)
            .unwrap_err()
            .unwrap_err();
        assert_eq!(error.extensions.unwrap()["code"], "MAX_INPUT_SIZE_EXCEEDED");
    }

    #[test]
    fn a_stale_change_from_applies_nothing_and_counts_a_conflict() {
        let mut world = world_with(5);
        let stale = parse_set_input(&input(9, json!(4)), ApiVersion::V2026_04).unwrap();
        let payload = set_quantities(&stale, &mut world, Utc::now(), 1);
        assert_eq!(payload.group, None);
        assert_eq!(payload.user_errors[0].code, "CHANGE_FROM_QUANTITY_STALE");
        assert_eq!(
            payload.user_errors[0].field,
            ["input", "quantities", "0", "changeFromQuantity"]
        );
        assert_eq!(world.listing(1).unwrap().quantity, 5);
        assert_eq!(world.stats.cas_conflicts, 1);
        let fresh = parse_set_input(&input(9, json!(5)), ApiVersion::V2026_04).unwrap();
        let payload = set_quantities(&fresh, &mut world, Utc::now(), 2);
        let group = payload.group.unwrap();
        assert_eq!(
            (
                group.changes[0].delta,
                group.changes[0].quantity_after_change
            ),
            (4, 9)
        );
        assert_eq!(world.listing(1).unwrap().quantity, 9);
    }

    #[test]
    fn out_of_range_quantities_and_bad_names_are_user_errors() {
        let mut world = world_with(5);
        for (quantity, code) in [
            (-1, "INVALID_QUANTITY_NEGATIVE"),
            (MAX_QUANTITY + 1, "INVALID_QUANTITY_TOO_HIGH"),
        ] {
            let parsed =
                parse_set_input(&input(quantity, Value::Null), ApiVersion::V2026_04).unwrap();
            let payload = set_quantities(&parsed, &mut world, Utc::now(), 1);
            assert_eq!(payload.user_errors[0].code, code);
        }
        let mut bad = parse_set_input(&input(1, Value::Null), ApiVersion::V2026_04).unwrap();
        bad.name = "committed".into();
        let payload = set_quantities(&bad, &mut world, Utc::now(), 1);
        assert_eq!(payload.user_errors[0].code, "INVALID_NAME");
        assert_eq!(world.listing(1).unwrap().quantity, 5);
        assert_eq!(world.stats.quantity_writes, 0);
    }

    #[test]
    fn the_cache_replays_detects_mismatches_and_stays_bounded() {
        let mut cache = IdempotencyCache::new(2);
        let payload = SetPayload {
            group: None,
            user_errors: vec![],
        };
        cache.store("a", "x", payload.clone());
        assert_eq!(cache.lookup("a", "x"), Replay::Same(payload.clone()));
        assert_eq!(cache.lookup("a", "y"), Replay::Mismatch);
        cache.store("b", "x", payload.clone());
        cache.store("c", "x", payload);
        assert_eq!(
            cache.lookup("a", "x"),
            Replay::New,
            "the oldest key is forgotten"
        );
    }
}
