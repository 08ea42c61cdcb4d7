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
    let (sources, subscribed) = sources(args, store);
    let composed = rule_sources::compose(&sources).map_err(|e| e.to_string())?;
    warn_unused(&composed, &subscribed);
    Ok(composed.rules)
}

/// [`load`] through the store in `store`: mapped from its compiled file
/// when the lists are those it was compiled from, compiled and saved there
/// otherwise (see `compose_through_store`). Lines not used are warned
/// about when the lists are compiled, that is once after each change.
pub fn load_through_store(args: &ListArgs, store: &Path) -> Result<RuleSet, String> {
    let (sources, subscribed) = sources(args, Some(store));
    let composed =
        rule_sources::compose_through_store(&sources, store).map_err(|e| e.to_string())?;
    if composed.from_store {
        log::info!("rules mapped from the store's compiled file: lists unchanged");
    }
    warn_unused(&composed, &subscribed);
    Ok(composed.rules)
}

/// The sources `args` and the store name, and the ids of the lists the
/// store subscribes to.
fn sources(args: &ListArgs, store: Option<&Path>) -> (Vec<ListSource>, Vec<String>) {
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
    (sources, subscribed)
}

/// Warns on stderr about the lines of each list read that were not used.
fn warn_unused(composed: &rule_sources::Composed, subscribed: &[String]) {
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
}
