//! Fetching one list over HTTPS: ureq for HTTP/1.1, rustls through the
//! same [`Trust`] as the encrypted upstreams, conditional requests, gzip
//! and deflate, and every bound a hostile server could push against: the
//! decoded size, the bytes on the wire, the whole time, and the time any
//! one read may wait (a server that stalls).
//!
//! The body goes to the caller's writer as it arrives (the store's staged
//! copy), never into memory whole. A body shorter than its Content-Length,
//! a compressed stream cut short, or a connection cut is an error: what
//! was written must then be thrown away, and the caller does.

use std::cell::Cell;
use std::fmt;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::sync::Arc;
use std::time::Duration;

use rustls::{ClientConfig, ClientConnection, StreamOwned};
use ureq::unversioned::resolver::DefaultResolver;
use ureq::unversioned::transport::{
    Buffers, ConnectionDetails, Connector, Either, LazyBuffers, NextTimeout, TcpConnector,
    Transport, TransportAdapter,
};

use crate::upstream::tls::{describe, Trust};

/// The bounds of one fetch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchLimits {
    /// The most decoded bytes a list may have
    /// ([`tacet_rules::parse::MAX_LIST_BYTES`] by default).
    pub max_bytes: u64,
    /// The most a fetch may take, redirects and body included (10 minutes:
    /// a 256 MiB list at 500 kB/s).
    pub total: Duration,
    /// The longest any one read may wait for a byte, and the connection to
    /// be set up (30 s): a server that stops sending is given up on.
    pub stall: Duration,
}

impl Default for FetchLimits {
    fn default() -> Self {
        Self {
            max_bytes: tacet_rules::parse::MAX_LIST_BYTES,
            total: Duration::from_secs(600),
            stall: Duration::from_secs(30),
        }
    }
}

/// What the good copy was last served with, for a conditional request.
#[derive(Clone, Copy, Debug, Default)]
pub struct Validators<'a> {
    /// Sent as If-None-Match.
    pub etag: Option<&'a str>,
    /// Sent as If-Modified-Since.
    pub last_modified: Option<&'a str>,
}

impl Validators<'_> {
    fn any(&self) -> bool {
        self.etag.is_some() || self.last_modified.is_some()
    }
}

/// What a fetch brought.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fetched {
    /// 304: the good copy is current.
    NotModified,
    /// 200: a whole body was written to the caller's writer.
    Body(BodyInfo),
}

/// About a body that came whole.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct BodyInfo {
    /// Its ETag, if the server sent a usable one.
    pub etag: Option<String>,
    /// Its Last-Modified, if the server sent a usable one.
    pub last_modified: Option<String>,
    /// Its Content-Type, as sent (for the HTML check's message).
    pub content_type: Option<String>,
    /// Bytes on the wire (compressed, if it was).
    pub wire_bytes: u64,
    /// Bytes written, decoded.
    pub bytes: u64,
}

/// Why a fetch gave no usable body; each says it in words a user can act on.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FetchError {
    /// The URL cannot be requested.
    BadUrl(String),
    /// The server answered with an HTTP status other than 200 or 304.
    Status(u16),
    /// The host name was not found.
    HostNotFound,
    /// No connection could be made.
    Connect(String),
    /// TLS failed (a certificate not valid for the host, an unknown
    /// authority...).
    Tls(String),
    /// The server sent nothing for this long.
    Stalled(Duration),
    /// The fetch took longer than this in all.
    TimedOut(Duration),
    /// The body came short of its length, or the connection was cut.
    Truncated(String),
    /// The body is larger than the most a list may hold (decoded bytes).
    TooLarge(u64),
    /// The body is compressed in a way not offered, or does not decode.
    Encoding(String),
    /// The server redirected too often, or to plain HTTP.
    Redirect(String),
    /// The server broke HTTP.
    Protocol(String),
    /// The copy could not be written here (a full disk).
    Write(String),
}

impl fmt::Display for FetchError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadUrl(why) => write!(f, "the URL cannot be fetched: {why}"),
            Self::Status(code) => {
                write!(f, "the server answered HTTP {code}{}", status_words(*code))
            }
            Self::HostNotFound => f.write_str("the server's name was not found"),
            Self::Connect(why) => write!(f, "cannot connect to the server: {why}"),
            Self::Tls(why) => f.write_str(why),
            Self::Stalled(after) => write!(
                f,
                "the server stopped sending (nothing for {} s)",
                after.as_secs()
            ),
            Self::TimedOut(after) => {
                write!(f, "the download took longer than {} s", after.as_secs())
            }
            Self::Truncated(why) => write!(f, "the list came incomplete: {why}"),
            Self::TooLarge(max) => write!(
                f,
                "the list is larger than {} MiB, the most one list may hold",
                max >> 20
            ),
            Self::Encoding(why) => write!(f, "the list cannot be decoded: {why}"),
            Self::Redirect(why) => write!(f, "redirected: {why}"),
            Self::Protocol(why) => write!(f, "the server broke HTTP: {why}"),
            Self::Write(why) => write!(f, "cannot keep the download here: {why}"),
        }
    }
}

impl std::error::Error for FetchError {}

fn status_words(code: u16) -> &'static str {
    match code {
        301 | 302 | 303 | 307 | 308 => " (a redirect without a usable Location)",
        304 => " (not modified, though nothing was asked conditionally)",
        401 | 403 => " (access denied)",
        404 => " (not found)",
        410 => " (gone)",
        429 => " (too many requests: asked again later)",
        500 => " (server error)",
        502..=504 => " (the server's gateway failed)",
        _ => "",
    }
}

/// Fetches lists: one per call, blocking, on the caller's thread (never
/// the firewall's I/O thread).
#[derive(Clone)]
pub struct Fetcher {
    tls: Arc<ClientConfig>,
    limits: FetchLimits,
}

impl fmt::Debug for Fetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Fetcher")
            .field("limits", &self.limits)
            .finish()
    }
}

/// What the requests say they are.
const USER_AGENT: &str = concat!("tacet/", env!("CARGO_PKG_VERSION"), " (list updates)");
const MAX_REDIRECTS: u32 = 5;

impl Fetcher {
    /// A fetcher trusting the platform's roots and `extra_ca` (PEM), as the
    /// encrypted upstreams do.
    pub fn new(extra_ca: Option<&[u8]>, limits: FetchLimits) -> Result<Self, String> {
        let trust = Trust::new(extra_ca)?;
        Ok(Self {
            tls: trust.https_config()?,
            limits,
        })
    }

    /// The bounds it fetches with.
    pub fn limits(&self) -> FetchLimits {
        self.limits
    }

    /// Fetches `url` into `out`; with `validators`, asks whether it changed
    /// since. `progress` hears the bytes on the wire so far and the
    /// Content-Length, if any. A plain `http://` URL is fetched (the caller
    /// checked the user asked for it); an `https://` one is never
    /// redirected to plain HTTP.
    pub fn fetch(
        &self,
        url: &str,
        validators: Validators<'_>,
        out: &mut dyn Write,
        progress: &mut dyn FnMut(u64, Option<u64>),
    ) -> Result<Fetched, FetchError> {
        let uri: ureq::http::Uri = url
            .parse()
            .map_err(|e: ureq::http::uri::InvalidUri| FetchError::BadUrl(e.to_string()))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => {
                return Err(FetchError::BadUrl(
                    "only https:// and http:// are fetched".into(),
                ))
            }
        };
        let agent = self.agent(https);
        let mut request = agent
            .get(uri)
            .header("User-Agent", USER_AGENT)
            .header("Accept-Encoding", "gzip, deflate");
        if let Some(etag) = validators.etag {
            request = request.header("If-None-Match", etag);
        }
        if let Some(since) = validators.last_modified {
            request = request.header("If-Modified-Since", since);
        }
        let response = request.call().map_err(|e| self.classify(e))?;
        let status = response.status().as_u16();
        if status == 304 && validators.any() {
            return Ok(Fetched::NotModified);
        }
        if status != 200 {
            return Err(FetchError::Status(status));
        }
        let header = |name: &str| {
            response
                .headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        let usable = |what: &str, v: Option<String>| {
            v.filter(|v| tacet_store::subscriptions::check_validator(what, v).is_ok())
        };
        let mut info = BodyInfo {
            etag: usable("ETag", header("etag")),
            last_modified: usable("Last-Modified", header("last-modified")),
            content_type: header("content-type").map(|t| t.chars().take(100).collect()),
            ..BodyInfo::default()
        };
        let encoding = header("content-encoding").map(|e| e.trim().to_ascii_lowercase());
        let length = header("content-length").and_then(|l| l.trim().parse::<u64>().ok());
        // Compressed text shrinks to a few times less at best; a wire bound
        // above the decoded one only stops what never ends.
        let wire_limit = self.limits.max_bytes.saturating_add(1 << 20);
        let body = response
            .into_body()
            .into_with_config()
            .limit(wire_limit)
            .reader();
        let wire = Cell::new(0u64);
        let ended = Cell::new(false);
        let counted = BufReader::with_capacity(
            64 << 10,
            Counting {
                inner: body,
                count: &wire,
                ended: &ended,
            },
        );
        let mut decoded: Box<dyn Read + '_> = match encoding.as_deref() {
            None | Some("identity") => Box::new(counted),
            Some("gzip" | "x-gzip") => Box::new(flate2::bufread::MultiGzDecoder::new(counted)),
            Some("deflate") => deflate(counted).map_err(|e| self.read_error(e))?,
            Some(other) => {
                return Err(FetchError::Encoding(format!(
                    "the server used {:?}, which was not offered",
                    other.chars().take(40).collect::<String>()
                )))
            }
        };
        let mut buf = vec![0u8; 64 << 10];
        loop {
            let n = match decoded.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // The body came whole, its compressed stream did not.
                Err(e) if ended.get() => {
                    return Err(FetchError::Truncated(format!(
                        "the compressed list stops half way ({e})"
                    )))
                }
                Err(e) => return Err(self.read_error(e)),
            };
            info.bytes += n as u64;
            if info.bytes > self.limits.max_bytes {
                return Err(FetchError::TooLarge(self.limits.max_bytes));
            }
            out.write_all(buf.get(..n).unwrap_or_default())
                .map_err(|e| FetchError::Write(e.to_string()))?;
            progress(wire.get(), length);
        }
        drop(decoded);
        info.wire_bytes = wire.get();
        if let Some(length) = length {
            if info.wire_bytes != length {
                return Err(FetchError::Truncated(format!(
                    "{} of the {length} bytes announced",
                    info.wire_bytes
                )));
            }
        }
        out.flush().map_err(|e| FetchError::Write(e.to_string()))?;
        Ok(Fetched::Body(info))
    }

    fn agent(&self, https_only: bool) -> ureq::Agent {
        let config = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .https_only(https_only)
            .max_redirects(MAX_REDIRECTS)
            .proxy(None)
            .timeout_global(Some(self.limits.total))
            .timeout_connect(Some(self.limits.stall))
            .timeout_per_read(Some(self.limits.stall))
            .timeout_per_write(Some(self.limits.stall))
            .build();
        let connector = ().chain(TcpConnector::default()).chain(TrustConnector {
            config: Arc::clone(&self.tls),
        });
        ureq::Agent::with_parts(config, connector, DefaultResolver::default())
    }

    /// A ureq error in the words of [`FetchError`].
    fn classify(&self, error: ureq::Error) -> FetchError {
        use ureq::{Error as E, Timeout as T};
        match error {
            E::Timeout(T::PerRead | T::PerWrite | T::Connect | T::Resolve) => {
                FetchError::Stalled(self.limits.stall)
            }
            E::Timeout(_) => FetchError::TimedOut(self.limits.total),
            E::HostNotFound => FetchError::HostNotFound,
            E::ConnectionFailed => FetchError::Connect("no address of the server answered".into()),
            E::BodyExceedsLimit(_) => FetchError::TooLarge(self.limits.max_bytes),
            E::TooManyRedirects => FetchError::Redirect(format!("more than {MAX_REDIRECTS} times")),
            E::RedirectFailed => FetchError::Redirect("to a location that cannot be used".into()),
            E::RequireHttpsOnly(_) => {
                FetchError::Redirect("from https:// to plain http://, which is refused".into())
            }
            E::BadUri(why) => FetchError::BadUrl(why),
            E::Tls(why) => FetchError::Tls(why.to_owned()),
            E::Io(e) => self.read_error(e),
            E::Other(inner) => match inner.downcast::<TlsFailure>() {
                Ok(tls) => FetchError::Tls(tls.0),
                Err(other) => FetchError::Protocol(other.to_string()),
            },
            E::Protocol(e) => FetchError::Protocol(e.to_string()),
            E::LargeResponseHeader(..) => FetchError::Protocol("its headers are too large".into()),
            other => FetchError::Protocol(other.to_string()),
        }
    }

    /// An I/O error while connecting or reading the body.
    fn read_error(&self, error: io::Error) -> FetchError {
        use io::ErrorKind as K;
        let kind = error.kind();
        if let Some(inner) = error.get_ref() {
            if let Some(tls) = inner.downcast_ref::<TlsFailure>() {
                return FetchError::Tls(tls.0.clone());
            }
        }
        let error = match error
            .into_inner()
            .map(|inner| inner.downcast::<ureq::Error>())
        {
            Some(Ok(ureq)) => return self.classify(*ureq),
            Some(Err(inner)) => inner.to_string(),
            None => kind.to_string(),
        };
        match kind {
            K::TimedOut | K::WouldBlock => FetchError::Stalled(self.limits.stall),
            K::UnexpectedEof | K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => {
                FetchError::Truncated(format!("the connection was cut ({error})"))
            }
            K::ConnectionRefused => FetchError::Connect("connection refused".into()),
            K::HostUnreachable | K::NetworkUnreachable => FetchError::Connect(error),
            K::InvalidData | K::InvalidInput => FetchError::Encoding(error),
            _ => FetchError::Truncated(error),
        }
    }
}

/// A `deflate` body: zlib-wrapped as HTTP says, or raw deflate as some
/// servers send it (told apart by the zlib header's check bits).
fn deflate<'a, R: BufRead + 'a>(mut reader: R) -> io::Result<Box<dyn Read + 'a>> {
    let head = reader.fill_buf()?;
    let zlib = match head {
        [cmf, flg, ..] => cmf & 0x0f == 8 && (u16::from(*cmf) << 8 | u16::from(*flg)) % 31 == 0,
        _ => false,
    };
    Ok(if zlib {
        Box::new(flate2::bufread::ZlibDecoder::new(reader))
    } else {
        Box::new(flate2::bufread::DeflateDecoder::new(reader))
    })
}

/// Counts the bytes read through it (the wire bytes, before decoding),
/// and notes when the body ended as HTTP framed it.
struct Counting<'a, R> {
    inner: R,
    count: &'a Cell<u64>,
    ended: &'a Cell<bool>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.ended.set(true);
        }
        self.count.set(self.count.get() + n as u64);
        Ok(n)
    }
}

/// A TLS failure in words ("certificate of lists.example from an unknown
/// authority"), carried through ureq's errors.
#[derive(Debug)]
struct TlsFailure(String);

impl fmt::Display for TlsFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsFailure {}

/// Wraps ureq's TCP transport in rustls with tacet's trust (ureq's own
/// rustls connector can only be given root certificates, not the
/// platform-plus-extra-CA verifier the upstreams use).
#[derive(Debug)]
struct TrustConnector {
    config: Arc<ClientConfig>,
}

impl<In: Transport> Connector<In> for TrustConnector {
    type Out = Either<In, TlsTransport>;

    fn connect(
        &self,
        details: &ConnectionDetails,
        chained: Option<In>,
    ) -> Result<Option<Self::Out>, ureq::Error> {
        let Some(transport) = chained else {
            return Ok(None);
        };
        if !details.needs_tls() || transport.is_tls() {
            return Ok(Some(Either::A(transport)));
        }
        let host = details
            .uri
            .host()
            .ok_or(ureq::Error::Tls("the URL names no host"))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_owned();
        let name = rustls::pki_types::ServerName::try_from(host.clone())
            .map_err(|_| ureq::Error::Tls("the host is not a name TLS can check"))?;
        let mut conn = ClientConnection::new(Arc::clone(&self.config), name)
            .map_err(|e| tls_error(&e, &host))?;
        let mut sock = TransportAdapter::new(transport.boxed(), details.current_time.clone());
        sock.set_timeout(details.timeout);
        conn.complete_io(&mut sock).map_err(|e| {
            let tls = e
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .cloned();
            match tls {
                Some(tls) => tls_error(&tls, &host),
                None => match e.into_inner().map(|i| i.downcast::<ureq::Error>()) {
                    Some(Ok(ureq)) => *ureq,
                    Some(Err(other)) => ureq::Error::Io(io::Error::other(other)),
                    None => ureq::Error::ConnectionFailed,
                },
            }
        })?;
        let buffers = LazyBuffers::new(
            details.config.input_buffer_size(),
            details.config.output_buffer_size(),
        );
        Ok(Some(Either::B(TlsTransport {
            buffers,
            stream: StreamOwned::new(conn, sock),
        })))
    }
}

fn tls_error(error: &rustls::Error, host: &str) -> ureq::Error {
    ureq::Error::Other(Box::new(TlsFailure(describe(error, host))))
}

/// An HTTP/1.1 connection inside TLS.
struct TlsTransport {
    buffers: LazyBuffers,
    stream: StreamOwned<ClientConnection, TransportAdapter>,
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TlsTransport")
    }
}

impl Transport for TlsTransport {
    fn buffers(&mut self) -> &mut dyn Buffers {
        &mut self.buffers
    }

    fn transmit_output(&mut self, amount: usize, timeout: NextTimeout) -> Result<(), ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let output = self.buffers.output().get(..amount).unwrap_or_default();
        self.stream.write_all(output)?;
        Ok(())
    }

    fn await_input(&mut self, timeout: NextTimeout) -> Result<bool, ureq::Error> {
        self.stream.get_mut().set_timeout(timeout);
        let input = self.buffers.input_append_buf();
        let amount = self.stream.read(input)?;
        self.buffers.input_appended(amount);
        Ok(amount > 0)
    }

    fn is_open(&mut self) -> bool {
        self.stream.get_mut().get_mut().is_open()
    }

    fn is_tls(&self) -> bool {
        true
    }
}
