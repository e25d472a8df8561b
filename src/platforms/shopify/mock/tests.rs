//! The cost reply pieces are plain JSON; these tests pin them without HTTP.

use super::*;

#[test]
fn plans_have_the_documented_limits() {
    let standard = plan_limits("default").unwrap();
    assert_eq!(standard, plan_limits("standard").unwrap());
    assert_eq!(
        (
            standard.graphql_maximum,
            standard.graphql_restore,
            standard.rest_bucket
        ),
        (2000.0, 100.0, 40)
    );
    assert_eq!(plan_limits("plus").unwrap().rest_bucket, 400);
    assert_eq!(plan_limits("enterprise").unwrap().graphql_maximum, 40_000.0);
    assert!(plan_limits("gold").is_none());
    let options = MockOptions {
        plan: "gold".into(),
        ..MockOptions::default()
    };
    assert!(build(&options).is_err());
}

#[test]
fn the_throttled_body_matches_the_reference_example() {
    let status = ThrottleStatus {
        maximum_available: 1000.0,
        currently_available: 666,
        restore_rate: 50.0,
    };
    let expected: Value = serde_json::from_str(
        r#"{"errors":[{"message":"Throttled","extensions":{"code":"THROTTLED","documentation":"https://shopify.dev/api/usage/rate-limits"}}],
 "extensions":{"cost":{"requestedQueryCost":752,"actualQueryCost":null,
   "throttleStatus":{"maximumAvailable":1000.0,"currentlyAvailable":666,"restoreRate":50.0}}}}"#,
    )
    .unwrap();
    assert_eq!(throttled_body(752, status), expected);
}

#[test]
fn rest_bodies_are_checked_from_raw_bytes() {
    assert_eq!(
        parse_rest_set(br#"{"location_id":1,"inventory_item_id":"2","available":3}"#),
        Ok(RestSet {
            location_id: 1,
            inventory_item_id: 2,
            available: 3
        })
    );
    assert_eq!(parse_rest_set(b"{").unwrap_err().0, StatusCode::BAD_REQUEST);
    assert_eq!(
        parse_rest_set(br#"{"location_id":1,"inventory_item_id":2}"#)
            .unwrap_err()
            .0,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        parse_rest_set(br#"{"location_id":1,"inventory_item_id":2,"available":-1}"#)
            .unwrap_err()
            .0,
        StatusCode::UNPROCESSABLE_ENTITY
    );
}

#[test]
fn signatures_are_base64_hmac_sha256() {
    // RFC 4231 test case 2.
    let signature = sign("Jefe", b"what do ya want for nothing?");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(signature)
        .unwrap();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(
        hex,
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
    );
}

#[test]
fn webhook_ids_are_unique_per_number() {
    assert_ne!(uuid_like(1, 0xa, 1), uuid_like(1, 0xa, 2));
    assert_ne!(uuid_like(1, 0xa, 1), uuid_like(1, 0xe, 1));
}
