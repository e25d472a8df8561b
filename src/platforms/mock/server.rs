//! Runs one mock: an actix-web server on its own thread and actix system, with the mock's
//! shoppers and webhook sender beside it. The same code serves tests and the demo in-process
//! ([`start_mocks`], ephemeral loopback ports) and `shelfsync mock-marketplace` standalone.

use std::net::{SocketAddr, TcpListener};
use std::sync::Arc;

use actix_web::{web, App, HttpServer};
use shelfsync_actors::platform::Platform;

use crate::api::server::ServerThread;

use super::{control, shoppers, webhooks, MockError, MockOptions, MockState, PlatformMock};

/// A running mock marketplace. Dropping it stops the server.
#[derive(Debug)]
pub struct MockServer {
    addr: SocketAddr,
    state: Arc<MockState>,
    server: ServerThread,
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
        // The address really bound (port 0 picked one): platforms put it in their payloads.
        let options = MockOptions {
            listen: addr,
            ..options
        };
        let workers = options.workers.max(1);
        let handle_signals = options.handle_signals;
        let state = Arc::new(MockState::new(wire, options));
        let thread_state = Arc::clone(&state);
        let server = ServerThread::spawn(format!("mock-{platform}"), handle_signals, move || {
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
            .shutdown_timeout(5)
            .disable_signals()
            .listen(listener)?
            .run();
            let receiver = thread_state.shoppers().subscribe();
            actix_rt::spawn(shoppers::run(Arc::clone(&thread_state), receiver));
            actix_rt::spawn(webhooks::run(thread_state));
            Ok(server)
        })
        .map_err(|error| MockError::Start {
            message: error.to_string(),
        })?;
        Ok(MockServer {
            addr,
            state,
            server,
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
    pub fn wait(self) -> std::io::Result<()> {
        self.server.wait()
    }

    /// Stops the server, letting requests in flight finish, and waits for its thread.
    pub fn stop(self) {
        self.server.stop();
    }
}

/// Starts one mock per entry on its own loopback port (unless the options say otherwise).
pub fn start_mocks(mocks: &[(Platform, MockOptions)]) -> Result<Vec<MockServer>, MockError> {
    mocks
        .iter()
        .map(|(platform, options)| MockServer::start(*platform, options.clone()))
        .collect()
}
