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
use actix_web::{web, App};

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

/// An actix server on a thread of its own, in an actix system of its own: the API's and each mock
/// marketplace's (`platforms::mock::server`). Dropping it stops the server.
///
/// Here rather than beside the mocks because production runs it too, and production imports no
/// mock code (the mocks import this).
#[derive(Debug)]
pub struct ServerThread {
    handle: ServerHandle,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl ServerThread {
    /// Spawns thread `name`, calls `build` inside its actix system (so that `build` may spawn
    /// tasks beside the server) and returns once the server `build` ran accepts connections. With
    /// `handle_signals`, [`StopSignals`] are installed first and stop the server gracefully.
    pub fn spawn<F>(name: String, handle_signals: bool, build: F) -> std::io::Result<ServerThread>
    where
        F: FnOnce() -> std::io::Result<Server> + Send + 'static,
    {
        let (started, handle) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name(name.clone())
            .spawn(move || {
                actix_rt::System::new().block_on(async move {
                    // Signals are ours, not actix-server's: see [`StopSignals`].
                    let run = || -> std::io::Result<Server> {
                        let signals = handle_signals.then(StopSignals::install).transpose()?;
                        let server = build()?;
                        if let Some(signals) = signals {
                            signals.stop(server.handle());
                        }
                        Ok(server)
                    };
                    match run() {
                        Ok(server) => {
                            let _ = started.send(Ok(server.handle()));
                            server.await
                        }
                        // The starter gets the error; the thread has nothing left to report.
                        Err(error) => {
                            let _ = started.send(Err(error));
                            Ok(())
                        }
                    }
                })
            })?;
        let handle = handle.recv().map_err(|_| {
            std::io::Error::other(format!("the {name} server thread ended before it started"))
        })??;
        Ok(ServerThread {
            handle,
            thread: Some(thread),
        })
    }

    /// Blocks until the server stops (by a signal when spawned with `handle_signals`).
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

impl Drop for ServerThread {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A running API server. Dropping it stops the server.
#[derive(Debug)]
pub struct ApiServer {
    addr: SocketAddr,
    server: ServerThread,
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
        // Where the API answers, the operations sweep runs (exceptions imported and escalated,
        // deliveries retried): the queue the API shows is worked on whether or not anyone asks.
        state.service.start_operations();
        let data = state_data(state);
        // One console state for every worker: a session started on one is found on the others.
        let console = web::Data::new(crate::console::ConsoleState::default());
        let server = ServerThread::spawn("api".into(), on_signal.is_some(), move || {
            let builder = Server::build()
                .workers(workers.max(1))
                .max_concurrent_connections(limits.connections_per_worker(workers))
                .shutdown_timeout(on_signal.map_or(10, |drain| drain.as_secs()))
                .disable_signals();
            // Kept-alive connections close when a graceful stop begins, as with `HttpServer`.
            let stopping = builder.graceful_shutdown_signal();
            let server = builder
                .listen("shelfsync-api", listener, move || {
                    let app = App::new()
                        .wrap(from_fn(super::request_metrics::record))
                        .app_data(data.clone())
                        .app_data(console.clone())
                        .configure(crate::console::configure)
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
            Ok(server)
        })?;
        Ok(ApiServer { addr, server })
    }

    /// `http://ADDR`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Blocks until the server stops (by a signal when started with one).
    pub fn wait(self) -> std::io::Result<()> {
        self.server.wait()
    }

    /// Stops the server, letting requests in flight finish.
    pub fn stop(self) {
        self.server.stop();
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
