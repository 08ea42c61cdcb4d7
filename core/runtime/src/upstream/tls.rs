//! TLS for encrypted upstreams: which certificates are trusted, and a
//! non-blocking TLS stream over a mio socket that the I/O thread drives.
//!
//! The crypto is rustls with *ring*: ring builds for Android and iOS (and
//! both ARM Linux targets) with nothing but a C compiler, which cargo-ndk
//! and Xcode already have; aws-lc-rs, rustls' default, needs CMake (and
//! NASM or Go for some targets) in every phone build.
//!
//! Trust: the platform's roots (rustls-platform-verifier: the system roots
//! on Linux, the Security framework on iOS), an optional extra CA (tests,
//! self-hosters), and on Android the system CA files read directly (the
//! platform verifier would need the app's JNI context handed over first).
//! A pin, if given, must match the certificate's public key as well: a pin
//! narrows trust, it never replaces the check of the name and dates.

use std::fmt;
use std::io::{self, Read, Write};
use std::sync::Arc;

use mio::net::TcpStream;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{
    CertificateError, ClientConfig, ClientConnection, DigitallySignedStruct, SignatureScheme,
};

use super::spec::{SpkiPin, TlsName};

/// ALPN of DNS over HTTPS: HTTP/2 (RFC 8484 §5.2).
pub const ALPN_H2: &[u8] = b"h2";
/// ALPN of DNS over TLS (registered for RFC 7858).
pub const ALPN_DOT: &[u8] = b"dot";

/// The crypto every encrypted upstream uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// What the firewall trusts for encrypted upstreams, built once at start.
#[derive(Clone)]
pub struct Trust {
    base: Arc<dyn ServerCertVerifier>,
    provider: Arc<CryptoProvider>,
}

impl fmt::Debug for Trust {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Trust")
    }
}

impl Trust {
    /// The platform's roots plus `extra_ca` (PEM certificates). Fails only
    /// when nothing at all can be trusted, or `extra_ca` does not parse.
    pub fn new(extra_ca: Option<&[u8]>) -> Result<Self, String> {
        let provider = provider();
        let extra = match extra_ca {
            Some(pem) => Some(extra_verifier(pem, &provider)?),
            None => None,
        };
        let platform = platform_verifier(&provider);
        let base: Arc<dyn ServerCertVerifier> = match (platform, extra) {
            (Ok(platform), extra) => Arc::new(Either { platform, extra }),
            (Err(_), Some(extra)) => extra,
            (Err(e), None) => return Err(format!("no trusted certificates: {e}")),
        };
        Ok(Self { base, provider })
    }

    /// A client configuration for one upstream: its pins, its ALPN, and
    /// session resumption (a reconnect after idle resumes the session).
    pub fn client_config(&self, name: &TlsName, alpn: &[u8]) -> Result<Arc<ClientConfig>, String> {
        let verifier: Arc<dyn ServerCertVerifier> = if name.pins.is_empty() {
            Arc::clone(&self.base)
        } else {
            Arc::new(Pinned {
                inner: Arc::clone(&self.base),
                pins: name.pins.clone(),
            })
        };
        let mut config = ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.alpn_protocols = vec![alpn.to_vec()];
        Ok(Arc::new(config))
    }
}

impl Trust {
    /// A client configuration for HTTPS over HTTP/1.1 (fetching subscribed
    /// lists): the same trust as the encrypted upstreams, no pins.
    pub fn https_config(&self) -> Result<Arc<ClientConfig>, String> {
        let mut config = ClientConfig::builder_with_provider(Arc::clone(&self.provider))
            .with_safe_default_protocol_versions()
            .map_err(|e| e.to_string())?
            .dangerous()
            .with_custom_certificate_verifier(Arc::clone(&self.base))
            .with_no_client_auth();
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        Ok(Arc::new(config))
    }
}

#[cfg(not(target_os = "android"))]
fn platform_verifier(
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, String> {
    rustls_platform_verifier::Verifier::new(Arc::clone(provider))
        .map(|v| Arc::new(v) as Arc<dyn ServerCertVerifier>)
        .map_err(|e| e.to_string())
}

/// Android: the system's CA files (updatable through the Conscrypt module
/// since Android 14, in the system image before).
#[cfg(target_os = "android")]
fn platform_verifier(
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for dir in [
        "/apex/com.android.conscrypt/cacerts",
        "/system/etc/security/cacerts",
    ] {
        let Ok(entries) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in entries.flatten() {
            if let Ok(pem) = std::fs::read(entry.path()) {
                let certs: Vec<_> = rustls_pemfile_certs(&pem);
                roots.add_parsable_certificates(certs);
            }
        }
        if !roots.is_empty() {
            break;
        }
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map(|v| v as Arc<dyn ServerCertVerifier>)
        .map_err(|e| e.to_string())
}

fn extra_verifier(
    pem: &[u8],
    provider: &Arc<CryptoProvider>,
) -> Result<Arc<dyn ServerCertVerifier>, String> {
    let certs = rustls_pemfile_certs(pem);
    if certs.is_empty() {
        return Err("the extra CA file holds no PEM certificate".into());
    }
    let mut roots = rustls::RootCertStore::empty();
    for cert in certs {
        roots
            .add(cert)
            .map_err(|e| format!("an extra CA certificate is not usable: {e}"))?;
    }
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), Arc::clone(provider))
        .build()
        .map(|v| v as Arc<dyn ServerCertVerifier>)
        .map_err(|e| e.to_string())
}

/// The DER certificates of PEM text (`-----BEGIN CERTIFICATE-----`
/// blocks); anything else is skipped.
fn rustls_pemfile_certs(pem: &[u8]) -> Vec<CertificateDer<'static>> {
    use rustls::pki_types::pem::PemObject;
    CertificateDer::pem_slice_iter(pem)
        .filter_map(Result::ok)
        .collect()
}

/// Trusted if the extra CA vouches for it, or else the platform.
///
/// The extra CA is asked first: the platform verifier logs every failure
/// at ERROR, and asking it first logged one for every connection to a
/// self-hosted resolver that then verified fine. The result is the same
/// either way: only a certificate the one does not know the issuer of
/// goes to the other, and a wrong name or date is wrong whoever issued it.
#[derive(Debug)]
struct Either {
    platform: Arc<dyn ServerCertVerifier>,
    extra: Option<Arc<dyn ServerCertVerifier>>,
}

impl ServerCertVerifier for Either {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if let Some(extra) = &self.extra {
            match extra.verify_server_cert(end_entity, intermediates, server_name, ocsp, now) {
                Err(rustls::Error::InvalidCertificate(CertificateError::UnknownIssuer)) => {}
                verdict => return verdict,
            }
        }
        self.platform
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.platform.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.platform.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.platform.supported_verify_schemes()
    }
}

/// Valid, and its public key is one of the pins.
#[derive(Debug)]
struct Pinned {
    inner: Arc<dyn ServerCertVerifier>,
    pins: Vec<SpkiPin>,
}

/// What a pin mismatch says.
pub const PIN_MISMATCH: &str = "the certificate's public key does not match the pin";

impl ServerCertVerifier for Pinned {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verified =
            self.inner
                .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)?;
        let cert = webpki::EndEntityCert::try_from(end_entity)
            .map_err(|_| rustls::Error::InvalidCertificate(CertificateError::BadEncoding))?;
        let spki = cert.subject_public_key_info();
        let hash = ring::digest::digest(&ring::digest::SHA256, spki.as_ref());
        if self.pins.iter().any(|p| p.0 == hash.as_ref()) {
            Ok(verified)
        } else {
            Err(rustls::Error::General(PIN_MISMATCH.into()))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A TLS failure in words a user can act on ("certificate not valid for
/// dns.example"), for the shells' notice and the log.
pub fn describe(error: &rustls::Error, name: &str) -> String {
    use CertificateError as C;
    match error {
        rustls::Error::InvalidCertificate(cert) => match cert {
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                format!("certificate not valid for {name}")
            }
            C::Expired | C::ExpiredContext { .. } => format!("certificate of {name} expired"),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                format!("certificate of {name} not valid yet")
            }
            C::UnknownIssuer => format!("certificate of {name} from an unknown authority"),
            C::Revoked => format!("certificate of {name} revoked"),
            other => format!("certificate of {name} not valid: {other:?}"),
        },
        rustls::Error::General(text) if text == PIN_MISMATCH => {
            format!("{PIN_MISMATCH} given for {name}")
        }
        other => format!("TLS with {name} failed: {other}"),
    }
}

/// The socket as rustls writes to it: through `write` alone. rustls hands
/// its records to `write_vectored`, which the standard library makes a
/// `writev`; on a connection the server reset, that raises SIGPIPE, and
/// a host that left SIGPIPE at its default action (the CLI does, so
/// `tacet journal | head` ends quietly) dies of it. `write` is a `send`
/// with `MSG_NOSIGNAL` on Linux and Android, and Apple's sockets have
/// `SO_NOSIGPIPE` (mio sets it): an error, never a signal. The default
/// `write_vectored` writes the first buffer; rustls calls again for the
/// rest.
struct NoSigpipe<'a>(&'a mut TcpStream);

impl Write for NoSigpipe<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// A TLS client stream over a non-blocking mio socket. Every method does
/// as much as it can without blocking; the I/O thread calls them again
/// when mio says the socket is ready.
pub struct TlsStream {
    /// The socket.
    pub socket: TcpStream,
    conn: ClientConnection,
    /// The TLS failure that ended it, kept for the message.
    failed: Option<rustls::Error>,
}

impl fmt::Debug for TlsStream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsStream")
            .field("handshaking", &self.conn.is_handshaking())
            .finish()
    }
}

impl TlsStream {
    /// Starts a TLS client on a socket that is connecting.
    pub fn new(socket: TcpStream, config: Arc<ClientConfig>, name: &str) -> Result<Self, String> {
        let server = ServerName::try_from(name.to_owned()).map_err(|e| e.to_string())?;
        let conn = ClientConnection::new(config, server).map_err(|e| e.to_string())?;
        Ok(Self {
            socket,
            conn,
            failed: None,
        })
    }

    /// Whether the handshake is still under way.
    pub fn is_handshaking(&self) -> bool {
        self.conn.is_handshaking()
    }

    /// The TLS error that ended the stream, if one did.
    pub fn tls_error(&self) -> Option<&rustls::Error> {
        self.failed.as_ref()
    }

    /// Moves TLS records from the socket into rustls; `Ok(false)` at the
    /// peer's end of stream.
    fn pull(&mut self) -> io::Result<bool> {
        loop {
            match self.conn.read_tls(&mut self.socket) {
                Ok(0) => return Ok(false),
                Ok(_) => {
                    if let Err(e) = self.conn.process_new_packets() {
                        // Send the alert, then fail.
                        let _ = self.conn.write_tls(&mut NoSigpipe(&mut self.socket));
                        self.failed = Some(e.clone());
                        return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Writes what rustls has for the socket; `Ok(true)` when all went.
    pub fn flush_tls(&mut self) -> io::Result<bool> {
        while self.conn.wants_write() {
            match self.conn.write_tls(&mut NoSigpipe(&mut self.socket)) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return Ok(false),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(true)
    }

    /// Reads plaintext into `buf`: `Ok(0)` at the end of the stream,
    /// `WouldBlock` when nothing more is there now.
    pub fn read_plain(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            match self.conn.reader().read(buf) {
                Ok(n) => return Ok(n),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                // The peer closed without close_notify: the end, too.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => return Ok(0),
                Err(e) => return Err(e),
            }
            // Nothing decrypted is waiting: take records from the socket.
            match self.conn.read_tls(&mut self.socket) {
                // End of stream: the reader says so on the next round.
                Ok(0) => {}
                Ok(_) => {
                    if let Err(e) = self.conn.process_new_packets() {
                        let _ = self.conn.write_tls(&mut NoSigpipe(&mut self.socket));
                        self.failed = Some(e.clone());
                        return Err(io::Error::new(io::ErrorKind::InvalidData, e));
                    }
                    // The handshake or a key update may answer.
                    self.flush_tls()?;
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Gives plaintext to rustls (which buffers it, encrypting as the
    /// handshake allows, up to its buffer limit) and writes what the
    /// socket takes; how much was taken, `WouldBlock` if nothing.
    pub fn write_plain(&mut self, data: &[u8]) -> io::Result<usize> {
        let n = self.conn.writer().write(data)?;
        self.flush_tls()?;
        if n == 0 && !data.is_empty() {
            return Err(io::ErrorKind::WouldBlock.into());
        }
        Ok(n)
    }

    /// Whether rustls holds bytes the socket has not taken.
    pub fn wants_write(&self) -> bool {
        self.conn.wants_write()
    }

    /// Drives the handshake (and acknowledgements) without reading
    /// plaintext: for a stream with nothing to read yet.
    pub fn drive(&mut self) -> io::Result<bool> {
        let open = self.pull()?;
        self.flush_tls()?;
        Ok(open)
    }

    /// Says goodbye (close_notify) as far as the socket takes it.
    pub fn close(&mut self) {
        self.conn.send_close_notify();
        let _ = self.flush_tls();
        let _ = self.socket.shutdown(std::net::Shutdown::Write);
    }
}
