//! tacet: the DNS firewall as a Linux command line.
//!
//! **Layer:** shell. It parses arguments, creates and configures the TUN
//! (or adopts one by file descriptor), loads lists, starts the runtime, and
//! prints. **Never:** no filtering logic of its own; everything a phone
//! shell could not also do through the runtime and the engine is suspect
//! here.

mod demo;
mod demo_upstream;
mod interface;
mod netns;
mod rule_sources;
mod run;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// An on-phone DNS firewall, here on Linux: blocks the names on your lists
/// and counts every attempt to reach them.
#[derive(Parser, Debug)]
#[command(name = "tacet", version, about, long_about = None)]
struct Cli {
    /// Log more: -v for what the firewall does, -vv for every query (names
    /// are private: debug logs show them).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    verbose: u8,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run the firewall on a TUN device (root), until Ctrl-C or SIGTERM.
    Run(run::RunArgs),
    /// Show the firewall at work in throwaway network namespaces (root, no
    /// internet needed): a fitness app and a camera phoning home.
    Demo(demo::DemoArgs),
    /// Say whether a name would be blocked, and by which rule.
    Check(rule_sources::CheckArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let level = match cli.verbose {
        0 => log::LevelFilter::Warn,
        1 => log::LevelFilter::Info,
        _ => log::LevelFilter::Debug,
    };
    env_logger::Builder::new()
        .filter_level(level)
        .format_target(false)
        .init();
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Demo(args) => demo::demo(args),
        Command::Check(args) => rule_sources::check(args),
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
