//! tacet: the DNS firewall as a Linux command line.
//!
//! **Layer:** shell. It parses arguments, creates and configures the TUN
//! (or adopts one by file descriptor; `run`) or listens on LAN addresses
//! (`serve`: a resolver for a home network's devices, named from
//! `--device` and dnsmasq's leases), loads lists, starts the runtime, and
//! prints. **Never:** no filtering logic of its own; everything a phone
//! shell could not also do through the runtime and the engine is suspect
//! here.

mod demo;
mod demo_upstream;
mod interface;
mod leases;
mod lists_cmd;
mod netns;
mod nftables;
mod out;
mod routes;
mod rule_sources;
mod rules_cmd;
mod run;
mod serve;
mod store_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// An on-phone DNS firewall, here on Linux: blocks the names on your lists
/// and counts every attempt to reach them.
#[derive(Parser, Debug)]
#[command(name = "tacet", version, about, long_about = None)]
struct Cli {
    /// Log more: -v for what the firewall does, -vv for every query,
    /// blocked or allowed (names are private: only debug logs show them).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the firewall on a TUN device (root), until Ctrl-C or SIGTERM.
    Run(run::RunArgs),
    /// Serve DNS on the home network (a router, a Raspberry Pi) for the
    /// devices that cannot run an app: same lists, store and journal, each
    /// query journaled under the device that asked.
    Serve(serve::ServeArgs),
    /// Show the firewall at work in throwaway network namespaces (root, no
    /// internet needed): a fitness app and a camera phoning home.
    Demo(demo::DemoArgs),
    /// Say whether a name or address would be blocked, and by which list,
    /// line and rule.
    Check(rules_cmd::CheckArgs),
    /// Read a list and report how every line was used, and why not.
    Lint(rules_cmd::LintArgs),
    /// Compile lists into a rule-set file that loads by memory mapping.
    Compile(rules_cmd::CompileArgs),
    /// Blocked attempts today and in all, the most blocked names, the lists
    /// that blocked them, and a chart of the last 24 hours.
    Stats(store_cmd::StatsArgs),
    /// What was blocked (and, in discovery mode, allowed): when, which
    /// name, why, from where.
    Journal(store_cmd::JournalArgs),
    /// Write the journal as CSV or JSON.
    Export(store_cmd::ExportArgs),
    /// Block a name (and its subdomains) through your custom list.
    Block(store_cmd::EditArgs),
    /// Keep a name (and its subdomains) reachable through your custom list.
    Allow(store_cmd::EditArgs),
    /// Lists subscribed to by URL: show their status, add, remove, update
    /// now.
    Lists(lists_cmd::ListsArgs),
}

fn main() -> ExitCode {
    // Die quietly when a pipe reader goes away (`tacet journal | head`),
    // as Unix tools do, instead of panicking on the failed write.
    // SAFETY: restoring a signal's default action has no preconditions.
    unsafe { libc::signal(libc::SIGPIPE, libc::SIG_DFL) };
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        _ => log::LevelFilter::Debug,
    };
    let mut logger = env_logger::Builder::new();
    logger.filter_level(level).format_target(false);
    if cli.verbose < 2 {
        // It logs an ERROR for every certificate it does not know the
        // issuer of, also when the extra CA (--ca, --upstream-ca) then
        // vouches for it; a refused certificate is reported in words.
        logger.filter_module("rustls_platform_verifier", log::LevelFilter::Off);
    }
    logger.init();
    let result = match cli.command {
        Command::Run(args) => run::run(args, cli.verbose >= 2),
        Command::Serve(args) => serve::serve(args, cli.verbose >= 2),
        Command::Demo(args) => demo::demo(args),
        Command::Check(args) => rules_cmd::run_check(&args).map(|()| ExitCode::SUCCESS),
        Command::Lint(args) => rules_cmd::run_lint(&args).map(|()| ExitCode::SUCCESS),
        Command::Compile(args) => rules_cmd::run_compile(&args).map(|()| ExitCode::SUCCESS),
        Command::Stats(args) => store_cmd::stats(args),
        Command::Journal(args) => store_cmd::journal(args),
        Command::Export(args) => store_cmd::export(args),
        Command::Block(args) => store_cmd::edit(args, tacet_store::CustomRuleKind::Block),
        Command::Allow(args) => store_cmd::edit(args, tacet_store::CustomRuleKind::Allow),
        Command::Lists(args) => lists_cmd::lists(args),
    };
    match result {
        Ok(code) => code,
        Err(message) => {
            eprintln!("tacet: error: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Fails with a plain explanation unless running as root.
fn require_root(what: &str) -> Result<(), String> {
    // SAFETY: geteuid has no preconditions and cannot fail.
    if unsafe { libc::geteuid() } != 0 {
        return Err(format!(
            "{what} needs root (or CAP_NET_ADMIN) to create network devices; try: sudo tacet ..."
        ));
    }
    Ok(())
}
