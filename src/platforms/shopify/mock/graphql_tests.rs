use super::*;

fn operation_of(document: &Document, variables: Value) -> Operation<'_> {
    let Value::Object(variables) = variables else {
        panic!("variables must be an object")
    };
    select_operation(document, None, &variables).unwrap()
}

#[test]
fn the_envelope_needs_a_string_query() {
    assert!(parse_request(b"{").is_err());
    assert!(parse_request(b"[]").is_err());
    assert!(parse_request(br#"{"query":1}"#).is_err());
    assert!(parse_request(br#"{"query":"{shop{id}}","variables":[]}"#).is_err());
    let request =
        parse_request(br#"{"query":"{shop{id}}","variables":"{\"a\":1}","operationName":null}"#)
            .unwrap();
    assert_eq!(request.variables["a"], 1);
}

#[test]
fn costs_follow_the_reference_rules() {
    let text = "query($n: Int!) { orders(first: $n) { edges { cursor node { id lineItems(first: 5) { nodes { sku } } } } pageInfo { hasNextPage } } shop { id } }";
    let document = q::parse_query::<String>(text).unwrap().into_static();
    let operation = operation_of(&document, json!({ "n": 10 }));
    validate(
        operation.selection,
        "QueryRoot",
        &operation.ctx,
        &mut vec![],
    )
    .unwrap();
    // orders: 2 + 10 × (node 1 + lineItems (2 + 5 × 1)); shop: 1.
    assert_eq!(
        cost(operation.selection, "QueryRoot", &operation.ctx, None),
        83
    );
    let data = json!({
        "orders": { "edges": [
            { "cursor": "a", "node": { "id": "x", "lineItems": { "nodes": [{ "sku": "A" }] } } }
        ], "pageInfo": { "hasNextPage": false } },
        "shop": { "id": "s" },
    });
    // One order with one line: 2 + (1 + 2 + 1) + shop 1.
    assert_eq!(
        cost(
            operation.selection,
            "QueryRoot",
            &operation.ctx,
            Some(&data)
        ),
        7
    );
}

#[test]
fn a_mutation_costs_ten_and_scalars_nothing() {
    let text = "mutation { inventorySetQuantities(input: {}) { userErrors { code } } }";
    let document = q::parse_query::<String>(text).unwrap().into_static();
    let operation = operation_of(&document, json!({}));
    assert_eq!(operation.kind, OperationKind::Mutation);
    assert_eq!(
        cost(operation.selection, "Mutation", &operation.ctx, None),
        10
    );
}

#[test]
fn unknown_fields_and_missing_page_sizes_are_refused() {
    let document = q::parse_query::<String>("{ shop { id bogus } }").unwrap();
    let operation = operation_of(&document, json!({}));
    let error = validate(
        operation.selection,
        "QueryRoot",
        &operation.ctx,
        &mut vec![],
    )
    .unwrap_err();
    assert_eq!(error.message, "Field 'bogus' doesn't exist on type 'Shop'");
    assert_eq!(error.path, Some(vec![json!("shop"), json!("bogus")]));
    let document = q::parse_query::<String>("{ orders { nodes { id } } }").unwrap();
    let operation = operation_of(&document, json!({}));
    assert!(validate(
        operation.selection,
        "QueryRoot",
        &operation.ctx,
        &mut vec![]
    )
    .is_err());
}

#[test]
fn variables_defaults_fragments_and_skip_apply() {
    let text = "query Q($skip: Boolean = true) { shop { ...F name @skip(if: $skip) } } fragment F on Shop { id }";
    let document = q::parse_query::<String>(text).unwrap().into_static();
    let operation = operation_of(&document, json!({}));
    let shop = collect_fields(operation.selection, "QueryRoot", &operation.ctx).unwrap();
    let fields: Vec<&str> = collect_fields(&shop[0].0.selection_set, "Shop", &operation.ctx)
        .unwrap()
        .into_iter()
        .map(|(field, _)| field.name.as_str())
        .collect();
    assert_eq!(fields, ["id"]);
    let document = q::parse_query::<String>("query($x: Int!) { shop { id } }").unwrap();
    let error = select_operation(&document, None, &Map::new()).unwrap_err();
    assert_eq!(error.extensions.unwrap()["code"], "INVALID_VARIABLE");
}
