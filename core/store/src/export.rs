//! Streaming exports of the journal as CSV or JSON to any writer, oldest
//! first, one segment in memory at a time.

use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::entry::{qtype_name, JournalRecord, Reason};
use crate::error::StoreError;
use crate::journal::reader::Segments;
use crate::query::Filter;

/// The columns of a CSV export, in order; JSON objects use the same keys.
pub const CSV_HEADER: &str =
    "seq,first_seen,last_seen,name,qtype,action,reason,list,line,via,address,client,app,count";

/// One exported record, flat, with times as RFC 3339 UTC text.
#[derive(Serialize)]
struct Row<'a> {
    seq: u64,
    first_seen: String,
    last_seen: String,
    name: &'a str,
    qtype: String,
    action: &'static str,
    reason: &'static str,
    list: Option<&'a str>,
    line: Option<u32>,
    via: Option<&'a str>,
    address: Option<String>,
    client: String,
    app: Option<&'a str>,
    count: u32,
}

impl<'a> Row<'a> {
    fn new(r: &'a JournalRecord) -> Self {
        let e = &r.entry;
        Row {
            seq: r.seq,
            first_seen: format_utc(e.time_unix_ms),
            last_seen: format_utc(r.last_unix_ms),
            name: &e.name,
            qtype: qtype_name(e.qtype).into_owned(),
            action: e.action.as_str(),
            reason: e.reason.kind(),
            list: e.reason.list_id(),
            line: e.reason.line(),
            via: match &e.reason {
                Reason::Cname { via, .. } => Some(via),
                _ => None,
            },
            address: match &e.reason {
                Reason::LearnedAddress { addr } => Some(addr.to_string()),
                _ => None,
            },
            client: e.client.to_string(),
            app: e.app.as_deref(),
            count: e.count,
        }
    }
}

/// A CSV field: quoted when it holds a separator, quote or line break, and
/// defused when it starts like a spreadsheet formula (names come from the
/// network, and this file is meant to be opened in spreadsheets).
fn csv_field(out: &mut String, s: &str) {
    let formula = s.starts_with(['=', '+', '-', '@']);
    if formula || s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        if formula {
            out.push('\'');
        }
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

fn csv_line(r: &Row<'_>) -> String {
    let mut out = String::with_capacity(160);
    let num = |n: Option<u32>| n.map(|n| n.to_string()).unwrap_or_default();
    let fields: [&str; 14] = [
        &r.seq.to_string(),
        &r.first_seen,
        &r.last_seen,
        r.name,
        &r.qtype,
        r.action,
        r.reason,
        r.list.unwrap_or_default(),
        &num(r.line),
        r.via.unwrap_or_default(),
        r.address.as_deref().unwrap_or_default(),
        &r.client,
        r.app.unwrap_or_default(),
        &r.count.to_string(),
    ];
    for (i, f) in fields.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        csv_field(&mut out, f);
    }
    out.push('\n');
    out
}

/// Calls `each` for every record matching `filter`, oldest first.
fn for_each_record(
    dir: &Path,
    filter: &Filter,
    mut each: impl FnMut(&JournalRecord) -> std::io::Result<()>,
) -> Result<u64, StoreError> {
    let segments = Segments::list(dir)?;
    let mut n = 0;
    for number in segments.numbers() {
        for r in segments
            .records(number)?
            .iter()
            .filter(|r| filter.matches(r))
        {
            each(r).map_err(|source| StoreError::Export { source })?;
            n += 1;
        }
    }
    Ok(n)
}

/// Writes the matching records as CSV with a header line; returns how many.
pub(crate) fn export_csv(
    dir: &Path,
    filter: &Filter,
    mut w: impl Write,
) -> Result<u64, StoreError> {
    w.write_all(CSV_HEADER.as_bytes())
        .and_then(|()| w.write_all(b"\n"))
        .map_err(|source| StoreError::Export { source })?;
    let n = for_each_record(dir, filter, |r| {
        w.write_all(csv_line(&Row::new(r)).as_bytes())
    })?;
    w.flush().map_err(|source| StoreError::Export { source })?;
    Ok(n)
}

/// Writes the matching records as a JSON array of objects; returns how many.
pub(crate) fn export_json(
    dir: &Path,
    filter: &Filter,
    mut w: impl Write,
) -> Result<u64, StoreError> {
    w.write_all(b"[")
        .map_err(|source| StoreError::Export { source })?;
    let mut first = true;
    let n = for_each_record(dir, filter, |r| {
        w.write_all(if first { b"\n" } else { b",\n" })?;
        first = false;
        serde_json::to_writer(&mut w, &Row::new(r)).map_err(std::io::Error::other)
    })?;
    w.write_all(b"\n]\n")
        .and_then(|()| w.flush())
        .map_err(|source| StoreError::Export { source })?;
    Ok(n)
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ` for a time in ms since the Unix epoch.
pub fn format_utc(unix_ms: u64) -> String {
    let secs = unix_ms / 1000;
    let days = (secs / 86_400) as i64;
    let rem = secs % 86_400;
    // Civil date from days since 1970-01-01 (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        unix_ms % 1000
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utc_times_format() {
        assert_eq!(format_utc(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(format_utc(951_782_400_000), "2000-02-29T00:00:00.000Z");
        assert_eq!(format_utc(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }

    #[test]
    fn csv_fields_are_quoted_and_defused() {
        let mut s = String::new();
        csv_field(&mut s, "a,b\"c");
        assert_eq!(s, "\"a,b\"\"c\"");
        s.clear();
        csv_field(&mut s, "=cmd()");
        assert_eq!(s, "\"'=cmd()\"");
        s.clear();
        csv_field(&mut s, "ads.example.com");
        assert_eq!(s, "ads.example.com");
    }
}
