//! Where the rules come from on Linux: the curated lists built into tacet,
//! and list files named on the command line.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};

use tacet_rules::{curated, ListInfo, RuleSet, RuleSetBuilder};

/// Which lists to load.
#[derive(clap::Args, Debug, Clone)]
pub struct ListArgs {
    /// A block list file (hosts, plain domains, adblock `||name^`, `*.name`);
    /// may be repeated.
    #[arg(long = "blocklist", value_name = "FILE")]
    pub blocklists: Vec<PathBuf>,
    /// A list of names that must keep working, even when a block list has
    /// them; may be repeated.
    #[arg(long = "allowlist", value_name = "FILE")]
    pub allowlists: Vec<PathBuf>,
    /// Leave out the curated lists built into tacet (on by default: Xiaomi
    /// and Huami telemetry, ThroughTek Kalay P2P, and the keep-working
    /// allowlist).
    #[arg(long)]
    pub no_curated: bool,
}

/// Builds the rule set, and warns on stderr about lines that were not used.
/// The custom list of the store in `store` (what `tacet block` and `tacet
/// allow` edit) comes last.
pub fn load(args: &ListArgs, store: Option<&Path>) -> Result<RuleSet, String> {
    let mut builder = RuleSetBuilder::new();
    if !args.no_curated {
        curated::add_defaults(&mut builder).map_err(|e| format!("built-in lists: {e}"))?;
    }
    if let Some(path) = store.map(|dir| dir.join(tacet_store::CUSTOM_FILE)) {
        match File::open(&path) {
            Ok(file) => {
                let info = ListInfo {
                    id: "custom".into(),
                    title: "Your custom list".into(),
                };
                builder
                    .add_list(info, BufReader::new(file))
                    .map_err(|e| format!("{}: {e}", path.display()))?;
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
        }
    }
    for (path, allow) in args
        .blocklists
        .iter()
        .map(|p| (p, false))
        .chain(args.allowlists.iter().map(|p| (p, true)))
    {
        let file =
            File::open(path).map_err(|e| format!("cannot read list {}: {e}", path.display()))?;
        let info = ListInfo {
            id: list_id(path),
            title: path.display().to_string(),
        };
        let reader = BufReader::new(file);
        let report = if allow {
            builder.add_allow_list(info, reader)
        } else {
            builder.add_list(info, reader)
        }
        .map_err(|e| format!("cannot read list {}: {e}", path.display()))?;
        if !report.is_clean() {
            let unused: u64 = report.problems.values().sum();
            eprintln!(
                "tacet: {}: {unused} line(s) not used (see `tacet lint {}`)",
                path.display(),
                path.display()
            );
        }
    }
    builder
        .try_build()
        .map_err(|e| format!("cannot build the rules: {e}"))
}

fn list_id(path: &Path) -> String {
    path.file_stem()
        .map_or_else(|| "list".into(), |s| s.to_string_lossy().into_owned())
}
