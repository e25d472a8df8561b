use super::*;

/// The example body of reference §2.1.
const DOCS_EXAMPLE: &str = r#"{"products":[{"sku":"MUG-RED","property_values":[{"property_id":200,"value_ids":[1213],"scale_id":null,"property_name":"Primary color","values":["Red"]}],
  "offerings":[{"price":22.0,"quantity":7,"is_enabled":true,"readiness_state_id":12345}]}],
 "price_on_property":[],"quantity_on_property":[200],"sku_on_property":[200],"readiness_state_on_property":[]}"#;

const IDS: ProductIds = ProductIds {
    product_id: 10,
    offering_id: 20,
};

fn parse(text: &str) -> Result<InventoryUpdate, String> {
    parse_update(text.as_bytes(), InventoryRules::default())
}

fn two_colors(on: &str, second_price: f64, second_sku: &str) -> String {
    format!(
        r#"{{"products":[
          {{"sku":"MUG-RED","property_values":[{{"property_id":200,"value_ids":[1],"values":["Red"]}}],
            "offerings":[{{"price":22.0,"quantity":7,"is_enabled":true}}]}},
          {{"sku":"{second_sku}","property_values":[{{"property_id":200,"value_ids":[2],"values":["Blue"]}}],
            "offerings":[{{"price":{second_price},"quantity":3,"is_enabled":true}}]}}],
         {on}}}"#
    )
}

#[test]
fn the_docs_example_is_accepted_and_shown_in_the_get_shape() {
    let update = parse(DOCS_EXAMPLE).unwrap();
    assert!(update.has_sku("MUG-RED"));
    let inventory = update.into_inventory("MUG-RED", IDS, None, || 99);
    let shown = inventory.to_json();
    let offering = &shown["products"][0]["offerings"][0];
    assert_eq!(
        offering["price"],
        json!({"amount": 2200, "divisor": 100, "currency_code": "USD"})
    );
    assert_eq!(
        (
            offering["offering_id"].as_u64(),
            offering["quantity"].as_i64()
        ),
        (Some(20), Some(7))
    );
    assert_eq!(shown["products"][0]["product_id"], 10);
    assert_eq!(shown["products"][0]["is_deleted"], false);
    assert_eq!(shown["quantity_on_property"], json!([200]));
}

#[test]
fn get_only_fields_and_money_prices_are_refused() {
    let with_product_id =
        DOCS_EXAMPLE.replace(r#""sku":"MUG-RED""#, r#""product_id":1,"sku":"MUG-RED""#);
    assert!(parse(&with_product_id).unwrap_err().contains("product_id"));
    let with_offering_id =
        DOCS_EXAMPLE.replace(r#""price":22.0"#, r#""offering_id":5,"price":22.0"#);
    assert!(parse(&with_offering_id)
        .unwrap_err()
        .contains("offering_id"));
    let with_deleted =
        DOCS_EXAMPLE.replace(r#""price":22.0"#, r#""is_deleted":false,"price":22.0"#);
    assert!(parse(&with_deleted).unwrap_err().contains("is_deleted"));
    let with_money = DOCS_EXAMPLE.replace(
        r#""price":22.0"#,
        r#""price":{"amount":2200,"divisor":100,"currency_code":"USD"}"#,
    );
    assert!(parse(&with_money).unwrap_err().contains("Money"));
}

#[test]
fn quantities_prices_and_shapes_are_checked() {
    for (from, to) in [
        (r#""quantity":7"#, r#""quantity":1000"#),
        (r#""quantity":7"#, r#""quantity":-1"#),
        (r#""quantity":7"#, r#""quantity":7.5"#),
        (r#""price":22.0"#, r#""price":0"#),
        (r#""price":22.0"#, r#""price":-3.5"#),
        (r#""price":22.0"#, r#""price":60000"#),
        (r#""is_enabled":true,"#, ""),
        (r#""values":["Red"]"#, r#""values":["Red (dark)"]"#),
        (r#""values":["Red"]"#, r#""values":[]"#),
        (
            r#""quantity_on_property":[200]"#,
            r#""quantity_on_property":[513]"#,
        ),
        (r#""price_on_property":[]"#, r#""colour":[]"#),
    ] {
        let body = DOCS_EXAMPLE.replace(from, to);
        assert_ne!(body, DOCS_EXAMPLE, "{from} is in the example");
        assert!(parse(&body).is_err(), "{to} is refused");
    }
    assert!(parse("{").is_err());
    assert!(parse(r#"{"products":[]}"#).is_err());
    assert!(parse(r#"{"products":{}}"#).is_err());
    assert!(parse(r#"[1,2]"#).is_err());
    let bounds = DOCS_EXAMPLE.replace(r#""quantity":7"#, r#""quantity":999"#);
    assert!(parse(&bounds).is_ok());
    let zero = DOCS_EXAMPLE.replace(r#""quantity":7"#, r#""quantity":0"#);
    assert!(parse(&zero).is_ok());
}

#[test]
fn the_unsure_rules_are_knobs() {
    let strict = InventoryRules {
        require_readiness_state_id: true,
        refuse_all_zero: true,
    };
    let without = DOCS_EXAMPLE.replace(r#","readiness_state_id":12345"#, "");
    assert!(parse(&without).is_ok());
    assert!(parse_update(without.as_bytes(), strict)
        .unwrap_err()
        .contains("readiness_state_id"));
    let zero = DOCS_EXAMPLE.replace(r#""quantity":7"#, r#""quantity":0"#);
    assert_eq!(
        parse_update(zero.as_bytes(), strict).unwrap_err(),
        "One offering must have quantity greater than 0"
    );
    let shown = parse(&without)
        .unwrap()
        .into_inventory("MUG-RED", IDS, None, || 99)
        .to_json();
    assert_eq!(
        shown["products"][0]["offerings"][0]["readiness_state_id"],
        DEFAULT_READINESS_STATE_ID
    );
}

#[test]
fn on_property_arrays_must_agree_with_the_products() {
    let varied =
        r#""price_on_property":[200],"quantity_on_property":[200],"sku_on_property":[200]"#;
    assert!(parse(&two_colors(varied, 25.0, "MUG-BLUE")).is_ok());
    let fixed_price = r#""quantity_on_property":[200],"sku_on_property":[200]"#;
    assert!(parse(&two_colors(fixed_price, 22.0, "MUG-BLUE")).is_ok());
    assert!(
        parse(&two_colors(fixed_price, 25.0, "MUG-BLUE")).is_err(),
        "price varies"
    );
    let fixed_quantity = r#""sku_on_property":[200]"#;
    assert!(
        parse(&two_colors(fixed_quantity, 22.0, "MUG-BLUE")).is_err(),
        "quantity varies"
    );
    let fixed_sku = r#""quantity_on_property":[200]"#;
    assert!(
        parse(&two_colors(fixed_sku, 22.0, "MUG-BLUE")).is_err(),
        "sku varies"
    );
    assert!(
        parse(&two_colors(varied, 25.0, "MUG-RED")).is_err(),
        "duplicate sku"
    );
    let same_values = two_colors(varied, 25.0, "MUG-BLUE").replace(r#"[2]"#, "[1]");
    assert!(
        parse(&same_values).is_err(),
        "two products with the same values"
    );
}

#[test]
fn ids_are_kept_for_known_skus_and_fresh_otherwise() {
    let varied =
        r#""price_on_property":[200],"quantity_on_property":[200],"sku_on_property":[200]"#;
    let mut next = 100;
    let first = parse(&two_colors(varied, 25.0, "MUG-BLUE"))
        .unwrap()
        .into_inventory("MUG-RED", IDS, None, || {
            next += 1;
            next
        });
    let blue = first.product("MUG-BLUE").unwrap().clone();
    assert_eq!((blue.product_id, blue.offerings[0].offering_id), (101, 102));
    let second = parse(&two_colors(varied, 30.0, "MUG-BLUE"))
        .unwrap()
        .into_inventory("MUG-RED", IDS, Some(&first), || 999);
    assert_eq!(second.product("MUG-BLUE").unwrap().product_id, 101);
    assert_eq!(second.product("MUG-RED").unwrap().product_id, 10);
}

#[test]
fn reconcile_moves_sales_and_restocks_onto_enabled_offerings() {
    let mut inventory = Inventory::initial("A", 5, IDS);
    inventory.products[0].offerings.push(Offering {
        offering_id: 21,
        price_cents: 100,
        quantity: 4,
        is_enabled: true,
        readiness_state_id: 1,
    });
    inventory.reconcile("A", 3);
    let quantities: Vec<i64> = inventory.products[0]
        .offerings
        .iter()
        .map(|o| o.quantity)
        .collect();
    assert_eq!(quantities, [0, 3]);
    inventory.reconcile("A", 10);
    assert_eq!(enabled_quantity(&inventory.products[0]), 10);
    for offering in &mut inventory.products[0].offerings {
        offering.is_enabled = false;
    }
    inventory.reconcile("A", 2);
    assert!(inventory.products[0].offerings[0].is_enabled);
    assert_eq!(enabled_quantity(&inventory.products[0]), 2);
}

#[test]
fn prices_round_to_cents() {
    assert_eq!(price_cents(22.0), Some(2200));
    assert_eq!(price_cents(0.199), Some(20));
    assert_eq!(price_cents(0.001), None);
    assert_eq!(price_cents(f64::NAN), None);
}
