//! Subscribed lists: for each list the user subscribed to by URL, its
//! status and the last good copy of its text, kept so the firewall filters
//! with it whatever the list's server does next.
//!
//! ```text
//! <dir>/lists/<id>.json   the subscription and its status (atomic replace)
//! <dir>/lists/<id>.txt    the last good copy, exactly as fetched and decoded
//! <dir>/lists/edit.lock   held for the moment a subscription is added, removed or recorded
//! <dir>/lists/update.lock held for a whole update (one updater at a time)
//! ```
//!
//! One file per list, so that a damaged status file costs that list's
//! status, never the other subscriptions, and never the copy: a list whose
//! status cannot be read is still listed (as damaged, with why) and its
//! copy still filters. Every file here is read back as hostile: bounded in
//! size, parsed completely, each field checked ([`Subscription::check`]).
//!
//! Fetching and validating are the runtime's; this module only keeps.

use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::StoreError;
use crate::fsutil::{self, write_atomic, Staged};

/// The directory of subscribed lists, inside the store directory.
pub const LISTS_DIR: &str = "lists";
/// The most lists one store subscribes to.
pub const MAX_SUBSCRIPTIONS: usize = 64;
/// A status file larger than this is damaged (a real one is under 2 KiB).
pub const MAX_STATUS_BYTES: u64 = 64 << 10;
/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;
/// The longest title, in characters.
pub const MAX_TITLE_CHARS: usize = 120;
/// The longest error kept, in characters (longer ones are cut).
pub const MAX_ERROR_CHARS: usize = 500;
/// The longest ETag or Last-Modified kept (they are sent back as headers).
pub const MAX_VALIDATOR_LEN: usize = 512;
/// The longest list id.
pub const MAX_ID_LEN: usize = 32;
/// How many directory entries a listing looks at, at most.
const MAX_DIR_ENTRIES: usize = 4 * MAX_SUBSCRIPTIONS + 64;
const EDIT_LOCK: &str = "edit.lock";
const UPDATE_LOCK: &str = "update.lock";
/// The status files' format version.
const VERSION: u32 = 1;

/// One subscribed list and what happened when it was last checked.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Subscription {
    /// The status format (1).
    pub version: u32,
    /// The list's id: what the journal and `tacet check` name it by
    /// (`[a-z0-9-]`, at most [`MAX_ID_LEN`], starting with a letter or
    /// digit).
    pub id: String,
    /// Where it is fetched from (`https://`, or `http://` when the user
    /// asked for it explicitly).
    pub url: String,
    /// What the user called it, or the URL's file name.
    pub title: String,
    /// When it was subscribed to.
    pub added_unix_ms: u64,
    /// When it was last checked, successfully or not.
    pub last_checked_unix_ms: Option<u64>,
    /// When the server last confirmed the copy (a new list taken, or "not
    /// modified").
    pub last_success_unix_ms: Option<u64>,
    /// When the good copy last changed.
    pub last_changed_unix_ms: Option<u64>,
    /// Why the last check did not give a good copy; `None` when it did.
    pub last_error: Option<String>,
    /// Checks that failed in a row (for retrying sooner than the schedule,
    /// with back-off).
    pub failures: u32,
    /// Rules (names and addresses) in the good copy.
    pub names: u64,
    /// Lines in the good copy.
    pub lines: u64,
    /// Lines of the good copy that could not be used.
    pub unused_lines: u64,
    /// The good copy's size in bytes (0: there is none yet).
    pub copy_bytes: u64,
    /// The good copy's CRC-32, to tell that the file on disk is the copy
    /// this status describes.
    pub copy_crc32: u32,
    /// The server's ETag for the good copy, sent back as If-None-Match.
    pub etag: Option<String>,
    /// The server's Last-Modified for the good copy, sent back as
    /// If-Modified-Since.
    pub last_modified: Option<String>,
}

/// A status file that could not be used, and why: the list stays listed
/// (and its copy, if any, still filters) until the user removes it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DamagedStatus {
    /// The id, from the file's name.
    pub id: String,
    /// What is wrong with it, in plain words.
    pub why: String,
}

/// What a listing holds for one list.
pub type Listed = Result<Subscription, DamagedStatus>;

impl Subscription {
    /// A new subscription, never checked.
    pub fn new(id: String, url: String, title: String, now_unix_ms: u64) -> Self {
        Self {
            version: VERSION,
            id,
            url,
            title,
            added_unix_ms: now_unix_ms,
            last_checked_unix_ms: None,
            last_success_unix_ms: None,
            last_changed_unix_ms: None,
            last_error: None,
            failures: 0,
            names: 0,
            lines: 0,
            unused_lines: 0,
            copy_bytes: 0,
            copy_crc32: 0,
            etag: None,
            last_modified: None,
        }
    }

    /// Whether a good copy was ever taken.
    pub fn has_copy(&self) -> bool {
        self.last_changed_unix_ms.is_some()
    }

    /// Records a failed check: the good copy and its validators stay.
    pub fn record_failure(&mut self, now_unix_ms: u64, why: &str) {
        self.last_checked_unix_ms = Some(now_unix_ms);
        self.last_error = Some(cut(why, MAX_ERROR_CHARS));
        self.failures = self.failures.saturating_add(1);
    }

    /// Records that the server said the good copy is current.
    pub fn record_not_modified(&mut self, now_unix_ms: u64) {
        self.last_checked_unix_ms = Some(now_unix_ms);
        self.last_success_unix_ms = Some(now_unix_ms);
        self.last_error = None;
        self.failures = 0;
    }

    /// Checks every field of a status read back from disk: an id that is a
    /// safe file name, a URL of the accepted form, bounded texts without
    /// control characters, and validators that are valid header values.
    pub fn check(&self) -> Result<(), String> {
        if self.version != VERSION {
            return Err(format!("unknown status version {}", self.version));
        }
        check_id(&self.id)?;
        check_url(&self.url, true)?;
        check_text("title", &self.title, MAX_TITLE_CHARS)?;
        if let Some(e) = &self.last_error {
            check_text("last error", e, MAX_ERROR_CHARS)?;
        }
        for (what, v) in [("ETag", &self.etag), ("Last-Modified", &self.last_modified)] {
            if let Some(v) = v {
                check_validator(what, v)?;
            }
        }
        if self.copy_bytes > 0 && self.last_changed_unix_ms.is_none() {
            return Err("a copy is recorded but no time it was taken".into());
        }
        Ok(())
    }
}

/// Checks a list id: `[a-z0-9-]`, 1 to [`MAX_ID_LEN`] bytes, not starting
/// with `-`.
pub fn check_id(id: &str) -> Result<(), String> {
    let ok = !id.is_empty()
        && id.len() <= MAX_ID_LEN
        && !id.starts_with('-')
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{:?} is not a list id (1 to {MAX_ID_LEN} of a-z, 0-9 and -)",
            cut(id, 40)
        ))
    }
}

/// Checks the form of a list URL: `https://HOST[...]`, or `http://` with
/// `allow_http`; printable ASCII without spaces, at most [`MAX_URL_LEN`].
/// (The fetcher parses it fully before using it.)
pub fn check_url(url: &str, allow_http: bool) -> Result<(), String> {
    if url.len() > MAX_URL_LEN {
        return Err(format!("the URL is longer than {MAX_URL_LEN} characters"));
    }
    if !url.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(
            "the URL has spaces, control or non-ASCII characters (percent-encode them)".into(),
        );
    }
    let rest = if let Some(rest) = url.strip_prefix("https://") {
        rest
    } else if let Some(rest) = url.strip_prefix("http://") {
        if !allow_http {
            return Err(
                "plain http:// can be changed on the way by anyone on the network: use https://, \
                 or say --allow-http if you trust the network"
                    .into(),
            );
        }
        rest
    } else {
        return Err(format!("{:?} is not an https:// URL", cut(url, 80)));
    };
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if host.is_empty() || host.contains('@') {
        return Err("the URL names no host (or carries a user name or password)".into());
    }
    Ok(())
}

fn check_text(what: &str, text: &str, max_chars: usize) -> Result<(), String> {
    if text.chars().count() > max_chars {
        return Err(format!("the {what} is longer than {max_chars} characters"));
    }
    if text.chars().any(char::is_control) {
        return Err(format!("the {what} holds control characters"));
    }
    Ok(())
}

/// An ETag or Last-Modified is sent back to the server as a header: only
/// visible ASCII and spaces, bounded, so a hostile value cannot add headers.
pub fn check_validator(what: &str, value: &str) -> Result<(), String> {
    if value.is_empty()
        || value.len() > MAX_VALIDATOR_LEN
        || !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
    {
        return Err(format!("the {what} is not a usable header value"));
    }
    Ok(())
}

/// `text` cut to at most `max` characters (an ellipsis marks the cut).
fn cut(text: &str, max: usize) -> String {
    match text.char_indices().nth(max.saturating_sub(1)) {
        Some((i, _)) if text.chars().count() > max => format!("{}…", &text[..i]),
        _ => text.to_owned(),
    }
}

/// The directory of subscribed lists in the store directory `dir`.
pub fn lists_dir(dir: &Path) -> PathBuf {
    dir.join(LISTS_DIR)
}

/// Where the good copy of list `id` is kept.
pub fn copy_path(dir: &Path, id: &str) -> PathBuf {
    lists_dir(dir).join(format!("{id}.txt"))
}

fn status_path(dir: &Path, id: &str) -> PathBuf {
    lists_dir(dir).join(format!("{id}.json"))
}

/// Every subscribed list in the store directory `dir`, in the order they
/// were added; none if there is no list directory. Status files that
/// cannot be used come back as [`DamagedStatus`]. At most
/// [`MAX_SUBSCRIPTIONS`] are returned.
pub fn list(dir: &Path) -> Result<Vec<Listed>, StoreError> {
    let lists = lists_dir(dir);
    let entries = match fs::read_dir(&lists) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(StoreError::io(lists, e)),
    };
    let mut found = Vec::new();
    for entry in entries.take(MAX_DIR_ENTRIES) {
        let entry = entry.map_err(|e| StoreError::io(&lists, e))?;
        let name = entry.file_name();
        let Some(id) = name.to_str().and_then(|n| n.strip_suffix(".json")) else {
            continue;
        };
        if check_id(id).is_err() {
            continue;
        }
        found.push(read_status(&entry.path(), id));
        if found.len() == MAX_SUBSCRIPTIONS {
            break;
        }
    }
    found.sort_by_key(sort_key);
    Ok(found)
}

fn sort_key(l: &Listed) -> (u64, String) {
    match l {
        Ok(s) => (s.added_unix_ms, s.id.clone()),
        Err(d) => (u64::MAX, d.id.clone()),
    }
}

/// The subscription `id`, `None` if there is none.
pub fn get(dir: &Path, id: &str) -> Result<Option<Listed>, StoreError> {
    check_id(id).map_err(|why| StoreError::Subscription { why })?;
    let path = status_path(dir, id);
    match fs::symlink_metadata(&path) {
        Ok(_) => Ok(Some(read_status(&path, id))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::io(path, e)),
    }
}

/// Reads one status file as hostile input: a regular file, bounded,
/// complete JSON, every field checked, its id its file's.
fn read_status(path: &Path, id: &str) -> Listed {
    let damaged = |why: String| DamagedStatus {
        id: id.to_owned(),
        why,
    };
    let meta = fs::symlink_metadata(path).map_err(|e| damaged(e.to_string()))?;
    if !meta.is_file() {
        return Err(damaged("the status is not a regular file".into()));
    }
    if meta.len() > MAX_STATUS_BYTES {
        return Err(damaged(format!(
            "the status file is larger than {} KiB",
            MAX_STATUS_BYTES >> 10
        )));
    }
    let mut bytes = Vec::new();
    File::open(path)
        .and_then(|f| f.take(MAX_STATUS_BYTES + 1).read_to_end(&mut bytes))
        .map_err(|e| damaged(format!("the status cannot be read: {e}")))?;
    let sub: Subscription = serde_json::from_slice(&bytes)
        .map_err(|e| damaged(format!("the status file is damaged: {e}")))?;
    sub.check()
        .map_err(|why| damaged(format!("the status file is damaged: {why}")))?;
    if sub.id != id {
        return Err(damaged(format!(
            "the status file names another list ({})",
            sub.id
        )));
    }
    Ok(sub)
}

/// Holds the edit lock of the list directory while `f` runs.
fn edit<T>(dir: &Path, f: impl FnOnce(&Path) -> Result<T, StoreError>) -> Result<T, StoreError> {
    let lists = lists_dir(dir);
    fs::create_dir_all(&lists).map_err(|e| StoreError::io(&lists, e))?;
    let lock_path = lists.join(EDIT_LOCK);
    let _lock = fsutil::lock(&lock_path, true).map_err(|e| StoreError::io(&lock_path, e))?;
    f(&lists)
}

/// The lock held for a whole update, so two updaters (the firewall's
/// schedule and `tacet lists update`) never fetch the same list at once.
/// Released when dropped.
#[derive(Debug)]
pub struct UpdateLock(#[allow(dead_code)] File);

/// Takes the update lock; with `wait`, blocks until the other updater is
/// done, otherwise `Ok(None)` when it is held. Removes temporaries that an
/// updater killed half way left behind.
pub fn lock_updates(dir: &Path, wait: bool) -> Result<Option<UpdateLock>, StoreError> {
    let lists = lists_dir(dir);
    fs::create_dir_all(&lists).map_err(|e| StoreError::io(&lists, e))?;
    let path = lists.join(UPDATE_LOCK);
    let Some(file) = fsutil::lock(&path, wait).map_err(|e| StoreError::io(&path, e))? else {
        return Ok(None);
    };
    if let Ok(entries) = fs::read_dir(&lists) {
        for entry in entries.take(MAX_DIR_ENTRIES).flatten() {
            if entry.file_name().to_string_lossy().ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }
    Ok(Some(UpdateLock(file)))
}

/// Subscribes to `url` (checked with [`check_url`]) under `title` (or the
/// URL's file name). The id is made from the title or URL, different from
/// every subscribed list's and from `reserved` (the ids of built-in lists).
/// Fails if the URL is already subscribed to, or [`MAX_SUBSCRIPTIONS`]
/// are.
pub fn add(
    dir: &Path,
    url: &str,
    title: Option<&str>,
    allow_http: bool,
    reserved: &[&str],
    now_unix_ms: u64,
) -> Result<Subscription, StoreError> {
    let bad = |why: String| StoreError::Subscription { why };
    check_url(url, allow_http).map_err(bad)?;
    let title = match title.map(str::trim) {
        Some(t) if !t.is_empty() => t.to_owned(),
        _ => title_of(url),
    };
    check_text("title", &title, MAX_TITLE_CHARS).map_err(bad)?;
    edit(dir, |_| {
        let existing = list(dir)?;
        if existing.len() >= MAX_SUBSCRIPTIONS {
            return Err(bad(format!(
                "{MAX_SUBSCRIPTIONS} lists are subscribed to already, the most there may be"
            )));
        }
        if let Some(same) = existing.iter().flatten().find(|s| s.url == url) {
            return Err(bad(format!(
                "{url} is subscribed to already, as {}",
                same.id
            )));
        }
        let taken: Vec<&str> = existing
            .iter()
            .map(|l| match l {
                Ok(s) => s.id.as_str(),
                Err(d) => d.id.as_str(),
            })
            .chain(reserved.iter().copied())
            .collect();
        let id = pick_id(&title, &taken);
        let sub = Subscription::new(id, url.to_owned(), title.clone(), now_unix_ms);
        write_status(dir, &sub)?;
        Ok(sub)
    })
}

/// Unsubscribes from list `id`: its status and its copy go. Returns
/// whether there was such a list.
pub fn remove(dir: &Path, id: &str) -> Result<bool, StoreError> {
    check_id(id).map_err(|why| StoreError::Subscription { why })?;
    edit(dir, |_| {
        let mut found = false;
        for path in [status_path(dir, id), copy_path(dir, id)] {
            match fs::remove_file(&path) {
                Ok(()) => found = true,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(StoreError::io(path, e)),
            }
        }
        if found {
            let _ = fsutil::sync_dir(&lists_dir(dir));
        }
        Ok(found)
    })
}

/// Records `sub` after a check: with `copy`, the new good copy replaces the
/// old one first (so a crash between the two leaves a copy whose CRC the
/// old status does not match, which the next update notices). Returns
/// false, and keeps nothing, when the list was removed meanwhile.
pub fn record(dir: &Path, sub: &Subscription, copy: Option<Staged>) -> Result<bool, StoreError> {
    sub.check()
        .map_err(|why| StoreError::Subscription { why })?;
    edit(dir, |_| {
        let path = status_path(dir, &sub.id);
        if !path.exists() {
            return Ok(false);
        }
        if let Some(copy) = copy {
            let target = copy_path(dir, &sub.id);
            copy.commit().map_err(|e| StoreError::io(target, e))?;
        }
        write_status(dir, sub)?;
        Ok(true)
    })
}

/// A temporary beside the copy of list `id`, for a download that becomes
/// the copy through [`record`] once it is checked.
pub fn stage_copy(dir: &Path, id: &str) -> Result<Staged, StoreError> {
    check_id(id).map_err(|why| StoreError::Subscription { why })?;
    let lists = lists_dir(dir);
    fs::create_dir_all(&lists).map_err(|e| StoreError::io(&lists, e))?;
    let target = copy_path(dir, id);
    Staged::create(&target).map_err(|e| StoreError::io(target, e))
}

/// Whether the copy on disk is the one `sub` describes (size and CRC-32);
/// reads it whole, so only for an updater about to ask "changed since?".
pub fn copy_matches(dir: &Path, sub: &Subscription) -> bool {
    let path = copy_path(dir, &sub.id);
    let Ok(meta) = fs::symlink_metadata(&path) else {
        return false;
    };
    if !meta.is_file() || meta.len() != sub.copy_bytes || sub.copy_bytes == 0 {
        return false;
    }
    let Ok(mut file) = File::open(&path) else {
        return false;
    };
    let mut crc = crc32fast::Hasher::new();
    let mut buf = vec![0; 64 << 10];
    let mut total = 0u64;
    loop {
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                crc.update(buf.get(..n).unwrap_or_default());
                total += n as u64;
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    total == sub.copy_bytes && crc.finalize() == sub.copy_crc32
}

fn write_status(dir: &Path, sub: &Subscription) -> Result<(), StoreError> {
    let path = status_path(dir, &sub.id);
    let bytes =
        serde_json::to_vec_pretty(sub).map_err(|e| StoreError::io(&path, io::Error::other(e)))?;
    write_atomic(&path, &bytes).map_err(|e| StoreError::io(path, e))
}

/// A title for a URL: its last path segment (`light.txt`), else its host.
fn title_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let path = rest.split(['?', '#']).next().unwrap_or_default();
    let mut parts = path.split('/').filter(|p| !p.is_empty());
    let host = parts.next().unwrap_or("list");
    cut(parts.next_back().unwrap_or(host), MAX_TITLE_CHARS)
}

/// An id made from `title`: lowercase letters and digits, other runs
/// turned into `-`, without a file extension, unique among `taken` (a
/// `-2`, `-3`... suffix).
fn pick_id(title: &str, taken: &[&str]) -> String {
    let stem = match title.rsplit_once('.') {
        Some((stem, ext)) if !stem.is_empty() && ext.len() <= 4 && !ext.contains(' ') => stem,
        _ => title,
    };
    let mut base = String::new();
    for c in stem.chars().flat_map(char::to_lowercase) {
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            base.push(c);
        } else if !base.ends_with('-') && !base.is_empty() {
            base.push('-');
        }
    }
    base.truncate(MAX_ID_LEN - 4);
    let base = base.trim_end_matches('-');
    let base = if base.is_empty() { "list" } else { base };
    let mut id = base.to_owned();
    let mut n = 2;
    while taken.contains(&id.as_str()) {
        id = format!("{base}-{n}");
        n += 1;
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const URL: &str = "https://lists.example/hagezi/light.txt";

    #[test]
    fn ids_come_from_titles_and_never_collide() {
        assert_eq!(pick_id("light.txt", &[]), "light");
        assert_eq!(pick_id("HaGeZi Light (DNS)", &[]), "hagezi-light-dns");
        assert_eq!(pick_id("light.txt", &["light"]), "light-2");
        assert_eq!(pick_id("light", &["light", "light-2"]), "light-3");
        assert_eq!(pick_id("!!!", &[]), "list");
        assert_eq!(pick_id("custom", &["custom"]), "custom-2");
        let long = pick_id(&"a".repeat(100), &[]);
        assert!(check_id(&long).is_ok(), "{long}");
        assert_eq!(title_of(URL), "light.txt");
        assert_eq!(title_of("https://lists.example/"), "lists.example");
        assert_eq!(title_of("https://lists.example/a/b.txt?x=1"), "b.txt");
    }

    #[test]
    fn urls_are_https_unless_http_is_asked_for() {
        assert!(check_url(URL, false).is_ok());
        assert!(check_url("http://lists.example/a", false)
            .unwrap_err()
            .contains("--allow-http"));
        assert!(check_url("http://lists.example/a", true).is_ok());
        for bad in [
            "ftp://x/y",
            "https://",
            "https:///path",
            "https://user:pw@host/x",
            "https://host/a b",
            "https://host/\u{e9}",
            "lists.example/light.txt",
        ] {
            assert!(check_url(bad, true).is_err(), "{bad}");
        }
        assert!(check_url(&format!("https://h/{}", "a".repeat(MAX_URL_LEN)), false).is_err());
    }

    #[test]
    fn add_list_record_and_remove() {
        let dir = tempfile::tempdir().unwrap();
        assert!(list(dir.path()).unwrap().is_empty());
        let sub = add(dir.path(), URL, None, false, &[], 1_000).unwrap();
        assert_eq!(
            (sub.id.as_str(), sub.title.as_str()),
            ("light", "light.txt")
        );
        assert!(add(dir.path(), URL, Some("again"), false, &[], 2_000)
            .unwrap_err()
            .to_string()
            .contains("already"));
        let other = add(
            dir.path(),
            "https://other.example/light.txt",
            None,
            false,
            &[],
            2_000,
        )
        .unwrap();
        assert_eq!(other.id, "light-2");
        let reserved = add(
            dir.path(),
            "https://other.example/x",
            Some("custom"),
            false,
            &["custom"],
            3_000,
        )
        .unwrap();
        assert_eq!(reserved.id, "custom-2");

        // A new copy and its status, recorded together.
        let mut staged = stage_copy(dir.path(), &sub.id).unwrap();
        staged.write_all(b"tracker.example\n").unwrap();
        let mut updated = sub.clone();
        updated.copy_bytes = staged.len();
        updated.copy_crc32 = staged.crc32();
        updated.names = 1;
        updated.last_changed_unix_ms = Some(5_000);
        updated.etag = Some("\"v1\"".into());
        assert!(record(dir.path(), &updated, Some(staged)).unwrap());
        assert_eq!(
            fs::read(copy_path(dir.path(), "light")).unwrap(),
            b"tracker.example\n"
        );
        assert!(copy_matches(dir.path(), &updated));
        assert!(!copy_matches(dir.path(), &sub));
        let listed = list(dir.path()).unwrap();
        assert_eq!(listed.len(), 3);
        assert_eq!(listed[0], Ok(updated.clone()));

        // Removed while an update was under way: the update keeps nothing.
        assert!(remove(dir.path(), "light").unwrap());
        assert!(!remove(dir.path(), "light").unwrap());
        let staged = stage_copy(dir.path(), "light").unwrap();
        let tmp = staged.path().to_owned();
        assert!(!record(dir.path(), &updated, Some(staged)).unwrap());
        assert!(!tmp.exists());
        assert!(!copy_path(dir.path(), "light").exists());
        assert_eq!(list(dir.path()).unwrap().len(), 2);
        assert!(remove(dir.path(), "../etc").is_err());
    }

    #[test]
    fn a_damaged_status_file_costs_only_its_own_list() {
        let dir = tempfile::tempdir().unwrap();
        let good = add(dir.path(), URL, None, false, &[], 1_000).unwrap();
        let lists = lists_dir(dir.path());
        let valid = serde_json::to_string(&good).unwrap();
        let cases: Vec<(&str, Vec<u8>, &str)> = vec![
            (
                "cut",
                valid.as_bytes()[..valid.len() / 2].to_vec(),
                "damaged",
            ),
            ("garbage", vec![0xff, 0x00, 0x13], "damaged"),
            ("empty", Vec::new(), "damaged"),
            (
                "huge",
                vec![b' '; (MAX_STATUS_BYTES + 1) as usize],
                "larger than",
            ),
            ("other", valid.clone().into_bytes(), "another list"),
            (
                "badurl",
                valid
                    .replace(URL, "file:///etc/passwd")
                    .replace("\"light\"", "\"badurl\"")
                    .into_bytes(),
                "https",
            ),
            (
                "inject",
                serde_json::to_string(&Subscription {
                    id: "inject".into(),
                    etag: Some("\"x\"\r\nHost: evil".into()),
                    ..good.clone()
                })
                .unwrap()
                .into_bytes(),
                "ETag",
            ),
            (
                "version",
                valid
                    .replace("\"version\":1", "\"version\":9")
                    .replace("\"light\"", "\"version\"")
                    .into_bytes(),
                "version",
            ),
        ];
        for (id, bytes, _) in &cases {
            fs::write(lists.join(format!("{id}.json")), bytes).unwrap();
        }
        // Not status files at all: ignored.
        fs::write(lists.join("notes.txt"), b"x").unwrap();
        fs::write(lists.join("UPPER.json"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", lists.join("link.json")).unwrap();
        let listed = list(dir.path()).unwrap();
        assert_eq!(listed.first(), Some(&Ok(good.clone())));
        for (id, _, why) in &cases {
            let found = listed
                .iter()
                .find_map(|l| l.as_ref().err().filter(|d| d.id == *id))
                .unwrap_or_else(|| panic!("{id} not listed as damaged: {listed:?}"));
            assert!(found.why.contains(why), "{id}: {}", found.why);
        }
        let link = listed
            .iter()
            .find_map(|l| l.as_ref().err().filter(|d| d.id == "link"))
            .unwrap();
        assert!(link.why.contains("regular file"), "{}", link.why);
        assert_eq!(listed.len(), 1 + cases.len() + 1);
        // A damaged list can still be removed, and a new one added beside.
        assert!(remove(dir.path(), "garbage").unwrap());
        assert!(add(dir.path(), "https://x.example/y", None, false, &[], 9).is_ok());
        assert!(matches!(get(dir.path(), "cut"), Ok(Some(Err(_)))));
        assert!(matches!(get(dir.path(), "nothing"), Ok(None)));
    }

    #[test]
    fn failures_keep_the_copy_and_errors_are_bounded() {
        let mut sub = Subscription::new("a".into(), URL.into(), "a".into(), 0);
        sub.etag = Some("\"v1\"".into());
        sub.record_failure(10, &"x".repeat(5_000));
        sub.record_failure(20, "HTTP 404");
        assert_eq!(sub.failures, 2);
        assert_eq!(sub.etag.as_deref(), Some("\"v1\""));
        assert_eq!(sub.last_error.as_deref(), Some("HTTP 404"));
        sub.record_failure(30, &"y".repeat(5_000));
        assert!(sub.check().is_ok());
        sub.record_not_modified(40);
        assert_eq!((sub.failures, sub.last_error.clone()), (0, None));
    }

    #[test]
    fn the_update_lock_is_exclusive_and_clears_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let leftover = lists_dir(dir.path()).join("light.txt.1.0.tmp");
        fs::create_dir_all(lists_dir(dir.path())).unwrap();
        fs::write(&leftover, b"half").unwrap();
        let held = lock_updates(dir.path(), false).unwrap();
        assert!(held.is_some());
        assert!(!leftover.exists());
        assert!(lock_updates(dir.path(), false).unwrap().is_none());
        drop(held);
        assert!(lock_updates(dir.path(), false).unwrap().is_some());
    }
}
