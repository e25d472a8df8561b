//! Runs one mock: an actix-web server on its own thread and actix system, with the mock's
//! shoppers and webhook sender beside it. The same code serves tests and the demo in-process
//! ([`start_mocks`], ephemeral loopback ports) and `shelfsync mock-marketplace` standalone.

use crate::api::server::StopSignals;
use std::net::{SocketAddr, TcpListener};
use std::sync::{mpsc, Arc};
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use actix_web::{web, App, HttpServer};
use shelfsync_actors::platform::Platform;

use super::{control, shoppers, webhooks, MockError, MockOptions, MockState, PlatformMock};

/// A running mock marketplace. Dropping it stops the server.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<MockState>,
    handle: ServerHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl MockServer {
    /// Starts a mock of `platform`; returns once it accepts connections.
    pub fn start(platform: Platform, options: MockOptions) -> Result<MockServer, MockError> {
        let wire = super::platform_mock(platform, &options)?;
        MockServer::start_with(wire, options)
    }

    /// Starts a mock of a wire format built by the caller: a platform's `build_with` and its
    /// knobs (Amazon's apply delay, Shopify's throttle status), for tests and embedders.
    pub fn start_with(
        wire: Arc<dyn PlatformMock>,
        options: MockOptions,
    ) -> Result<MockServer, MockError> {
        let platform = wire.platform();
        let listener = TcpListener::bind(options.listen).map_err(|source| MockError::Bind {
            addr: options.listen,
            source,
        })?;
        let addr = listener.local_addr().map_err(|source| MockError::Bind {
            addr: options.listen,
            source,
        })?;
        let workers = options.workers.max(1);
        let handle_signals = options.handle_signals;
        let state = Arc::new(MockState::new(wire, options));
        let (started, handle) = mpsc::channel();
        let thread_state = Arc::clone(&state);
        let thread = std::thread::Builder::new()
            .name(format!("mock-{platform}"))
            .spawn(move || {
                actix_rt::System::new().block_on(async move {
                    let data = web::Data::from(Arc::clone(&thread_state));
                    let server = HttpServer::new(move || {
                        let platform = Arc::clone(data.platform());
                        App::new()
                            .app_data(data.clone())
                            .service(control::scope())
                            .configure(|cfg| platform.configure(cfg))
                    })
                    .workers(workers)
                    // A graceful stop waits this long for requests in flight, then closes.
                    .shutdown_timeout(5);
                    // Signals are caught before the mock is announced (see `StopSignals`).
                    let server = server.disable_signals();
                    let signals = if handle_signals {
                        match StopSignals::install() {
                            Ok(signals) => Some(signals),
                            Err(error) => {
                                let _ = started.send(Err(error.to_string()));
                                return Err(error);
                            }
                        }
                    } else {
                        None
                    };
                    let server = match server.listen(listener) {
                        Ok(server) => server.run(),
                        Err(error) => {
                            let _ = started.send(Err(error.to_string()));
                            return Err(error);
                        }
                    };
                    if let Some(signals) = signals {
                        signals.stop(server.handle());
                    }
                    let _ = started.send(Ok(server.handle()));
                    let receiver = thread_state.shoppers().subscribe();
                    actix_rt::spawn(shoppers::run(Arc::clone(&thread_state), receiver));
                    actix_rt::spawn(webhooks::run(thread_state));
                    server.await
                })
            })
            .map_err(|error| MockError::Start {
                message: error.to_string(),
            })?;
        let handle = match handle.recv() {
            Ok(Ok(handle)) => handle,
            Ok(Err(message)) => return Err(MockError::Start { message }),
            Err(_) => {
                return Err(MockError::Start {
                    message: "the server thread ended".into(),
                })
            }
        };
        Ok(MockServer {
            addr,
            state,
            handle,
            thread: Some(thread),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, the base URL a connector is given.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The platform it mocks.
    pub fn platform(&self) -> Platform {
        self.state.platform().platform()
    }

    /// Its state, for in-process tests and the demo's live view.
    pub fn state(&self) -> &Arc<MockState> {
        &self.state
    }

    /// Blocks until the server stops (by a signal when started with `handle_signals`).
    pub fn wait(mut self) -> std::io::Result<()> {
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or(Ok(())),
            None => Ok(()),
        }
    }

    /// Stops the server, letting requests in flight finish, and waits for its thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            // `stop` sends the command when called; its future only waits for the answer.
            drop(self.handle.stop(true));
            let _ = thread.join();
        }
    }
}

impl Drop for MockServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Starts one mock per entry on its own loopback port (unless the options say otherwise).
pub fn start_mocks(mocks: &[(Platform, MockOptions)]) -> Result<Vec<MockServer>, MockError> {
    mocks
        .iter()
        .map(|(platform, options)| MockServer::start(*platform, options.clone()))
        .collect()
}
