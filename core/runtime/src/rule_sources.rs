//! The rule set a firewall runs with, composed from where rules come from:
//! the curated lists that are on, list files, the lists subscribed to by
//! URL (the store's last good copies), the store's custom list (what
//! "block this name" and "allow this name" edit), and text the user
//! pasted. Every shell composes its rules here, so a name is blocked for
//! the same reasons on Linux, Android and iOS.

use std::fmt;
use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};

use tacet_rules::curated::CuratedList;
use tacet_rules::{ListInfo, ParseReport, RuleSet, RuleSetBuilder};

/// The list id of the store's custom list.
pub const CUSTOM_LIST_ID: &str = "custom";
/// The list id of a pasted list.
pub const PASTED_LIST_ID: &str = "pasted";

/// One place rules come from.
#[derive(Debug, Clone)]
pub enum ListSource {
    /// A list built into tacet.
    Curated(&'static CuratedList),
    /// A list file; with `allow`, every name in it stays reachable. Its id
    /// is the file's stem and its title the path.
    File {
        /// The file.
        path: PathBuf,
        /// Whether it is an allowlist.
        allow: bool,
    },
    /// The custom list in a store directory, if it has one.
    StoreCustom(PathBuf),
    /// The last good copy of every list the store in this directory
    /// subscribes to (see [`crate::subscriptions`]); lists without a copy
    /// yet, or whose copy cannot be read, are left out (and logged): a
    /// subscription never stops the firewall from starting.
    StoreSubscriptions(PathBuf),
    /// A list the user pasted.
    Pasted(String),
}

/// The composed rules, with a report for every list read.
#[derive(Debug)]
pub struct Composed {
    /// The rule set.
    pub rules: RuleSet,
    /// How each list's lines were used, in the order given; empty when the
    /// rules were mapped from the store's compiled file (no list was read).
    pub reports: Vec<(ListInfo, ParseReport)>,
    /// Whether the rules were mapped from the store's compiled file
    /// because the sources had not changed since it was written (see
    /// [`compose_through_store`]).
    pub from_store: bool,
}

/// Why rules could not be composed.
#[derive(Debug)]
pub enum ComposeError {
    /// A list file could not be read.
    Read(PathBuf, io::Error),
    /// The lists could not be compiled.
    Build(String),
}

impl fmt::Display for ComposeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Read(path, e) => write!(f, "cannot read list {}: {e}", path.display()),
            Self::Build(why) => write!(f, "cannot compile the rules: {why}"),
        }
    }
}

impl std::error::Error for ComposeError {}

/// Reads every source into one rule set. A missing store custom list is
/// an empty one; a missing list file is an error.
pub fn compose(sources: &[ListSource]) -> Result<Composed, ComposeError> {
    let mut builder = RuleSetBuilder::new();
    let mut reports = Vec::with_capacity(sources.len());
    for source in sources {
        if let ListSource::StoreSubscriptions(dir) = source {
            reports.extend(add_subscriptions(&mut builder, dir)?);
            continue;
        }
        let (info, report) = match source {
            ListSource::StoreSubscriptions(_) => continue,
            ListSource::Curated(list) => {
                let report = list
                    .add_to(&mut builder)
                    .map_err(|e| ComposeError::Build(e.to_string()))?;
                (list.info(), report)
            }
            ListSource::File { path, allow } => {
                let reader = File::open(path)
                    .and_then(tacet_rules::parse::list_reader)
                    .map_err(|e| ComposeError::Read(path.clone(), e))?;
                let info = ListInfo {
                    id: file_id(path),
                    title: path.display().to_string(),
                };
                let report = if *allow {
                    builder.add_allow_list(info.clone(), reader)
                } else {
                    builder.add_list(info.clone(), reader)
                }
                .map_err(|e| ComposeError::Read(path.clone(), e))?;
                (info, report)
            }
            ListSource::StoreCustom(dir) => {
                let path = dir.join(tacet_store::CUSTOM_FILE);
                let file = match File::open(&path) {
                    Ok(file) => file,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(ComposeError::Read(path, e)),
                };
                let info = ListInfo {
                    id: CUSTOM_LIST_ID.into(),
                    title: "Your custom list".into(),
                };
                let report = tacet_rules::parse::list_reader(file)
                    .and_then(|reader| builder.add_list(info.clone(), reader))
                    .map_err(|e| ComposeError::Read(path, e))?;
                (info, report)
            }
            ListSource::Pasted(text) => {
                let info = ListInfo {
                    id: PASTED_LIST_ID.into(),
                    title: "Your pasted list".into(),
                };
                let report = builder
                    .add_list(info.clone(), text.as_bytes())
                    .map_err(|e| ComposeError::Build(e.to_string()))?;
                (info, report)
            }
        };
        reports.push((info, report));
    }
    let rules = builder
        .try_build()
        .map_err(|e| ComposeError::Build(e.to_string()))?;
    Ok(Composed {
        rules,
        reports,
        from_store: false,
    })
}

/// Adds the good copy of every subscribed list in the store `dir`.
fn add_subscriptions(
    builder: &mut RuleSetBuilder,
    dir: &Path,
) -> Result<Vec<(ListInfo, ParseReport)>, ComposeError> {
    let listed = match tacet_store::subscriptions::list(dir) {
        Ok(listed) => listed,
        Err(e) => {
            log::warn!("subscribed lists left out: {e}");
            return Ok(Vec::new());
        }
    };
    let mut reports = Vec::new();
    for entry in listed {
        // A damaged status still leaves its copy to filter with.
        let info = match entry {
            Ok(sub) => ListInfo {
                id: sub.id,
                title: sub.title,
            },
            Err(damaged) => ListInfo {
                title: damaged.id.clone(),
                id: damaged.id,
            },
        };
        let path = tacet_store::subscriptions::copy_path(dir, &info.id);
        let file = match File::open(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                log::warn!("subscribed list {} left out: {e}", info.id);
                continue;
            }
        };
        match tacet_rules::parse::list_reader(file)
            .and_then(|reader| builder.add_list(info.clone(), reader))
        {
            Ok(report) => reports.push((info, report)),
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => {
                // Too many lists: the builder's own limit.
                return Err(ComposeError::Build(e.to_string()));
            }
            Err(e) => log::warn!("subscribed list {} left out: {e}", info.id),
        }
    }
    Ok(reports)
}

/// The curated lists that are on in a new install.
pub fn curated_defaults() -> Vec<ListSource> {
    tacet_rules::curated::catalog()
        .iter()
        .filter(|l| l.default_on)
        .map(ListSource::Curated)
        .collect()
}

fn file_id(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "list".into(), |s| s.to_string_lossy().into_owned())
}

/// The compiled rules' file in a store directory: the store's own name
/// for it.
pub const COMPILED_FILE: &str = tacet_store::RULES_FILE;

/// The rules of `sources`, through the store in `dir`: when the store's
/// compiled file was built from these very sources (the same lists, files
/// of the same size and dates, the same settings; see [`origin`]), it is
/// mapped and no list is read, so a million names start in milliseconds.
/// Otherwise the lists are compiled ([`compose`]), the origin recorded in
/// the compiled bytes, and the file replaced ([`map_through_store`]). A
/// compiled file that cannot be used (an older format, damaged, cut) is
/// compiled again, never an error; it is logged.
pub fn compose_through_store(sources: &[ListSource], dir: &Path) -> Result<Composed, ComposeError> {
    // Taken before any list is read: a list that changes while it is
    // compiled leaves an origin that no longer matches it, so the next
    // start compiles again.
    let origin = origin(sources);
    let path = dir.join(COMPILED_FILE);
    match origin.as_deref().map(|o| (o, map_compiled(&path))) {
        Some((want, Ok(stored))) if stored.origin() == want => {
            return Ok(Composed {
                rules: stored,
                reports: Vec::new(),
                from_store: true,
            });
        }
        Some((_, Ok(_))) => log::info!("lists changed since they were compiled: compiling again"),
        Some((_, Err(e))) if e.kind() == io::ErrorKind::NotFound => {}
        Some((_, Err(e))) => log::info!("compiled rules not used ({e}): compiling the lists"),
        None => {}
    }
    let composed = compose(sources)?;
    let rules = match origin.as_deref().map(|o| composed.rules.with_origin(o)) {
        Some(Ok(with)) => with,
        Some(Err(e)) => {
            log::warn!("compiled rules kept without their origin: {e}");
            composed.rules
        }
        None => composed.rules,
    };
    Ok(Composed {
        rules: map_through_store(rules, dir),
        ..composed
    })
}

/// Maps and checks a compiled rules file.
fn map_compiled(path: &Path) -> io::Result<RuleSet> {
    let file = File::open(path)?;
    // SAFETY: the file is tacet's own, in the store directory, and is only
    // ever replaced by a rename, never written in place; the mapping is
    // read-only and checked (CRC and structure) before use.
    let map = unsafe { memmap2::Mmap::map(&file) }?;
    RuleSet::from_bytes(std::sync::Arc::new(map))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// What compiled rules are built from, as bytes to compare: this build of
/// tacet (its executable's size and dates) and the compiled format, then
/// per source what identifies its content without reading it (a file's
/// device, inode, size and modification and change times; a built-in or
/// pasted text's length and CRC-32, which reading a pasted text costs
/// about a millisecond a megabyte). `None` when a file cannot be looked
/// at: the lists are then compiled, and the error is theirs to report.
pub fn origin(sources: &[ListSource]) -> Option<Vec<u8>> {
    use std::io::Write as _;
    let mut out = Vec::new();
    let _ = writeln!(
        out,
        "tacet {} rules v{}",
        env!("CARGO_PKG_VERSION"),
        tacet_rules::compiled::FORMAT_VERSION
    );
    // A rebuilt tacet may read lists differently: its executable differs.
    if let Some(meta) = std::env::current_exe()
        .ok()
        .and_then(|exe| std::fs::metadata(exe).ok())
    {
        push_meta(&mut out, "exe", Path::new(""), Some(&meta));
    }
    for source in sources {
        match source {
            ListSource::Curated(list) => {
                let text = list.text.as_bytes();
                let _ = writeln!(
                    out,
                    "curated {} {} {:08x}",
                    list.id,
                    text.len(),
                    crc32fast::hash(text)
                );
            }
            ListSource::File { path, allow } => {
                let meta = std::fs::metadata(path).ok()?;
                push_meta(
                    &mut out,
                    if *allow { "allow" } else { "block" },
                    path,
                    Some(&meta),
                );
            }
            ListSource::StoreCustom(dir) => {
                let path = dir.join(tacet_store::CUSTOM_FILE);
                let meta = meta_or_missing(&path)?;
                push_meta(&mut out, "custom", &path, meta.as_ref());
            }
            ListSource::StoreSubscriptions(dir) => {
                // As `add_subscriptions` reads them: a store whose lists
                // cannot be listed adds none.
                let listed = tacet_store::subscriptions::list(dir).unwrap_or_default();
                for entry in listed {
                    let (id, title) = match entry {
                        Ok(sub) => (sub.id, sub.title),
                        Err(damaged) => (damaged.id.clone(), damaged.id),
                    };
                    let path = tacet_store::subscriptions::copy_path(dir, &id);
                    let meta = meta_or_missing(&path)?;
                    let _ = writeln!(out, "subscription {id} {}", title.len());
                    out.extend_from_slice(title.as_bytes());
                    out.push(b'\n');
                    push_meta(&mut out, "copy", &path, meta.as_ref());
                }
            }
            ListSource::Pasted(text) => {
                let _ = writeln!(
                    out,
                    "pasted {} {:08x}",
                    text.len(),
                    crc32fast::hash(text.as_bytes())
                );
            }
        }
        if out.len() > tacet_rules::compiled::MAX_ORIGIN {
            return None;
        }
    }
    Some(out)
}

/// A file's metadata, `None` inside when it does not exist; `None` when it
/// cannot be looked at.
fn meta_or_missing(path: &Path) -> Option<Option<std::fs::Metadata>> {
    match std::fs::metadata(path) {
        Ok(meta) => Some(Some(meta)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Some(None),
        Err(_) => None,
    }
}

/// One line: what, the path's bytes, and the file's identity and dates.
fn push_meta(out: &mut Vec<u8>, what: &str, path: &Path, meta: Option<&std::fs::Metadata>) {
    use std::io::Write as _;
    let _ = write!(out, "{what} {} ", path.as_os_str().len());
    out.extend_from_slice(path.as_os_str().as_encoded_bytes());
    match meta {
        None => out.extend_from_slice(b" missing\n"),
        Some(m) => {
            #[cfg(unix)]
            let id = {
                use std::os::unix::fs::MetadataExt as _;
                (m.dev(), m.ino(), m.ctime(), m.ctime_nsec())
            };
            #[cfg(not(unix))]
            let id = (0u64, 0u64, 0i64, 0i64);
            let modified = m
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_nanos());
            let _ = writeln!(
                out,
                " {} {} {} {modified} {}.{}",
                id.0,
                id.1,
                m.len(),
                id.2,
                id.3
            );
        }
    }
}

/// Writes `rules` to [`COMPILED_FILE`] in the store directory `dir` and
/// returns them read back from a read-only memory map: the pages are the
/// file's, clean and shared, so a large list costs the process almost no
/// dirty memory (what iOS counts against a packet tunnel's 50 MiB) once the
/// in-memory set is dropped. The file is replaced atomically, so a set
/// mapped earlier keeps its own pages. If anything fails (a full disk, no
/// store), the rules in memory are kept and the reason logged: filtering
/// never depends on it.
pub fn map_through_store(rules: RuleSet, dir: &Path) -> RuleSet {
    let path = dir.join(COMPILED_FILE);
    let mapped = std::fs::create_dir_all(dir)
        .and_then(|()| tacet_store::write_atomic(&path, rules.as_bytes()))
        .and_then(|()| File::open(&path))
        // SAFETY: the file is tacet's own, in the store directory, and is
        // only ever replaced by a rename, never written in place; the
        // mapping is read-only and checked (CRC and structure) before use.
        .and_then(|file| unsafe { memmap2::Mmap::map(&file) })
        .map_err(|e| e.to_string())
        .and_then(|map| RuleSet::from_bytes(std::sync::Arc::new(map)).map_err(|e| e.to_string()));
    match mapped {
        Ok(set) => set,
        Err(e) => {
            log::warn!(
                "rules kept in memory, not mapped from {}: {e}",
                path.display()
            );
            rules
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tacet_rules::Verdict;

    #[test]
    fn curated_custom_and_pasted_lists_compose_and_report() {
        let dir = std::env::temp_dir().join(format!("tacet-compose-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        tacet_store::set_custom_rule(
            &dir,
            "ot.io.mi.com",
            Some(tacet_store::CustomRuleKind::Block),
        )
        .unwrap();
        let mut sources = curated_defaults();
        sources.push(ListSource::StoreCustom(dir.clone()));
        sources.push(ListSource::Pasted("tracker.example\n##.ad\n".into()));
        let composed = compose(&sources).unwrap();
        // The keep-working allowlist beats the custom block: allow wins.
        assert!(matches!(
            composed.rules.lookup("ot.io.mi.com"),
            Verdict::Allowed(_)
        ));
        assert!(matches!(
            composed.rules.lookup("api-mifit.huami.com"),
            Verdict::Blocked(_)
        ));
        let (info, report) = composed.reports.last().unwrap();
        assert_eq!(
            (
                info.id.as_str(),
                report.rules,
                report.problems.values().sum::<u64>()
            ),
            ("pasted", 1, 1)
        );
        assert!(composed.reports.iter().any(|(i, _)| i.id == CUSTOM_LIST_ID));
        // No custom list yet is no error.
        let empty =
            std::env::temp_dir().join(format!("tacet-compose-empty-{}", std::process::id()));
        assert!(compose(&[ListSource::StoreCustom(empty)]).is_ok());
        assert!(matches!(
            compose(&[ListSource::File {
                path: dir.join("missing.txt"),
                allow: false
            }]),
            Err(ComposeError::Read(..))
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn rules_mapped_through_the_store_match_and_a_bad_dir_keeps_them() {
        let dir = std::env::temp_dir().join(format!("tacet-map-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let Composed { rules, .. } = compose(&[ListSource::Pasted(
            "tracker.example\n203.0.113.0/24\n".into(),
        )])
        .unwrap();
        let bytes = rules.as_bytes().to_vec();
        let mapped = map_through_store(rules, &dir);
        assert_eq!(mapped.as_bytes(), &bytes[..]);
        assert!(matches!(
            mapped.lookup("a.tracker.example"),
            tacet_rules::Verdict::Blocked(_)
        ));
        assert_eq!(std::fs::read(dir.join(COMPILED_FILE)).unwrap(), bytes);
        // A second set replaces the file; the first mapping is untouched.
        let Composed { rules: other, .. } =
            compose(&[ListSource::Pasted("other.example\n".into())]).unwrap();
        let other = map_through_store(other, &dir);
        assert!(matches!(
            mapped.lookup("tracker.example"),
            tacet_rules::Verdict::Blocked(_)
        ));
        assert!(matches!(
            other.lookup("other.example"),
            tacet_rules::Verdict::Blocked(_)
        ));
        // A store that is a file, not a directory: the rules stay in memory.
        let file = dir.join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let kept = map_through_store(other, &file);
        assert!(matches!(
            kept.lookup("other.example"),
            tacet_rules::Verdict::Blocked(_)
        ));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unchanged_sources_are_mapped_from_the_store_and_changed_ones_compiled() {
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        let list = dir.path().join("list.txt");
        std::fs::write(&list, "tracker.example\n").unwrap();
        let sources = |allow: bool| {
            vec![
                ListSource::File {
                    path: list.clone(),
                    allow,
                },
                ListSource::StoreCustom(store.clone()),
                ListSource::Pasted("pasted.example\n".into()),
            ]
        };
        let first = compose_through_store(&sources(false), &store).unwrap();
        assert!(!first.from_store);
        assert_eq!(first.reports.len(), 2);
        assert!(!first.rules.origin().is_empty());
        let file = std::fs::read(store.join(COMPILED_FILE)).unwrap();
        assert_eq!(file, first.rules.as_bytes());
        // The same sources: the compiled file, not the lists.
        let second = compose_through_store(&sources(false), &store).unwrap();
        assert!(second.from_store);
        assert!(second.reports.is_empty());
        assert_eq!(second.rules.as_bytes(), first.rules.as_bytes());
        assert!(matches!(
            second.rules.lookup("a.tracker.example"),
            Verdict::Blocked(_)
        ));
        // A setting of a source changed: compiled again.
        let allowed = compose_through_store(&sources(true), &store).unwrap();
        assert!(!allowed.from_store);
        assert!(matches!(
            allowed.rules.lookup("tracker.example"),
            Verdict::Allowed(_)
        ));
        assert!(
            compose_through_store(&sources(true), &store)
                .unwrap()
                .from_store
        );
        // The list rewritten in place with as many bytes: only its date
        // tells (set apart from the first write's explicitly, as the
        // clock behind file dates may tick more slowly than this test).
        std::fs::write(&list, "trackex.example\n").unwrap();
        std::fs::File::options()
            .write(true)
            .open(&list)
            .and_then(|f| {
                f.set_modified(std::time::SystemTime::now() + std::time::Duration::from_secs(5))
            })
            .unwrap();
        let changed = compose_through_store(&sources(true), &store).unwrap();
        assert!(!changed.from_store);
        assert!(matches!(
            changed.rules.lookup("trackex.example"),
            Verdict::Allowed(_)
        ));
        assert_eq!(changed.rules.lookup("tracker.example"), Verdict::Unlisted);
        // The custom list appears: compiled again.
        tacet_store::set_custom_rule(
            &store,
            "custom.example",
            Some(tacet_store::CustomRuleKind::Block),
        )
        .unwrap();
        let custom = compose_through_store(&sources(true), &store).unwrap();
        assert!(!custom.from_store);
        assert!(matches!(
            custom.rules.lookup("custom.example"),
            Verdict::Blocked(_)
        ));
        // A missing list is the error it always was.
        std::fs::remove_file(&list).unwrap();
        assert!(matches!(
            compose_through_store(&sources(true), &store),
            Err(ComposeError::Read(..))
        ));
    }

    #[test]
    fn an_older_or_damaged_compiled_file_is_compiled_again() {
        let dir = tempfile::tempdir().unwrap();
        let sources = [ListSource::Pasted("tracker.example\n".into())];
        let good = compose_through_store(&sources, dir.path()).unwrap();
        assert!(!good.from_store);
        let bytes = good.rules.as_bytes().to_vec();
        let path = dir.path().join(COMPILED_FILE);
        // Format v5, as an older tacet left it (with a valid checksum);
        // the file cut short; garbage; a directory in its place.
        let mut older = bytes.clone();
        older[8..12].copy_from_slice(&5u32.to_le_bytes());
        let body = older.len() - 4;
        let crc = crc32fast::hash(&older[..body]);
        older[body..].copy_from_slice(&crc.to_le_bytes());
        for bad in [
            older,
            bytes[..bytes.len() / 2].to_vec(),
            b"garbage".to_vec(),
        ] {
            std::fs::write(&path, &bad).unwrap();
            let again = compose_through_store(&sources, dir.path()).unwrap();
            assert!(!again.from_store);
            assert!(matches!(
                again.rules.lookup("tracker.example"),
                Verdict::Blocked(_)
            ));
            assert_eq!(std::fs::read(&path).unwrap(), bytes);
            assert!(
                compose_through_store(&sources, dir.path())
                    .unwrap()
                    .from_store
            );
        }
    }
}
