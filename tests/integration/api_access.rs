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
use serde_json::json;
use shelfsync::api::channels::NewChannelBody;
use shelfsync::api::clients::PutCredential;
use shelfsync::api::error::Code;
use shelfsync::api::members::NewMember;
use shelfsync::auth::Role;
use shelfsync::clients::channels::{ChannelRecord, ChannelStore};
use shelfsync::clients::ClientStore;
use shelfsync::platforms::connector::{ConnectorConfig, ListingMap};
use shelfsync::platforms::egress::{BaseUrls, EgressPolicy};
use shelfsync::platforms::registry::connector;
use shelfsync::platforms::Platform;
use shelfsync::service::ServiceOptions;
use shelfsync::vault::{Secret, Vault};
use shelfsync_actors::ids::{ChannelId, ClientCode, Sku};
use shelfsync_actors::inventory::ledger::MovementKind;
use shelfsync_actors::ratelimit::ServiceTier;

use crate::api_agency::{agency, WEBHOOK_SECRET};
use crate::api_support::{
    add_channel, assert_refused, create_client, create_client_in, detail, mock_channel, new_client,
    new_member, post_movement, put_secret, Api,
};
use crate::mock_support::{create_listings, eventually, listed, start};
use crate::recorder::{Recorder, Reply};

/// How long a channel connected to the recorder would take to call it (it polls every 100 ms).
const WOULD_HAVE_CALLED: Duration = Duration::from_millis(1500);

/// A Walmart channel (it needs no account ids) named `id` at `base_url` using `credential`,
/// polling every 100 ms (so that [`WOULD_HAVE_CALLED`] is long enough).
fn walmart_channel(id: &str, base_url: &str, credential: &str) -> NewChannelBody {
    NewChannelBody {
        poll_interval_ms: Some(100),
        ..mock_channel(id, Platform::Walmart, base_url, credential)
    }
}

/// The credential `secret` bound to `hosts`.
fn bound_secret(secret: &str, hosts: &[&str]) -> PutCredential {
    PutCredential {
        secret: secret.into(),
        rotate_by: None,
        hosts: Some(hosts.iter().map(|host| host.to_string()).collect()),
    }
}

/// The hosts credential `name` of client `code` is bound to.
async fn credential_hosts(api: &Api, code: &str, name: &str) -> Vec<String> {
    let credentials = api.client().credentials(code).await.unwrap();
    credentials
        .iter()
        .find(|credential| credential.name == name)
        .unwrap_or_else(|| panic!("no credential {name}: {credentials:?}"))
        .hosts
        .iter()
        .map(ToString::to_string)
        .collect()
}

async fn channel_ids(api: &Api, code: &str) -> Vec<String> {
    let channels = api.client().channels(code).await.unwrap();
    channels
        .iter()
        .map(|channel| channel.channel.id.to_string())
        .collect()
}

#[tokio::test]
async fn a_manager_cannot_repoint_a_clients_credential_at_its_own_server() {
    let agency = agency().await;
    let api = &agency.api;
    let attacker = Recorder::start(Reply::Json);
    let before = channel_ids(api, "ACME").await;
    // A credential of the attacker's own, unbound: it must not get bound by a refused channel.
    let manager = api.client_as(&agency.manager);
    put_secret(&manager, "ACME", "evil-own", "attacker-owned").await;
    let mut with_stolen_account = walmart_channel("evil2", &attacker.base_url(), "evil-own");
    with_stolen_account
        .account
        .insert("stolen_credential".into(), json!("etsy-shared"));
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
        assert_refused(
            manager.create_channel("ACME", &attack).await,
            409,
            Code::CredentialHostMismatch,
            what,
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
    let manager = api.client_as(&agency.manager);
    let reply = manager
        .put_credential(
            "ACME",
            "amazon",
            &bound_secret("mock-token", &[&new_home.base_url()]),
        )
        .await
        .unwrap();
    let mut expected = vec![agency.amazon.base_url(), new_home.base_url()];
    expected.sort();
    let hosts: Vec<String> = reply.hosts.iter().map(ToString::to_string).collect();
    assert_eq!(
        hosts, expected,
        "the host given, and the host of the channel that uses it already"
    );
    let moved = walmart_channel("moved", &new_home.base_url(), "amazon");
    add_channel(&manager, "ACME", &moved).await;
    assert!(new_home.wait_for_request(Duration::from_secs(10)));
    assert!(
        new_home.saw("mock-token"),
        "the re-supplied secret goes where its holder said"
    );
    // A rotation without hosts keeps the bindings.
    put_secret(&manager, "ACME", "amazon", "mock-token").await;
    assert_eq!(credential_hosts(api, "ACME", "amazon").await, expected);
    for (hosts, what) in [
        (&[][..], "an empty list"),
        (&["https://x.example/admin"][..], "a path"),
        (&["ftp://x.example"][..], "another scheme"),
    ] {
        assert_refused(
            manager
                .put_credential("ACME", "amazon", &bound_secret("s", hosts))
                .await,
            400,
            Code::InvalidField,
            what,
        );
    }
}

/// A client ACME with credential `token` (secret `mock-token`) on `api`.
async fn client_with_credential(api: &Api) {
    create_client(&api.client(), "ACME", "Acme").await;
    put_secret(&api.client(), "ACME", "token", "mock-token").await;
}

/// Adds `channel` to ACME as the admin: the refusal it gets must be that the credential is
/// bound elsewhere.
async fn assert_host_mismatch(api: &Api, channel: &NewChannelBody) {
    assert_refused(
        api.client().create_channel("ACME", channel).await,
        409,
        Code::CredentialHostMismatch,
        "the credential is bound elsewhere",
    );
}

#[tokio::test]
async fn host_bindings_survive_a_restart() {
    let api = Api::start().await;
    client_with_credential(&api).await;
    let walmart = start(Platform::Walmart, "default");
    let channel = walmart_channel("walmart", &walmart.base_url(), "token");
    add_channel(&api.client(), "ACME", &channel).await;
    let dir = api.stop();
    let api = Api::start_loopback(dir).await;
    assert_eq!(
        credential_hosts(&api, "ACME", "token").await,
        [walmart.base_url()]
    );
    let attacker = Recorder::start(Reply::Json);
    assert_host_mismatch(
        &api,
        &walmart_channel("evil", &attacker.base_url(), "token"),
    )
    .await;
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
    let api = Api::start_loopback(dir).await;
    assert_eq!(
        credential_hosts(&api, "ACME", "token").await,
        [walmart.base_url()],
        "bound to the host its stored channel uses"
    );
    // The stored channel keeps working: a count reaches the marketplace.
    post_movement(
        &api.client(),
        "ACME",
        "ACME-MUG",
        MovementKind::Count,
        7,
        "legacy-1",
    )
    .await;
    let pushed = eventually(Duration::from_secs(20), || async {
        listed(&walmart).await.get("ACME-MUG") == Some(&7)
    })
    .await;
    assert!(pushed, "{:?}", listed(&walmart).await);
    let attacker = Recorder::start(Reply::Json);
    assert_host_mismatch(
        &api,
        &walmart_channel("evil", &attacker.base_url(), "token"),
    )
    .await;
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
        assert_refused(
            api.client()
                .create_channel("ACME", &walmart_channel("w", &base, "token"))
                .await,
            400,
            Code::BaseUrlNotAllowed,
            &base,
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
    let refused = assert_refused(
        api.client()
            .create_channel("ACME", &walmart_channel("w", &target.base_url(), "token"))
            .await,
        400,
        Code::BaseUrlNotAllowed,
        "official hosts only",
    );
    assert!(detail(&refused).contains("official"), "{refused}");
    drop(api);

    // Allowed when the deployment says so.
    let api = Api::start().await;
    client_with_credential(&api).await;
    let channel = walmart_channel("w", &target.base_url(), "token");
    add_channel(&api.client(), "ACME", &channel).await;
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
    let admin = api.client();
    create_client_in(
        &admin,
        "ACME",
        "Acme Secret Project",
        ServiceTier::Enterprise,
    )
    .await;
    let plain_manager = api.client_as(&api.member(Role::Manager, &["ACME"]).await);
    assert_refused(
        plain_manager
            .create_client(&new_client("BOLT", "Bolt"))
            .await,
        403,
        Code::Forbidden,
        "a plain manager",
    );
    let missing = admin.client("BOLT").await.unwrap_err();
    assert_eq!(
        missing.status(),
        Some(404),
        "nothing was created: {missing}"
    );

    let granted_token = api.client_creating_manager().await;
    // Raw, to search the whole problem document for what it must not tell.
    let (status, taken, _) = api
        .call(
            Method::POST,
            "/v1/clients",
            Some(&granted_token),
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
    let granted = api.client_as(&granted_token);
    let listed = granted.clients().await.unwrap();
    assert!(listed.is_empty(), "it still sees nothing: {listed:?}");

    create_client(&granted, "ZED", "Zed").await;
    assert_refused(
        granted.create_client(&new_client("ZED", "Zed")).await,
        409,
        Code::Conflict,
        "its own client may be named",
    );
    assert_refused(
        admin.create_client(&new_client("ACME", "x")).await,
        409,
        Code::Conflict,
        "an admin sees everything",
    );
    let grants: BTreeSet<(String, bool)> = admin
        .members()
        .await
        .unwrap()
        .iter()
        .map(|member| (format!("{:?}", member.role), member.may_create_clients))
        .collect();
    assert_eq!(
        grants,
        [
            ("Admin".to_string(), true),
            ("Manager".to_string(), false),
            ("Manager".to_string(), true)
        ]
        .into()
    );
    assert_refused(
        admin
            .create_member(&NewMember {
                may_create_clients: true,
                ..new_member("v", Role::Viewer, &["ACME"])
            })
            .await,
        400,
        Code::InvalidField,
        "a viewer who creates clients",
    );
}

#[tokio::test]
async fn a_member_cannot_be_scoped_to_a_client_that_does_not_exist() {
    let api = Api::start().await;
    let admin = api.client();
    create_client(&admin, "ACME", "Acme").await;
    let members = || async { serde_json::to_value(admin.members().await.unwrap()).unwrap() };
    let before = members().await;
    for clients in [vec!["GHOST"], vec!["ACME", "GHOST"]] {
        let refused = assert_refused(
            admin
                .create_member(&new_member("early", Role::Manager, &clients))
                .await,
            400,
            Code::UnknownClient,
            "an unknown client",
        );
        assert!(detail(&refused).contains("GHOST"));
    }
    assert_eq!(members().await, before, "nothing stored");
    create_client(&admin, "GHOST", "Ghost").await;
    let viewer = api.member(Role::Viewer, &["GHOST"]).await;
    api.client_as(&viewer).client("GHOST").await.unwrap();
}
