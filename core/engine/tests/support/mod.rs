//! Test support shared by integration tests (and the fuzz targets).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

pub mod phone;
pub mod scenario;

use std::io::Cursor;
use std::sync::Arc;

use tacet_rules::{ListInfo, RuleSet, RuleSetBuilder};

/// `text` compiled as one list, `test`.
pub fn rules(text: &str) -> Arc<RuleSet> {
    let mut builder = RuleSetBuilder::new();
    let info = ListInfo {
        id: "test".into(),
        title: "test".into(),
    };
    builder
        .add_list(info, Cursor::new(text.as_bytes()))
        .unwrap();
    Arc::new(builder.build())
}
