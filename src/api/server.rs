//! Runs the API: an actix-web server on its own thread and actix system, for `serve`, the demo and
//! tests (the same shape as the mock marketplaces' server).
//!
//! Bounded at the edge (issue 12, DESIGN §6): a request head must arrive within
//! [`EdgeLimits::header_timeout`] (408, closed), a body within [`EdgeLimits::body_timeout`]
//! ([`super::read_body`]: 408 `body_timeout`, closed), and at most
//! [`EdgeLimits::max_connections`] connections are open at once (further ones wait in the
//! kernel's accept backlog). Idle keep-alive connections close after actix-web's 5 s.
//!
//! The server is assembled from actix-web's own parts (actix-server, actix-http's HTTP/1 service,
//! the app) rather than with `HttpServer`, for one reason: each accepted connection is wrapped in
//! a [`HeadGuard`], which bounds the heads of a kept-alive connection's later requests too
//! (`HttpServer` has no hook to wrap a connection, and bounds only the first head).

use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

use actix_http::error::DispatchError;
use actix_http::HttpService;
use actix_service::{map_config, IntoServiceFactory as _, ServiceFactoryExt as _};
use actix_web::dev::{fn_service, AppConfig, Server, ServerHandle};
use actix_web::middleware::from_fn;
use actix_web::App;

use super::head_guard::HeadGuard;
use super::{configure, state_data, ApiState};

/// How long a connection closed on the client (a 408) goes on reading and dropping what still
/// arrives, so that the client reads the reply before the close rather than a reset (actix-web's
/// `HttpServer` default).
const LINGER: Duration = Duration::from_secs(1);

/// Time and connection bounds of the HTTP edge (`api.*` keys of [`crate::config`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EdgeLimits {
    /// How long a client may take to send a request head (slow headers, Slowloris).
    pub header_timeout: Duration,
    /// How long a client may take to send a whole request body (slow bodies).
    pub body_timeout: Duration,
    /// Open connections at most, over all workers (actix-web counts per worker: each worker
    /// gets this divided by the workers, rounded up).
    pub max_connections: usize,
}

impl Default for EdgeLimits {
    /// A head in 5 s (actix-web's own default, ample for any real client), a body in 30 s (the
    /// largest, a 4 MiB catalog, then needs about 140 KB/s), 1024 connections (an agency's
    /// tools, consoles and webhook senders, with room to spare).
    fn default() -> Self {
        Self {
            header_timeout: Duration::from_secs(5),
            body_timeout: Duration::from_secs(30),
            max_connections: 1024,
        }
    }
}

impl EdgeLimits {
    /// The per-worker connection limit actix-web takes.
    fn connections_per_worker(&self, workers: usize) -> usize {
        self.max_connections.div_ceil(workers.max(1)).max(1)
    }
}

/// SIGINT and SIGTERM, caught from the moment [`StopSignals::install`] returns.
///
/// actix-server installs its own handlers only once its server future first runs, after `start`
/// has returned and `serve` has printed `listening on`: a SIGTERM in between killed the process
/// instead of stopping it (found by `serve::a_log_that_is_not_a_terminal_has_no_colour_codes`
/// on CI). The handlers are registered before the server is announced, so a signal at any time
/// after that is a graceful stop.
#[derive(Debug)]
pub struct StopSignals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl StopSignals {
    /// Registers the handlers now (inside a tokio runtime).
    pub fn install() -> std::io::Result<StopSignals> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(StopSignals {
            interrupt: signal(SignalKind::interrupt())?,
            terminate: signal(SignalKind::terminate())?,
        })
    }

    /// Stops `server` gracefully at the first of the signals (spawned on the current arbiter).
    pub fn stop(mut self, server: ServerHandle) {
        actix_rt::spawn(async move {
            tokio::select! {
                _ = self.interrupt.recv() => {}
                _ = self.terminate.recv() => {}
            }
            server.stop(true).await;
        });
    }
}

/// A running API server. Dropping it stops the server.
#[derive(Debug)]
pub struct ApiServer {
    addr: SocketAddr,
    handle: ServerHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl ApiServer {
    /// Starts the API on `listen` (port 0 picks one) with `workers` threads; returns once it
    /// accepts connections. Stops only when told (tests, the demo).
    pub fn start(
        listen: SocketAddr,
        state: ApiState,
        workers: usize,
    ) -> std::io::Result<ApiServer> {
        ApiServer::start_with(listen, state, workers, None)
    }

    /// As [`ApiServer::start`]; with `on_signal: Some(drain)` the server also stops on SIGINT or
    /// SIGTERM, letting requests in flight finish for up to `drain` (`shelfsync serve`).
    pub fn start_with(
        listen: SocketAddr,
        state: ApiState,
        workers: usize,
        on_signal: Option<std::time::Duration>,
    ) -> std::io::Result<ApiServer> {
        let listener = TcpListener::bind(listen)?;
        let addr = listener.local_addr()?;
        let limits = state.edge;
        let data = state_data(state);
        let (started, handle) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("api".into())
            .spawn(move || {
                actix_rt::System::new().block_on(async move {
                    let mut builder = Server::build()
                        .workers(workers.max(1))
                        .max_concurrent_connections(limits.connections_per_worker(workers))
                        .shutdown_timeout(on_signal.map_or(10, |drain| drain.as_secs()));
                    // Signals are ours, not actix-server's: see [`stop_on_signals`].
                    builder = builder.disable_signals();
                    let signals = match on_signal {
                        Some(_) => Some(StopSignals::install()?),
                        None => None,
                    };
                    // Kept-alive connections close when a graceful stop begins, as with
                    // `HttpServer`.
                    let stopping = builder.graceful_shutdown_signal();
                    let server = builder
                        .listen("shelfsync-api", listener, move || {
                            let app = App::new()
                                .wrap(from_fn(super::request_metrics::record))
                                .app_data(data.clone())
                                .configure(configure)
                                .into_factory()
                                .map_err(|error| error.error_response());
                            let stopping = stopping.clone();
                            let http = HttpService::build()
                                .client_request_timeout(limits.header_timeout)
                                .client_disconnect_timeout(LINGER)
                                .graceful_shutdown_signal(move || {
                                    let stopping = stopping.clone();
                                    async move { stopping.notified().await }
                                })
                                .local_addr(addr)
                                .h1(map_config(app, |()| AppConfig::default()));
                            let header_timeout = limits.header_timeout;
                            fn_service(move |io: actix_rt::net::TcpStream| {
                                let peer = io.peer_addr().ok();
                                let guarded = HeadGuard::new(io, header_timeout);
                                async move { Ok::<_, DispatchError>((guarded, peer)) }
                            })
                            .and_then(http)
                        })?
                        .run();
                    if let Some(signals) = signals {
                        signals.stop(server.handle());
                    }
                    let _ = started.send(server.handle());
                    server.await
                })
            })?;
        let handle = handle
            .recv()
            .map_err(|_| std::io::Error::other("the API server thread ended before it started"))?;
        Ok(ApiServer {
            addr,
            handle,
            thread: Some(thread),
        })
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Blocks until the server stops (by a signal when started with one).
    pub fn wait(mut self) -> std::io::Result<()> {
        match self.thread.take() {
            Some(thread) => thread.join().unwrap_or(Ok(())),
            None => Ok(()),
        }
    }

    /// Stops the server, letting requests in flight finish.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(thread) = self.thread.take() {
            drop(self.handle.stop(true));
            let _ = thread.join();
        }
    }
}

impl Drop for ApiServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_connection_limit_is_shared_out_over_the_workers() {
        let limits = EdgeLimits {
            max_connections: 10,
            ..EdgeLimits::default()
        };
        assert_eq!(limits.connections_per_worker(4), 3);
        assert_eq!(limits.connections_per_worker(1), 10);
        assert_eq!(limits.connections_per_worker(0), 10);
    }
}
