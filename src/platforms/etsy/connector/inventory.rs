//! A listing's inventory, replaced whole (§2.1): the `PUT` body that changes one offering's
//! quantity and sends everything else back as it was, and the quantity a listing shows.

use serde_json::{json, Map, Value};
use shelfsync_actors::channel::marketplace::{MarketplaceError, PermanentKind};

use super::invalid;

/// The `PUT` body of a listing whose `GET` reply is `inventory`, with the product carrying `sku`
/// listing `quantity`; every other product, property and price is sent back as it was.
pub(super) fn put_body(
    inventory: &Value,
    sku: &str,
    quantity: u32,
) -> Result<Value, MarketplaceError> {
    let products = inventory
        .get("products")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("Etsy's inventory reply has no products array".into()))?;
    let mut found = false;
    let mut sent = Vec::with_capacity(products.len());
    for (p, product) in products.iter().enumerate() {
        if product.get("is_deleted") == Some(&Value::Bool(true)) {
            continue; // Deleted products are not part of the listing any more.
        }
        let mut product = put_product(product, p)?;
        if product.get("sku").and_then(Value::as_str) == Some(sku) {
            found = true;
            set_quantity(&mut product, quantity);
        }
        sent.push(Value::Object(product));
    }
    if !found {
        return Err(MarketplaceError::Permanent {
            kind: PermanentKind::NotFound,
            message: format!("the Etsy listing has no product with SKU {sku}"),
        });
    }
    let mut body = Map::new();
    body.insert("products".into(), Value::Array(sent));
    for array in [
        "price_on_property",
        "quantity_on_property",
        "sku_on_property",
        "readiness_state_on_property",
    ] {
        match inventory.get(array) {
            Some(value @ Value::Array(_)) => {
                body.insert(array.into(), value.clone());
            }
            None | Some(Value::Null) => {}
            Some(_) => return Err(invalid(format!("Etsy's inventory {array} is not an array"))),
        }
    }
    Ok(Value::Object(body))
}

/// One product in the `PUT` shape: `sku`, `property_values` and `offerings` copied by name.
fn put_product(product: &Value, p: usize) -> Result<Map<String, Value>, MarketplaceError> {
    let at = format!("Etsy's inventory products[{p}]");
    let offerings = product
        .get("offerings")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(format!("{at} has no offerings array")))?;
    let mut sent_offerings = Vec::with_capacity(offerings.len());
    for (o, offering) in offerings.iter().enumerate() {
        if offering.get("is_deleted") == Some(&Value::Bool(true)) {
            continue;
        }
        sent_offerings.push(put_offering(offering, &format!("{at}.offerings[{o}]"))?);
    }
    let mut values = Vec::new();
    if let Some(property_values) = product.get("property_values") {
        let property_values = property_values
            .as_array()
            .ok_or_else(|| invalid(format!("{at}.property_values is not an array")))?;
        for value in property_values {
            let mut kept = Map::new();
            for field in [
                "property_id",
                "value_ids",
                "scale_id",
                "property_name",
                "values",
            ] {
                if let Some(field_value) = value.get(field) {
                    kept.insert(field.into(), field_value.clone());
                }
            }
            values.push(Value::Object(kept));
        }
    }
    let mut sent = Map::new();
    sent.insert(
        "sku".into(),
        product.get("sku").cloned().unwrap_or(Value::Null),
    );
    sent.insert("property_values".into(), Value::Array(values));
    sent.insert("offerings".into(), Value::Array(sent_offerings));
    Ok(sent)
}

/// One offering in the `PUT` shape: the Money price as a float.
fn put_offering(offering: &Value, at: &str) -> Result<Value, MarketplaceError> {
    let price = match offering.get("price") {
        Some(Value::Object(money)) => {
            let amount = money.get("amount").and_then(Value::as_f64);
            let divisor = money.get("divisor").and_then(Value::as_f64);
            match (amount, divisor) {
                (Some(amount), Some(divisor)) if divisor > 0.0 => amount / divisor,
                _ => return Err(invalid(format!("{at}.price is not a Money object"))),
            }
        }
        // Tolerated: a price already a number is what the PUT wants.
        Some(Value::Number(number)) => number
            .as_f64()
            .ok_or_else(|| invalid(format!("{at}.price is not a number")))?,
        _ => return Err(invalid(format!("{at}.price is missing"))),
    };
    let quantity = offering
        .get("quantity")
        .and_then(Value::as_i64)
        .ok_or_else(|| invalid(format!("{at}.quantity is not an integer")))?;
    let is_enabled = offering
        .get("is_enabled")
        .and_then(Value::as_bool)
        .ok_or_else(|| invalid(format!("{at}.is_enabled is not a boolean")))?;
    let mut sent = json!({ "price": price, "quantity": quantity, "is_enabled": is_enabled });
    // The current spec requires it; sending back what GET showed keeps the processing profile.
    if let Some(readiness) = offering.get("readiness_state_id").filter(|v| !v.is_null()) {
        sent["readiness_state_id"] = readiness.clone();
    }
    Ok(sent)
}

/// Makes a `PUT`-shape product show `quantity`: the first enabled offering holds it, the other
/// enabled ones 0; with none enabled, the first offering holds it (and stays disabled).
fn set_quantity(product: &mut Map<String, Value>, quantity: u32) {
    let Some(Value::Array(offerings)) = product.get_mut("offerings") else {
        return;
    };
    let enabled = |offering: &Value| offering["is_enabled"] == Value::Bool(true);
    let target = offerings
        .iter()
        .position(enabled)
        .or((!offerings.is_empty()).then_some(0));
    for (o, offering) in offerings.iter_mut().enumerate() {
        if Some(o) == target {
            offering["quantity"] = json!(quantity);
        } else if enabled(offering) {
            offering["quantity"] = json!(0);
        }
    }
}

/// What the listing shows for `sku` in a `GET`-shape inventory: the sum of the enabled, not
/// deleted offerings of its product.
pub(super) fn listed_quantity(inventory: &Value, sku: &str) -> Result<u32, MarketplaceError> {
    let products = inventory
        .get("products")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid("Etsy's inventory reply has no products array".into()))?;
    let product = products
        .iter()
        .filter(|product| product.get("is_deleted") != Some(&Value::Bool(true)))
        .find(|product| product.get("sku").and_then(Value::as_str) == Some(sku))
        .ok_or_else(|| MarketplaceError::Permanent {
            kind: PermanentKind::NotFound,
            message: format!("the Etsy listing has no product with SKU {sku}"),
        })?;
    let offerings = product
        .get("offerings")
        .and_then(Value::as_array)
        .ok_or_else(|| invalid(format!("Etsy's product of SKU {sku} has no offerings")))?;
    let mut total: u64 = 0;
    for offering in offerings {
        let counts = offering.get("is_enabled") == Some(&Value::Bool(true))
            && offering.get("is_deleted") != Some(&Value::Bool(true));
        if counts {
            let quantity = offering
                .get("quantity")
                .and_then(Value::as_u64)
                .ok_or_else(|| invalid(format!("an offering of SKU {sku} has no quantity")))?;
            // Saturating: two offerings near u64::MAX in a reply must not wrap to a small total
            // (issue 12); what a listing shows beyond u32 reads as u32::MAX.
            total = total.saturating_add(quantity);
        }
    }
    Ok(u32::try_from(total).unwrap_or(u32::MAX))
}
