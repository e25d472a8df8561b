//! The body of `patchListingsItem` (reference §3.1), without HTTP: what makes a request malformed
//! (HTTP 400 `InvalidInput`) and what makes it a well-formed patch the listing refuses (HTTP 200
//! `status: "INVALID"` with `issues`).
//!
//! The line between the two follows the model: the request schema (`productType` a string,
//! `patches` a non-empty array of `{op, path, value}` objects) is checked by the gateway and
//! refused with 400; everything about the attribute itself (which attribute, which op, the
//! channel code, the quantity) is checked against the product type and reported as issues.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::platforms::mock::world::MAX_CONTROL_QUANTITY;

/// The one attribute the mock can patch: the merchant-fulfilled quantity.
pub const FULFILLMENT_AVAILABILITY: &str = "/attributes/fulfillment_availability";
/// The merchant-fulfilled channel code (reference §3.1).
pub const DEFAULT_CHANNEL: &str = "DEFAULT";
/// The attribute name the issues point at.
pub const ATTRIBUTE: &str = "fulfillment_availability";
/// Issue code of a required value that is missing (the code of the model's own example).
pub const CODE_REQUIRED: &str = "90220";
/// Issue code of a value the attribute does not accept (the mock's own choice).
pub const CODE_INVALID_VALUE: &str = "90244";
/// Issue code of an attribute or op the mock does not model (the mock's own choice).
pub const CODE_UNSUPPORTED: &str = "90003";

/// `ListingsItemPatchRequest`.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PatchRequest {
    /// The listing's product type (`LUGGAGE` in the reference example).
    pub product_type: String,
    /// The JSON Patch operations, at least one.
    pub patches: Vec<PatchOperation>,
}

/// One `PatchOperation`.
#[derive(Debug, Clone, Deserialize)]
pub struct PatchOperation {
    /// `add`, `replace`, `merge` or `delete`.
    pub op: String,
    /// The top-level attribute, as a JSON pointer.
    pub path: String,
    /// The attribute's values; absent for `delete`.
    #[serde(default)]
    pub value: Option<Vec<Value>>,
}

/// One entry of the reply's `issues`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Issue {
    /// The issue code.
    pub code: String,
    /// What is wrong, in words.
    pub message: String,
    /// `ERROR` for every issue the mock raises (each one refuses the submission).
    pub severity: String,
    /// The attributes concerned.
    pub attribute_names: Vec<String>,
}

impl Issue {
    fn error(code: &str, message: String) -> Issue {
        Issue {
            code: code.to_string(),
            message,
            severity: "ERROR".to_string(),
            attribute_names: vec![ATTRIBUTE.to_string()],
        }
    }
}

/// Parses the raw body; `Err` is the message of the 400 `InvalidInput` reply.
pub fn parse(body: &[u8]) -> Result<PatchRequest, String> {
    let request: PatchRequest = serde_json::from_slice(body).map_err(|error| {
        format!("Request body is not a valid ListingsItemPatchRequest: {error}")
    })?;
    if request.product_type.trim().is_empty() {
        return Err("productType must not be empty".to_string());
    }
    if request.patches.is_empty() {
        return Err("patches must hold at least one operation".to_string());
    }
    Ok(request)
}

/// Checks every patch: `Ok(quantity)` to set (the last patch wins, as JSON Patch applies them in
/// order), or every issue found (nothing is applied then).
pub fn validate(request: &PatchRequest) -> Result<i64, Vec<Issue>> {
    let mut issues = Vec::new();
    let mut quantity = None;
    for patch in &request.patches {
        match check_operation(patch) {
            Ok(value) => quantity = Some(value),
            Err(mut found) => issues.append(&mut found),
        }
    }
    match quantity {
        Some(quantity) if issues.is_empty() => Ok(quantity),
        _ => Err(issues),
    }
}

fn check_operation(patch: &PatchOperation) -> Result<i64, Vec<Issue>> {
    if patch.path != FULFILLMENT_AVAILABILITY {
        return Err(vec![Issue::error(
            CODE_UNSUPPORTED,
            format!(
                "Path '{}' cannot be patched on this listing; the mock models only '{FULFILLMENT_AVAILABILITY}'.",
                patch.path
            ),
        )]);
    }
    match patch.op.as_str() {
        "add" | "replace" | "merge" => {}
        "delete" => {
            return Err(vec![Issue::error(
                CODE_UNSUPPORTED,
                "'fulfillment_availability' cannot be deleted from a merchant-fulfilled offer."
                    .to_string(),
            )])
        }
        other => {
            return Err(vec![Issue::error(
                CODE_INVALID_VALUE,
                format!("Operation '{other}' is not one of add, replace, merge, delete."),
            )])
        }
    }
    let values = patch.value.as_deref().unwrap_or_default();
    if values.is_empty() {
        return Err(vec![Issue::error(
            CODE_REQUIRED,
            "'fulfillment_availability' is required but not supplied.".to_string(),
        )]);
    }
    let mut issues = Vec::new();
    let mut quantities = Vec::new();
    for value in values {
        match check_availability(value) {
            Ok(quantity) => quantities.push(quantity),
            Err(issue) => issues.push(issue),
        }
    }
    if issues.is_empty() && quantities.len() > 1 {
        issues.push(Issue::error(
            CODE_INVALID_VALUE,
            format!("'fulfillment_channel_code' {DEFAULT_CHANNEL} is given more than once."),
        ));
    }
    match quantities.as_slice() {
        [quantity] if issues.is_empty() => Ok(*quantity),
        _ => Err(issues),
    }
}

/// One `{fulfillment_channel_code, quantity}` entry: the quantity, or why it is refused.
fn check_availability(value: &Value) -> Result<i64, Issue> {
    let Some(entry) = value.as_object() else {
        return Err(Issue::error(
            CODE_INVALID_VALUE,
            "Each 'fulfillment_availability' value must be an object.".to_string(),
        ));
    };
    let channel = match entry.get("fulfillment_channel_code") {
        None | Some(Value::Null) => {
            return Err(Issue::error(
                CODE_REQUIRED,
                "'fulfillment_channel_code' is required but not supplied.".to_string(),
            ))
        }
        Some(channel) => channel,
    };
    if channel.as_str() != Some(DEFAULT_CHANNEL) {
        return Err(Issue::error(
            CODE_INVALID_VALUE,
            format!(
                "'fulfillment_channel_code' {channel} is not a channel of this seller (only {DEFAULT_CHANNEL})."
            ),
        ));
    }
    let quantity = match entry.get("quantity") {
        None | Some(Value::Null) => {
            return Err(Issue::error(
                CODE_REQUIRED,
                "'quantity' is required but not supplied.".to_string(),
            ))
        }
        Some(quantity) => quantity,
    };
    match quantity.as_i64() {
        Some(quantity) if (0..=MAX_CONTROL_QUANTITY).contains(&quantity) => Ok(quantity),
        _ => Err(Issue::error(
            CODE_INVALID_VALUE,
            format!(
                "'quantity' {quantity} must be a whole number from 0 to {MAX_CONTROL_QUANTITY}."
            ),
        )),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn body(patches: Value) -> Vec<u8> {
        serde_json::to_vec(&json!({ "productType": "LUGGAGE", "patches": patches })).unwrap()
    }

    fn quantity_patch(op: &str, value: Value) -> Value {
        json!([{ "op": op, "path": FULFILLMENT_AVAILABILITY, "value": value }])
    }

    #[test]
    fn the_reference_example_sets_ten() {
        let request = parse(&body(quantity_patch(
            "replace",
            json!([{ "fulfillment_channel_code": "DEFAULT", "quantity": 10 }]),
        )))
        .unwrap();
        assert_eq!(validate(&request), Ok(10));
    }

    #[test]
    fn a_malformed_request_is_a_400() {
        for bad in [
            b"{".to_vec(),
            b"[]".to_vec(),
            serde_json::to_vec(&json!({ "patches": [] })).unwrap(),
            serde_json::to_vec(&json!({ "productType": "LUGGAGE", "patches": {} })).unwrap(),
            serde_json::to_vec(&json!({ "productType": " ", "patches": [] })).unwrap(),
            body(json!([])),
            body(json!([{ "op": "replace" }])),
        ] {
            assert!(parse(&bad).is_err(), "{}", String::from_utf8_lossy(&bad));
        }
    }

    #[test]
    fn a_bad_patch_is_an_issue_not_a_400() {
        let cases = [
            quantity_patch(
                "replace",
                json!([{ "fulfillment_channel_code": "DEFAULT", "quantity": -1 }]),
            ),
            quantity_patch(
                "replace",
                json!([{ "fulfillment_channel_code": "DEFAULT", "quantity": 1.5 }]),
            ),
            quantity_patch("replace", json!([{ "quantity": 3 }])),
            quantity_patch(
                "replace",
                json!([{ "fulfillment_channel_code": "AMAZON_NA", "quantity": 3 }]),
            ),
            quantity_patch("replace", json!([])),
            quantity_patch("delete", json!([])),
            quantity_patch(
                "move",
                json!([{ "fulfillment_channel_code": "DEFAULT", "quantity": 3 }]),
            ),
            json!([{ "op": "replace", "path": "/attributes/item_name", "value": [{ "value": "x" }] }]),
            quantity_patch(
                "replace",
                json!([
                    { "fulfillment_channel_code": "DEFAULT", "quantity": 3 },
                    { "fulfillment_channel_code": "DEFAULT", "quantity": 4 }
                ]),
            ),
        ];
        for patches in cases {
            let request = parse(&body(patches.clone())).unwrap();
            let issues = validate(&request).expect_err(&patches.to_string());
            assert!(!issues.is_empty());
            assert!(issues
                .iter()
                .all(|issue| issue.severity == "ERROR" && issue.attribute_names == [ATTRIBUTE]));
        }
    }

    #[test]
    fn a_missing_channel_code_is_reported_as_required() {
        let request = parse(&body(quantity_patch("merge", json!([{ "quantity": 3 }])))).unwrap();
        let issues = validate(&request).unwrap_err();
        assert_eq!(issues[0].code, CODE_REQUIRED);
        assert!(issues[0].message.contains("fulfillment_channel_code"));
    }

    #[test]
    fn one_bad_patch_refuses_the_good_ones() {
        let mut patches = quantity_patch(
            "replace",
            json!([{ "fulfillment_channel_code": "DEFAULT", "quantity": 3 }]),
        );
        patches
            .as_array_mut()
            .unwrap()
            .push(json!({ "op": "add", "path": "/attributes/color", "value": [] }));
        let request = parse(&body(patches)).unwrap();
        assert_eq!(validate(&request).unwrap_err().len(), 1);
    }
}
