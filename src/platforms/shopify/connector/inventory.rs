//! The inventory calls' wire (§1.1): the `inventorySetQuantities` input and its `@idempotent`
//! key, the mutation's payload read item by item, and the levels of a `nodes` read.

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use shelfsync_actors::channel::marketplace::{
    MarketplaceError, PermanentKind, PushItem, PushOutcome,
};

use super::invalid;
use crate::platforms::connector::shown_quantity;

/// One item of a push with its inventory item.
#[derive(Debug, Clone)]
pub(super) struct Sent {
    pub(super) inventory_item: String,
    pub(super) item: PushItem,
}

/// `InventorySetQuantitiesInput` for `sent` at `location`.
pub(super) fn set_input(location: &str, sent: &[Sent]) -> Value {
    let quantities: Vec<Value> = sent
        .iter()
        .map(|sent| {
            json!({
                "inventoryItemId": sent.inventory_item,
                "locationId": location,
                "quantity": sent.item.quantity,
                // Mandatory from 2026-04; null means "never confirmed: no check".
                "changeFromQuantity": sent.item.previous,
            })
        })
        .collect();
    json!({ "name": "available", "reason": "correction", "quantities": quantities })
}

/// The `@idempotent` key of a call: the same for the same input (a retry), another for any other.
pub(super) fn idempotency_key(location: &str, sent: &[Sent]) -> String {
    let mut hash = Sha256::new();
    hash.update(location.as_bytes());
    for sent in sent {
        let previous = sent
            .item
            .previous
            .map_or_else(|| "-".to_string(), |p| p.to_string());
        hash.update(
            format!(
                "\n{}\t{}\t{}\t{}\t{}",
                sent.inventory_item,
                sent.item.sku,
                sent.item.quantity,
                previous,
                sent.item.ledger_seq
            )
            .as_bytes(),
        );
    }
    let digest = hash.finalize();
    let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
    format!("shelfsync-{hex}")
}

/// Why Shopify refused one item of a call.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Refusal {
    Stale,
    Failed(MarketplaceError),
}

/// What became of one `inventorySetQuantities` call.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum SetResult {
    /// Applied: an outcome per item.
    Applied(Vec<PushOutcome>),
    /// Refused as a whole: the refusal of each item named (by index), the others not applied.
    Refused(HashMap<usize, Refusal>),
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct SetPayload {
    pub(super) inventory_adjustment_group: Option<AdjustmentGroup>,
    #[serde(default)]
    pub(super) user_errors: Vec<UserError>,
}

#[derive(Debug, Deserialize)]
pub(super) struct AdjustmentGroup {
    #[serde(default)]
    pub(super) changes: Vec<Change>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Change {
    pub(super) name: String,
    pub(super) quantity_after_change: Option<i64>,
    pub(super) item: Option<ChangeItem>,
}

#[derive(Debug, Deserialize)]
pub(super) struct ChangeItem {
    pub(super) id: String,
}

#[derive(Debug, Deserialize)]
pub(super) struct UserError {
    pub(super) code: Option<String>,
    pub(super) field: Option<Vec<String>>,
    pub(super) message: Option<String>,
}

/// Reads the mutation's payload for the items `sent`, in order.
pub(super) fn set_result(data: &Value, sent: &[Sent]) -> Result<SetResult, MarketplaceError> {
    let payload: SetPayload = serde_json::from_value(data["inventorySetQuantities"].clone())
        .map_err(|error| {
            invalid(format!(
                "unexpected Shopify inventorySetQuantities reply: {error}"
            ))
        })?;
    if !payload.user_errors.is_empty() {
        let mut refused = HashMap::new();
        for error in payload.user_errors {
            let code = error.code.unwrap_or_default();
            let message = error.message.unwrap_or_default();
            // `field` is ["input", "quantities", "<index>", ...] for an item's error.
            let index = error.field.as_deref().and_then(|field| match field {
                [_, quantities, index, ..] if quantities == "quantities" => index.parse().ok(),
                _ => None,
            });
            let refusal = match code.as_str() {
                "CHANGE_FROM_QUANTITY_STALE" | "COMPARE_QUANTITY_STALE" => Refusal::Stale,
                "INVALID_INVENTORY_ITEM" => Refusal::Failed(MarketplaceError::Permanent {
                    kind: PermanentKind::NotFound,
                    message: format!("{code}: {message}"),
                }),
                _ => Refusal::Failed(invalid(format!("{code}: {message}"))),
            };
            match index {
                Some(index) if index < sent.len() => {
                    refused.insert(index, refusal);
                }
                // An error of the whole input (name, reason) would refuse every retry too.
                _ => {
                    return Err(invalid(format!(
                        "Shopify refused inventorySetQuantities: {code}: {message}"
                    )))
                }
            }
        }
        return Ok(SetResult::Refused(refused));
    }
    let Some(group) = payload.inventory_adjustment_group else {
        return Err(invalid(
            "unexpected Shopify reply: neither an adjustment group nor user errors",
        ));
    };
    let after: HashMap<String, i64> = group
        .changes
        .into_iter()
        .filter(|change| change.name == "available")
        .filter_map(|change| Some((change.item?.id, change.quantity_after_change?)))
        .collect();
    Ok(SetResult::Applied(
        sent.iter()
            .map(|sent| PushOutcome::Confirmed {
                sku: sent.item.sku.clone(),
                quantity: after
                    .get(&sent.inventory_item)
                    .map_or(sent.item.quantity, |quantity| shown_quantity(*quantity)),
            })
            .collect(),
    ))
}

/// The available quantity of each inventory item of a `nodes` read (items Shopify does not know,
/// or not stocked at the location, are absent).
pub(super) fn read_levels(data: &Value) -> Result<HashMap<String, u32>, MarketplaceError> {
    let Some(nodes) = data["nodes"].as_array() else {
        return Err(invalid("unexpected Shopify reply: no nodes"));
    };
    let mut levels = HashMap::new();
    for node in nodes {
        let Some(id) = node["id"].as_str() else {
            continue;
        };
        let quantity = node["inventoryLevel"]["quantities"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|quantity| quantity["name"] == "available")
            .and_then(|quantity| quantity["quantity"].as_i64());
        if let Some(quantity) = quantity {
            levels.insert(id.to_string(), shown_quantity(quantity));
        }
    }
    Ok(levels)
}
