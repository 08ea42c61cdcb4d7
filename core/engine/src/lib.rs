//! tacet-engine: the sans-IO DNS firewall at the heart of tacet.
//!
//! **Layer:** protocol. The engine owns every piece of filtering state (the
//! rules in force, the queries waiting for the upstream, the counters) and
//! turns inputs into outputs:
//!
//! - inputs are `handle_*` methods, each taking `now: Instant`;
//! - outputs are `poll_*` methods that the runtime drains.
//!
//! **Never:** no sockets, files, threads, clock reads or randomness. Every
//! behaviour can be driven in memory with simulated time, which is how the
//! tests run. Bad input never panics: it is dropped and counted.
//!
//! The modules, from the wire up:
//! - [`wire`]: IP and UDP packets of the tunnel, read with etherparse;
//! - [`dns`]: the question of a query, and the answers the firewall writes;
//! - [`answer`]: upstream answers, read whole before anything is relayed;
//! - [`tcp`]: DNS over TCP, served by smoltcp over an in-memory device;
//! - [`pending`]: queries waiting for the upstream, bounded, with deadlines;
//! - [`learned`]: the addresses blocked names resolve to, bounded, with TTLs;
//! - [`enforce`]: small lists' names, resolved before any app asks;
//! - [`device`]: per-device policies of serve mode (allowlist-only);
//! - [`reject`]: TCP resets and ICMP errors built from offending packets;
//! - [`engine`]: the [`Engine`] that ties them together. It takes queries
//!   two ways: IP packets from the phone's TUN (`handle_tun_packet`,
//!   answered through `poll_tun_packet`), and DNS messages from a socket
//!   address (`handle_message`, answered through `poll_message`) for serve
//!   mode, a LAN resolver whose clients are devices without an app; both
//!   go through the same pipeline, rules and journal events;
//! - [`config`], [`stats`], [`event`]: its settings, counters and reports.

pub mod answer;
pub mod config;
pub mod device;
pub mod dns;
pub mod enforce;
pub mod engine;
pub mod event;
pub mod learned;
pub mod pending;
pub mod reject;
pub mod stats;
pub mod tcp;
pub mod wire;

#[cfg(test)]
mod test_util;

pub use answer::{AnswerProblem, Defect, Section};
pub use config::{
    in_tunnel, BlockMode, Config, CANARY_NAMES, DEFAULT_RESOLVER_V4, DEFAULT_RESOLVER_V6,
    TUNNEL_V4, TUNNEL_V6,
};
pub use device::{DevicePolicies, DevicePolicy, PolicyError};
pub use engine::{
    Engine, MessageReply, Timeout, TimerReason, UpstreamCommand, UpstreamQuery,
    UNIQUE_NAMES_TRACKED,
};
pub use event::{BlockReason, Event, Protocol, RejectReason, Route};
pub use learned::LearnedLimits;
pub use pending::{MessageFrom, QueryHandle};
pub use stats::Stats;
pub use tacet_rules::{ListId, RuleRef, RuleSet, Verdict};
