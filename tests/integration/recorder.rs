//! A server a hostile caller would own, on a loopback port the test picked: it records every
//! connection and every request's headers, and answers each request with a fixed reply (`{}`, or
//! a redirect to another server). The access tests point channels and connectors at it and check
//! that no secret ever arrives.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// What the recorder answers.
#[derive(Debug, Clone)]
pub enum Reply {
    /// `200` with `{}`.
    Json,
    /// `307` to this origin with the same path (a 307 keeps the method and the body).
    RedirectTo(String),
}

/// One request as it arrived.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The request line (`GET /path HTTP/1.1`).
    pub line: String,
    /// Every header, the name in lower case.
    pub headers: Vec<(String, String)>,
}

/// The recording server; stopped when dropped.
pub struct Recorder {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<Recorded>>>,
    connections: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Recorder {
    /// Starts it on `127.0.0.1:0`.
    pub fn start(reply: Reply) -> Recorder {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let connections = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (requests, connections, stop) =
                (requests.clone(), connections.clone(), stop.clone());
            std::thread::spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    match listener.accept() {
                        Ok((stream, _)) => {
                            connections.fetch_add(1, Ordering::SeqCst);
                            if let Some(recorded) = serve(stream, &reply) {
                                requests.lock().unwrap().push(recorded);
                            }
                        }
                        Err(_) => std::thread::sleep(Duration::from_millis(5)),
                    }
                }
            })
        };
        Recorder {
            addr,
            requests,
            connections,
            stop,
            thread: Some(thread),
        }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// The requests so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.requests.lock().unwrap().clone()
    }

    /// The connections accepted so far (a TLS handshake counts, though it is no HTTP request).
    pub fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }

    /// The request lines so far (`GET /path HTTP/1.1`), for failure messages.
    pub fn lines(&self) -> Vec<String> {
        self.requests()
            .into_iter()
            .map(|request| request.line)
            .collect()
    }

    /// Whether any header of any request so far holds `secret`.
    pub fn saw(&self, secret: &str) -> bool {
        self.requests()
            .iter()
            .flat_map(|request| request.headers.iter())
            .any(|(_, value)| value.contains(secret))
    }

    /// Waits up to `limit` for a first request.
    pub fn wait_for_request(&self, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if !self.requests().is_empty() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }
}

impl Drop for Recorder {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request (head and body), answers, closes. `None` for what is not HTTP.
fn serve(mut stream: TcpStream, reply: &Reply) -> Option<Recorded> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut buffer = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        if let Some(end) = buffer.windows(4).position(|w| w == b"\r\n\r\n") {
            break end;
        }
        let read = stream.read(&mut chunk).ok()?;
        if read == 0 || buffer.len() > 64 * 1024 {
            return None;
        }
        buffer.extend_from_slice(&chunk[..read]);
    };
    let head = String::from_utf8_lossy(&buffer[..head_end]).into_owned();
    let mut lines = head.split("\r\n");
    let line = lines.next()?.to_string();
    let headers: Vec<(String, String)> = lines
        .filter_map(|header| header.split_once(':'))
        .map(|(name, value)| (name.trim().to_lowercase(), value.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(name, _)| name == "content-length")
        .and_then(|(_, value)| value.parse().ok())
        .unwrap_or(0);
    let mut body = buffer.len() - (head_end + 4);
    while body < length.min(1024 * 1024) {
        let read = stream.read(&mut chunk).ok()?;
        if read == 0 {
            break;
        }
        body += read;
    }
    let path = line.split(' ').nth(1).unwrap_or("/").to_string();
    let answer = match reply {
        Reply::Json => {
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\nconnection: close\r\n\r\n{}".to_string()
        }
        Reply::RedirectTo(origin) => format!(
            "HTTP/1.1 307 Temporary Redirect\r\nlocation: {origin}{path}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
        ),
    };
    let _ = stream.write_all(answer.as_bytes());
    Some(Recorded { line, headers })
}
