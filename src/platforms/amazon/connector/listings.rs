//! The Listings Items API's replies (§3.1): the verdict of a `patchListingsItem`, the quantity
//! and the product type a `getListingsItem` shows.

use serde::Deserialize;
use serde_json::Value;
use shelfsync_actors::channel::marketplace::MarketplaceError;

use super::{invalid, DEFAULT_CHANNEL};

/// What a `patchListingsItem` reply said about the patch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum PatchVerdict {
    /// Queued: confirm by reading.
    Accepted,
    /// Refused, with the issues in words.
    Refused(String),
}

#[derive(Debug, Deserialize)]
pub(super) struct PatchReply {
    pub(super) status: String,
    #[serde(default)]
    pub(super) issues: Vec<PatchIssue>,
}

#[derive(Debug, Deserialize)]
pub(super) struct PatchIssue {
    #[serde(default)]
    pub(super) code: String,
    #[serde(default)]
    pub(super) message: String,
}

/// The verdict of a 2xx patch reply; `Err` when the reply is not one.
pub(super) fn patch_verdict(body: &str) -> Result<PatchVerdict, MarketplaceError> {
    let reply: PatchReply = serde_json::from_str(body)
        .map_err(|error| invalid(format!("unexpected Amazon patch reply: {error}")))?;
    let issues = || {
        let words: Vec<String> = reply
            .issues
            .iter()
            .map(|issue| format!("{}: {}", issue.code, issue.message))
            .collect();
        if words.is_empty() {
            "no issues given".to_string()
        } else {
            words.join("; ")
        }
    };
    match reply.status.as_str() {
        "ACCEPTED" => Ok(PatchVerdict::Accepted),
        "INVALID" => Ok(PatchVerdict::Refused(format!(
            "Amazon refused the patch: {}",
            issues()
        ))),
        // VALID only answers a VALIDATION_PREVIEW, which the connector never sends.
        other => Err(invalid(format!(
            "unexpected Amazon patch status {other:?}: {}",
            issues()
        ))),
    }
}

/// The merchant-fulfilled quantity a `getListingsItem` reply shows (0 without a `DEFAULT` entry).
pub(super) fn listed_quantity(body: &str) -> Result<u32, MarketplaceError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|error| invalid(format!("unexpected Amazon listing reply: {error}")))?;
    let entries = match value.get("fulfillmentAvailability") {
        None | Some(Value::Null) => return Ok(0),
        Some(Value::Array(entries)) => entries,
        Some(_) => {
            return Err(invalid(
                "unexpected Amazon listing reply: fulfillmentAvailability is not a list".into(),
            ))
        }
    };
    let Some(entry) = entries.iter().find(|entry| {
        entry.get("fulfillmentChannelCode").and_then(Value::as_str) == Some(DEFAULT_CHANNEL)
    }) else {
        return Ok(0);
    };
    match entry.get("quantity") {
        None | Some(Value::Null) => Ok(0),
        Some(quantity) => quantity
            .as_u64()
            .map(|quantity| quantity.min(u64::from(u32::MAX)) as u32)
            .ok_or_else(|| {
                invalid(format!(
                    "unexpected Amazon listing reply: quantity {quantity} is not a whole number"
                ))
            }),
    }
}

/// The product type of a `getListingsItem` reply with `summaries` in `marketplace_id`.
pub(super) fn summary_product_type(
    body: &str,
    marketplace_id: &str,
) -> Result<String, MarketplaceError> {
    let value: Value = serde_json::from_str(body)
        .map_err(|error| invalid(format!("unexpected Amazon listing reply: {error}")))?;
    let summaries = value
        .get("summaries")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let in_marketplace = summaries.iter().find(|summary| {
        summary.get("marketplaceId").and_then(Value::as_str) == Some(marketplace_id)
    });
    in_marketplace
        .or(summaries.first())
        .and_then(|summary| summary.get("productType"))
        .and_then(Value::as_str)
        .filter(|product_type| !product_type.trim().is_empty())
        .map(str::to_string)
        .ok_or_else(|| {
            invalid(
                "the Amazon listing's summary names no productType (set account.product_type)"
                    .into(),
            )
        })
}
