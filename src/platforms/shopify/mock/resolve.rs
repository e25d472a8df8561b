//! Running a checked GraphQL operation against the world: the objects of the served schema,
//! their fields (arguments honoured), the projection of each object onto the selection (aliases,
//! fragments and `__typename` included, nothing unselected returned) and the
//! `inventorySetQuantities` mutation with `@idempotent`.

use chrono::{DateTime, Utc};
use serde_json::{json, Map, Value};

use super::graphql::{
    argument, collect_fields, edge_type, page_size, response_key, Ctx, Field, GqlError,
    SelectionSet,
};
use super::ids;
use super::inventory::{AdjustmentGroup, Change, SetPayload, UserError};
use super::orders::{self, decode_cursor, encode_cursor, PageRequest, SortKey};
use crate::platforms::mock::world::{Listing, Order, OrderStatus};
use crate::platforms::mock::{rfc3339, World};

#[path = "resolve_mutation.rs"]
mod mutation;
pub use self::mutation::{execute, MutationEnv, Outcome};

/// The inventory quantity names Shopify knows; the mock holds only `available` (= `on_hand`),
/// the others read 0.
pub const QUANTITY_NAMES: &[&str] = &[
    "available",
    "on_hand",
    "committed",
    "reserved",
    "incoming",
    "damaged",
    "safety_stock",
    "quality_control",
];

/// What an inventory item, level or variant shows of its listing.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    number: u64,
    sku: String,
    quantity: i64,
    updated_at: DateTime<Utc>,
}

impl Item {
    fn of(listing: &Listing) -> Item {
        Item {
            number: listing.number,
            sku: listing.sku.clone(),
            quantity: listing.quantity,
            updated_at: listing.updated_at,
        }
    }

    fn gid(&self) -> String {
        ids::gid("InventoryItem", ids::inventory_item_id(self.number))
    }
}

/// A page of a connection.
#[derive(Debug, Clone, PartialEq)]
pub struct Connection {
    type_name: &'static str,
    edges: Vec<(String, Entity)>,
    has_next: bool,
    has_previous: bool,
}

/// An object of the served schema.
#[derive(Debug, Clone, PartialEq)]
pub enum Entity {
    /// `QueryRoot`.
    QueryRoot,
    /// `Shop`.
    Shop,
    /// `Location`.
    Location,
    /// `InventoryItem`.
    Item(Item),
    /// `InventoryLevel` of the item at the location.
    Level(Item),
    /// `InventoryQuantity`.
    Quantity(Item, &'static str),
    /// `ProductVariant`.
    Variant(Item),
    /// `Product`.
    Product(Item),
    /// `Order`.
    Order(Order),
    /// `LineItem` (the one line of an order).
    LineItem(Order),
    /// `InventorySetQuantitiesPayload`.
    Payload(SetPayload),
    /// `InventoryAdjustmentGroup`.
    Group(AdjustmentGroup),
    /// `InventoryChange`.
    Change(Change),
    /// `InventorySetQuantitiesUserError`.
    UserError(UserError),
    /// A connection page.
    Connection(Connection),
    /// An edge: cursor and node, of a connection type.
    Edge(&'static str, String, Box<Entity>),
    /// `PageInfo` of a connection page.
    PageInfo(Connection),
}

impl Entity {
    /// The GraphQL type name (`__typename`).
    pub fn type_name(&self) -> &'static str {
        match self {
            Entity::QueryRoot => "QueryRoot",
            Entity::Shop => "Shop",
            Entity::Location => "Location",
            Entity::Item(_) => "InventoryItem",
            Entity::Level(_) => "InventoryLevel",
            Entity::Quantity(..) => "InventoryQuantity",
            Entity::Variant(_) => "ProductVariant",
            Entity::Product(_) => "Product",
            Entity::Order(_) => "Order",
            Entity::LineItem(_) => "LineItem",
            Entity::Payload(_) => "InventorySetQuantitiesPayload",
            Entity::Group(_) => "InventoryAdjustmentGroup",
            Entity::Change(_) => "InventoryChange",
            Entity::UserError(_) => "InventorySetQuantitiesUserError",
            Entity::Connection(connection) => connection.type_name,
            Entity::Edge(type_name, ..) => edge_type(type_name),
            Entity::PageInfo(_) => "PageInfo",
        }
    }
}

/// What a field resolves to before projection.
#[derive(Debug)]
enum Out {
    Leaf(Value),
    Object(Entity),
    List(Vec<Out>),
}

fn leaf(value: impl Into<Value>) -> Result<Out, GqlError> {
    Ok(Out::Leaf(value.into()))
}

fn object_or_null(entity: Option<Entity>) -> Result<Out, GqlError> {
    Ok(entity.map_or(Out::Leaf(Value::Null), Out::Object))
}

fn missing_argument(field: &Field, name: &str) -> GqlError {
    GqlError::coded(
        format!(
            "Field '{}' is missing required arguments: {name}",
            field.name
        ),
        "missingRequiredArguments",
    )
}

fn required_string(field: &Field, name: &str, ctx: &Ctx<'_>) -> Result<String, GqlError> {
    match argument(&field.arguments, name, ctx)? {
        Some(Value::String(text)) => Ok(text),
        None | Some(Value::Null) => Err(missing_argument(field, name)),
        Some(other) => Err(GqlError::coded(
            format!("Argument '{name}' on Field '{}' has an invalid value ({other}). Expected type 'ID!'.", field.name),
            "argumentLiteralsIncompatible",
        )),
    }
}

/// Runs queries over a world (reads only) and projects the results.
struct Exec<'w, 'c, 'd> {
    world: &'w World,
    ctx: &'c Ctx<'d>,
    errors: Vec<GqlError>,
}

impl<'d> Exec<'_, '_, 'd> {
    /// `entity` with exactly the fields `selection` asks for, under their response keys.
    fn project(
        &mut self,
        entity: &Entity,
        selection: &'d SelectionSet,
        path: &mut Vec<Value>,
    ) -> Value {
        let fields = match collect_fields(selection, entity.type_name(), self.ctx) {
            Ok(fields) => fields,
            Err(error) => {
                self.errors.push(error.at(path));
                return Value::Null;
            }
        };
        let mut object = Map::new();
        for (field, _) in fields {
            let key = response_key(field).to_string();
            path.push(Value::String(key.clone()));
            let value = if field.name == "__typename" {
                Value::String(entity.type_name().to_string())
            } else {
                match self.resolve(entity, field) {
                    Ok(out) => self.complete(out, &field.selection_set, path),
                    Err(error) => {
                        self.errors.push(error.at(path));
                        Value::Null
                    }
                }
            };
            path.pop();
            object.insert(key, value);
        }
        Value::Object(object)
    }

    fn complete(&mut self, out: Out, selection: &'d SelectionSet, path: &mut Vec<Value>) -> Value {
        match out {
            Out::Leaf(value) => value,
            Out::Object(entity) => self.project(&entity, selection, path),
            Out::List(items) => Value::Array(
                items
                    .into_iter()
                    .enumerate()
                    .map(|(index, item)| {
                        path.push(json!(index));
                        let value = self.complete(item, selection, path);
                        path.pop();
                        value
                    })
                    .collect(),
            ),
        }
    }

    fn item(&self, number: u64) -> Option<Item> {
        self.world.listing(number).map(Item::of)
    }

    fn resolve(&self, entity: &Entity, field: &Field) -> Result<Out, GqlError> {
        let name = field.name.as_str();
        match entity {
            Entity::QueryRoot => self.resolve_root(field),
            Entity::Shop => leaf(match name {
                "id" => json!(ids::gid("Shop", ids::SHOP_ID)),
                "name" => json!("Shelfsync Mock"),
                "myshopifyDomain" => json!(ids::SHOP_DOMAIN),
                "currencyCode" => json!("USD"),
                _ => Value::Null,
            }),
            Entity::Location => leaf(match name {
                "id" => json!(ids::location_gid()),
                "legacyResourceId" => json!(ids::LOCATION_ID.to_string()),
                "name" => json!(ids::LOCATION_NAME),
                "isActive" => json!(true),
                _ => Value::Null,
            }),
            Entity::Item(item) => self.resolve_item(item, field),
            Entity::Level(item) => self.resolve_level(item, field),
            Entity::Quantity(item, quantity_name) => leaf(match name {
                "id" => json!(format!(
                    "gid://shopify/InventoryQuantity/{}?inventory_item_id={}&name={quantity_name}",
                    ids::LOCATION_ID,
                    ids::inventory_item_id(item.number)
                )),
                "name" => json!(quantity_name),
                "quantity" => json!(quantity_of(item, quantity_name)),
                "updatedAt" => json!(rfc3339(item.updated_at)),
                _ => Value::Null,
            }),
            Entity::Variant(item) => match name {
                "product" => Ok(Out::Object(Entity::Product(item.clone()))),
                "inventoryItem" => Ok(Out::Object(Entity::Item(item.clone()))),
                _ => leaf(match name {
                    "id" => json!(ids::gid("ProductVariant", ids::variant_id(item.number))),
                    "legacyResourceId" => json!(ids::variant_id(item.number).to_string()),
                    "sku" => json!(item.sku),
                    "title" => json!("Default Title"),
                    "inventoryQuantity" => json!(item.quantity),
                    _ => Value::Null,
                }),
            },
            Entity::Product(item) => leaf(match name {
                "id" => json!(ids::gid("Product", ids::product_id(item.number))),
                "legacyResourceId" => json!(ids::product_id(item.number).to_string()),
                "title" => json!(format!("Product {}", item.sku)),
                "handle" => json!(format!("product-{}", item.number)),
                _ => Value::Null,
            }),
            Entity::Order(order) => self.resolve_order(order, field),
            Entity::LineItem(order) => match name {
                "variant" => object_or_null(self.item(order.listing_number).map(Entity::Variant)),
                _ => leaf(match name {
                    "id" => json!(ids::gid("LineItem", ids::line_item_id(order.number))),
                    "sku" => json!(order.sku),
                    "name" | "title" => json!(format!("Item {}", order.sku)),
                    "quantity" => json!(order.quantity),
                    "currentQuantity" => json!(if order.status == OrderStatus::Cancelled {
                        0
                    } else {
                        order.quantity
                    }),
                    _ => Value::Null,
                }),
            },
            Entity::Payload(payload) => match name {
                "inventoryAdjustmentGroup" => {
                    object_or_null(payload.group.clone().map(Entity::Group))
                }
                _ => Ok(Out::List(
                    payload
                        .user_errors
                        .iter()
                        .map(|error| Out::Object(Entity::UserError(error.clone())))
                        .collect(),
                )),
            },
            Entity::Group(group) => match name {
                "changes" => Ok(Out::List(
                    group
                        .changes
                        .iter()
                        .map(|change| Out::Object(Entity::Change(change.clone())))
                        .collect(),
                )),
                _ => leaf(match name {
                    "id" => json!(ids::gid("InventoryAdjustmentGroup", group.id)),
                    "createdAt" => json!(rfc3339(group.created_at)),
                    "reason" => json!(group.reason),
                    "referenceDocumentUri" => json!(group.reference_document_uri),
                    _ => Value::Null,
                }),
            },
            Entity::Change(change) => match name {
                "item" => object_or_null(self.item(change.listing).map(Entity::Item)),
                "location" => Ok(Out::Object(Entity::Location)),
                _ => leaf(match name {
                    "name" => json!(change.name),
                    "delta" => json!(change.delta),
                    "quantityAfterChange" => json!(change.quantity_after_change),
                    _ => Value::Null,
                }),
            },
            Entity::UserError(error) => leaf(match name {
                "code" => json!(error.code),
                "field" => json!(error.field),
                "message" => json!(error.message),
                _ => Value::Null,
            }),
            Entity::Connection(connection) => resolve_connection(connection, name),
            Entity::Edge(_, cursor, node) => match name {
                "cursor" => leaf(cursor.clone()),
                _ => Ok(Out::Object((**node).clone())),
            },
            Entity::PageInfo(connection) => leaf(match name {
                "hasNextPage" => json!(connection.has_next),
                "hasPreviousPage" => json!(connection.has_previous),
                "startCursor" => json!(connection.edges.first().map(|(cursor, _)| cursor)),
                "endCursor" => json!(connection.edges.last().map(|(cursor, _)| cursor)),
                _ => Value::Null,
            }),
        }
    }

    fn resolve_root(&self, field: &Field) -> Result<Out, GqlError> {
        match field.name.as_str() {
            "shop" => Ok(Out::Object(Entity::Shop)),
            "location" => {
                let id = required_string(field, "id", self.ctx)?;
                object_or_null((id == ids::location_gid()).then_some(Entity::Location))
            }
            "inventoryItem" => {
                let id = required_string(field, "id", self.ctx)?;
                object_or_null(
                    self.world
                        .listing_by_ref(&id)
                        .map(|l| Entity::Item(Item::of(l))),
                )
            }
            "inventoryLevel" => {
                let id = required_string(field, "id", self.ctx)?;
                object_or_null(self.level_by_gid(&id))
            }
            "node" => {
                let id = required_string(field, "id", self.ctx)?;
                object_or_null(self.node(&id))
            }
            "nodes" => {
                let ids = match argument(&field.arguments, "ids", self.ctx)? {
                    Some(Value::Array(ids)) => ids,
                    _ => return Err(missing_argument(field, "ids")),
                };
                Ok(Out::List(
                    ids.iter()
                        .map(|id| {
                            id.as_str()
                                .and_then(|id| self.node(id))
                                .map_or(Out::Leaf(Value::Null), Out::Object)
                        })
                        .collect(),
                ))
            }
            "order" => {
                let id = required_string(field, "id", self.ctx)?;
                object_or_null(self.order_by_gid(&id).map(Entity::Order))
            }
            "orders" => self.orders(field),
            "inventoryItems" => self.inventory_items(field),
            _ => leaf(Value::Null),
        }
    }

    fn level_by_gid(&self, id: &str) -> Option<Entity> {
        let location = ids::parse_gid("InventoryLevel", id)?;
        let item = id
            .split_once("?inventory_item_id=")?
            .1
            .parse::<u64>()
            .ok()?;
        let number = ids::listing_number("InventoryItem", item)?;
        (location == ids::LOCATION_ID)
            .then(|| self.item(number).map(Entity::Level))
            .flatten()
    }

    fn order_by_gid(&self, id: &str) -> Option<Order> {
        let legacy = ids::parse_gid("Order", id)?;
        self.world.order(&legacy.to_string()).cloned()
    }

    fn node(&self, id: &str) -> Option<Entity> {
        let kind = id.strip_prefix("gid://shopify/")?.split('/').next()?;
        match kind {
            "InventoryItem" | "ProductVariant" | "Product" => {
                let number = ids::listing_number(kind, ids::parse_gid(kind, id)?)?;
                let item = self.item(number)?;
                Some(match kind {
                    "InventoryItem" => Entity::Item(item),
                    "ProductVariant" => Entity::Variant(item),
                    _ => Entity::Product(item),
                })
            }
            "InventoryLevel" => self.level_by_gid(id),
            "Order" => self.order_by_gid(id).map(Entity::Order),
            "Location" => (id == ids::location_gid()).then_some(Entity::Location),
            _ => None,
        }
    }

    fn resolve_item(&self, item: &Item, field: &Field) -> Result<Out, GqlError> {
        match field.name.as_str() {
            "inventoryLevel" => {
                let location = required_string(field, "locationId", self.ctx)?;
                object_or_null(
                    (location == ids::location_gid()).then(|| Entity::Level(item.clone())),
                )
            }
            "inventoryLevels" => {
                let size = page_size(field, self.ctx)?;
                let cursor = encode_cursor((0, ids::LOCATION_ID));
                let edges = if size > 0 {
                    vec![(cursor, Entity::Level(item.clone()))]
                } else {
                    vec![]
                };
                Ok(Out::Object(Entity::Connection(Connection {
                    type_name: "InventoryLevelConnection",
                    edges,
                    has_next: false,
                    has_previous: false,
                })))
            }
            "variant" => Ok(Out::Object(Entity::Variant(item.clone()))),
            name => leaf(match name {
                "id" => json!(item.gid()),
                "legacyResourceId" => json!(ids::inventory_item_id(item.number).to_string()),
                "sku" => json!(item.sku),
                "tracked" | "requiresShipping" => json!(true),
                "createdAt" | "updatedAt" => json!(rfc3339(item.updated_at)),
                _ => Value::Null,
            }),
        }
    }

    fn resolve_level(&self, item: &Item, field: &Field) -> Result<Out, GqlError> {
        match field.name.as_str() {
            "quantities" => {
                let names = match argument(&field.arguments, "names", self.ctx)? {
                    Some(Value::Array(names)) => names,
                    Some(Value::String(name)) => vec![Value::String(name)],
                    _ => return Err(missing_argument(field, "names")),
                };
                let mut quantities = Vec::new();
                for name in names {
                    let known = name
                        .as_str()
                        .and_then(|name| QUANTITY_NAMES.iter().find(|known| **known == name));
                    let Some(known) = known else {
                        return Err(GqlError::coded(
                            format!("{name} is not a valid inventory quantity name"),
                            "INVALID_QUANTITY_NAME",
                        ));
                    };
                    quantities.push(Out::Object(Entity::Quantity(item.clone(), known)));
                }
                Ok(Out::List(quantities))
            }
            "item" => Ok(Out::Object(Entity::Item(item.clone()))),
            "location" => Ok(Out::Object(Entity::Location)),
            name => leaf(match name {
                "id" => json!(ids::inventory_level_gid(item.number)),
                "createdAt" | "updatedAt" => json!(rfc3339(item.updated_at)),
                "canDeactivate" => json!(false),
                _ => Value::Null,
            }),
        }
    }

    fn resolve_order(&self, order: &Order, field: &Field) -> Result<Out, GqlError> {
        let cancelled = order.status == OrderStatus::Cancelled;
        match field.name.as_str() {
            "lineItems" => {
                let size = page_size(field, self.ctx)?;
                let cursor = encode_cursor((0, ids::line_item_id(order.number)));
                let edges = if size > 0 {
                    vec![(cursor, Entity::LineItem(order.clone()))]
                } else {
                    vec![]
                };
                Ok(Out::Object(Entity::Connection(Connection {
                    type_name: "LineItemConnection",
                    edges,
                    has_next: false,
                    has_previous: false,
                })))
            }
            name => leaf(match name {
                "id" => json!(ids::gid("Order", ids::order_id(order.number))),
                "legacyResourceId" => json!(ids::order_id(order.number).to_string()),
                "name" => json!(ids::order_name(order.number)),
                "createdAt" => json!(rfc3339(order.created_at)),
                "updatedAt" => json!(rfc3339(order.updated_at)),
                "cancelledAt" => json!(cancelled.then(|| rfc3339(order.updated_at))),
                "cancelReason" => json!(cancelled.then_some("CUSTOMER")),
                "closed" => json!(false),
                "displayFinancialStatus" => json!(if cancelled { "REFUNDED" } else { "PAID" }),
                "displayFulfillmentStatus" => json!("UNFULFILLED"),
                _ => Value::Null,
            }),
        }
    }

    fn page_request(&self, field: &Field) -> Result<PageRequest, GqlError> {
        let size = page_size(field, self.ctx)? as usize;
        let from_start =
            argument(&field.arguments, "first", self.ctx)?.is_some_and(|first| !first.is_null());
        let cursor = |name: &str| -> Result<Option<(i64, u64)>, GqlError> {
            match argument(&field.arguments, name, self.ctx)? {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(text)) => decode_cursor(&text).map(Some).ok_or_else(|| {
                    GqlError::coded(
                        format!("Invalid cursor for current pagination sort: {text:?}"),
                        "INVALID_CURSOR",
                    )
                }),
                Some(_) => Err(GqlError::coded("A cursor is a string", "INVALID_CURSOR")),
            }
        };
        let reverse = argument(&field.arguments, "reverse", self.ctx)?
            .and_then(|reverse| reverse.as_bool())
            .unwrap_or(false);
        Ok(PageRequest {
            from_start,
            size,
            after: cursor("after")?,
            before: cursor("before")?,
            reverse,
        })
    }

    fn orders(&self, field: &Field) -> Result<Out, GqlError> {
        let request = self.page_request(field)?;
        let filter = match argument(&field.arguments, "query", self.ctx)? {
            Some(Value::String(query)) => orders::parse_order_query(&query)
                .map_err(|message| GqlError::coded(message, "INVALID_SEARCH_QUERY"))?,
            _ => orders::OrderFilter::all(),
        };
        let sort = match argument(&field.arguments, "sortKey", self.ctx)? {
            None | Some(Value::Null) => SortKey::Id,
            Some(Value::String(key)) => SortKey::parse(&key).ok_or_else(|| {
                GqlError::coded(
                    format!("sortKey {key} is not ID, CREATED_AT or UPDATED_AT in the mock"),
                    "argumentLiteralsIncompatible",
                )
            })?,
            Some(other) => {
                return Err(GqlError::coded(
                    format!("sortKey {other} is not an OrderSortKeys value"),
                    "argumentLiteralsIncompatible",
                ))
            }
        };
        let matching: Vec<_> = self
            .world
            .orders()
            .iter()
            .filter(|order| filter.matches(order))
            .map(|order| (orders::sort_key(order, sort), order))
            .collect();
        let page = orders::page(matching, request);
        Ok(Out::Object(Entity::Connection(Connection {
            type_name: "OrderConnection",
            edges: page
                .items
                .into_iter()
                .map(|(position, order)| (encode_cursor(position), Entity::Order(order.clone())))
                .collect(),
            has_next: page.has_next,
            has_previous: page.has_previous,
        })))
    }

    fn inventory_items(&self, field: &Field) -> Result<Out, GqlError> {
        let request = self.page_request(field)?;
        let sku = match argument(&field.arguments, "query", self.ctx)? {
            Some(Value::String(query)) if !query.trim().is_empty() => {
                let Some(sku) = query.trim().strip_prefix("sku:") else {
                    return Err(GqlError::coded(
                        format!("search {query:?}: the mock filters inventory items by sku: only"),
                        "INVALID_SEARCH_QUERY",
                    ));
                };
                Some(sku.trim_matches(|ch| ch == '\'' || ch == '"').to_string())
            }
            _ => None,
        };
        let matching: Vec<_> = self
            .world
            .listings()
            .filter(|listing| sku.as_deref().is_none_or(|sku| listing.sku == sku))
            .map(|listing| {
                let id = ids::inventory_item_id(listing.number);
                ((id as i64, id), listing)
            })
            .collect();
        let page = orders::page(matching, request);
        Ok(Out::Object(Entity::Connection(Connection {
            type_name: "InventoryItemConnection",
            edges: page
                .items
                .into_iter()
                .map(|(position, listing)| {
                    (encode_cursor(position), Entity::Item(Item::of(listing)))
                })
                .collect(),
            has_next: page.has_next,
            has_previous: page.has_previous,
        })))
    }
}

fn quantity_of(item: &Item, name: &str) -> i64 {
    match name {
        "available" | "on_hand" => item.quantity,
        _ => 0,
    }
}

fn resolve_connection(connection: &Connection, name: &str) -> Result<Out, GqlError> {
    match name {
        "edges" => Ok(Out::List(
            connection
                .edges
                .iter()
                .map(|(cursor, node)| {
                    Out::Object(Entity::Edge(
                        connection.type_name,
                        cursor.clone(),
                        Box::new(node.clone()),
                    ))
                })
                .collect(),
        )),
        "nodes" => Ok(Out::List(
            connection
                .edges
                .iter()
                .map(|(_, node)| Out::Object(node.clone()))
                .collect(),
        )),
        _ => Ok(Out::Object(Entity::PageInfo(connection.clone()))),
    }
}
