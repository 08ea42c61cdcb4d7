#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test code: a failed unwrap is a failed test

//! The fuzz target's scenarios as a property test, so CI (which has no
//! cargo-fuzz) runs them too: random sequences of packets of every kind,
//! with simulated time, never panic and never grow the engine past its
//! bounds.

mod support;

use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn random_packet_sequences_never_panic_and_stay_bounded(data in proptest::collection::vec(any::<u8>(), 0..4096)) {
        support::scenario::run_scenario(&data);
    }
}

/// A long run from a fixed seed: hundreds of thousands of steps, to show
/// that bounds hold over time, not just over short bursts.
#[test]
fn a_long_seeded_run_stays_bounded() {
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let data: Vec<u8> = (0..1_000_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect();
    let engine = support::scenario::run_scenario(&data);
    let stats = engine.stats();
    println!("{stats:?}");
    assert!(
        stats.queries > 1000,
        "the scenario exercised the engine: {stats:?}"
    );
}
