//! Journal queries: newest first, filtered, in pages that a cursor continues.

use std::fmt;
use std::net::IpAddr;
use std::path::Path;
use std::str::FromStr;

use crate::entry::{Action, JournalRecord};
use crate::error::StoreError;
use crate::journal::reader::Segments;

/// Which records a query or export returns; every field left `None` matches all.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// The name contains this, ignoring ASCII case.
    pub name_contains: Option<String>,
    /// The action was this.
    pub action: Option<Action>,
    /// The record's attempts reach to this time or later (ms since the Unix epoch).
    pub since_unix_ms: Option<u64>,
    /// The record's first attempt was at this time or earlier.
    pub until_unix_ms: Option<u64>,
    /// The app is exactly this.
    pub app: Option<String>,
    /// A rule of this list decided.
    pub list_id: Option<String>,
    /// The client address was this.
    pub client: Option<IpAddr>,
}

fn contains_ignore_ascii_case(hay: &str, needle: &str) -> bool {
    let (hay, needle) = (hay.as_bytes(), needle.as_bytes());
    needle.is_empty()
        || hay
            .windows(needle.len())
            .any(|w| w.eq_ignore_ascii_case(needle))
}

impl Filter {
    /// Whether `r` passes the filter.
    pub fn matches(&self, r: &JournalRecord) -> bool {
        let e = &r.entry;
        self.name_contains
            .as_deref()
            .is_none_or(|n| contains_ignore_ascii_case(&e.name, n))
            && self.action.is_none_or(|a| a == e.action)
            && self.since_unix_ms.is_none_or(|t| r.last_unix_ms >= t)
            && self.until_unix_ms.is_none_or(|t| e.time_unix_ms <= t)
            && self
                .app
                .as_deref()
                .is_none_or(|a| e.app.as_deref() == Some(a))
            && self
                .list_id
                .as_deref()
                .is_none_or(|l| e.reason.list_id() == Some(l))
            && self.client.is_none_or(|c| c == e.client)
    }
}

/// Where the next page of a query starts: just older than the last record
/// returned. Its text form (`Display`/`FromStr`) can cross the FFI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cursor {
    segment: u64,
    seq: u64,
}

impl fmt::Display for Cursor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.segment, self.seq)
    }
}

impl FromStr for Cursor {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        let bad = || StoreError::InvalidCursor {
            cursor: s.chars().take(64).collect(),
        };
        let (segment, seq) = s.split_once('.').ok_or_else(bad)?;
        Ok(Cursor {
            segment: segment.parse().map_err(|_| bad())?,
            seq: seq.parse().map_err(|_| bad())?,
        })
    }
}

/// One page of a query.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    /// The records, newest first.
    pub records: Vec<JournalRecord>,
    /// Where the next page starts; `None` when this is the last.
    pub next: Option<Cursor>,
}

/// Up to `limit` records matching `filter`, newest first, older than `after`.
pub(crate) fn query(
    dir: &Path,
    filter: &Filter,
    after: Option<&Cursor>,
    limit: usize,
) -> Result<Page, StoreError> {
    let limit = limit.max(1);
    let segments = Segments::list(dir)?;
    let mut page = Page::default();
    let mut last_segment = 0;
    for number in segments.numbers().rev() {
        if after.is_some_and(|c| number > c.segment) {
            continue;
        }
        for r in segments.records(number)?.into_iter().rev() {
            // Sequence numbers grow across segments too, so one comparison places the cursor.
            if after.is_some_and(|c| r.seq >= c.seq) || !filter.matches(&r) {
                continue;
            }
            if page.records.len() == limit {
                page.next = page.records.last().map(|last| Cursor {
                    segment: last_segment,
                    seq: last.seq,
                });
                return Ok(page);
            }
            last_segment = number;
            page.records.push(r);
        }
    }
    Ok(page)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursor_text_round_trips_and_rejects_junk() {
        let c = Cursor {
            segment: 3,
            seq: 99,
        };
        assert_eq!(c.to_string().parse::<Cursor>().unwrap(), c);
        assert!("3".parse::<Cursor>().is_err());
        assert!("a.b".parse::<Cursor>().is_err());
    }

    #[test]
    fn name_filter_ignores_case() {
        assert!(contains_ignore_ascii_case("ads.Example.com", "EXAMPLE"));
        assert!(!contains_ignore_ascii_case("ex", "example"));
    }
}
