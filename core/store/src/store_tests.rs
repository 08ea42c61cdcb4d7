//! Tests of the store as its users see it: writer and readers over real files.

use super::*;
use crate::entry::Reason;
use std::fs;
use std::net::IpAddr;
use std::path::PathBuf;
use std::process::{Command, Stdio};

const T0: u64 = 1_700_000_000_000;

fn entry(name: &str, time: u64) -> JournalEntry {
    JournalEntry {
        time_unix_ms: time,
        name: name.to_owned(),
        qtype: 1,
        action: Action::Blocked,
        reason: Reason::Rule {
            list_id: "light".into(),
            line: 7,
        },
        client: "10.0.0.2".parse().unwrap(),
        app: Some("com.example".into()),
        count: 1,
    }
}

fn small() -> StoreConfig {
    StoreConfig {
        journal_max_bytes: 128 << 10,
        ..StoreConfig::default()
    }
}

fn all_records(dir: &Path, filter: &Filter) -> Vec<crate::JournalRecord> {
    let r = StoreReader::open(dir).unwrap();
    let mut out = Vec::new();
    let mut after = None;
    loop {
        let page = r.query(filter, after.as_ref(), 37).unwrap();
        out.extend(page.records);
        match page.next {
            Some(c) => after = Some(c),
            None => return out,
        }
    }
}

#[test]
fn records_come_back_newest_first_in_pages() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    for i in 0..5000u64 {
        s.record(T0 + i, entry(&format!("n{i}.example.com"), T0 + i));
    }
    s.flush(T0 + 5000);
    let got = all_records(dir.path(), &Filter::default());
    assert!(s.status().journal_segments > 2, "{:?}", s.status());
    // Rotation dropped the oldest, but what is left is contiguous and newest first.
    assert!(got.len() > 1000);
    for (k, r) in got.iter().enumerate() {
        let i = 4999 - k as u64;
        assert_eq!(r.entry, entry(&format!("n{i}.example.com"), T0 + i));
        assert_eq!(r.last_unix_ms, T0 + i);
    }
    assert!(got.windows(2).all(|w| w[0].seq > w[1].seq));
    assert!(s.status().journal_bytes <= 128 << 10);
}

#[test]
fn filters_select_by_name_action_time_app_and_list() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = small();
    cfg.discovery = true;
    let mut s = Store::open(dir.path(), cfg).unwrap();
    for i in 0..100u64 {
        let mut e = entry(&format!("n{i}.Tracker.com"), T0 + i * 1000);
        if i % 2 == 0 {
            e.action = Action::Allowed;
            e.reason = Reason::NoRule;
        }
        if i % 5 == 0 {
            e.app = None;
        }
        s.record(T0 + i * 1000, e.clone());
    }
    s.flush(T0 + 100_000);
    let count = |f: Filter| all_records(dir.path(), &f).len();
    assert_eq!(count(Filter::default()), 100);
    assert_eq!(
        count(Filter {
            action: Some(Action::Blocked),
            ..Filter::default()
        }),
        50
    );
    assert_eq!(
        count(Filter {
            name_contains: Some("N1".into()),
            ..Filter::default()
        }),
        11
    );
    assert_eq!(
        count(Filter {
            since_unix_ms: Some(T0 + 10_000),
            until_unix_ms: Some(T0 + 19_000),
            ..Filter::default()
        }),
        10
    );
    assert_eq!(
        count(Filter {
            app: Some("com.example".into()),
            ..Filter::default()
        }),
        80
    );
    assert_eq!(
        count(Filter {
            list_id: Some("light".into()),
            ..Filter::default()
        }),
        50
    );
    assert_eq!(s.counters().blocked_total, 50);
    assert_eq!(s.counters().allowed_total, 50);
}

#[test]
fn allowed_queries_are_not_journaled_outside_discovery_mode() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    let mut e = entry("ok.com", T0);
    e.action = Action::Allowed;
    s.record(T0, e.clone());
    assert_eq!(s.deadline(), None);
    s.set_discovery(true);
    s.record(T0, e.clone());
    s.flush(T0);
    assert_eq!(all_records(dir.path(), &Filter::default()).len(), 1);
}

#[test]
fn a_retry_storm_is_one_record_with_a_count() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    // 1000 retries within the 60 s window, alternating A and AAAA.
    for i in 0..1000u64 {
        let mut e = entry("telemetry.vendor.com", T0 + i * 50);
        e.qtype = if i % 2 == 0 { 1 } else { 28 };
        s.record(T0 + i * 50, e.clone());
    }
    // A different app is a different record.
    let mut other = entry("telemetry.vendor.com", T0);
    other.app = Some("com.other".into());
    s.record(T0, other.clone());
    // The window closes: the repeat counts are written without a flush call.
    let mut now = T0 + 50_000;
    while let Some(d) = s.tick(now) {
        assert!(d.at_unix_ms > now || d.why == Wake::SaveCounters);
        now = d.at_unix_ms.max(now + 1);
        if d.why == Wake::SaveCounters {
            break;
        }
    }
    let got = all_records(dir.path(), &Filter::default());
    let counts: Vec<(u16, Option<&str>, u32)> = got
        .iter()
        .map(|r| (r.entry.qtype, r.entry.app.as_deref(), r.entry.count))
        .collect();
    assert_eq!(
        counts,
        vec![
            (1, Some("com.other"), 1),
            (28, Some("com.example"), 500),
            (1, Some("com.example"), 500)
        ]
    );
    assert_eq!(got[1].last_unix_ms, T0 + 999 * 50);
    assert_eq!(s.counters().blocked_total, 1001);
    // After the window a new record starts.
    s.record(T0 + 120_000, entry("telemetry.vendor.com", T0 + 120_000));
    s.flush(T0 + 120_000);
    assert_eq!(all_records(dir.path(), &Filter::default()).len(), 4);
    let reader_counters = s.reader().counters().unwrap();
    assert_eq!(reader_counters.blocked_total, 1002);
}

#[test]
fn readers_see_coalesced_repeats_within_a_flush_interval_and_never_twice() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), StoreConfig::default()).unwrap();
    let reader = StoreReader::open(dir.path()).unwrap();
    for i in 0..10 {
        s.record(T0 + i, entry("storm.example", T0 + i));
    }
    // One entry and nine repeats in an open window: after one flush
    // interval the reader sees all ten, long before the window closes.
    let d = s.tick(T0 + 10).unwrap();
    assert_eq!(d.at_unix_ms, T0 + 1000);
    let mut now = T0 + 1000;
    while let Some(d) = s.tick(now).filter(|d| d.at_unix_ms <= T0 + 1000) {
        now = d.at_unix_ms;
    }
    assert_eq!(reader.counters().unwrap().blocked_total, 10);
    assert_eq!(all_records(dir.path(), &Filter::default()).len(), 1);
    // The window closes: the repeats move into the journal, and the live
    // file, written against an older journal, is no longer added.
    s.tick(T0 + 60_000);
    assert_eq!(reader.counters().unwrap().blocked_total, 10);
    assert_eq!(
        all_records(dir.path(), &Filter::default())[0].entry.count,
        10
    );
    // More repeats in a new window show up live again.
    for i in 0..5 {
        s.record(T0 + 61_000 + i, entry("storm.example", T0 + 61_000 + i));
    }
    let mut now = T0 + 61_000;
    while let Some(d) = s.tick(now).filter(|d| d.at_unix_ms <= T0 + 62_000) {
        now = d.at_unix_ms;
    }
    assert_eq!(reader.counters().unwrap().blocked_total, 15);
    s.shutdown(T0 + 62_000);
    assert_eq!(reader.counters().unwrap().blocked_total, 15);
}

#[test]
fn deadlines_exist_only_while_something_is_pending() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), StoreConfig::default()).unwrap();
    assert_eq!(s.tick(T0), None);
    s.record(T0, entry("a.com", T0));
    assert_eq!(
        s.tick(T0),
        Some(Deadline {
            at_unix_ms: T0 + 1000,
            why: Wake::FlushJournal
        })
    );
    s.record(T0 + 10, entry("a.com", T0 + 10));
    assert_eq!(s.status().durable_seq, 0);
    // The batch is written at its deadline; the open window is next.
    assert_eq!(
        s.tick(T0 + 1000),
        Some(Deadline {
            at_unix_ms: T0 + 60_000,
            why: Wake::CloseWindows
        })
    );
    assert_eq!(s.status().durable_seq, 1);
    // The window closes and the counters are due: one snapshot writes both.
    assert_eq!(s.tick(T0 + 60_000), None);
    assert_eq!(s.status().durable_seq, 2);
    assert_eq!(s.status().pending_records, 0);
    assert_eq!(
        StoreReader::open(dir.path())
            .unwrap()
            .counters()
            .unwrap()
            .blocked_total,
        2
    );
}

#[test]
fn one_writer_at_a_time_and_readers_need_no_lock() {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(dir.path(), small()).unwrap();
    assert!(matches!(
        Store::open(dir.path(), small()),
        Err(StoreError::Locked { .. })
    ));
    assert!(StoreReader::open(dir.path()).is_ok());
    drop(s);
    assert!(Store::open(dir.path(), small()).is_ok());
    assert!(StoreReader::open(&dir.path().join("missing")).is_err());
}

#[test]
fn counters_survive_a_reopen_and_agree_with_the_journal() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    for i in 0..300u64 {
        s.record(T0 + i, entry(&format!("n{}.com", i % 7), T0 + i));
    }
    let before = s.counters().clone();
    let status = s.shutdown(T0 + 300);
    assert_eq!(status.durable_seq, status.last_seq);
    let s = Store::open(dir.path(), small()).unwrap();
    assert_eq!(s.counters().blocked_total, 300);
    assert_eq!(s.counters().top_names.top(7), before.top_names.top(7));
    let from_journal: u64 = all_records(dir.path(), &Filter::default())
        .iter()
        .map(|r| u64::from(r.entry.count))
        .sum();
    assert_eq!(from_journal, 300);
}

#[test]
fn clearing_the_journal_keeps_the_counters() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    for i in 0..50u64 {
        s.record(T0, entry(&format!("n{i}.com"), T0));
    }
    s.clear_journal(T0).unwrap();
    assert!(all_records(dir.path(), &Filter::default()).is_empty());
    s.record(T0, entry("after.com", T0));
    s.flush(T0);
    let got = all_records(dir.path(), &Filter::default());
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].seq, 51);
    assert_eq!(s.reader().counters().unwrap().blocked_total, 51);
}

#[test]
fn a_garbled_tail_is_cut_on_open_and_writing_goes_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    for i in 0..20u64 {
        s.record(T0, entry(&format!("n{i}.com"), T0));
    }
    drop(s);
    let seg = dir.path().join("journal.00000001");
    let mut bytes = fs::read(&seg).unwrap();
    let good = bytes.len();
    bytes.extend_from_slice(&[0xFF, b'T', b'J', 1, 200, 0, 0, 0, 1, 2, 3]);
    bytes.extend_from_slice(b"garbage garbage");
    fs::write(&seg, &bytes).unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    assert_eq!(
        s.status().bytes_skipped_on_open,
        (bytes.len() - good) as u64
    );
    assert_eq!(fs::metadata(&seg).unwrap().len(), good as u64);
    s.record(T0, entry("later.com", T0));
    s.flush(T0);
    let got = all_records(dir.path(), &Filter::default());
    assert_eq!(got.len(), 21);
    assert_eq!(got[0].entry.name, "later.com");
}

#[test]
fn a_segment_that_cannot_be_read_is_skipped_by_readers_and_set_aside_by_the_writer() {
    use crate::journal::segment;
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    for i in 0..4000u64 {
        s.record(T0 + i, entry(&format!("n{i}.example.com"), T0 + i));
    }
    s.shutdown(T0 + 4000);
    let segs = segment::list(dir.path()).unwrap();
    assert!(segs.len() >= 4, "{} segments", segs.len());
    let in_segment =
        |path: &Path| segment::records(segment::frames(&fs::read(path).unwrap())).len();
    let total = all_records(dir.path(), &Filter::default()).len();
    // One segment becomes a directory, another a file too large to be one.
    let (dir_seg, big_seg) = (&segs[1].1, &segs[2].1);
    let lost = in_segment(dir_seg) + in_segment(big_seg);
    fs::remove_file(dir_seg).unwrap();
    fs::create_dir(dir_seg).unwrap();
    fs::OpenOptions::new()
        .write(true)
        .open(big_seg)
        .unwrap()
        .set_len(segment::MAX_READ + 1)
        .unwrap();
    // Readers show everything else: pages, counts, exports.
    assert_eq!(
        all_records(dir.path(), &Filter::default()).len(),
        total - lost
    );
    let reader = StoreReader::open(dir.path()).unwrap();
    let mut json = Vec::new();
    let exported = reader.export_json(&Filter::default(), &mut json).unwrap();
    assert_eq!(exported as usize, total - lost);
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v.as_array().unwrap().len(), total - lost);
    // The newest segment unreadable too: the writer still starts.
    let newest = &segs.last().unwrap().1;
    let lost = lost + in_segment(newest);
    fs::OpenOptions::new()
        .write(true)
        .open(newest)
        .unwrap()
        .set_len(segment::MAX_READ + 1)
        .unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    assert_eq!(
        s.status().segments_set_aside,
        3,
        "the directory, the large one and the newest"
    );
    let aside = |p: &Path| {
        let name = p.file_name().unwrap().to_str().unwrap();
        p.with_file_name(format!("{name}.damaged"))
    };
    assert!(aside(dir_seg).is_dir());
    assert_eq!(
        fs::metadata(aside(newest)).unwrap().len(),
        segment::MAX_READ + 1
    );
    s.record(T0 + 5000, entry("after.example.com", T0 + 5000));
    s.flush(T0 + 5000);
    let got = all_records(dir.path(), &Filter::default());
    assert_eq!(got.len(), total - lost + 1);
    assert_eq!(got[0].entry.name, "after.example.com");
    assert!(
        got[0].seq > got[1].seq,
        "numbering goes on after the records kept"
    );
}

#[test]
fn custom_rules_and_settings_are_written_for_readers() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    assert!(s
        .add_custom_rule("Ads.Example.com", CustomRuleKind::Block)
        .unwrap());
    assert!(s
        .add_custom_rule("not a name", CustomRuleKind::Block)
        .is_err());
    s.save_settings(b"{\"discovery\":true}").unwrap();
    let r = s.reader();
    assert_eq!(r.custom_rules().unwrap()[0].name, "ads.example.com");
    assert_eq!(r.settings().unwrap().unwrap(), b"{\"discovery\":true}");
}

#[test]
fn exports_stream_csv_and_json() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), small()).unwrap();
    let mut e = entry("cdn.tracker.net", T0);
    e.reason = Reason::Cname {
        via: "t.tracker.net".into(),
        list_id: "light".into(),
        line: 3,
    };
    s.record(T0, e.clone());
    e.time_unix_ms = T0 + 5;
    s.record(T0 + 5, e.clone());
    let mut l = entry("evil,\"name\".com", T0 + 10);
    l.reason = Reason::LearnedAddress {
        addr: "192.0.2.1".parse::<IpAddr>().unwrap(),
    };
    l.app = None;
    s.record(T0 + 10, l.clone());
    s.flush(T0 + 10);
    let r = s.reader();
    let mut csv = Vec::new();
    assert_eq!(r.export_csv(&Filter::default(), &mut csv).unwrap(), 2);
    let csv = String::from_utf8(csv).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines[0], crate::CSV_HEADER);
    assert_eq!(
        lines[1],
        "1,2023-11-14T22:13:20.000Z,2023-11-14T22:13:20.005Z,cdn.tracker.net,A,blocked,cname,light,3,t.tracker.net,,10.0.0.2,com.example,2"
    );
    assert_eq!(
        lines[2],
        "2,2023-11-14T22:13:20.010Z,2023-11-14T22:13:20.010Z,\"evil,\"\"name\"\".com\",A,blocked,learned_address,,,,192.0.2.1,10.0.0.2,,1"
    );
    let mut json = Vec::new();
    r.export_json(&Filter::default(), &mut json).unwrap();
    let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["count"], 2);
    assert_eq!(v[0]["via"], "t.tracker.net");
    assert_eq!(v[1]["address"], "192.0.2.1");
    assert_eq!(v[1]["app"], serde_json::Value::Null);
    let mut empty = Vec::new();
    r.export_json(
        &Filter {
            name_contains: Some("nothing".into()),
            ..Filter::default()
        },
        &mut empty,
    )
    .unwrap();
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&empty).unwrap(),
        serde_json::json!([])
    );
}

/// Runs this test binary again, as a child process doing `mode` on `dir`.
fn spawn_child(mode: &str, dir: &Path) -> std::process::Child {
    Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "store::tests::child_process_entry",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("TACET_STORE_CHILD", mode)
        .env("TACET_STORE_DIR", dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap()
}

const CHILD_WRITES: u64 = 3000;

/// Not a test on its own: the body of the child processes of the tests below.
#[test]
fn child_process_entry() {
    let (Ok(mode), Ok(dir)) = (
        std::env::var("TACET_STORE_CHILD"),
        std::env::var("TACET_STORE_DIR"),
    ) else {
        return;
    };
    let dir = PathBuf::from(dir);
    let mut s = Store::open(&dir, small()).unwrap();
    match mode.as_str() {
        "crash" => {
            for i in 0..500u64 {
                s.record(T0 + i, entry(&format!("c{i}.example.com"), T0 + i));
            }
            let durable = s.flush(T0 + 500);
            // More records, some batched and some in an open window: lost in the crash.
            for i in 0..100u64 {
                s.record(
                    T0 + 600,
                    entry(&format!("late{}.example.com", i % 10), T0 + 600),
                );
            }
            println!("DURABLE={durable}");
            std::process::abort();
        }
        "writer" => {
            let mut now = T0;
            for i in 0..CHILD_WRITES {
                s.record(now, entry(&format!("w{i}.example.com"), now));
                if i % 50 == 49 {
                    now += 1000;
                    s.tick(now);
                    std::thread::sleep(std::time::Duration::from_millis(2));
                }
            }
            s.shutdown(now);
        }
        other => panic!("unknown child mode {other}"),
    }
}

#[test]
fn a_crash_loses_nothing_that_was_reported_flushed() {
    let dir = tempfile::tempdir().unwrap();
    let out = spawn_child("crash", dir.path()).wait_with_output().unwrap();
    assert!(!out.status.success(), "the child should have aborted");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let durable: u64 = stdout
        .lines()
        .find_map(|l| l.split_once("DURABLE=").map(|(_, n)| n.trim()))
        .unwrap_or_else(|| panic!("no DURABLE line in {stdout}"))
        .parse()
        .unwrap();
    assert_eq!(durable, 500);
    // A torn write on top of the crash, at the end of the newest segment.
    let seg = crate::journal::segment::list(dir.path())
        .unwrap()
        .pop()
        .unwrap()
        .1;
    let mut f = fs::OpenOptions::new().append(true).open(&seg).unwrap();
    std::io::Write::write_all(&mut f, &[0xFF, b'T', b'J', 1, 40, 0]).unwrap();
    drop(f);
    let s = Store::open(dir.path(), small()).unwrap();
    let got = all_records(dir.path(), &Filter::default());
    assert!(got.iter().filter(|r| r.seq <= durable).count() as u64 == durable);
    for r in &got {
        let i = r.seq - 1;
        assert_eq!(r.entry, entry(&format!("c{i}.example.com"), T0 + i));
    }
    // The counters were never saved; replaying the journal restores exactly what it holds.
    assert_eq!(s.counters().blocked_total, got.len() as u64);
    assert_eq!(s.status().durable_seq, durable);
    assert!(s.status().bytes_skipped_on_open > 0);
}

#[test]
fn a_reader_in_another_process_follows_the_writer() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = spawn_child("writer", dir.path());
    let mut polls = 0;
    let mut saw_lock = false;
    let mut last_total = 0;
    loop {
        let done = child.try_wait().unwrap();
        if StoreReader::open(dir.path()).is_ok() {
            let r = StoreReader::open(dir.path()).unwrap();
            let page = r.query(&Filter::default(), None, 100).unwrap();
            for w in page.records.windows(2) {
                assert!(w[0].seq > w[1].seq);
            }
            for rec in &page.records {
                let i = rec.seq - 1;
                assert_eq!(rec.entry.name, format!("w{i}.example.com"));
                assert_eq!(rec.entry.count, 1);
            }
            let total = r.counters().unwrap().blocked_total;
            assert!(
                total >= last_total,
                "counters went back: {total} < {last_total}"
            );
            last_total = total;
            if done.is_none() && !page.records.is_empty() && !saw_lock {
                saw_lock = matches!(
                    Store::open(dir.path(), small()),
                    Err(StoreError::Locked { .. })
                );
            }
            polls += 1;
        }
        if let Some(status) = done {
            assert!(status.success());
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
    assert!(polls > 3, "the reader only looked {polls} times");
    assert!(saw_lock, "the child's writer lock was never seen");
    let r = StoreReader::open(dir.path()).unwrap();
    assert_eq!(r.counters().unwrap().blocked_total, CHILD_WRITES);
    let newest = r.query(&Filter::default(), None, 1).unwrap();
    assert_eq!(newest.records[0].seq, CHILD_WRITES);
}

/// Unmounts on the way out, even when the test fails.
struct Unmount(PathBuf);

impl Drop for Unmount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_is_counted_and_writing_recovers() {
    let mnt = tempfile::tempdir().unwrap();
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"])
        .arg(mnt.path())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run this test as root: mounting a 64 KiB tmpfs failed"
        );
        eprintln!("skipped a_full_disk_is_counted_and_writing_recovers: cannot mount a tmpfs (needs root)");
        return;
    }
    let _unmount = Unmount(mnt.path().to_path_buf());
    let dir = mnt.path().join("store");
    let mut s = Store::open(&dir, StoreConfig::default()).unwrap();
    // Fill the disk.
    let filler = mnt.path().join("filler");
    let mut f = fs::File::create(&filler).unwrap();
    while std::io::Write::write_all(&mut f, &[0u8; 1024]).is_ok() {}
    drop(f);
    let mut now = T0;
    for i in 0..300u64 {
        s.record(now, entry(&format!("full{i}.example.com"), now));
        if i % 20 == 19 {
            now += 1000;
            s.tick(now);
        }
    }
    s.flush(now);
    let st = s.status();
    assert!(st.journal_write_failures > 0, "{st:?}");
    assert!(st.records_dropped > 0, "{st:?}");
    assert_eq!(s.counters().blocked_total, 300);
    // Space comes back: the next batches land.
    fs::remove_file(&filler).unwrap();
    for i in 0..10u64 {
        s.record(now, entry(&format!("back{i}.example.com"), now));
    }
    let durable = s.flush(now);
    assert_eq!(durable, s.status().last_seq);
    let got = all_records(&dir, &Filter::default());
    assert_eq!(got[0].entry.name, "back9.example.com");
    for r in &got {
        assert!(r.entry.name.starts_with("full") || r.entry.name.starts_with("back"));
        assert_eq!(r.entry.count, 1);
    }
    let failures = s.status().journal_write_failures;
    drop(s);
    // Reopening finds a clean journal: no torn frames left by the failed writes.
    let s = Store::open(&dir, StoreConfig::default()).unwrap();
    assert_eq!(s.status().bytes_skipped_on_open, 0);
    assert!(failures > 0);
    drop(s);
}

mod garbled {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(24))]
        #[test]
        fn a_garbled_store_opens_and_returns_only_written_records(
            n in 1u64..400,
            cut in 0.0f64..=1.0,
            garble in prop::collection::vec((0.0f64..1.0, any::<u8>()), 0..8),
        ) {
            let dir = tempfile::tempdir().unwrap();
            let mut s = Store::open(dir.path(), small()).unwrap();
            for i in 0..n {
                s.record(T0 + i, entry(&format!("g{i}.example.com"), T0 + i));
            }
            drop(s);
            for (_, path) in crate::journal::segment::list(dir.path()).unwrap() {
                let mut bytes = fs::read(&path).unwrap();
                if bytes.is_empty() {
                    continue;
                }
                for (pos, b) in &garble {
                    let i = (bytes.len() as f64 * pos) as usize;
                    bytes[i] ^= b | 1;
                }
                bytes.truncate((bytes.len() as f64 * cut) as usize);
                fs::write(&path, &bytes).unwrap();
            }
            let mut s = Store::open(dir.path(), small()).unwrap();
            for r in all_records(dir.path(), &Filter::default()) {
                let i = r.seq - 1;
                prop_assert_eq!(&r.entry, &entry(&format!("g{i}.example.com"), T0 + i));
            }
            s.record(T0 + n, entry("after.example.com", T0 + n));
            s.flush(T0 + n);
            let newest = s.reader().query(&Filter::default(), None, 1).unwrap();
            prop_assert_eq!(&newest.records[0].entry.name, "after.example.com");
        }
    }
}

#[test]
fn a_burst_is_written_at_once_but_synced_at_the_deadline() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Store::open(dir.path(), StoreConfig::default()).unwrap();
    for i in 0..3000u64 {
        s.record(T0, entry(&format!("burst{i}.example.com"), T0));
    }
    // Over the batch size: written (readers and a process crash see it), not yet synced.
    let st = s.status();
    assert_eq!(st.durable_seq, 0);
    assert!(st.journal_bytes > 64 << 10, "{st:?}");
    assert!(all_records(dir.path(), &Filter::default()).len() > 500);
    assert_eq!(
        s.deadline().map(|d| (d.at_unix_ms, d.why)),
        Some((T0 + 1000, Wake::FlushJournal))
    );
    s.tick(T0 + 1000);
    assert_eq!(s.status().durable_seq, 3000);
    assert_eq!(s.status().pending_records, 0);
}
