//! The HTTP edge under hostile or overwhelming callers (issue 12, DESIGN §6 "Bounded at the
//! edge"): slow bodies and slow headers are cut within their configured bounds while the API keeps
//! answering, and a ledger that cannot keep up answers 503 with `Retry-After` within the engine's
//! bound, never hangs, and never applies later what it refused.
//!
//! The slow clients speak raw HTTP/1.1 over TCP (no client library would send this slowly); the
//! rest goes through reqwest. Timeouts are set small here so that the test stays short; each
//! assertion allows for a loaded machine.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use shelfsync::api::channels::NewChannelBody;
use shelfsync::api::server::EdgeLimits;
use shelfsync::platforms::Platform;
use shelfsync::service::ServiceOptions;
use shelfsync_actors::ids::ClientCode;
use shelfsync_actors::inventory::messages::{
    GetState, HoldRounds, InjectPanic, ReleaseRounds, StallMailbox, VerifyLedger,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::api_agency::{order_body, sign, WEBHOOK_SECRET};
use crate::api_support::{
    account, add_channel, create_client, mock_channel, put_secret, Api, ADMIN,
};
use crate::mock_support::{info, start};

/// What a slow client saw.
#[derive(Debug)]
struct Dripped {
    /// When the server closed the connection, from the first dripped byte; `None`: it never did
    /// before the client gave up.
    cut_after: Option<Duration>,
    /// Everything the server sent.
    reply: String,
}

/// Sends `head` at once, then `drip` one byte every `every`, until the server closes the
/// connection or `give_up` has passed since the drip began.
async fn drip(
    addr: SocketAddr,
    head: Vec<u8>,
    drip: Vec<u8>,
    every: Duration,
    give_up: Duration,
) -> Dripped {
    let stream = TcpStream::connect(addr).await.unwrap();
    drip_on(stream, head, drip, every, give_up).await
}

/// As [`drip`], on a connection already used.
async fn drip_on(
    stream: TcpStream,
    head: Vec<u8>,
    drip: Vec<u8>,
    every: Duration,
    give_up: Duration,
) -> Dripped {
    let (mut reader, mut writer) = stream.into_split();
    writer.write_all(&head).await.unwrap();
    let started = Instant::now();
    let read = tokio::spawn(async move {
        let mut reply = Vec::new();
        let mut buffer = [0u8; 4096];
        loop {
            match reader.read(&mut buffer).await {
                Ok(0) | Err(_) => break,
                Ok(n) => reply.extend_from_slice(&buffer[..n]),
            }
        }
        (
            started.elapsed(),
            String::from_utf8_lossy(&reply).into_owned(),
        )
    });
    for byte in drip.iter().cycle() {
        if read.is_finished() || started.elapsed() > give_up {
            break;
        }
        if writer.write_all(&[*byte]).await.is_err() {
            // Reset by the server: the reader ends too.
            break;
        }
        tokio::time::sleep(every).await;
    }
    match tokio::time::timeout(Duration::from_millis(500), read).await {
        Ok(joined) => {
            let (after, reply) = joined.unwrap();
            Dripped {
                cut_after: (after <= give_up).then_some(after),
                reply,
            }
        }
        Err(_) => Dripped {
            cut_after: None,
            reply: String::new(),
        },
    }
}

fn socket(api: &Api) -> SocketAddr {
    api.base_url()
        .trim_start_matches("http://")
        .parse()
        .unwrap()
}

/// A client ACME with a Shopify channel `shop` that takes webhooks; returns the mock (kept
/// running for the channel's polls).
async fn client_with_webhooks(api: &Api) -> shelfsync::platforms::mock::MockServer {
    let admin = api.client();
    create_client(&admin, "ACME", "Acme Mugs").await;
    put_secret(&admin, "ACME", "shopify", "mock-token").await;
    let shopify = start(Platform::Shopify, "default");
    let channel = NewChannelBody {
        account: account(info(&shopify).await["account"].clone()),
        webhook_secret: Some(WEBHOOK_SECRET.into()),
        // Polled rarely: the ledger then holds only what these tests send it.
        poll_interval_ms: Some(300_000),
        ..mock_channel("shop", Platform::Shopify, &shopify.base_url(), "shopify")
    };
    add_channel(&admin, "ACME", &channel).await;
    shopify
}

/// A call's status, `Retry-After` header, JSON reply and how long it took.
struct Reply {
    status: u16,
    retry_after: Option<u64>,
    body: Value,
    took: Duration,
}

async fn send(request: reqwest::RequestBuilder) -> Reply {
    let started = Instant::now();
    let reply = request.send().await.unwrap();
    let status = reply.status().as_u16();
    let retry_after = reply
        .headers()
        .get("retry-after")
        .map(|value| value.to_str().unwrap().parse().unwrap());
    let body = reply.json().await.unwrap_or(Value::Null);
    Reply {
        status,
        retry_after,
        body,
        took: started.elapsed(),
    }
}

fn movement(
    api: &Api,
    http: &reqwest::Client,
    key: &str,
    quantity: i64,
) -> reqwest::RequestBuilder {
    http.post(format!(
        "{}/v1/clients/ACME/stock/ACME-MUG/movements",
        api.base_url()
    ))
    .bearer_auth(ADMIN)
    // `create`: the first receipt brings the SKU into being (the client has no catalog here).
    .json(&json!({"kind": "receipt", "quantity": quantity, "idempotency_key": key, "create": true}))
}

fn webhook(api: &Api, http: &reqwest::Client, body: Vec<u8>) -> reqwest::RequestBuilder {
    http.post(format!("{}/webhooks/ACME/shop", api.base_url()))
        .header("content-type", "application/json")
        .header("x-shopify-topic", "orders/create")
        .header("x-shopify-hmac-sha256", sign(&body, WEBHOOK_SECRET))
        .body(body)
}

async fn stock(api: &Api, http: &reqwest::Client) -> Reply {
    send(
        http.get(format!("{}/v1/clients/ACME/stock/ACME-MUG", api.base_url()))
            .bearer_auth(ADMIN),
    )
    .await
}

/// The journal as the API shows it: `(key, quantity)` per entry, in sequence order.
async fn journal(api: &Api, http: &reqwest::Client) -> Vec<(String, i64)> {
    let reply = send(
        http.get(format!(
            "{}/v1/clients/ACME/ledger?limit=1000",
            api.base_url()
        ))
        .bearer_auth(ADMIN),
    )
    .await;
    assert_eq!(reply.status, 200, "{}", reply.body);
    reply.body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|entry| {
            (
                entry["key"].as_str().unwrap().to_string(),
                entry["quantity"].as_i64().unwrap(),
            )
        })
        .collect()
}

fn acme() -> ClientCode {
    ClientCode::parse("ACME").unwrap()
}

const BODY_TIMEOUT: Duration = Duration::from_millis(1_000);
const HEADER_TIMEOUT: Duration = Duration::from_millis(1_000);
/// How long after its bound a slow client may still be connected: actix-web lingers up to its
/// client disconnect timeout (1 s) reading and dropping what still arrives, so that the client
/// reads the 408 before the close; then a loaded machine.
const CUT_SLACK: Duration = Duration::from_millis(2_500);

fn small_edge() -> EdgeLimits {
    EdgeLimits {
        header_timeout: HEADER_TIMEOUT,
        body_timeout: BODY_TIMEOUT,
        max_connections: 256,
    }
}

fn engine_options(request_timeout: Duration) -> ServiceOptions {
    ServiceOptions {
        arbiters: 1,
        request_timeout,
        ..ServiceOptions::default()
    }
}

#[tokio::test]
async fn slow_bodies_are_cut_within_the_bound_while_the_api_answers() {
    let api = Api::start_with_edge(small_edge(), engine_options(Duration::from_secs(4))).await;
    let _shopify = client_with_webhooks(&api).await;
    let addr = socket(&api);
    let give_up = Duration::from_secs(10);
    // Twenty clients, a byte every quarter second: unauthenticated webhook senders (the body is
    // read before the signature can be checked), authenticated movements, and chunked bodies
    // (which actix-web would otherwise drain after the reply).
    let clients: Vec<_> = (0..20)
        .map(|i| {
            let (path, auth, framing) = match i % 4 {
                0 | 1 => ("/webhooks/ACME/shop", String::new(), "content-length: 4000"),
                2 => (
                    "/v1/clients/ACME/stock/ACME-MUG/movements",
                    format!("authorization: Bearer {ADMIN}\r\n"),
                    "content-length: 4000",
                ),
                _ => (
                    "/webhooks/ACME/shop",
                    String::new(),
                    "transfer-encoding: chunked",
                ),
            };
            let head = format!(
                "POST {path} HTTP/1.1\r\nhost: edge\r\ncontent-type: application/json\r\n{auth}{framing}\r\n\r\n"
            );
            let body = if framing.starts_with("transfer") {
                b"1\r\n{\r\n".to_vec()
            } else {
                b"{\"k\":1}".to_vec()
            };
            tokio::spawn(drip(
                addr,
                head.into_bytes(),
                body,
                Duration::from_millis(250),
                give_up,
            ))
        })
        .collect();
    // Meanwhile the API answers, unauthenticated and authenticated, promptly.
    let http = reqwest::Client::new();
    let mut slowest = Duration::ZERO;
    let watch_until = Instant::now() + BODY_TIMEOUT + CUT_SLACK;
    while Instant::now() < watch_until {
        let health = send(http.get(format!("{}/healthz", api.base_url()))).await;
        assert_eq!(health.status, 200);
        let clients = send(
            http.get(format!("{}/v1/clients", api.base_url()))
                .bearer_auth(ADMIN),
        )
        .await;
        assert_eq!(clients.status, 200, "{}", clients.body);
        slowest = slowest.max(health.took).max(clients.took);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(
        slowest < Duration::from_millis(1_500),
        "the API was slow while slow clients were connected: {slowest:?}"
    );
    for (i, client) in clients.into_iter().enumerate() {
        let dripped = client.await.unwrap();
        let cut_after = dripped
            .cut_after
            .unwrap_or_else(|| panic!("slow client {i} was never cut ({give_up:?})"));
        assert!(
            cut_after <= BODY_TIMEOUT + CUT_SLACK,
            "slow client {i} was cut only after {cut_after:?}"
        );
        assert!(
            dripped.reply.starts_with("HTTP/1.1 408"),
            "client {i}: {}",
            dripped.reply
        );
        assert!(
            dripped.reply.contains("\"code\":\"body_timeout\""),
            "client {i}: {}",
            dripped.reply
        );
    }
    let stock = stock(&api, &http).await;
    assert_eq!(
        stock.status, 404,
        "no slow body changed anything: {}",
        stock.body
    );
}

#[tokio::test]
async fn a_slow_header_is_cut_within_the_header_timeout() {
    let api = Api::start_with_edge(small_edge(), engine_options(Duration::from_secs(4))).await;
    let give_up = Duration::from_secs(10);
    let slowloris = drip(
        socket(&api),
        b"GET /healthz HTTP/1.1\r\nhost: edge\r\n".to_vec(),
        b"x-slow: a\r\n".to_vec(),
        Duration::from_millis(200),
        give_up,
    )
    .await;
    let cut_after = slowloris.cut_after.expect("a slow header was never cut");
    assert!(
        cut_after <= HEADER_TIMEOUT + CUT_SLACK,
        "a slow header was cut only after {cut_after:?}"
    );
    assert!(
        slowloris.reply.starts_with("HTTP/1.1 408"),
        "{}",
        slowloris.reply
    );
}

#[tokio::test]
async fn a_slow_header_on_a_kept_alive_connection_is_cut_too() {
    let api = Api::start_with_edge(small_edge(), engine_options(Duration::from_secs(4))).await;
    // One quick request first: actix-web's own head timeout covers only this one.
    let mut stream = TcpStream::connect(socket(&api)).await.unwrap();
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nhost: edge\r\n\r\n")
        .await
        .unwrap();
    let mut first = Vec::new();
    let mut buffer = [0u8; 1024];
    while !first.ends_with(b"}") {
        let n = stream.read(&mut buffer).await.unwrap();
        assert!(n > 0, "closed early: {}", String::from_utf8_lossy(&first));
        first.extend_from_slice(&buffer[..n]);
    }
    assert!(first.starts_with(b"HTTP/1.1 200"));
    let give_up = Duration::from_secs(10);
    let slowloris = drip_on(
        stream,
        b"GET /healthz HTTP/1.1\r\n".to_vec(),
        b"x-slow: a\r\n".to_vec(),
        Duration::from_millis(200),
        give_up,
    )
    .await;
    let cut_after = slowloris
        .cut_after
        .expect("the second head of a kept-alive connection was never cut");
    assert!(
        cut_after <= HEADER_TIMEOUT + CUT_SLACK,
        "the second head was cut only after {cut_after:?}"
    );
    assert!(
        slowloris.reply.is_empty(),
        "no answer to a head that never ended: {}",
        slowloris.reply
    );
    // The service goes on answering.
    let health = send(reqwest::Client::new().get(format!("{}/healthz", api.base_url()))).await;
    assert_eq!(health.status, 200);
}

#[tokio::test]
async fn a_held_ledger_answers_503_in_time_and_applies_nothing_behind_the_callers_back() {
    let request_timeout = Duration::from_millis(600);
    let api = Api::start_with_edge(small_edge(), engine_options(request_timeout)).await;
    let _shopify = client_with_webhooks(&api).await;
    let http = reqwest::Client::new();
    let first = send(movement(&api, &http, "before", 10)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    let before = journal(&api, &http).await;

    let ledger = api.service.inventory(&acme()).await.unwrap();
    ledger.send(HoldRounds).await.unwrap();
    let keys: Vec<String> = (0..8).map(|i| format!("held-{i}")).collect();
    let order = order_body(770_001, "ACME-MUG", 2);
    let movements =
        futures_util::future::join_all(keys.iter().map(|key| send(movement(&api, &http, key, 1))));
    let (replies, delivery) =
        futures_util::future::join(movements, send(webhook(&api, &http, order.clone()))).await;
    for reply in replies.iter().chain([&delivery]) {
        assert_eq!(reply.status, 503, "{}", reply.body);
        assert_eq!(reply.body["code"], "engine_timeout", "{}", reply.body);
        assert!(
            reply.body["detail"]
                .as_str()
                .unwrap()
                .contains("not applied and never will be"),
            "{}",
            reply.body
        );
        assert_eq!(reply.retry_after, Some(1), "{}", reply.body);
        assert!(
            reply.took >= request_timeout && reply.took < request_timeout + Duration::from_secs(1),
            "answered after {:?}",
            reply.took
        );
    }
    // Reads are not held: the stock shows none of the refused movements.
    let held = stock(&api, &http).await;
    assert_eq!(
        (held.status, held.body["on_hand"].as_i64()),
        (200, Some(10))
    );
    let state = ledger.send(GetState).await.unwrap().unwrap();
    assert!(
        state.pending_acks >= 9,
        "the refused commands still wait, expired: {state:?}"
    );

    ledger.send(ReleaseRounds).await.unwrap();
    // A command after the release runs in the round that meets the expired ones.
    let after = send(movement(&api, &http, "after", 1)).await;
    assert_eq!(after.status, 201, "{}", after.body);
    let mut expected = before.clone();
    expected.push(("api:after".to_string(), 1));
    assert_eq!(
        journal(&api, &http).await,
        expected,
        "nothing refused was written once the ledger went on"
    );

    // The callers retry with the same keys: each is applied exactly once, now.
    for key in &keys {
        let retried = send(movement(&api, &http, key, 1)).await;
        assert_eq!(retried.status, 201, "{key}: {}", retried.body);
        assert_eq!(retried.body["duplicate"], false, "{}", retried.body);
        let again = send(movement(&api, &http, key, 1)).await;
        assert_eq!(again.status, 200, "{}", again.body);
        assert_eq!(again.body["duplicate"], true, "{}", again.body);
    }
    let redelivered = send(webhook(&api, &http, order.clone())).await;
    assert_eq!(redelivered.status, 200, "{}", redelivered.body);
    assert_eq!(redelivered.body["applied"], 1, "{}", redelivered.body);
    let again = send(webhook(&api, &http, order)).await;
    assert_eq!(again.body["duplicates"], 1, "{}", again.body);

    let entries = journal(&api, &http).await;
    assert_eq!(
        entries.len(),
        before.len() + 1 + keys.len() + 1,
        "{entries:?}"
    );
    let stock = stock(&api, &http).await.body;
    assert_eq!(
        (stock["on_hand"].as_i64(), stock["reserved"].as_i64()),
        (Some(10 + 1 + 8), Some(2)),
        "{stock}"
    );
    let ledger = api.service.inventory(&acme()).await.unwrap();
    let report = ledger.send(VerifyLedger).await.unwrap().unwrap();
    assert_eq!(report.head_seq as usize, entries.len(), "gap-free, refolds");
}

#[tokio::test]
async fn a_full_ledger_queue_answers_503_at_once_and_queues_nothing() {
    let request_timeout = Duration::from_millis(800);
    let mut options = engine_options(request_timeout);
    options.supervisor.inventory.mailbox_capacity = 4;
    let api = Api::start_with_edge(small_edge(), options).await;
    let _shopify = client_with_webhooks(&api).await;
    let http = reqwest::Client::new();
    let ledger = api.service.inventory(&acme()).await.unwrap();
    ledger.send(HoldRounds).await.unwrap();
    let waiting: Vec<_> = (0..4)
        .map(|i| tokio::spawn(send(movement(&api, &http, &format!("queued-{i}"), 1))))
        .collect();
    let queued = crate::mock_support::eventually(Duration::from_secs(5), || async {
        ledger.send(GetState).await.unwrap().unwrap().pending_acks >= 4
    })
    .await;
    assert!(queued, "the four commands reach the ledger");
    let pending = ledger.send(GetState).await.unwrap().unwrap().pending_acks;
    // The fifth finds the ledger's queue full: refused at once, not after the timeout.
    let refused = send(movement(&api, &http, "fifth", 1)).await;
    assert_eq!(refused.status, 503, "{}", refused.body);
    assert_eq!(refused.body["code"], "overloaded", "{}", refused.body);
    assert_eq!(refused.retry_after, Some(1));
    assert!(refused.took < request_timeout, "took {:?}", refused.took);
    let refused_delivery = send(webhook(&api, &http, order_body(770_002, "ACME-MUG", 1))).await;
    assert_eq!(
        (
            refused_delivery.status,
            refused_delivery.body["code"].as_str()
        ),
        (503, Some("overloaded"))
    );
    for waiting in waiting {
        let reply = waiting.await.unwrap();
        assert_eq!(reply.body["code"], "engine_timeout", "{}", reply.body);
    }
    let state = ledger.send(GetState).await.unwrap().unwrap();
    assert_eq!(
        state.pending_acks, pending,
        "the refused ones never entered the queue"
    );

    ledger.send(ReleaseRounds).await.unwrap();
    // The next round answers the expired commands and gives their room back.
    let drained = crate::mock_support::eventually(Duration::from_secs(5), || async {
        ledger.send(GetState).await.unwrap().unwrap().pending_acks == 0
    })
    .await;
    assert!(drained);
    let fifth = send(movement(&api, &http, "fifth", 1)).await;
    assert_eq!(fifth.status, 201, "{}", fifth.body);
    for i in 0..4 {
        let retried = send(movement(&api, &http, &format!("queued-{i}"), 1)).await;
        assert_eq!(retried.status, 201, "{}", retried.body);
        assert_eq!(retried.body["duplicate"], false);
    }
    let entries = journal(&api, &http).await;
    assert_eq!(entries.len(), 5, "{entries:?}");
    assert!(ledger.send(VerifyLedger).await.unwrap().is_ok());
}

#[tokio::test]
async fn a_ledger_that_takes_no_messages_answers_503_and_applies_nothing_later() {
    let request_timeout = Duration::from_millis(500);
    let api = Api::start_with_edge(small_edge(), engine_options(request_timeout)).await;
    let _shopify = client_with_webhooks(&api).await;
    let http = reqwest::Client::new();
    let ledger = api.service.inventory(&acme()).await.unwrap();
    let stall = Duration::from_millis(2_500);
    ledger
        .send(StallMailbox {
            for_ms: stall.as_millis() as u64,
        })
        .await
        .unwrap();
    let stalled_at = Instant::now();
    let refused = send(movement(&api, &http, "stalled", 3)).await;
    assert_eq!(
        (refused.status, refused.body["code"].as_str()),
        (503, Some("engine_timeout")),
        "{}",
        refused.body
    );
    let read = stock(&api, &http).await;
    assert_eq!(
        (read.status, read.body["code"].as_str()),
        (503, Some("engine_timeout")),
        "a read of a stalled ledger is bounded too: {}",
        read.body
    );
    assert!(read.retry_after.is_some());
    // Once the ledger takes messages again, the refused command is not among what it writes.
    tokio::time::sleep(stall.saturating_sub(stalled_at.elapsed()) + Duration::from_millis(200))
        .await;
    let later = send(movement(&api, &http, "later", 1)).await;
    assert_eq!(later.status, 201, "{}", later.body);
    assert_eq!(
        journal(&api, &http).await,
        vec![("api:later".to_string(), 1)]
    );
    let retried = send(movement(&api, &http, "stalled", 3)).await;
    assert_eq!(
        (retried.status, retried.body["duplicate"].as_bool()),
        (201, Some(false))
    );
}

/// The service keeps each client's ledger address instead of asking the supervisor on every
/// request (issue 13, item 5); the kept address must never outlive its actor: after a ledger
/// restart (a new generation) requests reach the new actor, not a dead mailbox.
#[tokio::test]
async fn the_ledger_address_is_kept_while_it_lives_and_renewed_after_a_restart() {
    let api = Api::start_with_edge(small_edge(), engine_options(Duration::from_secs(4))).await;
    let _shopify = client_with_webhooks(&api).await;
    let http = reqwest::Client::new();
    let first = api.service.inventory(&acme()).await.unwrap();
    let again = api.service.inventory(&acme()).await.unwrap();
    assert!(again == first, "the address is kept while its actor lives");

    first.do_send(InjectPanic);
    let renewed = crate::mock_support::eventually(Duration::from_secs(5), || async {
        !first.connected()
            && api
                .service
                .inventory(&acme())
                .await
                .is_ok_and(|addr| addr != first && addr.connected())
    })
    .await;
    assert!(renewed, "a restarted ledger's new address is asked for");
    let after = send(movement(&api, &http, "after-restart", 3)).await;
    assert_eq!(after.status, 201, "{}", after.body);
}
