//! `tacet-e2e-trivial-responder TUN`: the least a program on a TUN can do
//! to answer DNS, as the baseline of `bench/blocked.sh`.
//!
//! It attaches TUN (created in the calling namespace; the script gives it
//! tacet's addresses), and answers every IPv4 UDP query to port 53 in
//! place: addresses and ports swapped, QR and RA set, rcode NXDOMAIN, the
//! question kept and nothing after it, the IPv4 checksum redone and the
//! UDP one left out (zero: allowed over IPv4). Everything else is
//! dropped. No parsing beyond the header, no rules, no journal: what is
//! left is the cost of the TUN, read and written once per query, which
//! tacet pays too. Reads until the TUN is empty before it waits again,
//! as tacet's event loop does.

// Benchmark tool: a broken TUN ends the run with a message.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::io::{ErrorKind, Read, Write};
use std::os::fd::AsRawFd;

fn main() {
    let Some(name) = std::env::args().nth(1) else {
        eprintln!("usage: tacet-e2e-trivial-responder TUN");
        std::process::exit(2);
    };
    let mut tun = tacet_e2e::tun::open_tun(&name);
    // SAFETY: F_SETFL on the descriptor we own.
    let rc = unsafe { libc::fcntl(tun.as_raw_fd(), libc::F_SETFL, libc::O_NONBLOCK) };
    assert_eq!(rc, 0, "O_NONBLOCK: {}", std::io::Error::last_os_error());
    println!("ready");
    let mut packet = [0u8; 1500];
    loop {
        match tun.read(&mut packet) {
            Ok(n) => {
                if let Some(len) = answer(&mut packet[..n]) {
                    let _ = tun.write(&packet[..len]);
                }
            }
            Err(e) if e.kind() == ErrorKind::WouldBlock => wait_readable(&tun),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!("reading the TUN: {e}"),
        }
    }
}

fn wait_readable(tun: &std::fs::File) {
    let mut fd = libc::pollfd {
        fd: tun.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the length of the call.
    unsafe { libc::poll(&mut fd, 1, -1) };
}

/// Turns the query in `p` into its answer in place; the answer's length.
fn answer(p: &mut [u8]) -> Option<usize> {
    if p.len() < 20 || p[0] >> 4 != 4 || p[9] != 17 {
        return None;
    }
    let ihl = usize::from(p[0] & 0x0f) * 4;
    let dns = ihl + 8;
    if p.len() < dns + 12 || u16::from_be_bytes([p[ihl + 2], p[ihl + 3]]) != 53 {
        return None;
    }
    // The question: one name, then type and class.
    let mut at = dns + 12;
    loop {
        let len = usize::from(*p.get(at)?);
        if len == 0 {
            at += 1;
            break;
        }
        if len > 63 {
            return None;
        }
        at += 1 + len;
    }
    let end = at + 4;
    if end > p.len() {
        return None;
    }
    // IPv4: swap the addresses, new length, checksum.
    for i in 0..4 {
        p.swap(12 + i, 16 + i);
    }
    p[2..4].copy_from_slice(&u16::try_from(end).ok()?.to_be_bytes());
    p[10] = 0;
    p[11] = 0;
    let sum = checksum(&p[..ihl]);
    p[10..12].copy_from_slice(&sum.to_be_bytes());
    // UDP: swap the ports, new length, no checksum.
    p.swap(ihl, ihl + 2);
    p.swap(ihl + 1, ihl + 3);
    p[ihl + 4..ihl + 6].copy_from_slice(&u16::try_from(end - ihl).ok()?.to_be_bytes());
    p[ihl + 6] = 0;
    p[ihl + 7] = 0;
    // DNS: an answer, NXDOMAIN, the question alone.
    p[dns + 2] = 0x80 | (p[dns + 2] & 0x01);
    p[dns + 3] = 0x80 | 3;
    p[dns + 6..dns + 12].fill(0);
    Some(end)
}

fn checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|w| u32::from(u16::from_be_bytes([w[0], *w.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}
