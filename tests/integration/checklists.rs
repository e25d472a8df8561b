//! The launch checklist through HTTP (issue 15, must-show 1): a new client's checklist stays open
//! until each real condition holds (a credential per platform, the channel read live from a
//! Shopify mock on loopback, a notification from the mock received, the catalog imported with
//! every SKU listed, the end-to-end sync test seen on the mock and undone, the manual items
//! ticked by a member), then completes; the seller revoking the agency's access on the mock
//! turns the channel's item red, and granting it again turns it back. Other checklists come from
//! templates. And what the channel sees go wrong on the mock (a listing the store does not have,
//! the revoked access) becomes an exception in the client's queue.

use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use shelfsync::auth::Role;
use shelfsync::platforms::mock::{MockServer, DEFAULT_TOKEN};
use shelfsync::platforms::Platform;
use shelfsync_actors::inventory::ledger::MovementKind;

use crate::api_support::{
    account, add_channel, create_client, import, item, mock_channel, post_movement, put_secret,
    Api, ADMIN,
};
use crate::mock_support::{control, create_listings, eventually, info, listed, place_order, start};

const WITHIN: Duration = Duration::from_secs(20);
const WEBHOOK_SECRET: &str = "whsec-checklist-0123456789";

async fn call(
    api: &Api,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> (u16, Value) {
    let (status, reply, _) = api
        .call(method, path, Some(token), body.map(|body| body.to_string()))
        .await;
    (status, reply)
}

async fn launch(api: &Api) -> Value {
    let (status, reply) = call(
        api,
        ADMIN,
        Method::GET,
        "/v1/clients/ACME/checklists/launch",
        None,
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    reply
}

fn item_state(checklist: &Value, key: &str) -> String {
    checklist["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|item| item["key"] == key)
        .unwrap_or_else(|| panic!("no item {key}: {checklist}"))["state"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Waits until item `key` of the launch checklist is in `state`.
async fn until_state(api: &Api, key: &str, state: &str) -> Value {
    let reached = eventually(WITHIN, || async {
        item_state(&launch(api).await, key) == state
    })
    .await;
    let checklist = launch(api).await;
    assert!(reached, "{key} never became {state}: {checklist:#}");
    checklist
}

#[tokio::test]
async fn a_launch_checklist_completes_only_when_each_condition_was_seen_and_a_revoked_credential_turns_it_red(
) {
    let api = Api::start().await;
    let admin = api.client();
    create_client(&admin, "ACME", "Acme Mugs").await;
    let manager = api.member(Role::Manager, &["ACME"]).await;
    let viewer = api.member(Role::Viewer, &["ACME"]).await;

    // A new client: nothing is done, not even what needs no channel.
    let fresh = launch(&api).await;
    assert_eq!(fresh["complete"], false);
    for key in ["credentials", "catalog", "sync_test", "client_signed_off"] {
        assert_eq!(item_state(&fresh, key), "open", "{fresh:#}");
    }

    // A channel on a Shopify mock, with its credential and webhook secret.
    let mock: MockServer = start(Platform::Shopify, "default");
    put_secret(&admin, "ACME", "shopify", DEFAULT_TOKEN).await;
    let channel = shelfsync::api::channels::NewChannelBody {
        account: account(info(&mock).await["account"].clone()),
        webhook_secret: Some(WEBHOOK_SECRET.into()),
        ..mock_channel("shop", Platform::Shopify, &mock.base_url(), "shopify")
    };
    add_channel(&admin, "ACME", &channel).await;
    let checklist = until_state(&api, "channel_live:shop", "done").await;
    assert_eq!(item_state(&checklist, "credentials"), "done");
    assert_eq!(item_state(&checklist, "notifications:shop"), "open");
    assert_eq!(item_state(&checklist, "catalog"), "open");

    // A catalog with a SKU listed nowhere keeps the catalog item open; listing it completes it.
    let refs = create_listings(&mock, &[("ACME-MUG", 0), ("ACME-CAP", 0)]).await;
    let mug = refs[0]["listing_ref"].as_str().unwrap().to_string();
    let cap = refs[1]["listing_ref"].as_str().unwrap().to_string();
    import(
        &admin,
        "ACME",
        &[
            item("ACME-MUG", 10, &[("shop", &mug)]),
            item("ACME-CAP", 4, &[]),
        ],
    )
    .await;
    let checklist = launch(&api).await;
    assert_eq!(item_state(&checklist, "catalog"), "open", "{checklist:#}");
    let catalog = checklist["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "catalog")
        .unwrap()
        .clone();
    assert!(
        catalog["detail"].as_str().unwrap().contains("ACME-CAP"),
        "{catalog}"
    );
    import(&admin, "ACME", &[item("ACME-CAP", 4, &[("shop", &cap)])]).await;
    until_state(&api, "catalog", "done").await;

    // A notification from the marketplace: the mock's own webhook of an order placed there.
    let (status, reply) = control(
        &mock,
        "webhooks",
        json!({"url": format!("{}/webhooks/ACME/shop", api.base_url()), "secret": WEBHOOK_SECRET}),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    until_state(&api, "channel_live:shop", "done").await;
    let settled = eventually(WITHIN, || async {
        listed(&mock).await.get("ACME-MUG") == Some(&10)
    })
    .await;
    assert!(settled, "{:?}", listed(&mock).await);
    place_order(&mock, "ACME-MUG", 1).await;
    until_state(&api, "notifications:shop", "done").await;
    let settled = eventually(WITHIN, || async {
        listed(&mock).await.get("ACME-MUG") == Some(&9)
    })
    .await;
    assert!(settled, "{:?}", listed(&mock).await);

    // The end-to-end sync test: a viewer may not start it; a manager does; one unit of the first
    // SKU every channel lists goes and comes back, and the mock showed both.
    let (status, _) = call(
        &api,
        &viewer,
        Method::POST,
        "/v1/clients/ACME/sync-test",
        Some(json!({})),
    )
    .await;
    assert_eq!(status, 403);
    let (status, started) = call(
        &api,
        &manager,
        Method::POST,
        "/v1/clients/ACME/sync-test",
        Some(json!({"sku": "acme-mug"})),
    )
    .await;
    assert_eq!(status, 202, "{started}");
    assert_eq!(
        (started["sku"].as_str(), started["phase"].as_str()),
        (Some("ACME-MUG"), Some("lowering"))
    );
    let (status, again) = call(
        &api,
        &manager,
        Method::POST,
        "/v1/clients/ACME/sync-test",
        Some(json!({})),
    )
    .await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("conflict")),
        "one at a time: {again}"
    );
    let passed = eventually(Duration::from_secs(30), || async {
        let (_, test) = call(&api, ADMIN, Method::GET, "/v1/clients/ACME/sync-test", None).await;
        test["last"]["phase"] == "passed"
    })
    .await;
    let (_, test) = call(&api, ADMIN, Method::GET, "/v1/clients/ACME/sync-test", None).await;
    let test = test["last"].clone();
    assert!(passed, "{test:#}");
    assert!(
        test["change_seen"]["shop"].is_string() && test["undo_seen"]["shop"].is_string(),
        "{test:#}"
    );
    assert_eq!(
        listed(&mock).await.get("ACME-MUG"),
        Some(&9),
        "undone on the marketplace"
    );
    let (_, stock) = call(
        &api,
        ADMIN,
        Method::GET,
        "/v1/clients/ACME/stock/ACME-MUG",
        None,
    )
    .await;
    assert_eq!(
        stock["on_hand"], 10,
        "the change and its undo net to nothing: {stock}"
    );
    let checklist = until_state(&api, "sync_test", "done").await;
    assert_eq!(checklist["complete"], false, "manual items are still open");

    // Manual items: a computed one cannot be ticked, a viewer cannot tick, a manager does.
    let tick = |key: &'static str| format!("/v1/clients/ACME/checklists/launch/items/{key}");
    let (status, reply) = call(
        &api,
        &manager,
        Method::POST,
        &tick("catalog"),
        Some(json!({"done": true})),
    )
    .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (409, Some("conflict")),
        "{reply}"
    );
    let (status, _) = call(
        &api,
        &viewer,
        Method::POST,
        &tick("client_signed_off"),
        Some(json!({"done": true})),
    )
    .await;
    assert_eq!(status, 403);
    for key in ["fulfilment_documented", "client_signed_off"] {
        let (status, reply) = call(
            &api,
            &manager,
            Method::POST,
            &tick(key),
            Some(json!({"done": true, "note": "signed by Ana"})),
        )
        .await;
        assert_eq!(status, 200, "{reply}");
    }
    let complete = launch(&api).await;
    assert_eq!(complete["complete"], true, "{complete:#}");
    let signed = complete["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["key"] == "client_signed_off")
        .unwrap()
        .clone();
    assert!(
        signed["done_by"].is_string()
            && signed["done_by_name"].is_string()
            && signed["done_at"].is_string(),
        "{signed}"
    );

    // The seller revokes the agency's access: the next call is refused and the items turn red.
    let (status, _) = control(&mock, "credential", json!({"revoked": true})).await;
    assert_eq!(status, 200);
    // With notifications arriving the order feed is only a backstop, polled rarely: the next
    // call is the push of a stock change.
    post_movement(
        &admin,
        "ACME",
        "ACME-MUG",
        MovementKind::Receipt,
        1,
        "po-revoked",
    )
    .await;
    let red = until_state(&api, "channel_live:shop", "red").await;
    assert_eq!(red["complete"], false);
    assert_eq!(item_state(&red, "credentials"), "red", "{red:#}");
    let (_, channels) = call(&api, ADMIN, Method::GET, "/v1/clients/ACME/channels", None).await;
    assert!(channels.to_string().contains("failing"), "{channels}");
    // Access granted again: the next answer clears it.
    let (status, _) = control(&mock, "credential", json!({"revoked": false})).await;
    assert_eq!(status, 200);
    until_state(&api, "channel_live:shop", "done").await;
    let whole = launch(&api).await;
    assert_eq!(whole["complete"], true, "{whole:#}");

    // The audit log names the member of each tick and of the sync test.
    let (_, audit) = call(
        &api,
        ADMIN,
        Method::GET,
        "/v1/clients/ACME/audit?limit=1000",
        None,
    )
    .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["action"].as_str())
        .collect();
    assert!(
        actions.contains(&"start_sync_test") && actions.contains(&"tick_checklist_item"),
        "{actions:?}"
    );
}

#[tokio::test]
async fn other_checklists_come_from_templates_with_their_own_items() {
    let api = Api::start().await;
    let admin = api.client();
    create_client(&admin, "ACME", "Acme Mugs").await;
    let manager = api.member(Role::Manager, &["ACME"]).await;
    let (status, holiday) = call(
        &api,
        &manager,
        Method::POST,
        "/v1/clients/ACME/checklists",
        Some(json!({"template": "holiday_preparation"})),
    )
    .await;
    assert_eq!(status, 201, "{holiday}");
    assert_eq!(holiday["title"], "Holiday preparation");
    // Nothing is overdue and no reorder is open: those hold at once; the manual ones do not.
    assert_eq!(
        item_state(&holiday, "nothing_overdue"),
        "done",
        "{holiday:#}"
    );
    assert_eq!(item_state(&holiday, "safety_stock_raised"), "open");
    let (status, refused) = call(
        &api,
        &manager,
        Method::POST,
        "/v1/clients/ACME/checklists",
        Some(json!({"template": "launch"})),
    )
    .await;
    assert_eq!(
        (status, refused["code"].as_str()),
        (409, Some("conflict")),
        "{refused}"
    );
    let (status, all) = call(
        &api,
        &manager,
        Method::GET,
        "/v1/clients/ACME/checklists",
        None,
    )
    .await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        ["launch", holiday["id"].as_str().unwrap()],
        "the launch checklist first"
    );
    let (status, _) = call(
        &api,
        &manager,
        Method::GET,
        "/v1/clients/ACME/checklists/999999",
        None,
    )
    .await;
    assert_eq!(status, 404);
    let (status, none) = call(
        &api,
        &manager,
        Method::GET,
        "/v1/clients/ACME/sync-test",
        None,
    )
    .await;
    assert_eq!(
        (status, none),
        (200, json!({"last": null})),
        "no test has run"
    );
}

/// Runs the operations sweep over ACME once (what the service does every few seconds).
async fn sweep(api: &Api) {
    let acme = shelfsync_actors::ids::ClientCode::parse("ACME").unwrap();
    shelfsync::operations::sweep::sweep_client(
        &api.service,
        &acme,
        shelfsync::operations::sweep::OperationsOptions::default(),
    )
    .await
    .unwrap();
}

/// The unresolved exceptions of `kind` in ACME's queue.
async fn open_of(api: &Api, kind: &str) -> Vec<Value> {
    let path = format!("/v1/clients/ACME/exceptions?state=unresolved&kind={kind}");
    let (status, page) = call(api, ADMIN, Method::GET, &path, None).await;
    assert_eq!(status, 200, "{page}");
    page["exceptions"].as_array().unwrap().clone()
}

#[tokio::test]
async fn what_a_channel_sees_go_wrong_on_its_marketplace_is_an_exception_for_a_person() {
    let api = Api::start().await;
    let admin = api.client();
    create_client(&admin, "ACME", "Acme Mugs").await;
    let mock: MockServer = start(Platform::Shopify, "default");
    put_secret(&admin, "ACME", "shopify", DEFAULT_TOKEN).await;
    let channel = shelfsync::api::channels::NewChannelBody {
        account: account(info(&mock).await["account"].clone()),
        ..mock_channel("shop", Platform::Shopify, &mock.base_url(), "shopify")
    };
    add_channel(&admin, "ACME", &channel).await;
    let refs = create_listings(&mock, &[("ACME-MUG", 0)]).await;
    let mug = refs[0]["listing_ref"].as_str().unwrap().to_string();
    // A catalog row mapping a listing the store does not have (deleted there, or mistyped).
    let gone = "gid://shopify/InventoryItem/987654321";
    import(
        &admin,
        "ACME",
        &[
            item("ACME-MUG", 10, &[("shop", &mug)]),
            item("ACME-GONE", 3, &[("shop", gone)]),
        ],
    )
    .await;
    let settled = eventually(WITHIN, || async {
        listed(&mock).await.get("ACME-MUG") == Some(&10)
    })
    .await;
    assert!(settled);
    // Negative control: nothing is wrong with the mug.
    let missing = eventually(WITHIN, || async {
        sweep(&api).await;
        !open_of(&api, "listing_missing").await.is_empty()
    })
    .await;
    let found = open_of(&api, "listing_missing").await;
    assert!(missing, "{found:#?}");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert_eq!(
        (found[0]["sku"].as_str(), found[0]["source"].as_str()),
        (Some("ACME-GONE"), Some("channel:shop"))
    );
    // Swept again, the same condition is the same exception.
    sweep(&api).await;
    assert_eq!(open_of(&api, "listing_missing").await.len(), 1);

    // The seller revokes the agency's access: the channel is failing, one exception for it.
    assert!(open_of(&api, "channel_failing").await.is_empty());
    let (status, _) = control(&mock, "credential", json!({"revoked": true})).await;
    assert_eq!(status, 200);
    post_movement(&admin, "ACME", "ACME-MUG", MovementKind::Receipt, 1, "po-1").await;
    let failing = eventually(WITHIN, || async {
        sweep(&api).await;
        !open_of(&api, "channel_failing").await.is_empty()
    })
    .await;
    let found = open_of(&api, "channel_failing").await;
    assert!(failing, "{found:#?}");
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0]["detail"].as_str().unwrap().contains("refused"),
        "{found:#?}"
    );
    // No exception per listing for a refused credential: it is the channel's.
    assert!(open_of(&api, "push_refused").await.is_empty());
}
