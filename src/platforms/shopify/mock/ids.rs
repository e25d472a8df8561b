//! The Shopify ids the mock hands out: numeric legacy ids derived from the mock's own sequence
//! numbers, and their `gid://shopify/<Type>/<id>` forms (reference §1.1 examples).

/// The shop's `myshopify.com` domain (sent as `X-Shopify-Shop-Domain`).
pub const SHOP_DOMAIN: &str = "shelfsync-mock.myshopify.com";
/// The shop's numeric id.
pub const SHOP_ID: u64 = 60_345_123_001;
/// The one location's numeric id (the id of the reference's example request).
pub const LOCATION_ID: u64 = 124_656_943;
/// The name of the one location.
pub const LOCATION_NAME: &str = "Shelfsync Warehouse";

const INVENTORY_ITEM_BASE: u64 = 44_000_000_000;
const VARIANT_BASE: u64 = 41_000_000_000;
const PRODUCT_BASE: u64 = 8_000_000_000;
const ORDER_BASE: u64 = 5_500_000_000_000;
const LINE_ITEM_BASE: u64 = 13_000_000_000_000;
/// Order names start after `#1000`, as a new shop's do.
const ORDER_NAME_BASE: u64 = 1_000;

/// `gid://shopify/<kind>/<id>`.
pub fn gid(kind: &str, id: u64) -> String {
    format!("gid://shopify/{kind}/{id}")
}

/// The numeric id of a `gid://shopify/<kind>/<id>` (query string ignored), or `None`.
pub fn parse_gid(kind: &str, gid: &str) -> Option<u64> {
    let rest = gid.strip_prefix("gid://shopify/")?.strip_prefix(kind)?;
    let id = rest.strip_prefix('/')?;
    let id = id.split('?').next()?;
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    id.parse().ok()
}

/// The inventory item id of listing `number`.
pub fn inventory_item_id(number: u64) -> u64 {
    INVENTORY_ITEM_BASE + number
}

/// The variant id of listing `number`.
pub fn variant_id(number: u64) -> u64 {
    VARIANT_BASE + number
}

/// The product id of listing `number` (one variant per product).
pub fn product_id(number: u64) -> u64 {
    PRODUCT_BASE + number
}

/// The numeric order id of order `number`.
pub fn order_id(number: u64) -> u64 {
    ORDER_BASE + number
}

/// The order's name (`#1001`, ...).
pub fn order_name(number: u64) -> String {
    format!("#{}", ORDER_NAME_BASE + number)
}

/// The id of the one line item of order `number`.
pub fn line_item_id(number: u64) -> u64 {
    LINE_ITEM_BASE + number
}

/// The listing number behind a numeric id of `kind` (`InventoryItem`, `ProductVariant`,
/// `Product`), or `None` for any other id.
pub fn listing_number(kind: &str, id: u64) -> Option<u64> {
    let base = match kind {
        "InventoryItem" => INVENTORY_ITEM_BASE,
        "ProductVariant" => VARIANT_BASE,
        "Product" => PRODUCT_BASE,
        _ => return None,
    };
    id.checked_sub(base)
        .filter(|number| *number > 0 && *number < 1_000_000_000)
}

/// The location's gid.
pub fn location_gid() -> String {
    gid("Location", LOCATION_ID)
}

/// The gid of the inventory level of listing `number` at the location (Shopify's form).
pub fn inventory_level_gid(number: u64) -> String {
    format!(
        "gid://shopify/InventoryLevel/{LOCATION_ID}?inventory_item_id={}",
        inventory_item_id(number)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gids_round_trip_and_refuse_other_kinds() {
        let item = gid("InventoryItem", inventory_item_id(7));
        assert_eq!(item, "gid://shopify/InventoryItem/44000000007");
        assert_eq!(parse_gid("InventoryItem", &item), Some(44_000_000_007));
        assert_eq!(parse_gid("Location", &item), None);
        assert_eq!(
            parse_gid("InventoryItem", "gid://shopify/InventoryItem/"),
            None
        );
        assert_eq!(
            parse_gid("InventoryItem", "gid://shopify/InventoryItemX/1"),
            None
        );
        assert_eq!(
            parse_gid("InventoryLevel", &inventory_level_gid(1)),
            Some(LOCATION_ID)
        );
        assert_eq!(order_name(1), "#1001");
    }
}
