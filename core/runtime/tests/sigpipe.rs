#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! An encrypted upstream that resets its connection must never kill the
//! firewall with SIGPIPE, whatever its host did with that signal: the CLI
//! restores the default action (so `tacet journal | head` ends quietly),
//! and a phone app's process may have it too. Before the fix, rustls
//! wrote its records with `writev`, which (unlike the `send` of a plain
//! socket write) raises SIGPIPE on a connection the peer reset: `tacet
//! run` died silently the moment a DoT server was killed under load.
//!
//! A binary of its own: it sets SIGPIPE to its default action for the
//! whole process, and a regression kills the process (the test run then
//! reports it killed by signal 13).

use std::net::TcpListener;
use std::os::fd::AsRawFd;
use std::time::Duration;

use tacet_runtime::upstream::spec::TlsName;
use tacet_runtime::upstream::tls::{TlsStream, Trust, ALPN_DOT};

#[test]
fn writing_to_a_connection_the_server_reset_is_an_error_not_a_sigpipe() {
    // SAFETY: restoring a signal's default action has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let socket = mio::net::TcpStream::connect(listener.local_addr().unwrap()).unwrap();
    let (server, _) = listener.accept().unwrap();
    // Linger zero: closing sends RST, as a server killed with data unread
    // does.
    let linger = libc::linger {
        l_onoff: 1,
        l_linger: 0,
    };
    // SAFETY: a valid socket and a linger struct of the size given.
    let rc = unsafe {
        libc::setsockopt(
            server.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            std::ptr::from_ref(&linger).cast(),
            libc::socklen_t::try_from(std::mem::size_of::<libc::linger>()).unwrap(),
        )
    };
    assert_eq!(rc, 0);
    drop(server);
    std::thread::sleep(Duration::from_millis(50));

    let config = Trust::new(None)
        .unwrap()
        .client_config(
            &TlsName {
                name: "dns.test".into(),
                pins: Vec::new(),
            },
            ALPN_DOT,
        )
        .unwrap();
    let mut stream = TlsStream::new(socket, config, "dns.test").unwrap();
    // The first write meets the reset (ECONNRESET); every later one is
    // EPIPE, which is where SIGPIPE came from.
    let mut failed = 0;
    for _ in 0..4 {
        match stream.write_plain(b"\0\x05query") {
            Err(e) if e.kind() != std::io::ErrorKind::WouldBlock => failed += 1,
            _ => {}
        }
    }
    assert!(failed >= 2, "writes to a reset connection must fail");
}
