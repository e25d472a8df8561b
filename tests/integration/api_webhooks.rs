//! Webhook deliveries through HTTP (issue 12): a delivery that is authentic but cannot be applied
//! is acknowledged (200) once recorded as an order exception, exactly once however often it is
//! retried, with the ledger unchanged or changed by exactly its good lines; 503 only when nothing
//! can be recorded; and an unauthenticated caller gets the same status, the same body and
//! comparable timing whether the client, the channel, the channel's webhooks or the signature is
//! what is wrong.

use std::time::{Duration, Instant};

use reqwest::Method;
use serde_json::{json, Value};
use shelfsync::api::channels::NewChannelBody;
use shelfsync::platforms::Platform;
use shelfsync::vault::Secret;

use crate::api_agency::sign;
use crate::api_support::{
    account, add_channel, create_client, import, item, mock_channel, put_secret, Api, ADMIN,
};

const SECRET: &str = "whsec-acme-webhooks-0123456789";

/// ACME with a Shopify channel taking webhooks (`shop`), a Shopify channel without webhook secret
/// (`shop2`) and a Walmart channel (no webhooks here), stock of ACME-CAP 4 and ACME-MUG 10. The
/// channels' marketplaces are a closed port: nothing moves the ledger but the deliveries.
pub(crate) async fn acme(api: &Api) {
    let admin = api.client();
    create_client(&admin, "ACME", "Acme Mugs").await;
    put_secret(&admin, "ACME", "shopify", "shpat-token").await;
    // Polled rarely, at a closed port.
    let closed = |id: &str, platform: Platform, settings: Value| NewChannelBody {
        account: account(settings),
        poll_interval_ms: Some(300_000),
        ..mock_channel(id, platform, "http://127.0.0.1:9", "shopify")
    };
    let location = json!({"location_id": "gid://shopify/Location/1"});
    let channels = [
        NewChannelBody {
            webhook_secret: Some(SECRET.into()),
            ..closed("shop", Platform::Shopify, location.clone())
        },
        closed("shop2", Platform::Shopify, location),
        closed(
            "walmart",
            Platform::Walmart,
            json!({"partner_id": "1", "ship_node": "2"}),
        ),
    ];
    for channel in &channels {
        add_channel(&admin, "ACME", channel).await;
    }
    let catalog = [item("ACME-CAP", 4, &[]), item("ACME-MUG", 10, &[])];
    import(&admin, "ACME", &catalog).await;
}

async fn started() -> Api {
    let api = Api::start().await;
    acme(&api).await;
    api
}

/// An `orders/create` body with these line items.
pub(crate) fn order(id: u64, lines: Value) -> Vec<u8> {
    json!({"id": id, "updated_at": "2026-11-22T10:00:00Z", "cancelled_at": null, "line_items": lines})
        .to_string()
        .into_bytes()
}

/// Delivers `body` to ACME's `shop` as Shopify does, signed; status and reply.
pub(crate) async fn deliver(api: &Api, body: &[u8], webhook_id: &str) -> (u16, Value) {
    api.send_raw(
        Method::POST,
        "/webhooks/ACME/shop",
        None,
        "application/json",
        body.to_vec(),
        &[
            ("x-shopify-topic", "orders/create".to_string()),
            ("x-shopify-hmac-sha256", sign(body, SECRET)),
            ("x-shopify-webhook-id", webhook_id.to_string()),
        ],
    )
    .await
}

pub(crate) async fn get(api: &Api, path: &str) -> Value {
    let (status, reply, _) = api.call(Method::GET, path, Some(ADMIN), None).await;
    assert_eq!(status, 200, "{path}: {reply}");
    reply
}

/// Everything the ledger shows: the journal and the stock.
async fn ledger(api: &Api) -> (Value, Value) {
    (
        get(api, "/v1/clients/ACME/ledger?limit=1000").await["entries"].clone(),
        get(api, "/v1/clients/ACME/stock").await,
    )
}

async fn exceptions(api: &Api) -> Vec<Value> {
    get(api, "/v1/clients/ACME/exceptions").await["exceptions"]
        .as_array()
        .unwrap()
        .clone()
}

/// Delivers an authentic `body` that cannot be applied and checks the contract: 200, one
/// exception with `reason` (first seen, count 1), the ledger unchanged.
async fn unusable_is_acknowledged_and_recorded(body: Vec<u8>, reason: &str, line: Value) {
    let api = started().await;
    let before = ledger(&api).await;
    let (status, reply) = deliver(&api, &body, "wh-1").await;
    assert_eq!(
        status, 200,
        "an authentic delivery is acknowledged: {reply}"
    );
    assert_eq!(reply["exceptions"], 1, "{reply}");
    let recorded = exceptions(&api).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    let exception = &recorded[0];
    assert_eq!(
        (
            &exception["kind"],
            &exception["reason"],
            &exception["source"],
            &exception["line"],
            &exception["count"],
            &exception["journal_seq"]
        ),
        (
            &json!("unapplicable_order"),
            &json!(reason),
            &json!("channel:shop"),
            &line,
            &json!(1),
            &Value::Null
        ),
        "{exception}"
    );
    assert_eq!(exception["order_id"], "7001", "{exception}");
    assert!(
        exception["detail"]
            .as_str()
            .is_some_and(|detail| !detail.is_empty()),
        "{exception}"
    );
    assert_eq!(ledger(&api).await, before, "nothing applied");
}

#[tokio::test]
async fn an_order_without_line_items_is_acknowledged_and_recorded() {
    unusable_is_acknowledged_and_recorded(order(7001, json!([])), "no_lines", Value::Null).await;
}

#[tokio::test]
async fn a_line_without_sku_is_acknowledged_and_recorded() {
    let body = order(7001, json!([{"sku": null, "quantity": 1}]));
    unusable_is_acknowledged_and_recorded(body, "missing_sku", json!(1)).await;
}

#[tokio::test]
async fn a_quantity_of_zero_is_acknowledged_and_recorded() {
    let body = order(7001, json!([{"sku": "ACME-CAP", "quantity": 0}]));
    unusable_is_acknowledged_and_recorded(body, "quantity_out_of_range", json!(1)).await;
}

#[tokio::test]
async fn a_negative_quantity_is_acknowledged_and_recorded() {
    let body = order(7001, json!([{"sku": "ACME-CAP", "quantity": -3}]));
    unusable_is_acknowledged_and_recorded(body, "quantity_out_of_range", json!(1)).await;
}

#[tokio::test]
async fn a_quantity_of_2_pow_32_is_acknowledged_and_recorded() {
    let body = order(
        7001,
        json!([{"sku": "ACME-CAP", "quantity": 4_294_967_296u64}]),
    );
    unusable_is_acknowledged_and_recorded(body, "quantity_out_of_range", json!(1)).await;
}

#[tokio::test]
async fn a_quantity_above_the_ledgers_bound_is_acknowledged_and_recorded() {
    let above = shelfsync_actors::inventory::ledger::MAX_QUANTITY + 1;
    let body = order(7001, json!([{"sku": "ACME-CAP", "quantity": above}]));
    unusable_is_acknowledged_and_recorded(body, "quantity_out_of_range", json!(1)).await;
}

#[tokio::test]
async fn the_same_order_id_with_other_content_is_acknowledged_and_recorded() {
    let api = started().await;
    let first = order(7001, json!([{"sku": "ACME-CAP", "quantity": 1}]));
    let (status, reply) = deliver(&api, &first, "wh-1").await;
    assert_eq!((status, &reply["applied"]), (200, &json!(1)), "{reply}");
    let after_first = ledger(&api).await;
    let changed = order(7001, json!([{"sku": "ACME-CAP", "quantity": 2}]));
    let (status, reply) = deliver(&api, &changed, "wh-2").await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        (&reply["applied"], &reply["exceptions"]),
        (&json!(0), &json!(1))
    );
    let recorded = exceptions(&api).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(
        (
            &recorded[0]["reason"],
            &recorded[0]["key"],
            &recorded[0]["units"]
        ),
        (
            &json!("order_changed"),
            &json!("order:shop:7001:1:placed"),
            &json!(2)
        ),
        "{:?}",
        recorded[0]
    );
    assert_eq!(ledger(&api).await, after_first, "the first content stands");
}

#[tokio::test]
async fn a_redelivery_of_an_unusable_delivery_is_one_exception_seen_twice() {
    let api = started().await;
    let body = order(7001, json!([{"sku": "ACME-CAP", "quantity": 0}]));
    let before = ledger(&api).await;
    let (status, _) = deliver(&api, &body, "wh-9").await;
    assert_eq!(status, 200);
    let first = exceptions(&api).await;
    tokio::time::sleep(Duration::from_millis(5)).await;
    // Shopify's retry: the same delivery, the same payload.
    let (status, reply) = deliver(&api, &body, "wh-9").await;
    assert_eq!(status, 200, "{reply}");
    let again = exceptions(&api).await;
    assert_eq!(again.len(), 1, "never a second exception: {again:?}");
    assert_eq!(
        (&first[0]["count"], &again[0]["count"]),
        (&json!(1), &json!(2))
    );
    assert_eq!(again[0]["id"], first[0]["id"]);
    assert_eq!(again[0]["first_seen_ms"], first[0]["first_seen_ms"]);
    assert!(
        again[0]["last_seen_ms"].as_u64() > first[0]["last_seen_ms"].as_u64(),
        "{first:?} then {again:?}"
    );
    // An order without lines is keyed by the delivery: its retry is one exception too.
    let empty = order(7002, json!([]));
    for _ in 0..2 {
        assert_eq!(deliver(&api, &empty, "wh-10").await.0, 200);
    }
    let all = exceptions(&api).await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert_eq!(all[1]["count"], 2, "{all:?}");
    assert_eq!(ledger(&api).await, before);
}

#[tokio::test]
async fn a_delivery_of_good_and_bad_lines_applies_the_good_ones_and_records_the_bad() {
    let api = started().await;
    let (journal_before, _) = ledger(&api).await;
    let body = order(
        7001,
        json!([
            {"sku": "ACME-CAP", "quantity": 1},
            {"sku": null, "quantity": 1},
            {"sku": "ACME-MUG", "quantity": 0},
            {"sku": "ACME-MUG", "quantity": 2},
        ]),
    );
    let (status, reply) = deliver(&api, &body, "wh-1").await;
    assert_eq!(status, 200, "{reply}");
    assert_eq!(
        (&reply["events"], &reply["applied"], &reply["exceptions"]),
        (&json!(3), &json!(2), &json!(2)),
        "{reply}"
    );
    let recorded = exceptions(&api).await;
    let lines: Vec<(&Value, &Value)> = recorded
        .iter()
        .map(|exception| (&exception["line"], &exception["reason"]))
        .collect();
    assert_eq!(
        lines,
        [
            (&json!(2), &json!("missing_sku")),
            (&json!(3), &json!("quantity_out_of_range"))
        ]
    );
    let (journal, _) = ledger(&api).await;
    let new: Vec<(&Value, &Value, &Value)> = journal.as_array().unwrap()
        [journal_before.as_array().unwrap().len()..]
        .iter()
        .map(|entry| (&entry["key"], &entry["sku"], &entry["quantity"]))
        .collect();
    assert_eq!(
        new,
        [
            (
                &json!("order:shop:7001:1:placed"),
                &json!("ACME-CAP"),
                &json!(1)
            ),
            (
                &json!("order:shop:7001:4:placed"),
                &json!("ACME-MUG"),
                &json!(2)
            ),
        ],
        "exactly the good lines"
    );
    let cap = get(&api, "/v1/clients/ACME/stock/ACME-CAP").await;
    let mug = get(&api, "/v1/clients/ACME/stock/ACME-MUG").await;
    assert_eq!((&cap["reserved"], &mug["reserved"]), (&json!(1), &json!(2)));
}

#[tokio::test]
async fn a_delivery_gets_503_only_when_the_ledger_cannot_record_it() {
    let api = started().await;
    let tree = shelfsync_actors::storage::client_tree(
        &api.db,
        &shelfsync_actors::ids::ClientCode::parse("ACME").unwrap(),
    )
    .unwrap();
    let keys_with = |prefix: u8| tree.scan_prefix([prefix]).count();
    let journal = keys_with(b'j');
    let unusable = order(7001, json!([{"sku": "ACME-CAP", "quantity": 0}]));
    let good = order(7002, json!([{"sku": "ACME-CAP", "quantity": 1}]));
    // The ledger's storage fails: its head no longer reads, so no transaction can run (and the
    // respawned InventoryActor cannot open the tree).
    let head = tree.get("m/head").unwrap().unwrap();
    tree.insert("m/head", b"bad".as_slice()).unwrap();
    for body in [&unusable, &good] {
        let (status, reply) = deliver(&api, body, "wh-1").await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (503, Some("unavailable")),
            "nothing can be recorded: the platform must retry ({reply})"
        );
    }
    assert_eq!(keys_with(b'j'), journal, "nothing applied");
    assert_eq!(keys_with(b'x'), 0, "nothing recorded");

    // The storage recovers and the supervisor respawns the ledger: the platform's retries are
    // recorded, each once.
    tree.insert("m/head", head).unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let (status, reply) = deliver(&api, &unusable, "wh-1").await;
        if status == 200 {
            break;
        }
        assert_eq!(status, 503, "{reply}");
        assert!(
            Instant::now() < deadline,
            "the ledger never came back: {reply}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (status, reply) = deliver(&api, &good, "wh-2").await;
    assert_eq!((status, &reply["applied"]), (200, &json!(1)), "{reply}");
    let recorded = exceptions(&api).await;
    assert_eq!(recorded.len(), 1, "{recorded:?}");
    assert_eq!(
        (&recorded[0]["reason"], &recorded[0]["count"]),
        (&json!("quantity_out_of_range"), &json!(1)),
        "the refused attempts recorded nothing"
    );
    assert_eq!(keys_with(b'j'), journal + 1);
}

/// A raw delivery: status and the body bytes as sent.
async fn raw_delivery(
    http: &reqwest::Client,
    base: &str,
    path: &str,
    body: &[u8],
    signature: Option<&str>,
) -> (u16, Vec<u8>) {
    let mut request = http
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .header("x-shopify-topic", "orders/create")
        .body(body.to_vec());
    if let Some(signature) = signature {
        request = request.header("x-shopify-hmac-sha256", signature);
    }
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    (status, reply.bytes().await.unwrap().to_vec())
}

/// The deliveries an unauthenticated caller may try: path and signature.
fn unauthenticated_cases(body: &[u8]) -> Vec<(&'static str, &'static str, Option<String>)> {
    let signed = sign(body, SECRET);
    let forged = sign(body, "a-guessed-secret");
    vec![
        ("unknown client", "/webhooks/ZED/shop", Some(signed.clone())),
        (
            "unknown channel",
            "/webhooks/ACME/nope",
            Some(signed.clone()),
        ),
        (
            "no webhooks on the platform",
            "/webhooks/ACME/walmart",
            Some(signed.clone()),
        ),
        ("no webhook secret", "/webhooks/ACME/shop2", Some(signed)),
        ("bad signature", "/webhooks/ACME/shop", Some(forged)),
        ("missing signature", "/webhooks/ACME/shop", None),
    ]
}

#[tokio::test]
async fn every_unauthenticated_delivery_gets_the_same_status_and_body() {
    let api = started().await;
    let body = order(7001, json!([{"sku": "ACME-CAP", "quantity": 1}]));
    let http = reqwest::Client::new();
    let before = ledger(&api).await;
    let mut replies = Vec::new();
    for (case, path, signature) in unauthenticated_cases(&body) {
        let reply = raw_delivery(&http, &api.base_url(), path, &body, signature.as_deref()).await;
        replies.push((case, reply));
    }
    let (_, first) = &replies[0];
    assert_eq!(first.0, 401);
    let shown: Value = serde_json::from_slice(&first.1).unwrap();
    assert_eq!(shown["code"], "bad_signature", "{shown}");
    for (case, reply) in &replies {
        assert_eq!(
            reply,
            first,
            "{case}: {}",
            String::from_utf8_lossy(&reply.1)
        );
    }
    assert_eq!(ledger(&api).await, before);
    assert!(exceptions(&api).await.is_empty());
}

/// The median of signed nanoseconds.
fn median(samples: &mut [i128]) -> i128 {
    samples.sort_unstable();
    samples[samples.len() / 2]
}

fn nanos(duration: Duration) -> i128 {
    duration.as_nanos() as i128
}

/// One measurement of the refusals' timing (see the test).
struct Timing {
    /// Per case: the median over rounds of its time minus its round's median refusal time.
    offsets: Vec<i128>,
    /// The same for the control that skips the HMAC and the vault.
    control: i128,
    /// The median in-process cost of the HMAC over the body and a vault open.
    skipped: i128,
    report: String,
}

impl Timing {
    /// Every refusal within half the skipped work of the others, and the control (which skips it)
    /// further off than that.
    fn comparable(&self) -> bool {
        let tolerance = self.skipped / 2;
        self.offsets.iter().all(|offset| offset.abs() <= tolerance) && self.control < -tolerance
    }
}

#[tokio::test]
async fn unauthenticated_deliveries_take_comparable_time() {
    // A large body makes the HMAC the bulk of a refusal's work, so that a path skipping it (and
    // the vault open) stands out from the network's jitter.
    const BODY_BYTES: usize = 768 * 1024;
    const ROUNDS: usize = 40;
    // A load burst of the shared machine can swamp one measurement; a path that skips the work
    // is off in every attempt, so a few attempts hide nothing.
    const ATTEMPTS: usize = 3;
    let api = Api::start_with_body_limit(1024 * 1024).await;
    acme(&api).await;
    let mut body = order(7001, json!([{"sku": "ACME-CAP", "quantity": 1}]));
    body.truncate(body.len() - 1);
    body.extend(format!(",\"note\":\"{}\"}}", "n".repeat(BODY_BYTES)).into_bytes());
    let cases = unauthenticated_cases(&body);
    let vault = api.service.vault();
    let sealed = vault.seal("ACME", "shop-webhook", &Secret::new(SECRET));
    // What a path that skips the HMAC and the vault open saves, measured in this process.
    let skipped_work = || {
        let started = Instant::now();
        let secret = vault.open_secret("ACME", "shop-webhook", &sealed).unwrap();
        let valid = shelfsync::platforms::shopify::connector::verify_webhook(
            secret.expose().as_bytes(),
            &body,
            "bm90IGl0",
        );
        assert!(!valid);
        started.elapsed()
    };
    let http = reqwest::Client::new();
    let base = api.base_url();
    // A control that reads the same body and skips both: a movement with malformed JSON.
    let control = || async {
        let started = Instant::now();
        let reply = http
            .post(format!("{base}/v1/clients/ACME/stock/ACME-CAP/movements"))
            .bearer_auth(ADMIN)
            .header("content-type", "application/json")
            .body(body.clone())
            .send()
            .await
            .unwrap();
        assert_eq!(reply.status().as_u16(), 400);
        reply.bytes().await.unwrap();
        started.elapsed()
    };
    let refusal = |index: usize| {
        let (_, path, signature) = &cases[index];
        let (http, base, body) = (&http, &base, &body);
        async move {
            let started = Instant::now();
            let (status, _) = raw_delivery(http, base, path, body, signature.as_deref()).await;
            assert_eq!(status, 401);
            started.elapsed()
        }
    };
    let mut timings = Vec::new();
    for _ in 0..ATTEMPTS {
        // offsets[case][round]; the control is the last "case".
        let mut offsets: Vec<Vec<i128>> = vec![Vec::new(); cases.len() + 1];
        let mut skipped = Vec::new();
        for round in 0..ROUNDS + 3 {
            let mut times = vec![0i128; cases.len() + 1];
            // Interleaved, and rotated so that no case always follows the same one.
            for turn in 0..=cases.len() {
                let index = (turn + round) % (cases.len() + 1);
                times[index] = nanos(if index == cases.len() {
                    control().await
                } else {
                    refusal(index).await
                });
            }
            skipped.push(nanos(skipped_work()));
            // The first rounds warm connections and caches up.
            if round < 3 {
                continue;
            }
            // Relative to the round's own median refusal: a slow spell of the machine moves a
            // whole round, not one case.
            let round_median = median(&mut times[..cases.len()].to_vec());
            for (index, time) in times.iter().enumerate() {
                offsets[index].push(time - round_median);
            }
        }
        let mut offsets: Vec<i128> = offsets.iter_mut().map(|samples| median(samples)).collect();
        let control = offsets.pop().unwrap();
        let skipped = median(&mut skipped);
        let report = format!(
            "offsets from the round's median refusal (µs): {:?}; control {}; HMAC + vault open {}",
            cases
                .iter()
                .zip(&offsets)
                .map(|((case, _, _), offset)| format!("{case}: {}", offset / 1_000))
                .collect::<Vec<_>>(),
            control / 1_000,
            skipped / 1_000
        );
        eprintln!("{report}");
        let timing = Timing {
            offsets,
            control,
            skipped,
            report,
        };
        let comparable = timing.comparable();
        timings.push(timing);
        if comparable {
            return;
        }
    }
    let reports: Vec<&str> = timings
        .iter()
        .map(|timing| timing.report.as_str())
        .collect();
    panic!(
        "in every attempt a refusal differed from the others by more than half of the HMAC and \
         vault work, or the control that skips that work did not stand out: {reports:#?}"
    );
}
