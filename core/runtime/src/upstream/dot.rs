//! DNS over TLS (RFC 7858): queries framed by a two-byte length on one TLS
//! connection, pipelined (many in flight, answers in any order, matched by
//! ID and question: RFC 7766 §6.2.1.1).

use std::collections::HashMap;
use std::io;

use rand::Rng;
use tacet_engine::{dns, QueryHandle};

use super::tls::TlsStream;
use super::{ConnError, Outcome, Sent};

/// The most queries in flight on one connection; more wait for a slot.
pub const MAX_IN_FLIGHT: usize = 512;
/// The largest framed answer: a DNS message of 64 KiB and its prefix.
const MAX_FRAME: usize = 2 + 65_535;

/// One DoT connection.
#[derive(Debug)]
pub struct Dot {
    stream: TlsStream,
    /// Bytes read and not yet cut into answers.
    inbuf: Vec<u8>,
    /// Queries sent and not answered, by the ID they went with.
    in_flight: HashMap<u16, Sent>,
    /// Whether the handshake has completed once.
    established: bool,
    /// Framed queries rustls has not taken yet (its buffer was full).
    out: Vec<u8>,
}

impl Dot {
    /// A connection over `stream` (still connecting).
    pub fn new(stream: TlsStream) -> Self {
        Self {
            stream,
            inbuf: Vec::new(),
            in_flight: HashMap::new(),
            established: false,
            out: Vec::new(),
        }
    }

    /// The socket, to register with mio.
    pub fn stream_mut(&mut self) -> &mut TlsStream {
        &mut self.stream
    }

    /// Whether the TLS handshake completed.
    pub fn is_established(&self) -> bool {
        self.established
    }

    /// How many queries wait for answers.
    pub fn in_flight(&self) -> usize {
        self.in_flight.len()
    }

    /// Whether another query fits.
    pub fn has_room(&self) -> bool {
        self.in_flight.len() < MAX_IN_FLIGHT
    }

    /// Sends `sent` with an ID no other query in flight here has.
    pub fn send(&mut self, mut sent: Sent) -> Result<(), ConnError> {
        let mut rng = rand::rng();
        let id = loop {
            let id: u16 = rng.random();
            if !self.in_flight.contains_key(&id) {
                break id;
            }
        };
        dns::set_id(&mut sent.message, id);
        let Ok(len) = u16::try_from(sent.message.len()) else {
            return Ok(()); // a query over 64 KiB cannot be: the engine parsed it
        };
        self.out.extend_from_slice(&len.to_be_bytes());
        self.out.extend_from_slice(&sent.message);
        self.in_flight.insert(id, sent);
        self.write_out()
    }

    /// Hands queued frames to rustls as far as it takes them.
    fn write_out(&mut self) -> Result<(), ConnError> {
        while !self.out.is_empty() {
            match self.stream.write_plain(&self.out) {
                Ok(n) => {
                    self.out.drain(..n);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(self.error(&e)),
            }
        }
        Ok(())
    }

    /// Does what the socket is ready for; answers found go to `out`.
    pub fn ready(&mut self, out: &mut Vec<Outcome>) -> Result<(), ConnError> {
        self.stream.flush_tls().map_err(|e| self.error(&e))?;
        self.write_out()?;
        let mut buf = [0u8; 16 * 1024];
        loop {
            match self.stream.read_plain(&mut buf) {
                Ok(0) => {
                    return Err(ConnError {
                        reason: "the server closed the connection".into(),
                        established: self.set_up(),
                        tls: self.stream.tls_error().cloned(),
                    })
                }
                Ok(n) => {
                    self.inbuf
                        .extend_from_slice(buf.get(..n).unwrap_or_default());
                    self.cut_answers(out);
                    if self.inbuf.len() > MAX_FRAME {
                        return Err(ConnError {
                            reason: "the server sent a frame over 64 KiB".into(),
                            established: self.set_up(),
                            tls: None,
                        });
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(self.error(&e)),
            }
        }
        if !self.stream.is_handshaking() {
            self.established = true;
        }
        Ok(())
    }

    /// Takes whole frames off `inbuf`; answers of queries in flight (same
    /// ID and question) go to `out`, anything else is dropped.
    fn cut_answers(&mut self, out: &mut Vec<Outcome>) {
        loop {
            let Some(len) = self
                .inbuf
                .get(..2)
                .map(|b| usize::from(u16::from_be_bytes([b[0], b[1]])))
            else {
                return;
            };
            let Some(message) = self.inbuf.get(2..2 + len) else {
                return;
            };
            if let Some(id) = dns::id(message) {
                let matches = self
                    .in_flight
                    .get(&id)
                    .is_some_and(|sent| dns::same_question(&sent.message, message));
                if matches {
                    if let Some(sent) = self.in_flight.remove(&id) {
                        out.push(Outcome::Answer(sent.handle, message.to_vec()));
                    }
                } else {
                    log::debug!("dropped a DoT answer with no query of its ID and question");
                }
            }
            self.inbuf.drain(..2 + len);
        }
    }

    /// Forgets a query the engine gave up on.
    pub fn abandon(&mut self, handle: QueryHandle) {
        self.in_flight.retain(|_, sent| sent.handle != handle);
    }

    /// The queries still in flight, for another connection.
    pub fn take_in_flight(&mut self) -> Vec<Sent> {
        self.in_flight.drain().map(|(_, sent)| sent).collect()
    }

    /// Closes politely (close_notify).
    pub fn close(&mut self) {
        self.stream.close();
    }

    /// Whether the handshake is done (now, or before).
    fn set_up(&self) -> bool {
        self.established || !self.stream.is_handshaking()
    }

    fn error(&self, e: &io::Error) -> ConnError {
        ConnError::from_io(e, &self.stream, self.set_up())
    }
}
