//! The mock's inventory calls (§6.1): the update of many SKUs of one product, and the search.

use std::collections::BTreeMap;

use actix_web::{web, HttpRequest, HttpResponse};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{
    invalid, not_found, ok, operation, TikTokWire, MAX_QUANTITY, MAX_SEARCH_IDS, WAREHOUSE_ID,
};
use crate::platforms::mock::world::{Listing, World};
use crate::platforms::mock::MockState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WarehouseQuantity {
    warehouse_id: String,
    quantity: i64,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SkuInventory {
    id: String,
    inventory: Vec<WarehouseQuantity>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UpdateBody {
    skus: Vec<SkuInventory>,
}

/// The id a listing is known by in the wire format.
fn id_of<'l>(listing: &'l Listing, key: &str) -> &'l str {
    listing.ids[key].as_str().unwrap_or_default()
}

/// The listings of `product_id`, by SKU id.
fn product_listings(world: &World, product_id: &str) -> BTreeMap<String, u64> {
    world
        .listings()
        .filter(|listing| id_of(listing, "product_id") == product_id)
        .map(|listing| (id_of(listing, "sku_id").to_string(), listing.number))
        .collect()
}

/// `POST /product/202309/products/{product_id}/inventory/update`: sets the quantity of each SKU
/// named, all or nothing.
pub(super) async fn update_inventory(
    state: web::Data<MockState>,
    wire: web::Data<TikTokWire>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let product_id = request.match_info().get("product_id").unwrap_or_default();
    let body: UpdateBody = match wire
        .admit_json(&state, &request, operation::UPDATE_INVENTORY, &body)
        .await
    {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    if body.skus.is_empty() {
        return invalid("skus must name at least one SKU");
    }
    let now = state.now();
    let mut world = state.world();
    let listings = product_listings(&world, product_id);
    if listings.is_empty() {
        return not_found(&format!("product {product_id} does not exist"));
    }
    let mut changes = BTreeMap::new();
    for sku in &body.skus {
        let Some(&number) = listings.get(&sku.id) else {
            return not_found(&format!(
                "sku {} is not a SKU of product {product_id}",
                sku.id
            ));
        };
        let [entry] = sku.inventory.as_slice() else {
            return invalid(&format!("sku {}: give one warehouse's inventory", sku.id));
        };
        if entry.warehouse_id != WAREHOUSE_ID {
            return not_found(&format!("warehouse {} does not exist", entry.warehouse_id));
        }
        if !(0..=MAX_QUANTITY).contains(&entry.quantity) {
            return invalid(&format!(
                "sku {}: quantity must be 0 to {MAX_QUANTITY}",
                sku.id
            ));
        }
        if changes.insert(number, entry.quantity).is_some() {
            return invalid(&format!("sku {} is named twice", sku.id));
        }
    }
    for (number, quantity) in changes {
        world.set_quantity(number, quantity, now);
    }
    ok(json!({}))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct SearchBody {
    #[serde(default)]
    sku_ids: Vec<String>,
    #[serde(default)]
    product_ids: Vec<String>,
}

/// One SKU as the search shows it.
fn sku_json(listing: &Listing) -> Value {
    json!({
        "id": id_of(listing, "sku_id"),
        "seller_sku": listing.sku,
        "total_available_quantity": listing.quantity,
        "total_committed_quantity": 0,
        "warehouse_inventory": [{
            "warehouse_id": WAREHOUSE_ID,
            "available_quantity": listing.quantity,
            "committed_quantity": 0,
        }],
    })
}

/// `POST /product/202309/inventory/search`: the inventory of the SKUs or products named (one of
/// the two lists), grouped by product; ids that do not exist are left out.
pub(super) async fn search_inventory(
    state: web::Data<MockState>,
    wire: web::Data<TikTokWire>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    let body: SearchBody = match wire
        .admit_json(&state, &request, operation::SEARCH_INVENTORY, &body)
        .await
    {
        Ok(body) => body,
        Err(reply) => return reply,
    };
    let (key, ids) = match (body.sku_ids.is_empty(), body.product_ids.is_empty()) {
        (false, true) => ("sku_id", body.sku_ids),
        (true, false) => ("product_id", body.product_ids),
        _ => return invalid("give either sku_ids or product_ids"),
    };
    if ids.len() > MAX_SEARCH_IDS {
        return invalid(&format!("at most {MAX_SEARCH_IDS} ids"));
    }
    let world = state.world();
    let mut products: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for listing in world
        .listings()
        .filter(|listing| ids.iter().any(|id| id == id_of(listing, key)))
    {
        products
            .entry(id_of(listing, "product_id").to_string())
            .or_default()
            .push(sku_json(listing));
    }
    let inventory: Vec<Value> = products
        .into_iter()
        .map(|(product_id, skus)| json!({ "product_id": product_id, "skus": skus }))
        .collect();
    ok(json!({ "inventory": inventory }))
}
