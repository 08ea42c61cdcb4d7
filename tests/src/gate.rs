//! The privileged-test gate: skip without root, fail in CI, fail on missing tools.

use std::process::Command;
use std::sync::Once;

/// Tools every end-to-end test relies on. A missing one is a broken test
/// machine, not a reason to skip: the run fails and names it.
const REQUIRED_TOOLS: &[&str] = &["ip", "dnsmasq", "dig", "kdig", "getent"];

/// Returns whether the calling test may run: true when root.
///
/// Every end-to-end test starts with `if !require_root() { return; }`.
/// When not root it prints "skipping: needs root (…)" and returns false,
/// except when `CI=true`: a skipped privileged test in CI is a failure, so it
/// panics. When root, a missing tool panics with the tool's name.
pub fn require_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    let euid = unsafe { libc::geteuid() };
    if euid != 0 {
        let why = "skipping: needs root (network namespaces, veth and TUN devices); \
                   run `sudo ./test.sh`";
        if std::env::var("CI").as_deref() == Ok("true") {
            panic!("{why}; CI=true, and a skipped privileged test in CI is a failure");
        }
        eprintln!("{why}");
        return false;
    }
    static TOOLS: Once = Once::new();
    TOOLS.call_once(check_tools);
    true
}

fn check_tools() {
    let missing: Vec<&str> = REQUIRED_TOOLS
        .iter()
        .copied()
        .filter(|tool| !on_path(tool))
        .collect();
    assert!(
        missing.is_empty(),
        "missing tools needed by the end-to-end tests: {missing:?}; \
         install iproute2 dnsmasq-base bind9-dnsutils knot-dnsutils libc-bin"
    );
}

/// Whether `tool` is an executable on PATH.
pub fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool} >/dev/null 2>&1")])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}
