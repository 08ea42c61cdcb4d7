//! Where the rules come from on Linux: the curated lists built into tacet,
//! and list files named on the command line.

use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use tacet_rules::{curated, ListInfo, RuleSet, RuleSetBuilder, Verdict};

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

/// Arguments of `tacet check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The name to check, such as api-mifit.huami.com.
    pub name: String,
    #[command(flatten)]
    pub lists: ListArgs,
}

/// Builds the rule set, and warns on stderr about lines that were not used.
pub fn load(args: &ListArgs) -> Result<RuleSet, String> {
    let mut builder = RuleSetBuilder::new();
    if !args.no_curated {
        curated::add_defaults(&mut builder).map_err(|e| format!("built-in lists: {e}"))?;
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

/// `tacet check NAME`.
pub fn check(args: CheckArgs) -> Result<ExitCode, String> {
    let rules = load(&args.lists)?;
    let name =
        tacet_rules::name::normalize_name(&args.name).map_err(|e| format!("{}: {e}", args.name))?;
    let describe = |rule: tacet_rules::RuleRef| {
        let list = rules.list(rule.list).map_or("?", |l| l.title.as_str());
        format!("{list}, line {}", rule.line)
    };
    match rules.lookup(&name) {
        Verdict::Blocked(rule) => println!("{name}: blocked by {}", describe(rule)),
        Verdict::Allowed(rule) => println!("{name}: allowed by {}", describe(rule)),
        Verdict::Unlisted => println!("{name}: not blocked (no list has it)"),
    }
    Ok(ExitCode::SUCCESS)
}
