//! Runs the API: an actix-web server on its own thread and actix system, for `serve`, the demo and
//! tests (the same shape as the mock marketplaces' server).

use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc;
use std::thread::JoinHandle;

use actix_web::dev::ServerHandle;
use actix_web::{App, HttpServer};

use super::{configure, state_data, ApiState};

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
        let data = state_data(state);
        let (started, handle) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("api".into())
            .spawn(move || {
                actix_rt::System::new().block_on(async move {
                    let server = HttpServer::new(move || {
                        App::new().app_data(data.clone()).configure(configure)
                    })
                    .workers(workers.max(1))
                    .shutdown_timeout(on_signal.map_or(10, |drain| drain.as_secs()));
                    let server = if on_signal.is_some() {
                        server
                    } else {
                        server.disable_signals()
                    };
                    let server = server.listen(listener)?.run();
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
