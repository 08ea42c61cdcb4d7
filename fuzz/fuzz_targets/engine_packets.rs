//! Any bytes as a sequence of packets, upstream answers, timeouts, rule
//! swaps and pauses, with simulated time: the engine never panics and
//! stays within its bounds. The interpreter is shared with the property
//! test that CI runs (core/engine/tests/packet_sequences.rs).
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../core/engine/tests/support/scenario.rs"]
mod scenario;

fuzz_target!(|data: &[u8]| {
    scenario::run_scenario(data);
});
