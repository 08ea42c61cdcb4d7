//! The journal: an append-only, checksummed, size-bounded record of what was
//! blocked (and, in discovery mode, allowed).
//!
//! - [`frame`]: the bytes of one record, and the scan that skips bad ones;
//! - [`segment`]: the numbered files the journal is split into, and how a
//!   segment's frames become records;
//! - [`writer`]: batching, coalescing, rotation, the size bound, write failures;
//! - [`reader`]: lock-free reading while the writer runs, and counter replay.

pub(crate) mod frame;
pub(crate) mod reader;
pub(crate) mod segment;
pub(crate) mod writer;
