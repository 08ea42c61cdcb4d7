//! A list server: HTTPS on port 443 of a lab's upstream side, with a
//! certificate for [`LIST_HOST`] from a throwaway CA, serving one list
//! and misbehaving on demand, to show what the firewall's subscriptions
//! do with every failure a real list server can have.
//!
//! Its HTTP is written out here by hand, byte by byte, for the same reason
//! as the hostile resolver's DNS: each misbehaviour (a body shorter than
//! its Content-Length, a body that never ends, a stall) must be exactly
//! the one named, which a real server library would not send. The client
//! under test, tacet, uses a real HTTP client.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::lab::{Lab, UPSTREAM_V4};

/// The name the server's certificate is for; the phone's `/etc/hosts`
/// maps it to [`UPSTREAM_V4`] (see [`crate::Netns::write_hosts`]).
pub const LIST_HOST: &str = "lists.test";

/// How the server answers the next requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Behaviour {
    /// 200 with the list (gzip-compressed when the client accepts it), or
    /// 304 when the client's If-None-Match is the list's ETag.
    Serve,
    /// 404 with a small HTML page.
    NotFound,
    /// 500.
    ServerError,
    /// 200 with a sign-in page, `text/html`.
    Html,
    /// 200 whose Content-Length says 4 KiB more than the list, then the
    /// connection closes.
    Truncated,
    /// Headers and the start of the list, then nothing for 30 s.
    Stall,
    /// 200, chunked, a body that never ends (for 60 s at most).
    Endless,
}

/// One request the server read.
#[derive(Clone, Debug)]
pub struct SeenRequest {
    /// The request line.
    pub line: String,
    /// Its If-None-Match header, if any.
    pub if_none_match: Option<String>,
}

struct State {
    behaviour: Behaviour,
    list: Vec<u8>,
    etag: String,
    version: u32,
    seen: Vec<SeenRequest>,
}

/// A throwaway CA and the server's certificate for [`LIST_HOST`].
pub struct Pki {
    /// The CA certificate, PEM: what `--ca` / `--list-ca` is given.
    pub ca_pem: String,
    config: Arc<rustls::ServerConfig>,
}

impl Pki {
    /// A new CA and a certificate for [`LIST_HOST`] signed by it.
    pub fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![LIST_HOST.to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
        Self {
            ca_pem: ca.pem(),
            config: Arc::new(config),
        }
    }
}

impl Default for Pki {
    fn default() -> Self {
        Self::new()
    }
}

/// The running server; dropping it (or [`ListServer::go_away`]) closes
/// the port, so that connections are refused.
pub struct ListServer {
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for ListServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ListServer")
    }
}

impl ListServer {
    /// Listens on [`UPSTREAM_V4`]:443 inside the lab's upstream namespace,
    /// serving `list`.
    pub fn start(lab: &Lab, pki: &Pki, list: &str) -> Self {
        let addr: SocketAddr = format!("{UPSTREAM_V4}:443").parse().unwrap();
        let listener = lab.upstream.enter(|| TcpListener::bind(addr).unwrap());
        listener.set_nonblocking(true).unwrap();
        let state = Arc::new(Mutex::new(State {
            behaviour: Behaviour::Serve,
            list: Vec::new(),
            etag: String::new(),
            version: 0,
            seen: Vec::new(),
        }));
        let mut server = Self {
            state: Arc::clone(&state),
            stop: Arc::new(AtomicBool::new(false)),
            thread: None,
        };
        server.set_list(list);
        let stop = Arc::clone(&server.stop);
        let config = Arc::clone(&pki.config);
        let thread = std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((stream, _)) => {
                        let state = Arc::clone(&state);
                        let config = Arc::clone(&config);
                        let stop = Arc::clone(&stop);
                        std::thread::spawn(move || serve(stream, &config, &state, &stop));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        });
        server.thread = Some(thread);
        server
    }

    /// Serves `list` from now on, with a new ETag.
    pub fn set_list(&self, list: &str) {
        let mut s = self.state.lock().unwrap();
        s.version += 1;
        s.list = list.as_bytes().to_vec();
        s.etag = format!("\"v{}\"", s.version);
    }

    /// Answers the next requests this way.
    pub fn set(&self, behaviour: Behaviour) {
        self.state.lock().unwrap().behaviour = behaviour;
    }

    /// The requests read so far.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.state.lock().unwrap().seen.clone()
    }

    /// Stops listening: the port refuses connections from now on.
    pub fn go_away(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

impl Drop for ListServer {
    fn drop(&mut self) {
        self.go_away();
    }
}

fn serve(
    stream: TcpStream,
    config: &Arc<rustls::ServerConfig>,
    state: &Mutex<State>,
    stop: &AtomicBool,
) {
    let _ = stream.set_nonblocking(false);
    let _ = stream.set_read_timeout(Some(Duration::from_secs(10)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(10)));
    let Ok(conn) = rustls::ServerConnection::new(Arc::clone(config)) else {
        return;
    };
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let Some((line, headers)) = read_head(&mut tls) else {
        return;
    };
    let header = |name: &str| {
        headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    };
    let if_none_match = header("if-none-match");
    let gzip_ok = header("accept-encoding").is_some_and(|v| v.contains("gzip"));
    let (behaviour, list, etag) = {
        let mut s = state.lock().unwrap();
        s.seen.push(SeenRequest {
            line,
            if_none_match: if_none_match.clone(),
        });
        (s.behaviour, s.list.clone(), s.etag.clone())
    };
    let reply = |status: &str, headers: &[(&str, String)], body: &[u8], length: usize| {
        let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {length}\r\n");
        for (k, v) in headers {
            out.push_str(&format!("{k}: {v}\r\n"));
        }
        out.push_str("Connection: close\r\n\r\n");
        let mut out = out.into_bytes();
        out.extend_from_slice(body);
        out
    };
    let text = ("Content-Type", "text/plain; charset=utf-8".to_owned());
    let bytes = match behaviour {
        Behaviour::Serve if if_none_match.as_deref() == Some(etag.as_str()) => {
            reply("304 Not Modified", &[("ETag", etag)], b"", 0)
        }
        Behaviour::Serve if gzip_ok => {
            let body = gzip(&list);
            reply(
                "200 OK",
                &[text, ("ETag", etag), ("Content-Encoding", "gzip".into())],
                &body,
                body.len(),
            )
        }
        Behaviour::Serve => reply("200 OK", &[text, ("ETag", etag)], &list, list.len()),
        Behaviour::NotFound => {
            let page = b"<html><body><h1>404 Not Found</h1></body></html>";
            reply(
                "404 Not Found",
                &[("Content-Type", "text/html".into())],
                page,
                page.len(),
            )
        }
        Behaviour::ServerError => reply("500 Internal Server Error", &[], b"", 0),
        Behaviour::Html => {
            let page = b"<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\
                         <body><form>Sign in to continue</form></body></html>\n";
            reply(
                "200 OK",
                &[("Content-Type", "text/html".into())],
                page,
                page.len(),
            )
        }
        Behaviour::Truncated => reply("200 OK", &[text], &list, list.len() + 4096),
        Behaviour::Stall => {
            let head = reply("200 OK", &[text], b"", list.len());
            let _ = tls.write_all(&head);
            let _ = tls.write_all(list.get(..list.len() / 2).unwrap_or_default());
            let _ = tls.flush();
            let until = Instant::now() + Duration::from_secs(30);
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(50));
            }
            return;
        }
        Behaviour::Endless => {
            let head =
                "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n";
            if tls.write_all(head.as_bytes()).is_err() {
                return;
            }
            let line = b"endless.wild.allowed.test\n".repeat(2500);
            let mut chunk = format!("{:x}\r\n", line.len()).into_bytes();
            chunk.extend_from_slice(&line);
            chunk.extend_from_slice(b"\r\n");
            let until = Instant::now() + Duration::from_secs(60);
            while Instant::now() < until && !stop.load(Ordering::Relaxed) {
                if tls.write_all(&chunk).is_err() {
                    return;
                }
            }
            return;
        }
    };
    let _ = tls.write_all(&bytes);
    let _ = tls.flush();
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

/// The request line and headers, at most 16 KiB of them.
fn read_head(stream: &mut impl Read) -> Option<(String, Vec<(String, String)>)> {
    let mut reader = BufReader::new(stream.take(16 << 10));
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 {
            return None;
        }
        let h = h.trim_end();
        if h.is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.push((k.trim().to_owned(), v.trim().to_owned()));
        }
    }
    Some((line.trim_end().to_owned(), headers))
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}
