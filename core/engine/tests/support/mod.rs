//! Test support shared by integration tests (and the fuzz targets).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod phone;
pub mod scenario;
