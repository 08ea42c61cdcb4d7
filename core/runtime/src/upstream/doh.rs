//! DNS over HTTPS (RFC 8484): each query a POST of `application/dns-message`
//! on one HTTP/2 connection, many streams at once.
//!
//! HTTP/2 is the `h2` crate, which needs no async runtime: its futures are
//! polled here, on the I/O thread, whenever mio reports the socket ready or
//! a query arrives. The socket under it is the non-blocking TLS stream of
//! `tls`; when it would block, the futures return pending, and mio's next
//! readiness event (edge-triggered) polls them again. A waker that only
//! raises a flag catches the wake-ups h2 gives itself while being polled
//! (a frame read for one stream wakes another), so the loop polls until
//! nothing moves.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use h2::client::{Connection, ResponseFuture, SendRequest};
use h2::RecvStream;
use parking_lot::Mutex;
use tacet_engine::{dns, QueryHandle};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::tls::TlsStream;
use super::{ConnError, Outcome, Sent};

/// The most requests in flight on one connection (servers advertise their
/// own limit, usually 100; h2 waits for it).
pub const MAX_IN_FLIGHT: usize = 512;
/// Streams opened before the server said how many it takes.
const INITIAL_MAX_STREAMS: usize = 100;
/// The largest answer body taken.
const MAX_BODY: usize = 65_535;
/// HTTP/2 receive windows: a DNS answer is at most 64 KiB, and a small
/// window keeps a connection's memory small.
const WINDOW: u32 = 65_535;
/// Rounds of polling per readiness event before the rest waits for the
/// next event (a bound, never reached in practice).
const MAX_ROUNDS: usize = 64;

const MEDIA_TYPE: &str = "application/dns-message";

/// The TLS stream as h2 sees it, raising `done` once its handshake is
/// over (h2's own handshake finishes before TLS's: it only queues its
/// preface), and keeping the TLS failure that ended it (h2 passes on the
/// I/O error's text, not the error).
struct TlsIo(
    TlsStream,
    Arc<AtomicBool>,
    Arc<Mutex<Option<rustls::Error>>>,
);

impl AsyncRead for TlsIo {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let read = self.0.read_plain(buf.initialize_unfilled());
        if !self.0.is_handshaking() {
            self.1.store(true, Ordering::Relaxed);
        }
        if let Some(tls) = self.0.tls_error() {
            *self.2.lock() = Some(tls.clone());
        }
        match read {
            Ok(n) => {
                buf.advance(n);
                Poll::Ready(Ok(()))
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }
}

impl AsyncWrite for TlsIo {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.0.write_plain(buf) {
            Ok(n) => Poll::Ready(Ok(n)),
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_flush(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.0.flush_tls() {
            Ok(true) => Poll::Ready(Ok(())),
            Ok(false) => Poll::Pending,
            Err(e) => Poll::Ready(Err(e)),
        }
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.0.close();
        Poll::Ready(Ok(()))
    }
}

type Handshake = Pin<
    Box<
        dyn Future<Output = Result<(SendRequest<Bytes>, Connection<TlsIo, Bytes>), h2::Error>>
            + Send,
    >,
>;

enum State {
    Handshaking(Handshake),
    Open {
        send: SendRequest<Bytes>,
        conn: Box<Connection<TlsIo, Bytes>>,
    },
}

enum Phase {
    Response(ResponseFuture),
    Body(RecvStream, Vec<u8>),
}

struct Request {
    sent: Sent,
    phase: Phase,
}

/// Raised by h2 when one of its futures can move again.
struct Flag(AtomicBool);

impl Wake for Flag {
    fn wake(self: Arc<Self>) {
        self.0.store(true, Ordering::Relaxed);
    }
}

/// One DoH connection.
pub struct Doh {
    state: State,
    /// Queries waiting for the connection (or for a stream slot).
    queue: Vec<Sent>,
    requests: Vec<Request>,
    /// `https://authority/path` of every request.
    uri: String,
    /// Whether TLS is set up (raised by the stream).
    tls_done: Arc<AtomicBool>,
    /// The TLS failure that ended the stream, if one did.
    tls_error: Arc<Mutex<Option<rustls::Error>>>,
    established: bool,
    flag: Arc<Flag>,
    waker: Waker,
}

impl std::fmt::Debug for Doh {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Doh")
            .field("uri", &self.uri)
            .field("in_flight", &self.in_flight())
            .finish()
    }
}

impl Doh {
    /// A connection over `stream` (still connecting) to `authority`
    /// (the certificate's name, with the port if not 443), posting to
    /// `path`.
    pub fn new(stream: TlsStream, authority: &str, path: &str) -> Self {
        let tls_done = Arc::new(AtomicBool::new(false));
        let tls_error = Arc::new(Mutex::new(None));
        let handshake = h2::client::Builder::new()
            .enable_push(false)
            .initial_window_size(WINDOW)
            .initial_connection_window_size(WINDOW * 4)
            .max_frame_size(16_384)
            .max_header_list_size(16 * 1024)
            // Until the server's SETTINGS say how many streams it takes,
            // open no more than the 100 RFC 9113 §6.5.2 advises servers
            // to allow (h2 would open any number, and a burst of queries
            // beyond the server's limit would be refused).
            .initial_max_send_streams(INITIAL_MAX_STREAMS)
            .handshake::<TlsIo, Bytes>(TlsIo(
                stream,
                Arc::clone(&tls_done),
                Arc::clone(&tls_error),
            ));
        let flag = Arc::new(Flag(AtomicBool::new(false)));
        Self {
            state: State::Handshaking(Box::pin(handshake)),
            queue: Vec::new(),
            requests: Vec::new(),
            uri: format!("https://{authority}{path}"),
            tls_done,
            tls_error,
            established: false,
            waker: Waker::from(Arc::clone(&flag)),
            flag,
        }
    }

    /// Whether the connection was set up: TLS done, HTTP/2 started.
    pub fn is_established(&self) -> bool {
        self.established && self.tls_done.load(Ordering::Relaxed)
    }

    /// How many queries wait for answers.
    pub fn in_flight(&self) -> usize {
        self.queue.len() + self.requests.len()
    }

    /// Whether another query fits.
    pub fn has_room(&self) -> bool {
        self.in_flight() < MAX_IN_FLIGHT
    }

    /// Takes a query (ID zero, as RFC 8484 §4.1 asks: answers are matched
    /// by stream). It goes out with the next poll.
    pub fn send(&mut self, mut sent: Sent, out: &mut Vec<Outcome>) -> Result<(), ConnError> {
        dns::set_id(&mut sent.message, 0);
        self.queue.push(sent);
        self.ready(out)
    }

    /// Polls everything until nothing moves; answers go to `out`.
    pub fn ready(&mut self, out: &mut Vec<Outcome>) -> Result<(), ConnError> {
        for _ in 0..MAX_ROUNDS {
            self.flag.0.store(false, Ordering::Relaxed);
            let moved = self.poll_once(out)?;
            if !moved && !self.flag.0.load(Ordering::Relaxed) {
                break;
            }
        }
        Ok(())
    }

    fn poll_once(&mut self, out: &mut Vec<Outcome>) -> Result<bool, ConnError> {
        let mut cx = Context::from_waker(&self.waker);
        // Whether the connection was set up is read when it fails: one
        // poll can finish the TLS handshake and meet the server's close.
        let established = {
            let (open, tls_done) = (self.established, Arc::clone(&self.tls_done));
            move || open && tls_done.load(Ordering::Relaxed)
        };
        let tls_slot = Arc::clone(&self.tls_error);
        let fail = |reason: String| ConnError {
            reason,
            established: established(),
            tls: None,
        };
        let (send, conn) = match &mut self.state {
            State::Handshaking(handshake) => match handshake.as_mut().poll(&mut cx) {
                Poll::Ready(Ok((send, conn))) => {
                    self.state = State::Open {
                        send,
                        conn: Box::new(conn),
                    };
                    self.established = true;
                    return Ok(true);
                }
                Poll::Ready(Err(e)) => return Err(h2_error(&e, established(), &tls_slot)),
                Poll::Pending => return Ok(false),
            },
            State::Open { send, conn } => (send, conn),
        };
        let mut moved = false;
        match Pin::new(&mut **conn).poll(&mut cx) {
            Poll::Ready(Ok(())) => return Err(fail("the server closed the connection".into())),
            Poll::Ready(Err(e)) => return Err(h2_error(&e, established(), &tls_slot)),
            Poll::Pending => {}
        }
        while !self.queue.is_empty() {
            match send.poll_ready(&mut cx) {
                Poll::Ready(Ok(())) => {}
                Poll::Ready(Err(e)) => return Err(h2_error(&e, established(), &tls_slot)),
                Poll::Pending => break,
            }
            let sent = self.queue.remove(0);
            let request = http::Request::builder()
                .method(http::Method::POST)
                .uri(&self.uri)
                .header(http::header::CONTENT_TYPE, MEDIA_TYPE)
                .header(http::header::ACCEPT, MEDIA_TYPE)
                .header(http::header::CONTENT_LENGTH, sent.message.len())
                .body(())
                .map_err(|e| fail(format!("cannot build a request: {e}")))?;
            let (response, mut stream) = send
                .send_request(request, false)
                .map_err(|e| h2_error(&e, established(), &tls_slot))?;
            stream
                .send_data(Bytes::copy_from_slice(&sent.message), true)
                .map_err(|e| h2_error(&e, established(), &tls_slot))?;
            self.requests.push(Request {
                sent,
                phase: Phase::Response(response),
            });
            moved = true;
        }
        let mut i = 0;
        while i < self.requests.len() {
            let Some(request) = self.requests.get_mut(i) else {
                break;
            };
            match poll_request(request, &mut cx) {
                Poll::Pending => i += 1,
                // The connection under it went: it stays in flight, and
                // goes with the others to a new connection.
                Poll::Ready(Err(Failure::Broken(e))) => {
                    return Err(h2_error(&e, established(), &tls_slot));
                }
                // The server refused this stream before processing it (too
                // many at once): the query goes again on this connection,
                // once; the connection is fine.
                Poll::Ready(Err(Failure::Refused)) => {
                    let mut done = self.requests.swap_remove(i);
                    moved = true;
                    if done.sent.retried {
                        log::debug!("a DoH request was refused twice");
                        out.push(Outcome::Failed(done.sent.handle));
                    } else {
                        done.sent.retried = true;
                        self.queue.insert(0, done.sent);
                    }
                }
                Poll::Ready(result) => {
                    let done = self.requests.swap_remove(i);
                    moved = true;
                    match result {
                        Ok(message) if dns::same_question(&done.sent.message, &message) => {
                            out.push(Outcome::Answer(done.sent.handle, message));
                        }
                        Ok(_) => {
                            log::debug!("dropped a DoH answer to another question");
                            out.push(Outcome::Failed(done.sent.handle));
                        }
                        Err(Failure::Answer(why)) => {
                            log::debug!("a DoH request failed: {why}");
                            out.push(Outcome::Failed(done.sent.handle));
                        }
                        Err(Failure::Broken(e)) => {
                            log::debug!("a DoH request failed: {e}");
                            out.push(Outcome::Failed(done.sent.handle));
                        }
                        Err(Failure::Refused) => out.push(Outcome::Failed(done.sent.handle)),
                    }
                }
            }
        }
        Ok(moved)
    }

    /// Forgets a query the engine gave up on (its stream is reset).
    pub fn abandon(&mut self, handle: QueryHandle) {
        self.queue.retain(|sent| sent.handle != handle);
        self.requests.retain(|r| r.sent.handle != handle);
    }

    /// The queries not answered yet, for another connection.
    pub fn take_in_flight(&mut self) -> Vec<Sent> {
        let mut all: Vec<Sent> = self.queue.drain(..).collect();
        all.extend(self.requests.drain(..).map(|r| r.sent));
        all
    }

    /// Closes: the caller drops the connection, which closes its socket
    /// (an HTTP/2 client has no goodbye of its own to send).
    pub fn close(&mut self) {
        self.queue.clear();
        self.requests.clear();
    }
}

/// Why a request got no answer.
#[derive(Debug)]
enum Failure {
    /// The server answered, but not with a DNS message.
    Answer(String),
    /// The connection went: the query may go again on another connection.
    Broken(h2::Error),
    /// The server refused the stream before using it (RFC 9113 §8.7): the
    /// query may go again, on this connection.
    Refused,
}

fn failure(e: h2::Error) -> Failure {
    if e.is_io() || e.is_go_away() {
        Failure::Broken(e)
    } else if e.reason() == Some(h2::Reason::REFUSED_STREAM) {
        Failure::Refused
    } else {
        Failure::Answer(e.to_string())
    }
}

/// One request's progress: the response's head, then its body.
fn poll_request(request: &mut Request, cx: &mut Context<'_>) -> Poll<Result<Vec<u8>, Failure>> {
    loop {
        match &mut request.phase {
            Phase::Response(response) => match Pin::new(response).poll(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(failure(e))),
                Poll::Ready(Ok(response)) => {
                    if response.status() != http::StatusCode::OK {
                        let status = format!("HTTP status {}", response.status());
                        return Poll::Ready(Err(Failure::Answer(status)));
                    }
                    let media = response
                        .headers()
                        .get(http::header::CONTENT_TYPE)
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default();
                    if !media.eq_ignore_ascii_case(MEDIA_TYPE) {
                        let what = format!("an answer of type `{media}`");
                        return Poll::Ready(Err(Failure::Answer(what)));
                    }
                    request.phase = Phase::Body(response.into_body(), Vec::new());
                }
            },
            Phase::Body(body, bytes) => match body.poll_data(cx) {
                Poll::Pending => return Poll::Pending,
                Poll::Ready(None) => return Poll::Ready(Ok(std::mem::take(bytes))),
                Poll::Ready(Some(Err(e))) => return Poll::Ready(Err(failure(e))),
                Poll::Ready(Some(Ok(chunk))) => {
                    let _ = body.flow_control().release_capacity(chunk.len());
                    if bytes.len() + chunk.len() > MAX_BODY {
                        let what = "an answer over 64 KiB".to_owned();
                        return Poll::Ready(Err(Failure::Answer(what)));
                    }
                    bytes.extend_from_slice(&chunk);
                }
            },
        }
    }
}

/// A connection-level HTTP/2 failure, with the TLS failure under it if
/// there was one.
fn h2_error(e: &h2::Error, established: bool, tls: &Mutex<Option<rustls::Error>>) -> ConnError {
    ConnError {
        reason: format!("HTTP/2: {e}"),
        established,
        tls: tls.lock().clone(),
    }
}
