//! A webhook receiver for the mock marketplace tests (moved here from the Shopify tests, now
//! shared by every mock that sends webhooks): records each delivery, can fail the first ones,
//! and answers eBay's endpoint challenge when given a verification token.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::{json, Value};
use shelfsync::platforms::ebay::connector::notify::challenge_response;
use shelfsync::platforms::mock::MockServer;
use shelfsync::platforms::Platform;

use crate::mock_support::{control, create_listings, eventually, get_json, start};

/// One delivery as a receiver saw it: lower-case header names and values, and the raw body.
pub type Received = (HashMap<String, String>, Vec<u8>);

/// A webhook receiver on its own thread and actix system: records every delivery (headers and
/// raw body) and answers 500 to the first `fail` of them; a `GET ?challenge_code=` is answered
/// as eBay's endpoint must, with `token` (none: 404).
pub struct Receiver {
    pub url: String,
    seen: Arc<Mutex<Vec<Received>>>,
    challenges: Arc<AtomicUsize>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Clone)]
struct ReceiverState {
    url: String,
    seen: Arc<Mutex<Vec<Received>>>,
    fail: Arc<AtomicUsize>,
    token: Option<String>,
    challenges: Arc<AtomicUsize>,
    failure: u16,
}

async fn record(
    state: web::Data<ReceiverState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
    if request.method() == actix_web::http::Method::GET {
        return challenge(&state, &request);
    }
    let headers = request
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_string(),
                value.to_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    state.seen.lock().unwrap().push((headers, body.to_vec()));
    let failing = state
        .fail
        .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |left| {
            left.checked_sub(1)
        })
        .is_ok();
    if failing {
        HttpResponse::build(
            actix_web::http::StatusCode::from_u16(state.failure).expect("a status code"),
        )
        .finish()
    } else {
        HttpResponse::Ok().finish()
    }
}

/// eBay's challenge, answered with the connector's own `challenge_response`.
fn challenge(state: &ReceiverState, request: &HttpRequest) -> HttpResponse {
    state.challenges.fetch_add(1, Ordering::SeqCst);
    let query = web::Query::<HashMap<String, String>>::from_query(request.query_string());
    let code = query
        .ok()
        .and_then(|query| query.get("challenge_code").cloned());
    match (code, &state.token) {
        (Some(code), Some(token)) => HttpResponse::Ok()
            .json(json!({ "challengeResponse": challenge_response(&code, token, &state.url) })),
        _ => HttpResponse::NotFound().finish(),
    }
}

impl Receiver {
    /// A receiver failing its first `fail` deliveries, answering no challenge.
    pub fn start(fail: usize) -> Receiver {
        Receiver::answering(fail, None)
    }

    /// A receiver answering `failure` to its first `fail` deliveries, answering no challenge.
    pub fn start_failing_with(fail: usize, failure: u16) -> Receiver {
        Receiver::build(fail, failure, None)
    }

    /// A receiver failing its first `fail` deliveries, answering challenges with `token`.
    pub fn answering(fail: usize, token: Option<&str>) -> Receiver {
        Receiver::build(fail, 500, token)
    }

    fn build(fail: usize, failure: u16, token: Option<&str>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let challenges = Arc::new(AtomicUsize::new(0));
        let state = ReceiverState {
            url: url.clone(),
            seen: Arc::clone(&seen),
            fail: Arc::new(AtomicUsize::new(fail)),
            token: token.map(str::to_string),
            challenges: Arc::clone(&challenges),
            failure,
        };
        let (started, handle) = std::sync::mpsc::channel();
        let thread = std::thread::spawn(move || {
            actix_rt::System::new().block_on(async move {
                let server = HttpServer::new(move || {
                    App::new()
                        .app_data(web::Data::new(state.clone()))
                        .default_service(web::to(record))
                })
                .workers(1)
                .disable_signals()
                .listen(listener)
                .unwrap()
                .run();
                started.send(server.handle()).unwrap();
                let _ = server.await;
            })
        });
        Receiver {
            url,
            seen,
            challenges,
            handle: handle.recv().unwrap(),
            thread: Some(thread),
        }
    }

    pub fn deliveries(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
    }

    /// How many challenges the receiver was sent.
    pub fn challenges(&self) -> usize {
        self.challenges.load(Ordering::SeqCst)
    }

    pub async fn wait_for(&self, count: usize) -> Vec<Received> {
        assert!(
            eventually(Duration::from_secs(5), || async {
                self.seen.lock().unwrap().len() >= count
            })
            .await,
            "{count} deliveries expected, got {}",
            self.seen.lock().unwrap().len()
        );
        self.deliveries()
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        drop(self.handle.stop(false));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

pub async fn subscribe(mock: &MockServer, receiver: &Receiver, secret: &str) {
    subscribe_with(mock, json!({ "url": receiver.url, "secret": secret })).await;
}

/// `POST /_mock/webhooks` with `body`, which must be accepted.
pub async fn subscribe_with(mock: &MockServer, body: Value) {
    let (status, reply) = control(mock, "webhooks", body).await;
    assert_eq!(status, 201, "{reply}");
}

/// `POST /_mock/webhooks` with `body`, which must be refused with `status` and `code` (and a
/// message), subscribing nothing.
pub async fn assert_subscription_refused(mock: &MockServer, body: Value, status: u16, code: &str) {
    let (answered, reply) = control(mock, "webhooks", body).await;
    assert_eq!(
        (answered, reply["code"].as_str()),
        (status, Some(code)),
        "{reply}"
    );
    assert!(!reply["message"].as_str().unwrap().is_empty());
    assert_eq!(
        get_json(mock, "webhooks").await,
        json!([]),
        "nothing subscribed"
    );
}

/// An eBay mock with one listing (`SKU-1`, 10 units) and a receiver subscribed with verification
/// token `token` (so it passes the challenge), failing its first `fail` deliveries.
pub async fn subscribed_ebay(fail: usize, token: &str) -> (MockServer, Receiver) {
    let mock = start(Platform::Ebay, "default");
    let receiver = Receiver::answering(fail, Some(token));
    subscribe(&mock, &receiver, token).await;
    create_listings(&mock, &[("SKU-1", 10)]).await;
    (mock, receiver)
}
