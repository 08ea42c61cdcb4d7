//! What the fuzz targets share with their seed generator
//! (`examples/seeds.rs`): how a target reads its input, so that seeds are
//! written in the very form the target reads.

pub mod upstream;
