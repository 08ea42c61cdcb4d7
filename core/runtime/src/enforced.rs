//! The names whose addresses are enforced from the first second: those of
//! the curated block lists that are on, and of the lists the user marks
//! "enforce addresses". The engine looks them up before any app asks
//! (bounded in count and rate; see `tacet_engine::enforce`). Every shell
//! gathers them here, so Linux, Android and iOS enforce the same names.

use std::fs::File;
use std::io::{self, BufReader};
use std::path::{Path, PathBuf};

use tacet_engine::enforce::MAX_ENFORCED_NAMES;
use tacet_rules::curated::CuratedList;
use tacet_rules::enforce::blocked_names;

/// The names to enforce, and whether some were left out over the bound.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Enforced {
    /// The names, curated lists first, without duplicates.
    pub names: Vec<String>,
    /// Lists (their title or path) with names beyond the bound, left out.
    pub left_out: Vec<String>,
}

/// Gathers the block names of `curated` (allowlists skipped) and of the
/// list files `files`, up to the engine's bound in all.
pub fn enforced_names(curated: &[&CuratedList], files: &[PathBuf]) -> io::Result<Enforced> {
    let mut out = Enforced::default();
    for list in curated.iter().filter(|l| !l.is_allowlist) {
        add(&mut out, list.title, list.text.as_bytes())?;
    }
    for path in files {
        let file = File::open(path).map_err(|e| with_path(path, e))?;
        add(&mut out, &path.display().to_string(), BufReader::new(file))
            .map_err(|e| with_path(path, e))?;
    }
    Ok(out)
}

fn add(out: &mut Enforced, title: &str, reader: impl io::BufRead) -> io::Result<()> {
    let room = MAX_ENFORCED_NAMES.saturating_sub(out.names.len());
    let read = blocked_names(reader, room)?;
    if read.truncated {
        out.left_out.push(title.to_owned());
    }
    for name in read.names {
        if !out.names.contains(&name) {
            out.names.push(name);
        }
    }
    Ok(())
}

fn with_path(path: &Path, e: io::Error) -> io::Error {
    io::Error::new(e.kind(), format!("{}: {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn curated_block_lists_give_their_names_and_allowlists_none() {
        let lists: Vec<&CuratedList> = tacet_rules::curated::catalog()
            .iter()
            .filter(|l| l.default_on)
            .collect();
        let enforced = enforced_names(&lists, &[]).unwrap();
        assert!(enforced.names.contains(&"iotcplatform.com".to_owned()));
        assert!(enforced.names.contains(&"api-mifit.huami.com".to_owned()));
        assert!(!enforced.names.contains(&"ot.io.mi.com".to_owned()));
        assert!(enforced.left_out.is_empty());
    }

    #[test]
    fn a_large_file_is_cut_at_the_bound_and_named() {
        let dir = std::env::temp_dir().join(format!("tacet-enforced-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("big.txt");
        let text: String = (0..10_000).map(|i| format!("n{i}.example\n")).collect();
        std::fs::write(&path, text).unwrap();
        let enforced = enforced_names(&[], std::slice::from_ref(&path)).unwrap();
        assert_eq!(enforced.names.len(), MAX_ENFORCED_NAMES);
        assert_eq!(enforced.left_out, vec![path.display().to_string()]);
        assert!(enforced_names(&[], &[dir.join("missing.txt")]).is_err());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
