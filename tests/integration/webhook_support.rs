//! What the tests of the mocks' webhooks share: a receiver on a loopback port that records every
//! delivery (headers and raw body) and can fail the first few, and the subscription to it.

use std::collections::HashMap;
use std::net::TcpListener;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use actix_web::{web, App, HttpRequest, HttpResponse, HttpServer};
use serde_json::json;
use shelfsync::platforms::mock::MockServer;

use crate::mock_support::{control, eventually};

/// One delivery as a receiver saw it: lower-case header names and values, and the raw body.
pub type Received = (HashMap<String, String>, Vec<u8>);

/// A webhook receiver on its own thread and actix system: records every delivery (headers and
/// raw body) and answers 500 to the first `fail` of them.
pub struct Receiver {
    pub url: String,
    seen: Arc<Mutex<Vec<Received>>>,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<()>>,
}

#[derive(Clone)]
struct ReceiverState {
    seen: Arc<Mutex<Vec<Received>>>,
    fail: Arc<AtomicUsize>,
}

async fn record(
    state: web::Data<ReceiverState>,
    request: HttpRequest,
    body: web::Bytes,
) -> HttpResponse {
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
        HttpResponse::InternalServerError().finish()
    } else {
        HttpResponse::Ok().finish()
    }
}

impl Receiver {
    pub fn start(fail: usize) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/webhooks", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let state = ReceiverState {
            seen: Arc::clone(&seen),
            fail: Arc::new(AtomicUsize::new(fail)),
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
            handle: handle.recv().unwrap(),
            thread: Some(thread),
        }
    }

    pub fn deliveries(&self) -> Vec<Received> {
        self.seen.lock().unwrap().clone()
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
    let (status, reply) = control(
        mock,
        "webhooks",
        json!({ "url": receiver.url, "secret": secret }),
    )
    .await;
    assert_eq!(status, 201, "{reply}");
}
