//! A deadline on every request head of a connection, not only its first (issue 12: slow headers,
//! "Slowloris").
//!
//! actix-web's `client_request_timeout` bounds only the first request of a connection; once it is
//! answered, the keep-alive timer is cleared by the first byte of the next request and nothing
//! bounds the rest of that head (actix-http 3, `h1/dispatcher.rs`: "head timer only applies to
//! first request on connection"). A client could make one quick call, then drip the next head a
//! byte at a time and hold the connection, and its share of the connection limit, forever.
//!
//! [`HeadGuard`] wraps each accepted connection and watches its bytes: the first byte read after a
//! response (or on a fresh connection) starts a head clock, and the end of the head (`CRLF CRLF`)
//! stops it. A head that does not end within the header timeout fails the connection's next read,
//! and actix-web drops the connection. The state machine is [`HeadClock`], tested without sockets.
//!
//! An interim `100 Continue` is not the answer to the request (the body follows it), so it does
//! not stop a request: actix-http writes it as exactly [`CONTINUE`].

use std::future::Future as _;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use shelfsync_actors::metrics::events::{HttpRefused, InternalEvent};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::{Instant, Sleep};

/// The end of a request head.
const HEAD_END: &[u8] = b"\r\n\r\n";
/// The interim response actix-http writes for `Expect: 100-continue`.
pub const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";

/// Where a connection is between requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    /// Between a response and the next request's first byte (actix-web's keep-alive timer runs).
    Idle,
    /// A head is arriving since `since`; `matched` bytes of [`HEAD_END`] were seen last.
    Head { since: Instant, matched: usize },
    /// The head is in; the request is being served until a final response is written.
    /// `interim` bytes of [`CONTINUE`] were written since it came in.
    Request { interim: usize },
}

/// The head deadline of one connection, fed with the bytes it reads and writes.
#[derive(Debug, Clone)]
pub struct HeadClock {
    timeout: Duration,
    phase: Phase,
}

impl HeadClock {
    /// A clock for a fresh connection.
    pub fn new(timeout: Duration) -> Self {
        Self {
            timeout,
            phase: Phase::Idle,
        }
    }

    /// Bytes came in from the client at `now`.
    pub fn on_read(&mut self, bytes: &[u8], now: Instant) {
        if bytes.is_empty() {
            return;
        }
        let mut matched = match self.phase {
            Phase::Idle => 0,
            Phase::Head { matched, .. } => matched,
            Phase::Request { .. } => return,
        };
        let since = match self.phase {
            Phase::Head { since, .. } => since,
            _ => now,
        };
        for byte in bytes {
            matched = if *byte == HEAD_END[matched] {
                matched + 1
            } else if *byte == HEAD_END[0] {
                1
            } else {
                0
            };
            if matched == HEAD_END.len() {
                self.phase = Phase::Request { interim: 0 };
                return;
            }
        }
        self.phase = Phase::Head { since, matched };
    }

    /// Bytes went out to the client: a final response ends the request.
    pub fn on_write(&mut self, bytes: &[u8]) {
        let Phase::Request { mut interim } = self.phase else {
            // A reply to a head still arriving is actix-web refusing it (400, 408): the
            // connection closes after it.
            return;
        };
        for byte in bytes {
            if *byte != CONTINUE[interim] {
                self.phase = Phase::Idle;
                return;
            }
            interim = (interim + 1) % CONTINUE.len();
        }
        self.phase = Phase::Request { interim };
    }

    /// When the head now arriving must be complete, if one is arriving.
    pub fn deadline(&self) -> Option<Instant> {
        match self.phase {
            Phase::Head { since, .. } => Some(since + self.timeout),
            _ => None,
        }
    }
}

/// A connection whose every request head must arrive within the header timeout.
#[derive(Debug)]
pub struct HeadGuard<T> {
    io: T,
    clock: HeadClock,
    timer: Option<(Instant, Pin<Box<Sleep>>)>,
}

impl<T> HeadGuard<T> {
    /// Guards `io` with heads bounded by `timeout`.
    pub fn new(io: T, timeout: Duration) -> Self {
        Self {
            io,
            clock: HeadClock::new(timeout),
            timer: None,
        }
    }

    /// Fails once the head now arriving is late; registers a wake-up at its deadline otherwise.
    fn check_deadline(&mut self, cx: &mut Context<'_>) -> io::Result<()> {
        let Some(deadline) = self.clock.deadline() else {
            self.timer = None;
            return Ok(());
        };
        if self.timer.as_ref().is_none_or(|(at, _)| *at != deadline) {
            self.timer = Some((deadline, Box::pin(tokio::time::sleep_until(deadline))));
        }
        let Some((_, timer)) = &mut self.timer else {
            return Ok(());
        };
        if timer.as_mut().poll(cx).is_ready() {
            HttpRefused {
                reason: "header_timeout",
            }
            .emit();
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request head did not arrive within the header timeout",
            ));
        }
        Ok(())
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for HeadGuard<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let read = Pin::new(&mut this.io).poll_read(cx, buf);
        if let Poll::Ready(Ok(())) = read {
            this.clock.on_read(&buf.filled()[before..], Instant::now());
        }
        this.check_deadline(cx)?;
        read
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for HeadGuard<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write(cx, buf);
        if let Poll::Ready(Ok(count)) = written {
            this.clock.on_write(&buf[..count]);
        }
        written
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().io).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let written = Pin::new(&mut this.io).poll_write_vectored(cx, bufs);
        if let Poll::Ready(Ok(mut count)) = written {
            for slice in bufs {
                let taken = count.min(slice.len());
                this.clock.on_write(&slice[..taken]);
                count -= taken;
                if count == 0 {
                    break;
                }
            }
        }
        written
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TIMEOUT: Duration = Duration::from_secs(5);

    #[test]
    fn a_head_is_timed_from_its_first_byte_to_its_end() {
        let start = Instant::now();
        let mut clock = HeadClock::new(TIMEOUT);
        assert_eq!(
            clock.deadline(),
            None,
            "a fresh connection waits for its first byte"
        );
        clock.on_read(b"GET /healthz HTTP/1.1\r\nhost: x\r", start);
        assert_eq!(clock.deadline(), Some(start + TIMEOUT));
        clock.on_read(b"\n", start + Duration::from_secs(1));
        assert_eq!(
            clock.deadline(),
            Some(start + TIMEOUT),
            "the clock is not reset by more bytes"
        );
        clock.on_read(b"\r\n", start + Duration::from_secs(2));
        assert_eq!(
            clock.deadline(),
            None,
            "the end, split over reads, is found"
        );
        clock.on_read(b"{\"body\": 1}", start + Duration::from_secs(3));
        assert_eq!(clock.deadline(), None, "a body is not a head");
    }

    #[test]
    fn the_next_head_on_a_kept_alive_connection_is_timed_too() {
        let start = Instant::now();
        let mut clock = HeadClock::new(TIMEOUT);
        clock.on_read(b"GET / HTTP/1.1\r\n\r\n", start);
        clock.on_write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n");
        assert_eq!(
            clock.deadline(),
            None,
            "idle: actix-web's keep-alive timer runs"
        );
        let later = start + Duration::from_secs(30);
        clock.on_read(b"G", later);
        assert_eq!(clock.deadline(), Some(later + TIMEOUT));
    }

    #[test]
    fn an_interim_continue_does_not_end_the_request() {
        let start = Instant::now();
        let mut clock = HeadClock::new(TIMEOUT);
        clock.on_read(
            b"PUT /v1/clients/ACME/catalog HTTP/1.1\r\nexpect: 100-continue\r\n\r\n",
            start,
        );
        clock.on_write(&CONTINUE[..10]);
        clock.on_write(&CONTINUE[10..]);
        clock.on_read(b"sku,on_hand\n", start + Duration::from_secs(9));
        assert_eq!(
            clock.deadline(),
            None,
            "the body after 100 Continue is no head"
        );
        clock.on_write(b"HTTP/1.1 200 OK\r\n\r\n");
        clock.on_read(b"GET", start + Duration::from_secs(10));
        assert!(
            clock.deadline().is_some(),
            "the final answer ended the request"
        );
    }

    #[test]
    fn a_final_answer_after_a_continue_in_one_write_ends_the_request() {
        let start = Instant::now();
        let mut clock = HeadClock::new(TIMEOUT);
        clock.on_read(b"POST / HTTP/1.1\r\n\r\n", start);
        let mut both = CONTINUE.to_vec();
        both.extend_from_slice(b"HTTP/1.1 413 Payload Too Large\r\n\r\n");
        clock.on_write(&both);
        clock.on_read(b"P", start);
        assert!(clock.deadline().is_some());
    }

    #[tokio::test(start_paused = true)]
    async fn a_late_head_fails_the_read_and_a_timely_one_passes() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let (client, server) = tokio::io::duplex(1024);
        let mut guarded = HeadGuard::new(server, TIMEOUT);
        let (mut client_read, mut client_write) = tokio::io::split(client);
        client_write
            .write_all(b"GET / HTTP/1.1\r\n\r\n")
            .await
            .unwrap();
        let mut buffer = [0u8; 64];
        let n = guarded.read(&mut buffer).await.unwrap();
        assert_eq!(&buffer[..n], b"GET / HTTP/1.1\r\n\r\n");
        guarded.write_all(b"HTTP/1.1 200 OK\r\n\r\n").await.unwrap();
        let n = client_read.read(&mut buffer).await.unwrap();
        assert!(n > 0);
        // The next head starts, then stalls: the read fails at the deadline, not before.
        client_write.write_all(b"GET / HT").await.unwrap();
        let started = Instant::now();
        assert_eq!(guarded.read(&mut buffer).await.unwrap(), 8);
        let error = guarded.read(&mut buffer).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), TIMEOUT);
    }
}
