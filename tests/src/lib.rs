//! End-to-end test harness for tacet: real TUN devices in throwaway network
//! namespaces, a real upstream resolver (dnsmasq) and real clients (`dig`,
//! `kdig`, `getent`), checking what a phone user would see.
//!
//! This is test-harness code. It never sends a packet anywhere but loopback
//! or the namespaces it created: every test brings its own upstream.
//!
//! The layers, in the order a test uses them:
//! - [`gate`]: skip when not root (fail in CI), fail when a tool is missing;
//! - [`netns`]: one network namespace, deleted on drop;
//! - [`lab`]: a "phone" and an "upstream" namespace joined by a veth pair;
//! - [`dnsmasq`]: the upstream resolver serving a fixed test zone;
//! - [`encrypted`]: unbound and dnsdist over TLS and HTTPS, their certificates, a capture of the link;
//! - [`firewall`]: `tacet run` inside the phone namespace, its final stats;
//! - [`process`]: a child whose output is captured and which dies on drop;
//! - [`scratch`]: a per-test directory for list files and the firewall's store;
//! - [`dig`]: `dig`/`kdig` wrappers that return parsed replies;
//! - [`burst`]: many UDP queries sent at once from inside a namespace;
//! - [`exchange`]: one raw query and its raw reply, timed, UDP or TCP;
//! - [`hostile`]: an upstream that misbehaves in one chosen way;
//! - [`list_server`]: an HTTPS list server that misbehaves on demand;
//! - [`flood`]: TCP and UDP floods, a paced probe, the firewall's memory;
//! - [`tun`]: a TUN file descriptor opened by the test, for `tacet run --fd`;
//! - [`testbed`]: all of the above started together and torn down in order.
//!
//! Every namespace, link and process is named uniquely per test
//! ([`netns::unique_name`]) and removed by a `Drop` guard, also when a test
//! panics, so tests run in parallel and leave nothing behind.

// Test-harness code: a failed setup step should stop the test loudly with its
// context, which is what unwrap/expect/panic do here.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![warn(missing_docs)]

pub mod burst;
pub mod dig;
pub mod dnsmasq;
pub mod encrypted;
pub mod exchange;
pub mod firewall;
pub mod flood;
pub mod gate;
pub mod hostile;
pub mod lab;
pub mod list_server;
pub mod netns;
pub mod process;
pub mod scratch;
pub mod testbed;
pub mod tun;

pub use dig::{Dig, DnsReply, Record};
pub use dnsmasq::Dnsmasq;
pub use firewall::{tacet_bin, Firewall, FirewallOptions, Stats};
pub use gate::require_root;
pub use lab::Lab;
pub use netns::Netns;
pub use scratch::ScratchDir;
pub use testbed::Testbed;

/// The IPv4 virtual resolver the firewall answers on, inside its TUN.
pub const RESOLVER_V4: &str = "10.111.222.53";
/// The IPv6 virtual resolver the firewall answers on, inside its TUN.
pub const RESOLVER_V6: &str = "fd74:6163:6574::53";
