//! Who may send a credential where, and who may create clients (issue 12, part "access"):
//!
//! - a manager cannot re-point a client's sealed credential (main, `account.*_credential` or
//!   webhook secret) at a server of its own: 409 `credential_host_mismatch`, nothing stored, and
//!   the recording server never sees the secret; supplying the secret again re-binds it;
//! - the bindings survive a restart, and credentials stored before bindings existed are bound at
//!   start to the hosts their channels use;
//! - the deployment's egress policy: private networks refused by default (literal IPs and names
//!   that resolve to them, at creation and at connect time), official hosts only when configured;
//! - connectors follow no redirect;
//! - only admins and granted managers create clients, and a taken code tells a manager nothing
//!   about a client it cannot see; a member cannot be scoped to a client that does not exist.

use std::collections::BTreeSet;
use std::time::Duration;

use reqwest::Method;
use serde_json::{json, Value};
use shelfsync::clients::channels::{ChannelRecord, ChannelStore};
use shelfsync::clients::ClientStore;
use shelfsync::platforms::connector::{ConnectorConfig, ListingMap};
use shelfsync::platforms::egress::{BaseUrls, EgressPolicy};
use shelfsync::platforms::registry::connector;
use shelfsync::platforms::Platform;
use shelfsync::service::ServiceOptions;
use shelfsync::vault::{Secret, Vault};
use shelfsync_actors::ids::{ChannelId, ClientCode, Sku};

use crate::api_agency::{agency, WEBHOOK_SECRET};
use crate::api_support::{Api, ADMIN};
use crate::mock_support::{create_listings, eventually, listed, start};
use crate::recorder::{Recorder, Reply};

/// How long a channel connected to the recorder would take to call it (it polls every 100 ms).
const WOULD_HAVE_CALLED: Duration = Duration::from_millis(1500);

/// A Walmart channel (it needs no account ids) named `id` at `base_url` using `credential`.
fn walmart_channel(id: &str, base_url: &str, credential: &str) -> Value {
    json!({"id": id, "platform": "walmart", "base_url": base_url, "credential": credential,
           "poll_interval_ms": 100})
}

async fn post_channel(api: &Api, token: &str, code: &str, body: &Value) -> (u16, Value) {
    let (status, reply, _) = api
        .call(
            Method::POST,
            &format!("/v1/clients/{code}/channels"),
            Some(token),
            Some(body.to_string()),
        )
        .await;
    (status, reply)
}

async fn put_credential(api: &Api, token: &str, code: &str, name: &str, body: Value) -> Value {
    let (status, reply, _) = api
        .call(
            Method::PUT,
            &format!("/v1/clients/{code}/credentials/{name}"),
            Some(token),
            Some(body.to_string()),
        )
        .await;
    assert_eq!(status, 200, "{reply}");
    reply
}

async fn credential_hosts(api: &Api, code: &str, name: &str) -> Vec<String> {
    let (status, credentials, _) = api
        .call(
            Method::GET,
            &format!("/v1/clients/{code}/credentials"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{credentials}");
    credentials
        .as_array()
        .unwrap()
        .iter()
        .find(|credential| credential["name"] == name)
        .unwrap_or_else(|| panic!("no credential {name}: {credentials}"))["hosts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|host| host.as_str().unwrap().to_string())
        .collect()
}

async fn channel_ids(api: &Api, code: &str) -> Vec<String> {
    let (status, channels, _) = api
        .call(
            Method::GET,
            &format!("/v1/clients/{code}/channels"),
            Some(ADMIN),
            None,
        )
        .await;
    assert_eq!(status, 200, "{channels}");
    channels
        .as_array()
        .unwrap()
        .iter()
        .map(|channel| channel["id"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn a_manager_cannot_repoint_a_clients_credential_at_its_own_server() {
    let agency = agency().await;
    let api = &agency.api;
    let attacker = Recorder::start(Reply::Json);
    let before = channel_ids(api, "ACME").await;
    // A credential of the attacker's own, unbound: it must not get bound by a refused channel.
    put_credential(
        api,
        &agency.manager,
        "ACME",
        "evil-own",
        json!({"secret": "attacker-owned"}),
    )
    .await;
    let mut with_stolen_account = walmart_channel("evil2", &attacker.base_url(), "evil-own");
    with_stolen_account["account"] = json!({"stolen_credential": "etsy-shared"});
    for (attack, what) in [
        (
            walmart_channel("evil1", &attacker.base_url(), "shopify"),
            "the Shopify token as the main credential",
        ),
        (
            with_stolen_account,
            "Etsy's shared secret as an account credential",
        ),
        (
            walmart_channel("evil3", &attacker.base_url(), "webhook.shop"),
            "the Shopify webhook secret as the main credential",
        ),
    ] {
        let (status, reply) = post_channel(api, &agency.manager, "ACME", &attack).await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (409, Some("credential_host_mismatch")),
            "{what}: {reply}"
        );
    }
    std::thread::sleep(WOULD_HAVE_CALLED);
    assert_eq!(
        attacker.connections(),
        0,
        "nothing was sent to the attacker's server: {:?}",
        attacker.lines()
    );
    for secret in [
        "mock-token",
        crate::api_agency::ETSY_SHARED_SECRET,
        WEBHOOK_SECRET,
    ] {
        assert!(!attacker.saw(secret));
    }
    assert_eq!(channel_ids(api, "ACME").await, before, "no channel stored");
    assert!(
        credential_hosts(api, "ACME", "evil-own").await.is_empty(),
        "a refused channel binds nothing"
    );
    // The client's own channels are bound where they are and keep working.
    assert_eq!(
        credential_hosts(api, "ACME", "shopify").await,
        [agency.shopify.base_url()]
    );
    assert_eq!(
        credential_hosts(api, "ACME", "webhook.shop").await,
        [agency.shopify.base_url()]
    );
}

#[tokio::test]
async fn supplying_the_secret_again_rebinds_a_credential_to_a_new_host() {
    let agency = agency().await;
    let api = &agency.api;
    let new_home = Recorder::start(Reply::Json);
    let reply = put_credential(
        api,
        &agency.manager,
        "ACME",
        "amazon",
        json!({"secret": "mock-token", "hosts": [new_home.base_url()]}),
    )
    .await;
    let mut expected = vec![agency.amazon.base_url(), new_home.base_url()];
    expected.sort();
    assert_eq!(
        reply["hosts"],
        json!(expected),
        "the host given, and the host of the channel that uses it already"
    );
    let (status, reply) = post_channel(
        api,
        &agency.manager,
        "ACME",
        &walmart_channel("moved", &new_home.base_url(), "amazon"),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    assert!(new_home.wait_for_request(Duration::from_secs(10)));
    assert!(
        new_home.saw("mock-token"),
        "the re-supplied secret goes where its holder said"
    );
    // A rotation without hosts keeps the bindings.
    put_credential(
        api,
        &agency.manager,
        "ACME",
        "amazon",
        json!({"secret": "mock-token"}),
    )
    .await;
    assert_eq!(credential_hosts(api, "ACME", "amazon").await, expected);
    for (hosts, what) in [
        (json!([]), "an empty list"),
        (json!(["https://x.example/admin"]), "a path"),
        (json!(["ftp://x.example"]), "another scheme"),
    ] {
        let (status, reply, _) = api
            .call(
                Method::PUT,
                "/v1/clients/ACME/credentials/amazon",
                Some(&agency.manager),
                Some(json!({"secret": "s", "hosts": hosts}).to_string()),
            )
            .await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (400, Some("invalid_field")),
            "{what}: {reply}"
        );
    }
}

/// A client ACME with credential `token` (secret `mock-token`) on `api`.
async fn client_with_credential(api: &Api) {
    let (status, reply, _) = api
        .call(
            Method::POST,
            "/v1/clients",
            Some(ADMIN),
            Some(json!({"code": "ACME", "name": "Acme"}).to_string()),
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    put_credential(api, ADMIN, "ACME", "token", json!({"secret": "mock-token"})).await;
}

#[tokio::test]
async fn host_bindings_survive_a_restart() {
    let api = Api::start().await;
    client_with_credential(&api).await;
    let walmart = start(Platform::Walmart, "default");
    let (status, reply) = post_channel(
        &api,
        ADMIN,
        "ACME",
        &walmart_channel("walmart", &walmart.base_url(), "token"),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    let dir = api.stop();
    let api = Api::start_in(
        dir,
        ServiceOptions {
            egress: EgressPolicy::LOOPBACK_MOCKS,
            ..ServiceOptions::default()
        },
    )
    .await;
    assert_eq!(
        credential_hosts(&api, "ACME", "token").await,
        [walmart.base_url()]
    );
    let attacker = Recorder::start(Reply::Json);
    let (status, reply) = post_channel(
        &api,
        ADMIN,
        "ACME",
        &walmart_channel("evil", &attacker.base_url(), "token"),
    )
    .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (409, Some("credential_host_mismatch")),
        "{reply}"
    );
    std::thread::sleep(WOULD_HAVE_CALLED);
    assert_eq!(attacker.connections(), 0);
}

#[tokio::test]
async fn credentials_stored_before_bindings_are_bound_at_start_to_the_hosts_their_channels_use() {
    let walmart = start(Platform::Walmart, "default");
    let refs: Vec<String> = create_listings(&walmart, &[("ACME-MUG", 1)])
        .await
        .iter()
        .map(|listing| listing["listing_ref"].as_str().unwrap().to_string())
        .collect();
    let dir = tempfile::tempdir().unwrap();
    {
        // A data directory as the service before issue 12 left it: a credential record without
        // hosts, and a channel using it.
        let db = sled::open(dir.path().join("db")).unwrap();
        let vault = Vault::open(dir.path(), None).unwrap();
        let clients = ClientStore::open(&db).unwrap();
        clients
            .create(&shelfsync::clients::ClientRecord {
                code: "ACME".into(),
                name: "Acme".into(),
                tier: Default::default(),
                created_at: "2026-01-01T00:00:00Z".parse().unwrap(),
            })
            .unwrap();
        use base64::Engine as _;
        let sealed = base64::engine::general_purpose::STANDARD.encode(vault.seal(
            "ACME",
            "token",
            &Secret::new("mock-token"),
        ));
        db.open_tree("clients")
            .unwrap()
            .insert(
                "k/ACME/token",
                serde_json::to_vec(
                    &json!({"sealed": sealed, "created_at": "2026-01-01T00:00:00Z",
                                           "rotated_at": null, "rotate_by": null}),
                )
                .unwrap(),
            )
            .unwrap();
        let channels = ChannelStore::open(&db).unwrap();
        let record: ChannelRecord = serde_json::from_value(json!({
            "id": "walmart", "platform": "walmart", "base_url": walmart.base_url(),
            "credential": "token", "account": {}, "webhook_credential": null,
            "policy": {}, "rate_limit": {}, "app": "default", "push_order": "risk_first",
            "poll_interval_ms": 200, "created_at": "2026-01-01T00:00:00Z"}))
        .unwrap();
        let acme = ClientCode::parse("ACME").unwrap();
        channels.create(&acme, &record).unwrap();
        channels
            .put_listings(
                &acme,
                &[(
                    ChannelId::parse("walmart").unwrap(),
                    Sku::parse("ACME-MUG").unwrap(),
                    refs[0].clone(),
                )],
            )
            .unwrap();
        db.flush().unwrap();
    }
    let api = Api::start_in(
        dir,
        ServiceOptions {
            egress: EgressPolicy::LOOPBACK_MOCKS,
            ..ServiceOptions::default()
        },
    )
    .await;
    assert_eq!(
        credential_hosts(&api, "ACME", "token").await,
        [walmart.base_url()],
        "bound to the host its stored channel uses"
    );
    // The stored channel keeps working: a count reaches the marketplace.
    let (status, reply, _) = api
        .call(
            Method::POST,
            "/v1/clients/ACME/stock/ACME-MUG/movements",
            Some(ADMIN),
            Some(
                json!({"kind": "count", "quantity": 7, "idempotency_key": "legacy-1"}).to_string(),
            ),
        )
        .await;
    assert_eq!(status, 201, "{reply}");
    let pushed = eventually(Duration::from_secs(20), || async {
        listed(&walmart).await.get("ACME-MUG") == Some(&7)
    })
    .await;
    assert!(pushed, "{:?}", listed(&walmart).await);
    let attacker = Recorder::start(Reply::Json);
    let (status, reply) = post_channel(
        &api,
        ADMIN,
        "ACME",
        &walmart_channel("evil", &attacker.base_url(), "token"),
    )
    .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (409, Some("credential_host_mismatch")),
        "{reply}"
    );
}

#[tokio::test]
async fn private_networks_are_refused_by_default_and_allowed_when_configured() {
    let target = Recorder::start(Reply::Json);
    let api = Api::start_with(ServiceOptions::default()).await;
    client_with_credential(&api).await;
    for base in [
        target.base_url(),
        format!("https://127.0.0.1:{}", target.port()),
        format!("https://[::ffff:127.0.0.1]:{}", target.port()),
        // A name is judged by what it resolves to.
        format!("https://localhost:{}", target.port()),
    ] {
        let (status, reply) =
            post_channel(&api, ADMIN, "ACME", &walmart_channel("w", &base, "token")).await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (400, Some("base_url_not_allowed")),
            "{base}: {reply}"
        );
    }
    std::thread::sleep(WOULD_HAVE_CALLED);
    assert_eq!(target.connections(), 0);
    assert!(channel_ids(&api, "ACME").await.is_empty(), "nothing stored");
    assert!(
        credential_hosts(&api, "ACME", "token").await.is_empty(),
        "nothing bound"
    );
    drop(api);

    // Official hosts only: a loopback mock is refused even where private networks are allowed.
    let api = Api::start_with(ServiceOptions {
        egress: EgressPolicy {
            base_urls: BaseUrls::Official,
            allow_private_networks: true,
        },
        ..ServiceOptions::default()
    })
    .await;
    client_with_credential(&api).await;
    let (status, reply) = post_channel(
        &api,
        ADMIN,
        "ACME",
        &walmart_channel("w", &target.base_url(), "token"),
    )
    .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (400, Some("base_url_not_allowed")),
        "{reply}"
    );
    assert!(
        reply["detail"].as_str().unwrap().contains("official"),
        "{reply}"
    );
    drop(api);

    // Allowed when the deployment says so.
    let api = Api::start().await;
    client_with_credential(&api).await;
    let (status, reply) = post_channel(
        &api,
        ADMIN,
        "ACME",
        &walmart_channel("w", &target.base_url(), "token"),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
    assert!(target.wait_for_request(Duration::from_secs(10)));
}

#[tokio::test]
async fn a_connector_refuses_a_name_that_resolves_to_loopback_when_it_connects() {
    // What a DNS rebinding does after the channel was checked: the name now resolves to
    // 127.0.0.1. The check at connect time refuses it; no connection is made.
    let target = Recorder::start(Reply::Json);
    let config = ConnectorConfig::new(
        &format!("https://localhost:{}", target.port()),
        Secret::new("rebinding-victim-token"),
        json!({}),
        ListingMap::default(),
    )
    .unwrap();
    let walmart = connector(Platform::Walmart, config).unwrap();
    assert!(walmart.fetch_orders(None).await.is_err());
    assert_eq!(target.connections(), 0, "no connection was made");
}

#[tokio::test]
async fn connectors_follow_no_redirect_to_another_host() {
    let elsewhere = Recorder::start(Reply::Json);
    let redirector = Recorder::start(Reply::RedirectTo(elsewhere.base_url()));
    let sku = Sku::parse("ACME-MUG").unwrap();
    for (platform, account) in [
        (
            Platform::Shopify,
            json!({"location_id": "gid://shopify/Location/1"}),
        ),
        (
            Platform::Etsy,
            json!({"shop_id": "1", "user_id": "1", "keystring": "k", "shared_secret": "leak-me-too"}),
        ),
        (
            Platform::Amazon,
            json!({"seller_id": "S", "marketplace_id": "M"}),
        ),
        (Platform::Walmart, json!({})),
        (Platform::Ebay, json!({"marketplace_id": "EBAY_US"})),
    ] {
        let listings = ListingMap::default();
        listings.insert(sku.clone(), "1".into());
        let config = ConnectorConfig::new(
            &redirector.base_url(),
            Secret::new("redirected-token"),
            account,
            listings,
        )
        .unwrap()
        .with_egress(EgressPolicy::LOOPBACK_MOCKS);
        let market = connector(platform, config).unwrap();
        let seen = redirector.requests().len();
        let orders = market.fetch_orders(None).await;
        let pushed = market
            .push_quantities(vec![shelfsync_actors::channel::marketplace::PushItem {
                sku: sku.clone(),
                quantity: 3,
                previous: None,
                ledger_seq: 1,
            }])
            .await;
        assert!(
            redirector.requests().len() > seen,
            "{platform}: the connector called the redirecting server"
        );
        assert!(
            orders.is_err()
                || pushed.is_err()
                || pushed
                    .as_ref()
                    .is_ok_and(|outcomes| outcomes.iter().all(|outcome| !matches!(
                        outcome,
                        shelfsync_actors::channel::marketplace::PushOutcome::Confirmed { .. }
                    ))),
            "{platform}: a redirect is no success"
        );
        assert_eq!(
            elsewhere.connections(),
            0,
            "{platform} followed a redirect: {:?}",
            elsewhere.lines()
        );
    }
    assert!(!elsewhere.saw("redirected-token"));
}

#[tokio::test]
async fn only_admins_and_granted_managers_create_clients_and_a_taken_code_says_nothing_more() {
    let api = Api::start().await;
    let (status, _, _) = api
        .call(
            Method::POST,
            "/v1/clients",
            Some(ADMIN),
            Some(
                json!({"code": "ACME", "name": "Acme Secret Project", "tier": "enterprise"})
                    .to_string(),
            ),
        )
        .await;
    assert_eq!(status, 201);
    let plain_manager = api.member("manager", &["ACME"]).await;
    let (status, reply, _) = api
        .call(
            Method::POST,
            "/v1/clients",
            Some(&plain_manager),
            Some(json!({"code": "BOLT", "name": "Bolt"}).to_string()),
        )
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (403, Some("forbidden")),
        "{reply}"
    );
    let (status, reply, _) = api
        .call(Method::GET, "/v1/clients/BOLT", Some(ADMIN), None)
        .await;
    assert_eq!(status, 404, "nothing was created: {reply}");

    let granted = api.client_creating_manager().await;
    let (status, taken, _) = api
        .call(
            Method::POST,
            "/v1/clients",
            Some(&granted),
            Some(json!({"code": "ACME", "name": "Mine now"}).to_string()),
        )
        .await;
    assert_eq!(
        (status, taken["code"].as_str()),
        (409, Some("code_unavailable")),
        "{taken}"
    );
    let text = taken.to_string();
    for leak in ["Acme Secret Project", "enterprise", "exists", "m2"] {
        assert!(!text.contains(leak), "{leak:?} in {text}");
    }
    let (status, listed, _) = api
        .call(Method::GET, "/v1/clients", Some(&granted), None)
        .await;
    assert_eq!((status, listed), (200, json!([])), "it still sees nothing");

    let (status, created, _) = api
        .call(
            Method::POST,
            "/v1/clients",
            Some(&granted),
            Some(json!({"code": "ZED", "name": "Zed"}).to_string()),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, again, _) = api
        .call(
            Method::POST,
            "/v1/clients",
            Some(&granted),
            Some(json!({"code": "ZED", "name": "Zed"}).to_string()),
        )
        .await;
    assert_eq!(
        (status, again["code"].as_str()),
        (409, Some("conflict")),
        "its own client may be named: {again}"
    );
    let (status, admin_view, _) = api
        .call(
            Method::POST,
            "/v1/clients",
            Some(ADMIN),
            Some(json!({"code": "ACME", "name": "x"}).to_string()),
        )
        .await;
    assert_eq!(
        (status, admin_view["code"].as_str()),
        (409, Some("conflict")),
        "an admin sees everything: {admin_view}"
    );
    let (_, members, _) = api
        .call(Method::GET, "/v1/members", Some(ADMIN), None)
        .await;
    let grants: BTreeSet<(String, bool)> = members
        .as_array()
        .unwrap()
        .iter()
        .map(|member| {
            (
                member["role"].as_str().unwrap().to_string(),
                member["may_create_clients"].as_bool().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        grants,
        [
            ("admin".to_string(), true),
            ("manager".to_string(), false),
            ("manager".to_string(), true)
        ]
        .into()
    );
    let (status, reply, _) = api
        .call(
            Method::POST,
            "/v1/members",
            Some(ADMIN),
            Some(json!({"name": "v", "role": "viewer", "clients": ["ACME"], "may_create_clients": true}).to_string()),
        )
        .await;
    assert_eq!(
        (status, reply["code"].as_str()),
        (400, Some("invalid_field")),
        "{reply}"
    );
}

#[tokio::test]
async fn a_member_cannot_be_scoped_to_a_client_that_does_not_exist() {
    let api = Api::start().await;
    let (status, _, _) = api
        .call(
            Method::POST,
            "/v1/clients",
            Some(ADMIN),
            Some(json!({"code": "ACME", "name": "Acme"}).to_string()),
        )
        .await;
    assert_eq!(status, 201);
    let (_, before, _) = api
        .call(Method::GET, "/v1/members", Some(ADMIN), None)
        .await;
    for clients in [json!(["GHOST"]), json!(["ACME", "GHOST"])] {
        let (status, reply, _) = api
            .call(
                Method::POST,
                "/v1/members",
                Some(ADMIN),
                Some(json!({"name": "early", "role": "manager", "clients": clients}).to_string()),
            )
            .await;
        assert_eq!(
            (status, reply["code"].as_str()),
            (400, Some("unknown_client")),
            "{reply}"
        );
        assert!(reply["detail"].as_str().unwrap().contains("GHOST"));
    }
    let (_, after, _) = api
        .call(Method::GET, "/v1/members", Some(ADMIN), None)
        .await;
    assert_eq!(after, before, "nothing stored");
    let (status, _, _) = api
        .call(
            Method::POST,
            "/v1/clients",
            Some(ADMIN),
            Some(json!({"code": "GHOST", "name": "Ghost"}).to_string()),
        )
        .await;
    assert_eq!(status, 201);
    let viewer = api.member("viewer", &["GHOST"]).await;
    let (status, _, _) = api
        .call(Method::GET, "/v1/clients/GHOST", Some(&viewer), None)
        .await;
    assert_eq!(status, 200);
}
