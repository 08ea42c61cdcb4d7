//! Where the rules come from on Linux: the curated lists built into tacet,
//! list files named on the command line, and the store's subscribed lists
//! and custom list.

use std::path::{Path, PathBuf};

use tacet_rules::RuleSet;
use tacet_runtime::rule_sources::{self, ListSource};

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
/// The lists the store in `store` subscribes to (their last good copies)
/// and its custom list (what `tacet block` and `tacet allow` edit) come
/// after the lists named.
pub fn load(args: &ListArgs, store: Option<&Path>) -> Result<RuleSet, String> {
    let mut sources = if args.no_curated {
        Vec::new()
    } else {
        rule_sources::curated_defaults()
    };
    sources.extend(args.blocklists.iter().map(|path| ListSource::File {
        path: path.clone(),
        allow: false,
    }));
    sources.extend(args.allowlists.iter().map(|path| ListSource::File {
        path: path.clone(),
        allow: true,
    }));
    let subscribed: Vec<String> = match store {
        Some(dir) => tacet_store::subscriptions::list(dir)
            .unwrap_or_default()
            .into_iter()
            .map(|l| l.map_or_else(|d| d.id, |s| s.id))
            .collect(),
        None => Vec::new(),
    };
    if let Some(dir) = store {
        sources.push(ListSource::StoreSubscriptions(dir.to_owned()));
        sources.push(ListSource::StoreCustom(dir.to_owned()));
    }
    let composed = rule_sources::compose(&sources).map_err(|e| e.to_string())?;
    for (info, report) in &composed.reports {
        if !report.is_clean() {
            let unused: u64 = report.problems.values().sum();
            if subscribed.contains(&info.id) {
                // Shown by `tacet lists`; a list nobody wrote here is not
                // worth a warning at every start.
                log::info!("{}: {unused} line(s) not used", info.id);
            } else {
                eprintln!(
                    "tacet: {}: {unused} line(s) not used (see `tacet lint {}`)",
                    info.title, info.title
                );
            }
        }
    }
    Ok(composed.rules)
}
