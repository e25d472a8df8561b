//! Etsy's listing inventory without HTTP (reference/marketplace-apis.md §2.1): the `PUT` body of
//! `updateListingInventory` parsed and checked, the inventory a mock listing keeps, and its `GET`
//! shape. Pure functions, so that every rule is tested without a server.
//!
//! The `PUT` shape and the `GET` shape differ the way Etsy's do: `GET` shows `price` as a Money
//! object `{amount, divisor, currency_code}` and adds `product_id`, `offering_id` and `is_deleted`;
//! `PUT` takes a float `price` and refuses those three fields.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde::Deserialize;
use serde_json::{json, Map, Value};

use crate::platforms::mock::world::validate_sku;

/// The largest quantity one offering may hold (E4 #214).
pub const MAX_OFFERING_QUANTITY: i64 = 999;
/// The highest price the mock accepts, in dollars (Etsy's listing price ceiling).
pub const MAX_PRICE: f64 = 50_000.0;
/// The divisor of every Money object the mock shows (cents).
pub const PRICE_DIVISOR: i64 = 100;
/// The currency of the mock shop.
pub const CURRENCY: &str = "USD";
/// The price of a listing's offering before any `PUT` (20.00 USD).
pub const DEFAULT_PRICE_CENTS: i64 = 2_000;
/// The shop's processing profile, shown on offerings whose `PUT` left `readiness_state_id` out.
pub const DEFAULT_READINESS_STATE_ID: u64 = 1_402_336_049;

/// How strict the inventory checks are where the reference is unsure ([U] items of §2.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InventoryRules {
    /// Whether every offering of a `PUT` must carry `readiness_state_id` (the current spec marks it
    /// required; whether older callers may omit it is unverified).
    pub require_readiness_state_id: bool,
    /// Whether a `PUT` whose offerings all hold 0 is refused with "One offering must have quantity
    /// greater than 0" (E4 #395; exact behaviour unverified).
    pub refuse_all_zero: bool,
}

impl Default for InventoryRules {
    /// Lenient on both: a connector that omits `readiness_state_id` or sells a listing out by
    /// setting 0 works, so that the engine's ordinary paths run against the mock.
    fn default() -> InventoryRules {
        InventoryRules {
            require_readiness_state_id: false,
            refuse_all_zero: false,
        }
    }
}

/// One property value of a product (a variation such as "Primary color: Red").
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PropertyValue {
    /// The Etsy property id (200 is "Primary color").
    pub property_id: u64,
    /// The ids of the chosen values.
    pub value_ids: Vec<u64>,
    /// The measurement scale, when the property has one.
    #[serde(default)]
    pub scale_id: Option<u64>,
    /// The property's name.
    #[serde(default)]
    pub property_name: Option<String>,
    /// The scale's name; `GET` shows it, and a `PUT` may echo it back (it is ignored).
    #[serde(default)]
    pub scale_name: Option<String>,
    /// The chosen values' names.
    pub values: Vec<String>,
}

/// One offering of a product as a `PUT` sends it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct PutOffering {
    price: f64,
    quantity: i64,
    is_enabled: bool,
    #[serde(default)]
    readiness_state_id: Option<u64>,
}

/// One product as a `PUT` sends it.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct PutProduct {
    #[serde(default)]
    sku: Option<String>,
    #[serde(default)]
    property_values: Vec<PropertyValue>,
    offerings: Vec<PutOffering>,
}

/// The body of `PUT /v3/application/listings/{listing_id}/inventory`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
struct PutBody {
    products: Vec<PutProduct>,
    #[serde(default)]
    price_on_property: Vec<u64>,
    #[serde(default)]
    quantity_on_property: Vec<u64>,
    #[serde(default)]
    sku_on_property: Vec<u64>,
    #[serde(default)]
    readiness_state_on_property: Option<Vec<u64>>,
}

/// One offering a listing keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Offering {
    /// Etsy's offering id.
    pub offering_id: u64,
    /// The price in cents.
    pub price_cents: i64,
    /// Units available.
    pub quantity: i64,
    /// Whether buyers see it.
    pub is_enabled: bool,
    /// The processing profile.
    pub readiness_state_id: u64,
}

/// One product a listing keeps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Product {
    /// Etsy's product id.
    pub product_id: u64,
    /// The seller's SKU, if any.
    pub sku: Option<String>,
    /// Its variation values.
    pub property_values: Vec<PropertyValue>,
    /// Its offerings (one in practice).
    pub offerings: Vec<Offering>,
}

/// A listing's whole inventory record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inventory {
    /// Every product.
    pub products: Vec<Product>,
    /// Properties that change the price.
    pub price_on_property: Vec<u64>,
    /// Properties that change the quantity.
    pub quantity_on_property: Vec<u64>,
    /// Properties that change the SKU.
    pub sku_on_property: Vec<u64>,
    /// Properties that change the processing profile.
    pub readiness_state_on_property: Vec<u64>,
}

/// The product and offering ids of a listing's own product (its SKU), from the listing's identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProductIds {
    /// The product id.
    pub product_id: u64,
    /// The offering id.
    pub offering_id: u64,
}

impl Inventory {
    /// The inventory of a listing nobody has `PUT` yet: one product (its SKU), one enabled offering
    /// at the default price holding `quantity`.
    pub fn initial(sku: &str, quantity: i64, ids: ProductIds) -> Inventory {
        Inventory {
            products: vec![Product {
                product_id: ids.product_id,
                sku: Some(sku.to_string()),
                property_values: Vec::new(),
                offerings: vec![Offering {
                    offering_id: ids.offering_id,
                    price_cents: DEFAULT_PRICE_CENTS,
                    quantity,
                    is_enabled: true,
                    readiness_state_id: DEFAULT_READINESS_STATE_ID,
                }],
            }],
            price_on_property: Vec::new(),
            quantity_on_property: Vec::new(),
            sku_on_property: Vec::new(),
            readiness_state_on_property: Vec::new(),
        }
    }

    /// The product carrying `sku`.
    pub fn product(&self, sku: &str) -> Option<&Product> {
        self.products
            .iter()
            .find(|product| product.sku.as_deref() == Some(sku))
    }

    /// Makes the product of `sku` show `quantity` (what the marketplace's own sales and
    /// cancellations did since the last `PUT`): the difference goes to or comes from its enabled
    /// offerings, first one first; a restock of a product with no enabled offering enables the
    /// first one.
    pub fn reconcile(&mut self, sku: &str, quantity: i64) {
        let Some(product) = self
            .products
            .iter_mut()
            .find(|product| product.sku.as_deref() == Some(sku))
        else {
            return;
        };
        let mut delta = quantity - enabled_quantity(product);
        if delta > 0 {
            match product.offerings.iter_mut().find(|o| o.is_enabled) {
                Some(offering) => offering.quantity += delta,
                None => {
                    if let Some(offering) = product.offerings.first_mut() {
                        offering.quantity = delta;
                        offering.is_enabled = true;
                    }
                }
            }
            return;
        }
        for offering in product.offerings.iter_mut().filter(|o| o.is_enabled) {
            if delta == 0 {
                break;
            }
            let taken = offering.quantity.min(-delta);
            offering.quantity -= taken;
            delta += taken;
        }
    }

    /// The `GET` shape (Money prices, `product_id`, `offering_id`, `is_deleted`).
    pub fn to_json(&self) -> Value {
        let products: Vec<Value> = self.products.iter().map(product_json).collect();
        json!({
            "products": products,
            "price_on_property": self.price_on_property,
            "quantity_on_property": self.quantity_on_property,
            "sku_on_property": self.sku_on_property,
            "readiness_state_on_property": self.readiness_state_on_property,
        })
    }
}

/// The units a product shows: the sum of its enabled offerings.
pub fn enabled_quantity(product: &Product) -> i64 {
    product
        .offerings
        .iter()
        .filter(|offering| offering.is_enabled)
        .map(|offering| offering.quantity)
        .sum()
}

fn product_json(product: &Product) -> Value {
    let offerings: Vec<Value> = product
        .offerings
        .iter()
        .map(|offering| {
            json!({
                "offering_id": offering.offering_id,
                "quantity": offering.quantity,
                "is_enabled": offering.is_enabled,
                "is_deleted": false,
                "price": money(offering.price_cents),
                "readiness_state_id": offering.readiness_state_id,
            })
        })
        .collect();
    let property_values: Vec<Value> = product
        .property_values
        .iter()
        .map(|value| {
            json!({
                "property_id": value.property_id,
                "property_name": value.property_name,
                "scale_id": value.scale_id,
                "scale_name": value.scale_name,
                "value_ids": value.value_ids,
                "values": value.values,
            })
        })
        .collect();
    json!({
        "product_id": product.product_id,
        "sku": product.sku,
        "is_deleted": false,
        "offerings": offerings,
        "property_values": property_values,
    })
}

/// Etsy's Money object of an amount in cents.
pub fn money(cents: i64) -> Value {
    json!({ "amount": cents, "divisor": PRICE_DIVISOR, "currency_code": CURRENCY })
}

/// A checked `PUT` body, before the listing's ids are given to its products.
#[derive(Debug, Clone, PartialEq)]
pub struct InventoryUpdate {
    body: PutBody,
}

/// Fields `GET` returns that a `PUT` must not carry (E4 #159).
const GET_ONLY_PRODUCT_FIELDS: [&str; 2] = ["product_id", "is_deleted"];
const GET_ONLY_OFFERING_FIELDS: [&str; 2] = ["offering_id", "is_deleted"];

/// Parses and checks a `PUT` body from its raw bytes; `Err` is the message of Etsy's 400.
pub fn parse_update(bytes: &[u8], rules: InventoryRules) -> Result<InventoryUpdate, String> {
    let value: Value =
        serde_json::from_slice(bytes).map_err(|error| format!("Invalid JSON body: {error}"))?;
    refuse_get_only_fields(&value)?;
    let body: PutBody = serde_json::from_value(value)
        .map_err(|error| format!("Invalid inventory body: {error}"))?;
    check_body(&body, rules)?;
    Ok(InventoryUpdate { body })
}

fn refuse_get_only_fields(value: &Value) -> Result<(), String> {
    let Some(products) = value.get("products").and_then(Value::as_array) else {
        return Ok(()); // The typed parse reports the missing or malformed array.
    };
    for (p, product) in products.iter().enumerate() {
        let Some(product) = product.as_object() else {
            continue;
        };
        refuse_fields(product, &GET_ONLY_PRODUCT_FIELDS, &format!("products[{p}]"))?;
        let offerings = product.get("offerings").and_then(Value::as_array);
        for (o, offering) in offerings.into_iter().flatten().enumerate() {
            let Some(offering) = offering.as_object() else {
                continue;
            };
            let at = format!("products[{p}].offerings[{o}]");
            refuse_fields(offering, &GET_ONLY_OFFERING_FIELDS, &at)?;
            if offering.get("price").is_some_and(Value::is_object) {
                return Err(format!(
                    "{at}.price must be a number: the Money object is the GET shape \
                     (send amount / divisor)"
                ));
            }
        }
    }
    Ok(())
}

fn refuse_fields(object: &Map<String, Value>, fields: &[&str], at: &str) -> Result<(), String> {
    match fields.iter().find(|field| object.contains_key(**field)) {
        Some(field) => Err(format!(
            "{at}.{field} is not allowed: it is returned by GET only and must be removed before a PUT"
        )),
        None => Ok(()),
    }
}

fn check_body(body: &PutBody, rules: InventoryRules) -> Result<(), String> {
    if body.products.is_empty() {
        return Err("products must hold at least one product".into());
    }
    let mut skus = BTreeSet::new();
    for (p, product) in body.products.iter().enumerate() {
        check_product(product, p, rules)?;
        if let Some(sku) = &product.sku {
            if !skus.insert(sku.as_str()) {
                return Err(format!(
                    "products[{p}].sku {sku:?} is used by another product"
                ));
            }
        }
    }
    let all_zero = body
        .products
        .iter()
        .flat_map(|product| &product.offerings)
        .all(|offering| offering.quantity == 0);
    if rules.refuse_all_zero && all_zero {
        return Err("One offering must have quantity greater than 0".into());
    }
    check_properties(body)
}

fn check_product(product: &PutProduct, p: usize, rules: InventoryRules) -> Result<(), String> {
    if let Some(sku) = &product.sku {
        validate_sku(sku).map_err(|message| format!("products[{p}].sku: {message}"))?;
    }
    if product.offerings.is_empty() {
        return Err(format!(
            "products[{p}].offerings must hold at least one offering"
        ));
    }
    for (v, value) in product.property_values.iter().enumerate() {
        let at = format!("products[{p}].property_values[{v}]");
        if value.value_ids.is_empty() || value.value_ids.len() != value.values.len() {
            return Err(format!(
                "{at}: value_ids and values must be non-empty and agree"
            ));
        }
        if value.values.iter().any(|text| text.contains(['(', ')'])) {
            return Err(format!("{at}: values must not contain parentheses"));
        }
    }
    for (o, offering) in product.offerings.iter().enumerate() {
        check_offering(offering, &format!("products[{p}].offerings[{o}]"), rules)?;
    }
    Ok(())
}

fn check_offering(offering: &PutOffering, at: &str, rules: InventoryRules) -> Result<(), String> {
    if !(0..=MAX_OFFERING_QUANTITY).contains(&offering.quantity) {
        return Err(format!(
            "{at}.quantity {} must be between 0 and {MAX_OFFERING_QUANTITY}",
            offering.quantity
        ));
    }
    if price_cents(offering.price).is_none() {
        return Err(format!(
            "{at}.price {} must be greater than 0 and at most {MAX_PRICE}",
            offering.price
        ));
    }
    if rules.require_readiness_state_id && offering.readiness_state_id.is_none() {
        return Err(format!("{at}.readiness_state_id is required"));
    }
    Ok(())
}

/// A `PUT` price in cents: positive, at most [`MAX_PRICE`], at least one cent after rounding.
pub fn price_cents(price: f64) -> Option<i64> {
    if !price.is_finite() || price <= 0.0 || price > MAX_PRICE {
        return None;
    }
    let cents = (price * PRICE_DIVISOR as f64).round() as i64;
    (cents >= 1).then_some(cents)
}

/// The `*_on_property` arrays must agree with the products (§2.1): every product has the same
/// properties, no two products have the same values, each listed property is one of them, and a
/// field that does not vary on a property is the same on every product that differs only there.
fn check_properties(body: &PutBody) -> Result<(), String> {
    let keys: Vec<BTreeMap<u64, &[u64]>> = body
        .products
        .iter()
        .map(|product| {
            product
                .property_values
                .iter()
                .map(|value| (value.property_id, value.value_ids.as_slice()))
                .collect()
        })
        .collect();
    let properties: BTreeSet<u64> = keys[0].keys().copied().collect();
    for (p, key) in keys.iter().enumerate() {
        if key.len() != body.products[p].property_values.len() {
            return Err(format!("products[{p}] repeats a property"));
        }
        if key.keys().copied().collect::<BTreeSet<_>>() != properties {
            return Err(format!(
                "products[{p}] has other properties than products[0]"
            ));
        }
    }
    if keys.iter().collect::<BTreeSet<_>>().len() != keys.len() {
        return Err("two products have the same property values".into());
    }
    let readiness = body.readiness_state_on_property.clone().unwrap_or_default();
    let arrays: [(&str, &[u64]); 4] = [
        ("price_on_property", &body.price_on_property),
        ("quantity_on_property", &body.quantity_on_property),
        ("sku_on_property", &body.sku_on_property),
        ("readiness_state_on_property", &readiness),
    ];
    for (name, on) in arrays {
        if let Some(missing) = on.iter().find(|id| !properties.contains(id)) {
            return Err(format!(
                "{name} names property {missing}, which the products do not have"
            ));
        }
    }
    let field =
        |f: fn(&PutProduct) -> String| -> Vec<String> { body.products.iter().map(f).collect() };
    agree(&keys, &body.price_on_property, &field(prices), "price")?;
    agree(
        &keys,
        &body.quantity_on_property,
        &field(quantities),
        "quantity",
    )?;
    agree(
        &keys,
        &body.sku_on_property,
        &field(|p| format!("{:?}", p.sku)),
        "sku",
    )?;
    agree(
        &keys,
        &readiness,
        &field(readiness_ids),
        "readiness_state_id",
    )
}

fn prices(product: &PutProduct) -> String {
    let cents: Vec<Option<i64>> = product
        .offerings
        .iter()
        .map(|o| price_cents(o.price))
        .collect();
    format!("{cents:?}")
}

fn quantities(product: &PutProduct) -> String {
    let quantities: Vec<i64> = product.offerings.iter().map(|o| o.quantity).collect();
    format!("{quantities:?}")
}

fn readiness_ids(product: &PutProduct) -> String {
    let ids: Vec<Option<u64>> = product
        .offerings
        .iter()
        .map(|o| o.readiness_state_id)
        .collect();
    format!("{ids:?}")
}

/// Products whose values agree on the properties `on` must agree on the field.
fn agree(
    keys: &[BTreeMap<u64, &[u64]>],
    on: &[u64],
    values: &[String],
    field: &str,
) -> Result<(), String> {
    let mut seen: HashMap<Vec<&[u64]>, &String> = HashMap::new();
    for (key, value) in keys.iter().zip(values) {
        let projection: Vec<&[u64]> = on.iter().filter_map(|id| key.get(id).copied()).collect();
        match seen.get(&projection) {
            Some(previous) if *previous != value => {
                return Err(format!(
                    "{field} varies between products, but {field}_on_property does not name \
                     the properties it varies on"
                ))
            }
            _ => {
                seen.insert(projection, value);
            }
        }
    }
    Ok(())
}

impl InventoryUpdate {
    /// Whether a product carries `sku`.
    pub fn has_sku(&self, sku: &str) -> bool {
        self.body
            .products
            .iter()
            .any(|product| product.sku.as_deref() == Some(sku))
    }

    /// The inventory this update makes. The product of `own_sku` keeps `own` ids (so that orders'
    /// transactions keep naming it); products whose SKU the listing had before keep their ids;
    /// others get ids from `fresh`.
    pub fn into_inventory(
        self,
        own_sku: &str,
        own: ProductIds,
        previous: Option<&Inventory>,
        mut fresh: impl FnMut() -> u64,
    ) -> Inventory {
        let products = self
            .body
            .products
            .into_iter()
            .map(|product| {
                let kept = product.sku.as_deref().and_then(|sku| {
                    if sku == own_sku {
                        return Some(own);
                    }
                    let old = previous?.product(sku)?;
                    Some(ProductIds {
                        product_id: old.product_id,
                        offering_id: old.offerings.first()?.offering_id,
                    })
                });
                let product_id = kept.map_or_else(&mut fresh, |ids| ids.product_id);
                let offerings = product
                    .offerings
                    .into_iter()
                    .enumerate()
                    .map(|(index, offering)| Offering {
                        offering_id: match (index, kept) {
                            (0, Some(ids)) => ids.offering_id,
                            _ => fresh(),
                        },
                        price_cents: price_cents(offering.price).unwrap_or(DEFAULT_PRICE_CENTS),
                        quantity: offering.quantity,
                        is_enabled: offering.is_enabled,
                        readiness_state_id: offering
                            .readiness_state_id
                            .unwrap_or(DEFAULT_READINESS_STATE_ID),
                    })
                    .collect();
                Product {
                    product_id,
                    sku: product.sku,
                    property_values: product.property_values,
                    offerings,
                }
            })
            .collect();
        Inventory {
            products,
            price_on_property: self.body.price_on_property,
            quantity_on_property: self.body.quantity_on_property,
            sku_on_property: self.body.sku_on_property,
            readiness_state_on_property: self.body.readiness_state_on_property.unwrap_or_default(),
        }
    }
}

#[cfg(test)]
#[path = "inventory_tests.rs"]
mod tests;
