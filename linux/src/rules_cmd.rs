//! `tacet lint`, `tacet compile` and `tacet check`: the rule engine from the
//! command line. This is the shell's side: it opens and maps files and
//! prints; parsing and lookups are `tacet_rules`'.

use crate::out::outln;
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use indicatif::{ProgressBar, ProgressStyle};
use tacet_rules::curated;
use tacet_rules::{ListInfo, ParseReport, RuleRef, RuleSet, RuleSetBuilder, Verdict};

/// Inputs larger than this get a progress bar.
const PROGRESS_BYTES: u64 = 8 << 20;

/// `tacet lint FILE`: read a list and say how every line was used.
#[derive(clap::Args, Debug)]
pub struct LintArgs {
    /// The list to read (hosts, plain domains, adblock, wildcards, addresses).
    pub file: PathBuf,
    /// Show at most this many unused lines one by one (all are counted).
    #[arg(long, default_value_t = 100)]
    pub show: usize,
}

/// `tacet compile FILE... -o OUT`: compile lists into one rule-set file.
#[derive(clap::Args, Debug)]
pub struct CompileArgs {
    /// Block lists to compile (allow lines in them are kept as allow rules).
    #[arg(required_unless_present_any = ["allow", "defaults"])]
    pub files: Vec<PathBuf>,
    /// Lists whose every line allows (a whitelist of plain names).
    #[arg(long, value_name = "FILE")]
    pub allow: Vec<PathBuf>,
    /// Also compile the built-in default lists (curated, default on).
    #[arg(long)]
    pub defaults: bool,
    /// Where to write the compiled rules.
    #[arg(short, long, value_name = "OUT")]
    pub output: PathBuf,
}

/// Arguments of `tacet check`.
#[derive(clap::Args, Debug)]
pub struct CheckArgs {
    /// The name (such as api-mifit.huami.com) or address to check.
    pub name: String,
    /// The lists `tacet run` would load with the same options.
    #[command(flatten)]
    pub lists: crate::rule_sources::ListArgs,
    /// Also consult the lists this store subscribes to, and its custom
    /// list.
    #[arg(long = "store", value_name = "DIR")]
    pub store: Option<PathBuf>,
    /// Check against a file made by `tacet compile` instead.
    #[arg(long, value_name = "FILE", conflicts_with_all = ["blocklists", "allowlists", "store"])]
    pub compiled: Option<PathBuf>,
}

/// Runs `tacet lint`.
pub fn run_lint(args: &LintArgs) -> Result<(), String> {
    let mut builder = RuleSetBuilder::new();
    let (reader, bar) = open(&args.file, &hidden_or_bar(&[&args.file]))?;
    let report = builder
        .add_list(list_info(&args.file), reader)
        .map_err(|e| format!("{}: {e}", args.file.display()))?;
    bar.finish_and_clear();
    print_report(&args.file, &report, args.show)?;
    Ok(())
}

/// Runs `tacet compile`.
pub fn run_compile(args: &CompileArgs) -> Result<(), String> {
    // The output is written beside the target and renamed over it, so a
    // running firewall never maps a half file; so only a regular file may
    // be replaced (a rename would put a file where a device or a link was).
    // Checked first, before the work of compiling.
    let out = &args.output;
    if let Ok(meta) = std::fs::symlink_metadata(out) {
        if !meta.is_file() {
            return Err(format!(
                "{}: not a regular file; `tacet compile -o` writes a new file or replaces one",
                out.display()
            ));
        }
    }
    let all: Vec<&PathBuf> = args.files.iter().chain(&args.allow).collect();
    let bar = hidden_or_bar(&all);
    let mut builder = RuleSetBuilder::new();
    if args.defaults {
        curated::add_defaults(&mut builder).map_err(|e| format!("built-in lists: {e}"))?;
    }
    let mut unused = 0;
    for (path, allow) in args
        .files
        .iter()
        .map(|p| (p, false))
        .chain(args.allow.iter().map(|p| (p, true)))
    {
        let (reader, _) = open(path, &bar)?;
        let info = list_info(path);
        let report = if allow {
            builder.add_allow_list(info, reader)
        } else {
            builder.add_list(info, reader)
        }
        .map_err(|e| format!("{}: {e}", path.display()))?;
        unused += report.counts.unused;
        bar.suspend(|| {
            eprintln!(
                "{}: {} lines, {} rules, {} not used{}",
                path.display(),
                report.lines,
                report.rules,
                report.counts.unused,
                if report.counts.unused > 0 {
                    " (see `tacet lint`)"
                } else {
                    ""
                }
            )
        });
    }
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_spinner()),
    );
    bar.set_message(format!("compiling {} rules", builder.rule_count()));
    bar.enable_steady_tick(std::time::Duration::from_millis(100));
    let bytes = builder.compile().map_err(|e| e.to_string())?;
    bar.finish_and_clear();

    tacet_store::write_atomic(out, &bytes).map_err(|e| format!("{}: {e}", out.display()))?;
    let set = RuleSet::from_vec(bytes).map_err(|e| e.to_string())?;
    outln!(
        "{}: {} names, {} address rules, {} lists, {} bytes; {} lines not used",
        args.output.display(),
        set.name_count(),
        set.addr_count(),
        set.lists().len(),
        set.as_bytes().len(),
        unused
    )?;
    Ok(())
}

/// Runs `tacet check`.
pub fn run_check(args: &CheckArgs) -> Result<(), String> {
    let set = match &args.compiled {
        Some(path) => {
            let file = File::open(path).map_err(|e| format!("{}: {e}", path.display()))?;
            // SAFETY: the file is mapped read-only; `tacet compile` replaces
            // files by rename, never in place, so the mapped bytes do not change.
            let map = unsafe { memmap2::Mmap::map(&file) }
                .map_err(|e| format!("{}: {e}", path.display()))?;
            RuleSet::from_bytes(Arc::new(map)).map_err(|e| format!("{}: {e}", path.display()))?
        }
        None => crate::rule_sources::load(&args.lists, args.store.as_deref())?,
    };
    let (shown, verdict) = match args.name.parse::<IpAddr>() {
        Ok(addr) => (addr.to_string(), set.lookup_addr(addr)),
        Err(_) => {
            let name = tacet_rules::normalize_name(&args.name)
                .map_err(|e| format!("{:?}: {e}", args.name))?;
            let v = set.lookup(&name);
            (name, v)
        }
    };
    match verdict {
        Verdict::Blocked(rule) => outln!(
            "{shown}: blocked by {}",
            describe(&set, args.store.as_deref(), rule)
        )?,
        Verdict::Allowed(rule) => outln!(
            "{shown}: allowed by {}",
            describe(&set, args.store.as_deref(), rule)
        )?,
        Verdict::Unlisted => outln!("{shown}: not listed")?,
    }
    Ok(())
}

/// "Title (id), line N: text", the text read back from the list when it is
/// at hand (a built-in list, a list file, or the store's custom list).
fn describe(set: &RuleSet, store: Option<&Path>, rule: RuleRef) -> String {
    let Some(info) = set.list(rule.list) else {
        return format!("list #{}, line {}", rule.list.0, rule.line);
    };
    let line_no = usize::try_from(rule.line)
        .unwrap_or(usize::MAX)
        .saturating_sub(1);
    let read_line = |path: &Path| {
        File::open(path)
            .ok()
            .and_then(|f| BufReader::new(f).lines().nth(line_no).and_then(Result::ok))
    };
    let text = match (curated::find(&info.id), info.id.as_str(), store) {
        (Some(list), _, _) => list.text.lines().nth(line_no).map(str::to_owned),
        (None, "custom", Some(dir)) => read_line(&dir.join(tacet_store::CUSTOM_FILE)),
        (None, id, Some(dir))
            if tacet_store::subscriptions::check_id(id).is_ok()
                && tacet_store::subscriptions::copy_path(dir, id).is_file() =>
        {
            read_line(&tacet_store::subscriptions::copy_path(dir, id))
        }
        // A list file's title is its path (see rule_sources::load).
        (None, _, _) => read_line(Path::new(&info.title)),
    };
    match text {
        Some(text) => format!(
            "{} ({}), line {}: {}",
            info.title,
            info.id,
            rule.line,
            text.trim()
        ),
        None => format!("{} ({}), line {}", info.title, info.id, rule.line),
    }
}

fn list_info(path: &Path) -> ListInfo {
    let id = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    ListInfo {
        id,
        title: path.display().to_string(),
    }
}

/// A byte-counting progress bar over all inputs when they are large, a
/// hidden one otherwise.
fn hidden_or_bar(paths: &[&PathBuf]) -> ProgressBar {
    let total: u64 = paths
        .iter()
        .filter_map(|p| std::fs::metadata(p).ok())
        .map(|m| m.len())
        .sum();
    if total < PROGRESS_BYTES {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(total);
    if let Ok(style) =
        ProgressStyle::with_template("{bar:40} {bytes}/{total_bytes} {bytes_per_sec} {msg}")
    {
        bar.set_style(style);
    }
    bar.set_message("reading");
    bar
}

fn open(path: &Path, bar: &ProgressBar) -> Result<(Box<dyn BufRead>, ProgressBar), String> {
    let reader = File::open(path)
        .and_then(|file| tacet_rules::parse::list_reader(bar.wrap_read(file)))
        .map_err(|e| format!("{}: {e}", path.display()))?;
    Ok((Box::new(reader), bar.clone()))
}

fn print_report(path: &Path, report: &ParseReport, show: usize) -> Result<(), String> {
    outln!(
        "{}: {} lines, {} rules",
        path.display(),
        report.lines,
        report.rules
    )?;
    for (label, n) in report.count_rows() {
        outln!("  {n:>10}  {label}")?;
    }
    for (kind, n) in &report.problems {
        outln!("  {n:>10}  not used: {kind}")?;
    }
    for u in report.unused.iter().take(show) {
        outln!(
            "{}:{}: {}: {}",
            path.display(),
            u.line,
            u.problem,
            u.excerpt
        )?;
    }
    let total: u64 = report.problems.values().sum();
    let shown = report.unused.len().min(show) as u64;
    if total > shown {
        outln!("… {} more not shown", total - shown)?;
    }
    Ok(())
}
