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
    /// How each list's lines were used, in the order given.
    pub reports: Vec<(ListInfo, ParseReport)>,
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
    Ok(Composed { rules, reports })
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

/// The compiled rules' file in a store directory.
pub const COMPILED_FILE: &str = "rules.bin";

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
}
