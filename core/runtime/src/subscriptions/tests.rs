//! Fetching, checking and keeping lists against a small server on
//! loopback that answers each connection with bytes written out here, so
//! every misbehaviour is exactly the one named. (The end-to-end tests run
//! the same cases over HTTPS in network namespaces.)

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use super::*;
use crate::rule_sources::{compose, ListSource};
use tacet_rules::Verdict;

/// What the server does on one connection, after reading the request.
#[derive(Clone)]
enum Reply {
    /// Writes these bytes and closes.
    Raw(Vec<u8>),
    /// Writes these bytes, then waits this long before closing.
    Stall(Vec<u8>, Duration),
    /// Writes the header, then body bytes until the client goes.
    Endless(Vec<u8>),
}

fn response(status: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\n", body.len());
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("Connection: close\r\n\r\n");
    let mut out = out.into_bytes();
    out.extend_from_slice(body);
    out
}

fn ok(body: &[u8], headers: &[(&str, &str)]) -> Reply {
    Reply::Raw(response("200 OK", headers, body))
}

/// A server on 127.0.0.1 answering connection n with `replies[n]` (the
/// last one again once they run out), recording each request's head.
struct Server {
    addr: SocketAddr,
    requests: Arc<Mutex<Vec<String>>>,
    _thread: JoinHandle<()>,
}

impl Server {
    fn start(replies: Vec<Reply>) -> Self {
        Self::start_with(replies, |s| Box::new(s))
    }

    fn start_with(
        replies: Vec<Reply>,
        wrap: impl Fn(TcpStream) -> Box<dyn ReadWrite> + Send + 'static,
    ) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let seen = Arc::clone(&requests);
        let thread = std::thread::spawn(move || {
            for (n, stream) in listener.incoming().enumerate() {
                let Ok(stream) = stream else { return };
                let reply = replies.get(n).or(replies.last()).cloned().unwrap();
                let seen = Arc::clone(&seen);
                let stream = wrap(stream);
                std::thread::spawn(move || serve(stream, reply, &seen));
            }
        });
        Self {
            addr,
            requests,
            _thread: thread,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

trait ReadWrite: Read + Write + Send {}
impl<T: Read + Write + Send> ReadWrite for T {}

fn serve(stream: Box<dyn ReadWrite>, reply: Reply, seen: &Mutex<Vec<String>>) {
    let mut reader = BufReader::new(stream);
    let mut head = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 {
            return;
        }
        if line == "\r\n" {
            break;
        }
        head.push_str(&line);
    }
    seen.lock().unwrap().push(head);
    let stream = reader.get_mut();
    match reply {
        Reply::Raw(bytes) => {
            let _ = stream.write_all(&bytes);
        }
        Reply::Stall(bytes, wait) => {
            let _ = stream.write_all(&bytes);
            let _ = stream.flush();
            std::thread::sleep(wait);
        }
        Reply::Endless(head) => {
            let _ = stream.write_all(&head);
            let chunk = b"1000\r\n"
                .iter()
                .copied()
                .chain(std::iter::repeat_n(b'a', 0x1000).chain(b"\r\n".iter().copied()));
            let chunk: Vec<u8> = chunk.collect();
            while stream.write_all(&chunk).is_ok() {}
        }
    }
    let _ = stream.flush();
}

fn fetcher(limits: FetchLimits) -> Fetcher {
    Fetcher::new(None, limits).unwrap()
}

fn quick() -> FetchLimits {
    FetchLimits {
        max_bytes: 1 << 20,
        total: Duration::from_secs(10),
        stall: Duration::from_millis(400),
    }
}

fn get(f: &Fetcher, url: &str, v: Validators<'_>) -> (Result<Fetched, FetchError>, Vec<u8>) {
    let mut out = Vec::new();
    let result = f.fetch(url, v, &mut out, &mut |_, _| {});
    (result, out)
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

const LIST: &[u8] = b"# a list\nads.example\n0.0.0.0 tracker.example\n";

#[test]
fn a_list_comes_with_its_validators_and_a_conditional_request_gets_304() {
    let server = Server::start(vec![
        ok(
            LIST,
            &[
                ("ETag", "\"v1\""),
                ("Last-Modified", "Tue, 01 Apr 2025 10:00:00 GMT"),
            ],
        ),
        Reply::Raw(response("304 Not Modified", &[], b"")),
    ]);
    let f = fetcher(quick());
    let (result, body) = get(&f, &server.url("/list.txt"), Validators::default());
    let Ok(Fetched::Body(info)) = result else {
        panic!("{result:?}")
    };
    assert_eq!(body, LIST);
    assert_eq!(info.etag.as_deref(), Some("\"v1\""));
    assert_eq!(info.bytes, LIST.len() as u64);
    let (result, body) = get(
        &f,
        &server.url("/list.txt"),
        Validators {
            etag: info.etag.as_deref(),
            last_modified: info.last_modified.as_deref(),
        },
    );
    assert_eq!(result, Ok(Fetched::NotModified));
    assert!(body.is_empty());
    let requests = server.requests();
    let conditional = requests[1].to_ascii_lowercase();
    assert!(
        conditional.contains("if-none-match: \"v1\""),
        "{conditional}"
    );
    assert!(
        conditional.contains("if-modified-since: tue, 01 apr 2025 10:00:00 gmt"),
        "{conditional}"
    );
    assert!(requests[0]
        .to_ascii_lowercase()
        .contains("accept-encoding: gzip, deflate"));
}

#[test]
fn http_errors_and_a_304_nobody_asked_for_are_errors() {
    let server = Server::start(vec![
        Reply::Raw(response("404 Not Found", &[], b"<html>gone</html>")),
        Reply::Raw(response("500 Internal Server Error", &[], b"")),
        Reply::Raw(response("304 Not Modified", &[], b"")),
        Reply::Raw(response("206 Partial Content", &[], LIST)),
    ]);
    let f = fetcher(quick());
    let url = server.url("/l");
    assert_eq!(
        get(&f, &url, Validators::default()).0,
        Err(FetchError::Status(404))
    );
    let e = get(&f, &url, Validators::default()).0.unwrap_err();
    assert_eq!(e, FetchError::Status(500));
    assert_eq!(e.to_string(), "the server answered HTTP 500 (server error)");
    assert_eq!(
        get(&f, &url, Validators::default()).0,
        Err(FetchError::Status(304))
    );
    assert_eq!(
        get(&f, &url, Validators::default()).0,
        Err(FetchError::Status(206))
    );
}

#[test]
fn a_body_short_of_its_length_or_cut_is_truncated() {
    let mut short = response("200 OK", &[], &[b'a'; 1000]);
    short.truncate(short.len() - 900);
    let chunked_cut =
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10\r\nads.example\n".to_vec();
    let gz = gzip(&LIST.repeat(100));
    let gz_cut = response(
        "200 OK",
        &[("Content-Encoding", "gzip")],
        &gz[..gz.len() / 2],
    );
    let server = Server::start(vec![
        Reply::Raw(short),
        Reply::Raw(chunked_cut),
        Reply::Raw(gz_cut),
    ]);
    let f = fetcher(quick());
    for case in ["content-length", "chunked", "gzip"] {
        let (result, _) = get(&f, &server.url("/l"), Validators::default());
        assert!(
            matches!(
                result,
                Err(FetchError::Truncated(_) | FetchError::Encoding(_))
            ),
            "{case}: {result:?}"
        );
        if case == "gzip" {
            assert!(result.unwrap_err().to_string().contains("compressed"));
        }
    }
}

#[test]
fn gzip_and_both_kinds_of_deflate_are_decoded() {
    let big = LIST.repeat(1000);
    let zlib = {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&big).unwrap();
        e.finish().unwrap()
    };
    let raw = {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&big).unwrap();
        e.finish().unwrap()
    };
    let server = Server::start(vec![
        ok(&gzip(&big), &[("Content-Encoding", "gzip")]),
        ok(&zlib, &[("Content-Encoding", "deflate")]),
        ok(&raw, &[("Content-Encoding", "deflate")]),
        ok(b"x", &[("Content-Encoding", "br")]),
    ]);
    let f = fetcher(quick());
    for _ in 0..3 {
        let (result, body) = get(&f, &server.url("/l"), Validators::default());
        let Ok(Fetched::Body(info)) = result else {
            panic!("{result:?}")
        };
        assert_eq!(body, big);
        assert!(info.wire_bytes < info.bytes / 10, "{info:?}");
    }
    assert!(matches!(
        get(&f, &server.url("/l"), Validators::default()).0,
        Err(FetchError::Encoding(_))
    ));
}

#[test]
fn endless_bodies_and_compression_bombs_stop_at_the_cap() {
    let bomb = gzip(&vec![b'\n'; 8 << 20]);
    let server = Server::start(vec![
        Reply::Endless(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec()),
        ok(&bomb, &[("Content-Encoding", "gzip")]),
    ]);
    let f = fetcher(quick());
    for _ in 0..2 {
        let (result, body) = get(&f, &server.url("/l"), Validators::default());
        assert_eq!(result, Err(FetchError::TooLarge(1 << 20)));
        assert!(body.len() <= 1 << 20);
    }
}

#[test]
fn a_server_that_stops_sending_is_given_up_on() {
    let head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\nads.example\n".to_vec();
    let server = Server::start(vec![
        Reply::Stall(head, Duration::from_secs(5)),
        Reply::Stall(Vec::new(), Duration::from_secs(5)),
    ]);
    let f = fetcher(quick());
    for _ in 0..2 {
        let started = std::time::Instant::now();
        let (result, _) = get(&f, &server.url("/l"), Validators::default());
        assert_eq!(result, Err(FetchError::Stalled(Duration::from_millis(400))));
        assert!(
            started.elapsed() < Duration::from_secs(3),
            "{:?}",
            started.elapsed()
        );
    }
}

#[test]
fn a_server_that_is_gone_is_a_connect_error() {
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap()
    };
    let f = fetcher(quick());
    let (result, _) = get(&f, &format!("http://{addr}/l"), Validators::default());
    assert!(matches!(result, Err(FetchError::Connect(_))), "{result:?}");
}

/// A CA and a certificate for `localhost` signed by it, as PEM and DER.
fn tls_pair() -> (String, rustls::ServerConfig) {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca_params, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let cert = CertificateParams::new(vec!["localhost".to_owned()])
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
    (ca.pem(), config)
}

fn tls_server(replies: Vec<Reply>, config: rustls::ServerConfig) -> Server {
    let config = Arc::new(config);
    Server::start_with(replies, move |stream| {
        let conn = rustls::ServerConnection::new(Arc::clone(&config)).unwrap();
        Box::new(rustls::StreamOwned::new(conn, stream))
    })
}

#[test]
fn https_is_checked_with_the_upstreams_trust_and_never_redirected_to_http() {
    let (ca_pem, config) = tls_pair();
    let plain = Server::start(vec![ok(LIST, &[])]);
    let location = plain.url("/list.txt");
    let server = tls_server(
        vec![
            ok(LIST, &[]),
            ok(LIST, &[]),
            Reply::Raw(response("302 Found", &[("Location", &location)], b"")),
        ],
        config,
    );
    let url = format!("https://localhost:{}/list.txt", server.addr.port());
    let trusted = Fetcher::new(Some(ca_pem.as_bytes()), quick()).unwrap();
    let (result, body) = get(&trusted, &url, Validators::default());
    assert!(matches!(result, Ok(Fetched::Body(_))), "{result:?}");
    assert_eq!(body, LIST);
    // Without the CA, the same server is refused, and says why.
    let (result, body) = get(&fetcher(quick()), &url, Validators::default());
    match result {
        Err(FetchError::Tls(why)) => assert!(why.contains("unknown authority"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert!(body.is_empty());
    let (result, _) = get(&trusted, &url, Validators::default());
    assert!(matches!(result, Err(FetchError::Redirect(_))), "{result:?}");
    assert!(plain.requests().is_empty());
}

// ---- updates: fetch, check, keep ----

fn store_with(url: &str) -> (tempfile::TempDir, Subscription) {
    let dir = tempfile::tempdir().unwrap();
    let sub = subscribe(dir.path(), url, Some("Test list"), true).unwrap();
    (dir, sub)
}

fn run(dir: &Path, f: &Fetcher, force: bool) -> ListUpdate {
    let report = update(
        dir,
        &Which::All,
        f,
        UpdateOptions { force },
        true,
        &mut Quiet,
    )
    .unwrap()
    .unwrap();
    assert_eq!(report.lists.len(), 1);
    report.lists[0].clone()
}

fn status(dir: &Path) -> Subscription {
    store::list(dir).unwrap()[0].clone().unwrap()
}

fn copy(dir: &Path, id: &str) -> Vec<u8> {
    std::fs::read(store::copy_path(dir, id)).unwrap()
}

fn names(n: usize, tag: &str) -> Vec<u8> {
    (0..n)
        .map(|i| format!("{tag}{i}.example\n"))
        .collect::<String>()
        .into_bytes()
}

#[test]
fn every_failure_keeps_the_last_good_copy_and_says_why() {
    let good = names(100, "ads");
    let newer = names(120, "ads");
    let server = Server::start(vec![
        ok(&good, &[("ETag", "\"v1\"")]),
        Reply::Raw(response("304 Not Modified", &[], b"")),
        Reply::Raw(response("404 Not Found", &[], b"")),
        Reply::Raw(response("500 Internal Server Error", &[], b"")),
        ok(
            b"<!doctype html><title>Log in</title>",
            &[("Content-Type", "text/html")],
        ),
        ok(&names(5, "ads"), &[("ETag", "\"v2\"")]),
        Reply::Stall(
            b"HTTP/1.1 200 OK\r\nContent-Length: 9999\r\n\r\nads.example\n".to_vec(),
            Duration::from_secs(3),
        ),
        ok(&newer, &[("ETag", "\"v3\"")]),
    ]);
    let (dir, sub) = store_with(&server.url("/list.txt"));
    let dir = dir.path();
    let f = fetcher(quick());

    let first = run(dir, &f, false);
    assert_eq!(
        first.outcome,
        Outcome::Changed {
            before: 0,
            after: 100
        }
    );
    let taken = status(dir);
    assert_eq!((taken.names, taken.etag.as_deref()), (100, Some("\"v1\"")));
    assert!(taken.last_changed_unix_ms.is_some() && taken.last_error.is_none());

    assert_eq!(run(dir, &f, false).outcome, Outcome::Unchanged);
    assert!(server.requests()[1].contains("\"v1\""));

    let expect_kept = |why: &str| {
        let update = run(dir, &f, false);
        let Outcome::Kept(reason) = &update.outcome else {
            panic!("{update:?}")
        };
        assert!(reason.contains(why), "{reason} lacks {why}");
        let now = status(dir);
        assert_eq!(now.last_error.as_deref(), Some(reason.as_str()));
        assert_eq!((now.names, now.copy_crc32), (100, taken.copy_crc32));
        assert_eq!(
            copy(dir, &sub.id),
            good,
            "the good copy changed after: {why}"
        );
        now.failures
    };
    assert_eq!(expect_kept("HTTP 404"), 1);
    assert_eq!(expect_kept("HTTP 500"), 2);
    assert_eq!(expect_kept("web page"), 3);
    assert_eq!(expect_kept("lost 95 %"), 4);
    assert_eq!(expect_kept("stopped sending"), 5);
    // The composed rules still block with the good copy.
    let composed = compose(&[ListSource::StoreSubscriptions(dir.to_owned())]).unwrap();
    assert!(matches!(
        composed.rules.lookup("ads7.example"),
        Verdict::Blocked(_)
    ));
    assert_eq!(composed.reports[0].0.id, sub.id);

    let update = run(dir, &f, false);
    assert_eq!(
        update.outcome,
        Outcome::Changed {
            before: 100,
            after: 120
        }
    );
    let now = status(dir);
    assert_eq!((now.failures, now.last_error.clone()), (0, None));
    assert_eq!(now.etag.as_deref(), Some("\"v3\""));
    assert_eq!(copy(dir, &sub.id), newer);
    let composed = compose(&[ListSource::StoreSubscriptions(dir.to_owned())]).unwrap();
    assert!(matches!(
        composed.rules.lookup("ads110.example"),
        Verdict::Blocked(_)
    ));
}

#[test]
fn a_list_that_shrank_is_taken_when_forced_and_a_missing_copy_is_fetched_whole() {
    let server = Server::start(vec![
        ok(&names(100, "a"), &[("ETag", "\"v1\"")]),
        ok(&names(3, "a"), &[("ETag", "\"v2\"")]),
        ok(&names(3, "a"), &[("ETag", "\"v2\"")]),
        ok(&names(4, "a"), &[("ETag", "\"v3\"")]),
    ]);
    let (dir, sub) = store_with(&server.url("/l"));
    let dir = dir.path();
    let f = fetcher(quick());
    run(dir, &f, false);
    assert!(matches!(run(dir, &f, false).outcome, Outcome::Kept(_)));
    assert_eq!(
        run(dir, &f, true).outcome,
        Outcome::Changed {
            before: 100,
            after: 3
        }
    );
    // The copy vanished (or was damaged): ask for the whole list, not
    // "changed since", or a 304 would leave nothing to filter with.
    std::fs::remove_file(store::copy_path(dir, &sub.id)).unwrap();
    assert_eq!(
        run(dir, &f, false).outcome,
        Outcome::Changed {
            before: 0,
            after: 4
        }
    );
    let last = server.requests().pop().unwrap().to_ascii_lowercase();
    assert!(!last.contains("if-none-match"), "{last}");
}

#[test]
fn only_named_lists_are_updated_and_an_unknown_id_fetches_nothing() {
    let server = Server::start(vec![ok(LIST, &[])]);
    let (dir, sub) = store_with(&server.url("/l"));
    let f = fetcher(quick());
    let err = update(
        dir.path(),
        &Which::Only(vec!["nope".into()]),
        &f,
        UpdateOptions::default(),
        true,
        &mut Quiet,
    )
    .unwrap_err();
    assert!(err.to_string().contains("nope"), "{err}");
    assert!(server.requests().is_empty());
    let report = update(
        dir.path(),
        &Which::Only(vec![sub.id.clone()]),
        &f,
        UpdateOptions::default(),
        true,
        &mut Quiet,
    )
    .unwrap()
    .unwrap();
    assert!(report.changed());
    // Another updater at work: a scheduler that does not wait skips.
    let _held = store::lock_updates(dir.path(), false).unwrap().unwrap();
    let skipped = update(
        dir.path(),
        &Which::All,
        &f,
        UpdateOptions::default(),
        false,
        &mut Quiet,
    )
    .unwrap();
    assert!(skipped.is_none());
}

#[test]
fn checks_are_due_daily_with_jitter_and_sooner_after_a_failure() {
    let day = DEFAULT_INTERVAL;
    let day_ms = 24 * 3600 * 1000;
    let mut sub = Subscription::new("a".into(), "https://x/a".into(), "a".into(), 5_000);
    assert_eq!(next_check_unix_ms(&sub, day), 5_000);
    let mut draws = std::collections::BTreeSet::new();
    for (i, id) in ["a", "b", "c", "d", "e", "f"].iter().enumerate() {
        sub.id = (*id).into();
        sub.last_checked_unix_ms = Some(1_000_000 + i as u64);
        let wait = next_check_unix_ms(&sub, day) - sub.last_checked_unix_ms.unwrap();
        assert!(
            (day_ms * 9 / 10..=day_ms * 11 / 10).contains(&wait),
            "{wait}"
        );
        draws.insert(wait);
    }
    assert!(draws.len() >= 5, "the jitter does not spread: {draws:?}");
    let minute = 60_000;
    for (failures, wait) in [
        (1, 15 * minute),
        (2, 30 * minute),
        (3, 60 * minute),
        (8, day_ms),
        (40, day_ms),
    ] {
        sub.failures = failures;
        assert_eq!(
            next_check_unix_ms(&sub, day) - 1_000_005,
            wait,
            "{failures}"
        );
    }
    let never = Subscription::new("n".into(), "https://x/n".into(), "n".into(), 10);
    let listed = vec![
        Ok(sub.clone()),
        Ok(never),
        Err(store::DamagedStatus {
            id: "d".into(),
            why: "x".into(),
        }),
    ];
    let (now, next) = due(&listed, 1_000_000, day);
    assert_eq!(now, vec!["n".to_owned()]);
    assert_eq!(next, Some(1_000_005 + day_ms));
}
