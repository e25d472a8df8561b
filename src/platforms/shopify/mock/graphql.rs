//! The GraphQL side of the Shopify mock without HTTP or world: the request envelope, choosing the
//! operation, variables and arguments, fragments and `@skip`/`@include`, the slice of the Admin
//! schema the mock serves (to refuse unknown fields the way Shopify does) and the static query
//! cost of reference §1.3.

use std::collections::HashMap;

use graphql_parser::query as q;
use serde_json::{json, Map, Value};

/// A parsed document (owned strings).
pub type Document = q::Document<'static, String>;
/// A selection set.
pub type SelectionSet = q::SelectionSet<'static, String>;
/// A field of a selection set.
pub type Field = q::Field<'static, String>;

/// The most points one query may request, whatever the plan (reference §1.3).
pub const MAX_QUERY_COST: u64 = 1000;
/// The flat cost of a mutation field (reference §1.1 and §1.3).
pub const MUTATION_COST: u64 = 10;
/// The largest `first`/`last` of a connection and the longest input array (reference §1.1).
pub const MAX_PAGE_SIZE: i64 = 250;
/// How deep fragment spreads may nest (a cycle is refused rather than followed).
const MAX_FRAGMENT_DEPTH: usize = 16;

/// One entry of the `errors` array of a GraphQL reply.
#[derive(Debug, Clone, PartialEq)]
pub struct GqlError {
    /// `message`.
    pub message: String,
    /// `extensions` (its `code` among them), when any.
    pub extensions: Option<Value>,
    /// `path` of the field that failed, when any.
    pub path: Option<Vec<Value>>,
}

impl GqlError {
    /// An error with a message and an `extensions.code`.
    pub fn coded(message: impl Into<String>, code: &str) -> GqlError {
        GqlError {
            message: message.into(),
            extensions: Some(json!({ "code": code })),
            path: None,
        }
    }

    /// The same error at `path`.
    pub fn at(mut self, path: &[Value]) -> GqlError {
        if self.path.is_none() {
            self.path = Some(path.to_vec());
        }
        self
    }

    /// Its JSON form.
    pub fn to_json(&self) -> Value {
        let mut error = json!({ "message": self.message });
        if let Some(path) = &self.path {
            error["path"] = Value::Array(path.clone());
        }
        if let Some(extensions) = &self.extensions {
            error["extensions"] = extensions.clone();
        }
        error
    }
}

/// The body of `POST graphql.json`.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphqlRequest {
    /// The document.
    pub query: String,
    /// `variables` (an absent or null one is empty).
    pub variables: Map<String, Value>,
    /// `operationName`.
    pub operation_name: Option<String>,
}

/// Reads the request envelope from raw bytes; `Err` when it is not JSON, not an object, or has no
/// string `query` (Shopify's 400 "Required parameter missing or invalid").
pub fn parse_request(body: &[u8]) -> Result<GraphqlRequest, String> {
    let value: Value = serde_json::from_slice(body).map_err(|error| error.to_string())?;
    let Value::Object(mut object) = value else {
        return Err("the body is not a JSON object".into());
    };
    let Some(Value::String(query)) = object.remove("query") else {
        return Err("query is missing or not a string".into());
    };
    let variables = match object.remove("variables") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(variables)) => variables,
        // Some clients send the variables as a JSON string.
        Some(Value::String(text)) => match serde_json::from_str(&text) {
            Ok(Value::Object(variables)) => variables,
            _ => return Err("variables is not a JSON object".into()),
        },
        Some(_) => return Err("variables is not a JSON object".into()),
    };
    let operation_name = match object.remove("operationName") {
        None | Some(Value::Null) => None,
        Some(Value::String(name)) => Some(name),
        Some(_) => return Err("operationName is not a string".into()),
    };
    Ok(GraphqlRequest {
        query,
        variables,
        operation_name,
    })
}

/// Query or mutation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OperationKind {
    /// A query (`QueryRoot`).
    Query,
    /// A mutation (`Mutation`).
    Mutation,
}

impl OperationKind {
    /// The root type's name.
    pub fn root_type(self) -> &'static str {
        match self {
            OperationKind::Query => "QueryRoot",
            OperationKind::Mutation => "Mutation",
        }
    }
}

/// The operation to run with what its fields need: fragments and variable values.
#[derive(Debug)]
pub struct Operation<'d> {
    /// Query or mutation.
    pub kind: OperationKind,
    /// The root selection.
    pub selection: &'d SelectionSet,
    /// What fields read their arguments and fragments from.
    pub ctx: Ctx<'d>,
}

/// Fragments and variable values of one operation.
#[derive(Debug)]
pub struct Ctx<'d> {
    fragments: HashMap<&'d str, &'d q::FragmentDefinition<'static, String>>,
    /// The variable values after defaults.
    pub variables: Map<String, Value>,
}

/// Chooses the operation of `document` named `name` (or its only one) and resolves its variables.
pub fn select_operation<'d>(
    document: &'d Document,
    name: Option<&str>,
    provided: &Map<String, Value>,
) -> Result<Operation<'d>, GqlError> {
    let mut fragments = HashMap::new();
    let mut operations = Vec::new();
    for definition in &document.definitions {
        match definition {
            q::Definition::Fragment(fragment) => {
                fragments.insert(fragment.name.as_str(), fragment);
            }
            q::Definition::Operation(operation) => operations.push(operation),
        }
    }
    let named = |operation: &&'d q::OperationDefinition<'static, String>| -> Option<&'d str> {
        match *operation {
            q::OperationDefinition::Query(query) => query.name.as_deref(),
            q::OperationDefinition::Mutation(mutation) => mutation.name.as_deref(),
            q::OperationDefinition::Subscription(subscription) => subscription.name.as_deref(),
            q::OperationDefinition::SelectionSet(_) => None,
        }
    };
    let chosen = match name {
        Some(name) => operations
            .iter()
            .find(|operation| named(operation) == Some(name))
            .ok_or_else(|| {
                GqlError::coded(
                    format!("No operation named \"{name}\""),
                    "operationNotFound",
                )
            })?,
        None if operations.len() == 1 => &operations[0],
        None => {
            return Err(GqlError::coded(
                "An operation name is required",
                "operationNameRequired",
            ))
        }
    };
    let (kind, selection, definitions) = match *chosen {
        q::OperationDefinition::SelectionSet(selection) => {
            (OperationKind::Query, selection, &[][..])
        }
        q::OperationDefinition::Query(query) => (
            OperationKind::Query,
            &query.selection_set,
            &query.variable_definitions[..],
        ),
        q::OperationDefinition::Mutation(mutation) => (
            OperationKind::Mutation,
            &mutation.selection_set,
            &mutation.variable_definitions[..],
        ),
        q::OperationDefinition::Subscription(_) => {
            return Err(GqlError::coded(
                "Subscriptions are not supported by the Admin API",
                "operationNotSupported",
            ))
        }
    };
    let variables = resolve_variables(definitions, provided)?;
    Ok(Operation {
        kind,
        selection,
        ctx: Ctx {
            fragments,
            variables,
        },
    })
}

fn type_text(var_type: &q::Type<'_, String>) -> String {
    match var_type {
        q::Type::NamedType(name) => name.clone(),
        q::Type::ListType(inner) => format!("[{}]", type_text(inner)),
        q::Type::NonNullType(inner) => format!("{}!", type_text(inner)),
    }
}

/// The values of the declared variables: given, else the default, else null (refused when the
/// type is non-null, as Shopify's `INVALID_VARIABLE`).
pub fn resolve_variables(
    definitions: &[q::VariableDefinition<'_, String>],
    provided: &Map<String, Value>,
) -> Result<Map<String, Value>, GqlError> {
    let mut values = Map::new();
    for definition in definitions {
        let value = match (provided.get(&definition.name), &definition.default_value) {
            (Some(value), _) => value.clone(),
            (None, Some(default)) => value_to_json(default, &Map::new())?,
            (None, None) => Value::Null,
        };
        if value.is_null() && matches!(definition.var_type, q::Type::NonNullType(_)) {
            return Err(invalid_variable(
                &definition.name,
                &type_text(&definition.var_type),
                &value,
                &[],
                "Expected value to not be null",
            ));
        }
        values.insert(definition.name.clone(), value);
    }
    Ok(values)
}

/// Shopify's `INVALID_VARIABLE` error for variable `$name` of type `type_name`.
pub fn invalid_variable(
    name: &str,
    type_name: &str,
    value: &Value,
    path: &[Value],
    explanation: &str,
) -> GqlError {
    GqlError {
        message: format!(
            "Variable ${name} of type {type_name} was provided invalid value{}",
            if path.is_empty() {
                String::new()
            } else {
                format!(
                    " for {}",
                    path.iter()
                        .map(|part| match part {
                            Value::String(text) => text.clone(),
                            other => other.to_string(),
                        })
                        .collect::<Vec<_>>()
                        .join(".")
                )
            }
        ),
        extensions: Some(json!({
            "code": "INVALID_VARIABLE",
            "value": value,
            "problems": [{ "path": path, "explanation": explanation }],
        })),
        path: None,
    }
}

/// A literal or `$variable` as JSON (enums as strings).
pub fn value_to_json(
    value: &q::Value<'_, String>,
    variables: &Map<String, Value>,
) -> Result<Value, GqlError> {
    Ok(match value {
        q::Value::Variable(name) => variables.get(name).cloned().ok_or_else(|| {
            GqlError::coded(
                format!("Variable ${name} is used but not declared"),
                "variableNotDefined",
            )
        })?,
        q::Value::Int(number) => number.as_i64().map_or(Value::Null, Value::from),
        q::Value::Float(number) => json!(number),
        q::Value::String(text) => Value::String(text.clone()),
        q::Value::Boolean(flag) => Value::Bool(*flag),
        q::Value::Null => Value::Null,
        q::Value::Enum(name) => Value::String(name.clone()),
        q::Value::List(items) => Value::Array(
            items
                .iter()
                .map(|item| value_to_json(item, variables))
                .collect::<Result<_, _>>()?,
        ),
        q::Value::Object(fields) => Value::Object(
            fields
                .iter()
                .map(|(key, item)| Ok((key.clone(), value_to_json(item, variables)?)))
                .collect::<Result<_, GqlError>>()?,
        ),
    })
}

/// The value of argument `name` of a field or directive (`None` when absent).
pub fn argument(
    arguments: &[(String, q::Value<'_, String>)],
    name: &str,
    ctx: &Ctx<'_>,
) -> Result<Option<Value>, GqlError> {
    arguments
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| value_to_json(value, &ctx.variables))
        .transpose()
}

/// The name of the variable argument `name` is given by, when it is one.
pub fn argument_variable<'f>(
    arguments: &'f [(String, q::Value<'_, String>)],
    name: &str,
) -> Option<&'f str> {
    arguments
        .iter()
        .find(|(key, _)| key == name)
        .and_then(|(_, value)| match value {
            q::Value::Variable(variable) => Some(variable.as_str()),
            _ => None,
        })
}

/// The field's response key: its alias, else its name.
pub fn response_key(field: &Field) -> &str {
    field.alias.as_deref().unwrap_or(&field.name)
}

/// Whether a type name stands for several concrete types (`node`/`nodes`).
fn is_abstract(type_name: &str) -> bool {
    type_name == "Node"
}

fn included(directives: &[q::Directive<'_, String>], ctx: &Ctx<'_>) -> Result<bool, GqlError> {
    for directive in directives {
        let wanted = match directive.name.as_str() {
            "skip" => false,
            "include" => true,
            _ => continue,
        };
        let condition = argument(&directive.arguments, "if", ctx)?;
        if condition.as_ref().and_then(Value::as_bool) != Some(wanted) {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The fields `selection` asks of an object of `type_name`, fragments expanded and `@skip`/
/// `@include` applied, each with the type it is asked on (an abstract type takes the fragments
/// of every type, for the static checks).
pub fn collect_fields<'d>(
    selection: &'d SelectionSet,
    type_name: &str,
    ctx: &Ctx<'d>,
) -> Result<Vec<(&'d Field, String)>, GqlError> {
    let mut fields = Vec::new();
    collect_into(selection, type_name, ctx, 0, &mut fields)?;
    Ok(fields)
}

fn collect_into<'d>(
    selection: &'d SelectionSet,
    type_name: &str,
    ctx: &Ctx<'d>,
    depth: usize,
    fields: &mut Vec<(&'d Field, String)>,
) -> Result<(), GqlError> {
    if depth > MAX_FRAGMENT_DEPTH {
        return Err(GqlError::coded(
            "Fragments nest too deeply (or form a cycle)",
            "fragmentCycle",
        ));
    }
    for item in &selection.items {
        let (condition, inner, directives) = match item {
            q::Selection::Field(field) => {
                if included(&field.directives, ctx)? {
                    fields.push((field, type_name.to_string()));
                }
                continue;
            }
            q::Selection::InlineFragment(fragment) => (
                fragment.type_condition.as_ref(),
                &fragment.selection_set,
                &fragment.directives,
            ),
            q::Selection::FragmentSpread(spread) => {
                let fragment = ctx
                    .fragments
                    .get(spread.fragment_name.as_str())
                    .ok_or_else(|| {
                        GqlError::coded(
                            format!(
                                "Fragment {} was used, but not defined",
                                spread.fragment_name
                            ),
                            "useAndDefineFragment",
                        )
                    })?;
                (
                    Some(&fragment.type_condition),
                    &fragment.selection_set,
                    &spread.directives,
                )
            }
        };
        if !included(directives, ctx)? {
            continue;
        }
        let condition = condition.map(|q::TypeCondition::On(name)| name.as_str());
        let applies_as = match condition {
            None => Some(type_name),
            Some(condition) if condition == type_name || is_abstract(condition) => Some(type_name),
            Some(condition) if is_abstract(type_name) => Some(condition),
            Some(_) => None,
        };
        if let Some(inner_type) = applies_as {
            let inner_type = inner_type.to_string();
            collect_into(inner, &inner_type, ctx, depth + 1, fields)?;
        }
    }
    Ok(())
}

/// What a field of the served schema returns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A scalar or enum (cost 0).
    Scalar,
    /// An object (cost 1 plus its fields).
    Object(&'static str),
    /// A plain list of objects (costed as one object: an approximation).
    List(&'static str),
    /// A connection (cost 2 plus `first` times one node's cost); the name is the connection type.
    Connection(&'static str),
    /// A mutation field (flat cost 10).
    Mutation(&'static str),
}

/// The node type of a connection type.
pub fn connection_node(connection: &str) -> &'static str {
    match connection {
        "OrderConnection" => "Order",
        "LineItemConnection" => "LineItem",
        "InventoryItemConnection" => "InventoryItem",
        _ => "InventoryLevel",
    }
}

/// The slice of the Admin API schema the mock serves: what `field` of `type_name` returns.
pub fn field_kind(type_name: &str, field: &str) -> Option<Kind> {
    use Kind::*;
    if field == "__typename" {
        return Some(Scalar);
    }
    let kind = match (type_name, field) {
        ("QueryRoot", "inventoryItem") => Object("InventoryItem"),
        ("QueryRoot", "inventoryItems") => Connection("InventoryItemConnection"),
        ("QueryRoot", "inventoryLevel") => Object("InventoryLevel"),
        ("QueryRoot", "node") => Object("Node"),
        ("QueryRoot", "nodes") => List("Node"),
        ("QueryRoot", "order") => Object("Order"),
        ("QueryRoot", "orders") => Connection("OrderConnection"),
        ("QueryRoot", "location") => Object("Location"),
        ("QueryRoot", "shop") => Object("Shop"),
        ("Mutation", "inventorySetQuantities") => Mutation("InventorySetQuantitiesPayload"),
        ("InventorySetQuantitiesPayload", "inventoryAdjustmentGroup") => {
            Object("InventoryAdjustmentGroup")
        }
        ("InventorySetQuantitiesPayload", "userErrors") => List("InventorySetQuantitiesUserError"),
        ("InventorySetQuantitiesUserError", "code" | "field" | "message") => Scalar,
        ("InventoryAdjustmentGroup", "id" | "createdAt" | "reason" | "referenceDocumentUri") => {
            Scalar
        }
        ("InventoryAdjustmentGroup", "changes") => List("InventoryChange"),
        ("InventoryChange", "name" | "delta" | "quantityAfterChange" | "ledgerDocumentUri") => {
            Scalar
        }
        ("InventoryChange", "item") => Object("InventoryItem"),
        ("InventoryChange", "location") => Object("Location"),
        (
            "InventoryItem",
            "id" | "legacyResourceId" | "sku" | "tracked" | "requiresShipping" | "createdAt"
            | "updatedAt",
        ) => Scalar,
        ("InventoryItem", "inventoryLevel") => Object("InventoryLevel"),
        ("InventoryItem", "inventoryLevels") => Connection("InventoryLevelConnection"),
        ("InventoryItem", "variant") => Object("ProductVariant"),
        ("InventoryLevel", "id" | "createdAt" | "updatedAt" | "canDeactivate") => Scalar,
        ("InventoryLevel", "quantities") => List("InventoryQuantity"),
        ("InventoryLevel", "item") => Object("InventoryItem"),
        ("InventoryLevel", "location") => Object("Location"),
        ("InventoryQuantity", "id" | "name" | "quantity" | "updatedAt") => Scalar,
        ("Location", "id" | "legacyResourceId" | "name" | "isActive") => Scalar,
        ("ProductVariant", "id" | "legacyResourceId" | "sku" | "title" | "inventoryQuantity") => {
            Scalar
        }
        ("ProductVariant", "product") => Object("Product"),
        ("ProductVariant", "inventoryItem") => Object("InventoryItem"),
        ("Product", "id" | "legacyResourceId" | "title" | "handle") => Scalar,
        (
            "Order",
            "id"
            | "legacyResourceId"
            | "name"
            | "createdAt"
            | "updatedAt"
            | "cancelledAt"
            | "cancelReason"
            | "closed"
            | "displayFinancialStatus"
            | "displayFulfillmentStatus",
        ) => Scalar,
        ("Order", "lineItems") => Connection("LineItemConnection"),
        ("LineItem", "id" | "sku" | "name" | "title" | "quantity" | "currentQuantity") => Scalar,
        ("LineItem", "variant") => Object("ProductVariant"),
        ("Shop", "id" | "name" | "myshopifyDomain" | "currencyCode") => Scalar,
        ("Node", "id") => Scalar,
        ("PageInfo", "hasNextPage" | "hasPreviousPage" | "startCursor" | "endCursor") => Scalar,
        (connection, "edges") if connection.ends_with("Connection") => List(edge_type(connection)),
        (connection, "nodes") if connection.ends_with("Connection") => {
            List(connection_node(connection))
        }
        (connection, "pageInfo") if connection.ends_with("Connection") => Object("PageInfo"),
        (edge, "cursor") if edge.ends_with("Edge") => Scalar,
        (edge, "node") if edge.ends_with("Edge") => Object(edge_node(edge)),
        _ => return None,
    };
    Some(kind)
}

/// The edge type of a connection type.
pub fn edge_type(connection: &str) -> &'static str {
    match connection {
        "OrderConnection" => "OrderEdge",
        "LineItemConnection" => "LineItemEdge",
        "InventoryItemConnection" => "InventoryItemEdge",
        _ => "InventoryLevelEdge",
    }
}

fn edge_node(edge: &str) -> &'static str {
    match edge {
        "OrderEdge" => "Order",
        "LineItemEdge" => "LineItem",
        "InventoryItemEdge" => "InventoryItem",
        _ => "InventoryLevel",
    }
}

/// Shopify's `undefinedField` error.
fn undefined_field(type_name: &str, field: &str, path: &[Value]) -> GqlError {
    GqlError {
        message: format!("Field '{field}' doesn't exist on type '{type_name}'"),
        extensions: Some(json!({
            "code": "undefinedField",
            "typeName": type_name,
            "fieldName": field,
        })),
        path: Some(path.to_vec()),
    }
}

/// Checks every field of `selection` against the served schema: unknown fields, selections on
/// scalars, objects without selections and connections without `first`/`last` are refused.
pub fn validate(
    selection: &SelectionSet,
    type_name: &str,
    ctx: &Ctx<'_>,
    path: &mut Vec<Value>,
) -> Result<(), GqlError> {
    for (field, on_type) in collect_fields(selection, type_name, ctx)? {
        path.push(Value::String(response_key(field).to_string()));
        let Some(kind) = field_kind(&on_type, &field.name) else {
            return Err(undefined_field(&on_type, &field.name, path));
        };
        let has_selection = !field.selection_set.items.is_empty();
        match kind {
            Kind::Scalar if has_selection => {
                return Err(GqlError::coded(
                    format!(
                        "Selections can't be made on scalars (field '{}' returns a scalar)",
                        field.name
                    ),
                    "selectionMismatch",
                )
                .at(path))
            }
            Kind::Scalar => {}
            Kind::Object(inner)
            | Kind::List(inner)
            | Kind::Connection(inner)
            | Kind::Mutation(inner) => {
                if !has_selection {
                    return Err(GqlError::coded(
                        format!(
                            "Field must have selections (field '{}' returns {inner} but has no selections)",
                            field.name
                        ),
                        "selectionMismatch",
                    )
                    .at(path));
                }
                if matches!(kind, Kind::Connection(_)) {
                    page_size(field, ctx).map_err(|error| error.at(path))?;
                }
                validate(&field.selection_set, inner, ctx, path)?;
            }
        }
        path.pop();
    }
    Ok(())
}

/// The `first` (or `last`) of a connection field: required, 1 to 250 (0 allowed, as Shopify).
pub fn page_size(field: &Field, ctx: &Ctx<'_>) -> Result<i64, GqlError> {
    let first = argument(&field.arguments, "first", ctx)?.filter(|value| !value.is_null());
    let last = argument(&field.arguments, "last", ctx)?.filter(|value| !value.is_null());
    let size = match (first, last) {
        (Some(size), None) | (None, Some(size)) => size,
        (Some(_), Some(_)) => {
            return Err(GqlError::coded(
                "Passing both `first` and `last` is not supported",
                "argumentConflict",
            ))
        }
        (None, None) => {
            return Err(GqlError::coded(
                "you must provide one of first or last",
                "missingRequiredArguments",
            ))
        }
    };
    match size.as_i64() {
        Some(size) if (0..=MAX_PAGE_SIZE).contains(&size) => Ok(size),
        _ => Err(GqlError::coded(
            format!("The page size of {size} is outside 0..={MAX_PAGE_SIZE}"),
            "MAX_INPUT_SIZE_EXCEEDED",
        )),
    }
}

/// The cost of `selection` on `type_name` (reference §1.3): the requested cost when `output` is
/// `None` (connections count `first`), the actual cost when it is the data returned (connections
/// count the nodes returned; a null object costs 1). Assumes [`validate`] passed.
pub fn cost(
    selection: &SelectionSet,
    type_name: &str,
    ctx: &Ctx<'_>,
    output: Option<&Value>,
) -> u64 {
    let Ok(fields) = collect_fields(selection, type_name, ctx) else {
        return 0;
    };
    fields
        .iter()
        .map(|(field, on_type)| {
            let out = output.map(|output| output.get(response_key(field)).unwrap_or(&Value::Null));
            field_cost(field, on_type, ctx, out)
        })
        .fold(0u64, u64::saturating_add)
}

fn field_cost(field: &Field, on_type: &str, ctx: &Ctx<'_>, out: Option<&Value>) -> u64 {
    match field_kind(on_type, &field.name) {
        None | Some(Kind::Scalar) => 0,
        Some(Kind::Mutation(_)) => MUTATION_COST,
        Some(Kind::Object(inner)) => {
            let inner_out = match out {
                Some(Value::Null) => return 1,
                other => other,
            };
            let concrete = concrete_type(inner, inner_out);
            1u64.saturating_add(cost(&field.selection_set, &concrete, ctx, inner_out))
        }
        // A plain list is costed as one object of the list (its children counted once).
        Some(Kind::List(inner)) => {
            1u64.saturating_add(cost(&field.selection_set, inner, ctx, None))
        }
        Some(Kind::Connection(connection)) => connection_cost(field, connection, ctx, out),
    }
}

fn concrete_type(type_name: &'static str, output: Option<&Value>) -> String {
    if is_abstract(type_name) {
        if let Some(Value::String(typename)) = output.and_then(|out| out.get("__typename")) {
            return typename.clone();
        }
    }
    type_name.to_string()
}

fn connection_cost(
    field: &Field,
    connection: &'static str,
    ctx: &Ctx<'_>,
    out: Option<&Value>,
) -> u64 {
    let node = connection_node(connection);
    let edge = edge_type(connection);
    let Ok(parts) = collect_fields(&field.selection_set, connection, ctx) else {
        return 2;
    };
    // One node's cost, per selection that returns nodes (`edges { node }` and `nodes`).
    let node_cost = |index: Option<usize>| -> u64 {
        let mut total = 0u64;
        for (part, _) in &parts {
            let part_out = |key: &str| {
                out.and_then(|out| out.get(key))
                    .and_then(Value::as_array)
                    .and_then(|items| index.and_then(|index| items.get(index)))
            };
            match part.name.as_str() {
                "nodes" => {
                    let item = part_out(response_key(part));
                    total = total.saturating_add(1 + cost(&part.selection_set, node, ctx, item));
                }
                "edges" => {
                    let edge_out = part_out(response_key(part));
                    let Ok(edge_fields) = collect_fields(&part.selection_set, edge, ctx) else {
                        continue;
                    };
                    for (edge_field, _) in edge_fields {
                        if edge_field.name == "node" {
                            let item = edge_out.and_then(|edge| edge.get(response_key(edge_field)));
                            total = total.saturating_add(
                                1 + cost(&edge_field.selection_set, node, ctx, item),
                            );
                        }
                    }
                }
                _ => {}
            }
        }
        total
    };
    match out {
        None => {
            let size = page_size(field, ctx).unwrap_or(0).max(0) as u64;
            2u64.saturating_add(size.saturating_mul(node_cost(None)))
        }
        Some(Value::Null) => 2,
        Some(out) => {
            let returned = ["edges", "nodes"]
                .iter()
                .filter_map(|name| {
                    parts
                        .iter()
                        .find(|(part, _)| part.name == *name)
                        .and_then(|(part, _)| out.get(response_key(part)))
                        .and_then(Value::as_array)
                        .map(Vec::len)
                })
                .max()
                .unwrap_or(0);
            (0..returned)
                .map(|index| node_cost(Some(index)))
                .fold(2u64, u64::saturating_add)
        }
    }
}

#[cfg(test)]
#[path = "graphql_tests.rs"]
mod tests;
