//! Command-line mistakes get a clear message and a non-zero exit, never a
//! half-started firewall.

// Test code: helpers outside #[test] fns fail the test loudly, as the tests do.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::process::Output;
use std::time::{Duration, Instant};

use tacet_e2e::{require_root, tacet_bin, Netns};

/// Runs `tacet ARGS…` in a fresh empty namespace, with a time limit.
fn tacet_in_fresh_ns(args: &[&str]) -> Output {
    let ns = Netns::new("cli");
    run_with_limit(ns.command(tacet_bin()).args(args), 10)
}

/// Runs `command` with its output captured, failing the test if it is
/// still running after `secs`.
fn run_with_limit(command: &mut std::process::Command, secs: u64) -> Output {
    let mut child = command
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            let out = child.wait_with_output().unwrap();
            panic!("{command:?} still running after {secs} s: {out:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn assert_clear_error(out: &Output, mentions: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(!out.status.success(), "exit 0: {out:?}");
    assert!(
        stderr.contains(mentions),
        "stderr does not name {mentions:?}: {stderr}"
    );
    assert!(!stdout.contains("tacet: ready"), "{stdout}");
    // A clear message, not a panic with a backtrace.
    assert!(!stderr.contains("panicked"), "{stderr}");
}

#[test]
fn an_upstream_that_is_not_an_address_is_a_clear_error() {
    if !require_root() {
        return;
    }
    let out = tacet_in_fresh_ns(&["run", "--tun", "tacet0", "--upstream", "not-an-ip"]);
    assert_clear_error(&out, "not-an-ip");
}

#[test]
fn a_missing_blocklist_file_is_a_clear_error() {
    if !require_root() {
        return;
    }
    let path = "/nonexistent/tacet-e2e/blocklist.txt";
    let out = tacet_in_fresh_ns(&[
        "run",
        "--tun",
        "tacet0",
        "--upstream",
        "10.200.0.2",
        "--no-curated",
        "--blocklist",
        path,
    ]);
    assert_clear_error(&out, path);
}

#[test]
fn an_unknown_block_mode_is_a_clear_error() {
    if !require_root() {
        return;
    }
    let out = tacet_in_fresh_ns(&[
        "run",
        "--tun",
        "tacet0",
        "--upstream",
        "10.200.0.2",
        "--block-mode",
        "sinkhole",
    ]);
    assert_clear_error(&out, "sinkhole");
}

/// Runs `tacet check --no-curated --blocklist <test list> NAME` (no root
/// needed) and returns its stdout.
fn check(name: &str) -> String {
    let dir = tacet_e2e::ScratchDir::new("check");
    let list = dir.write("list.txt", tacet_e2e::dnsmasq::TEST_BLOCKLIST);
    let out = std::process::Command::new(tacet_bin())
        .args(["check", "--no-curated", "--blocklist"])
        .arg(&list)
        .arg(name)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn check_names_the_rule_that_blocks_or_allows() {
    // TEST_BLOCKLIST: line 2 `blocked.test`, line 4 `0.0.0.0 exact.hosts.test`,
    // line 6 `@@||ok.blocked.test^`.
    let blocked = check("tracker.blocked.test");
    assert!(
        blocked.contains("blocked by") && blocked.contains("line 2"),
        "{blocked}"
    );
    let exact = check("exact.hosts.test");
    assert!(
        exact.contains("blocked by") && exact.contains("line 4"),
        "{exact}"
    );
    let allowed = check("ok.blocked.test");
    assert!(
        allowed.contains("allowed by") && allowed.contains("line 6"),
        "{allowed}"
    );
    let free = check("sub.exact.hosts.test");
    // Wording aside, it must not claim a rule matched.
    assert!(
        free.starts_with("sub.exact.hosts.test") && !free.contains(" by "),
        "{free}"
    );
}

/// Runs `tacet ARGS…` in a fresh namespace where every address has a route
/// (default routes over a veth pair inside it), so an upstream can only be
/// refused for what it is, not because nothing leads there. `Err` holds the
/// output of a tacet that was still running after `limit` and was killed.
fn tacet_where_everything_is_routed(args: &[&str], limit: Duration) -> Result<Output, Output> {
    let ns = Netns::new("cli");
    ns.ip(&["link", "add", "d0", "type", "veth", "peer", "name", "d1"]);
    ns.ip(&["addr", "add", "10.9.9.1/24", "dev", "d0"]);
    ns.ip(&["-6", "addr", "add", "fd09::1/64", "dev", "d0", "nodad"]);
    ns.ip(&["link", "set", "d1", "up"]);
    ns.ip(&["link", "set", "d0", "up"]);
    ns.ip(&["route", "add", "default", "via", "10.9.9.2"]);
    ns.ip(&["-6", "route", "add", "default", "via", "fd09::2"]);
    let store = tacet_e2e::ScratchDir::new("cli-store");
    let mut child = ns
        .command(tacet_bin())
        .args(args)
        .args(["--no-curated", "--store"])
        .arg(store.path())
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            return Err(child.wait_with_output().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    Ok(child.wait_with_output().unwrap())
}

#[test]
fn the_firewalls_own_resolver_or_tunnel_as_upstream_is_a_clear_error() {
    if !require_root() {
        return;
    }
    // Each would send every query back into the firewall, round and round
    // until the pending table is full.
    let cases = [
        ("10.111.222.53", "10.111.222.53"),
        ("10.111.222.53:5353", "10.111.222.53"),
        ("10.111.222.1", "10.111.222.1"),
        ("10.111.222.200", "10.111.222.200"),
        ("fd74:6163:6574::53", "fd74:6163:6574::53"),
        ("[fd74:6163:6574::1234]:53", "fd74:6163:6574::1234"),
    ];
    std::thread::scope(|scope| {
        let runs: Vec<_> = cases
            .iter()
            .map(|&(upstream, named)| {
                scope.spawn(move || {
                    let args = ["run", "--tun", "tacet0", "--upstream", upstream];
                    (
                        upstream,
                        named,
                        tacet_where_everything_is_routed(&args, Duration::from_secs(8)),
                    )
                })
            })
            .collect();
        for run in runs {
            let (upstream, named, out) = run.join().unwrap();
            match out {
                Ok(out) => assert_clear_error(&out, named),
                Err(out) => panic!(
                    "--upstream {upstream}: tacet started instead of refusing its own tunnel as \
                     upstream: {}{}",
                    String::from_utf8_lossy(&out.stdout),
                    String::from_utf8_lossy(&out.stderr)
                ),
            }
        }
    });
}

/// Runs `tacet ARGS…` here (no namespace: these commands touch no
/// network), failing the test if it is still running after `secs`.
fn tacet_here(args: &[&std::ffi::OsStr], secs: u64) -> Output {
    run_with_limit(std::process::Command::new(tacet_bin()).args(args), secs)
}

#[test]
fn files_that_are_not_what_they_seem_are_clear_errors_and_left_alone() {
    use std::ffi::OsStr;
    use std::os::unix::fs::FileTypeExt;
    let dir = tacet_e2e::ScratchDir::new("cli-files");
    let path = |name: &str| dir.path().join(name);
    let (list, compiled) = (path("list.txt"), path("rules.tacet"));
    std::fs::write(&list, "tracker.example\n").unwrap();
    let os = |p: &std::path::Path| p.as_os_str().to_owned();
    let compile = |to: &std::path::Path| {
        tacet_here(
            &[OsStr::new("compile"), &os(&list), OsStr::new("-o"), &os(to)],
            20,
        )
    };
    // To a regular file it works, and leaves no temporary behind.
    let out = compile(&compiled);
    assert!(out.status.success(), "{out:?}");
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(names, ["list.txt", "rules.tacet"]);
    // A compiled file given where a list goes says what to do instead.
    for args in [
        vec![OsStr::new("lint"), compiled.as_os_str()],
        vec![
            OsStr::new("check"),
            OsStr::new("--blocklist"),
            compiled.as_os_str(),
            OsStr::new("tracker.example"),
        ],
    ] {
        let out = tacet_here(&args, 20);
        assert_clear_error(&out, "compiled rule set");
        assert_clear_error(&out, "--compiled");
    }
    // Never replace what is not a regular file: a FIFO, a link.
    let fifo = path("fifo");
    let made = std::process::Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap();
    assert!(made.success());
    let link = path("link");
    std::os::unix::fs::symlink(&list, &link).unwrap();
    for target in [&fifo, &link] {
        assert_clear_error(&compile(target), "not a regular file");
    }
    let meta = |p: &std::path::Path| std::fs::symlink_metadata(p).unwrap().file_type();
    assert!(meta(&fifo).is_fifo());
    assert!(meta(&link).is_symlink());
    assert_eq!(std::fs::read_to_string(&list).unwrap(), "tracker.example\n");
    // A list that never ends is refused, in bounded time.
    let out = tacet_here(&[OsStr::new("lint"), OsStr::new("/dev/zero")], 60);
    assert_clear_error(&out, "larger than 256 MiB");
}

#[test]
fn a_catalogue_id_subscribes_to_its_list_and_the_catalogue_says_so() {
    // --no-fetch: nothing leaves the machine; the subscription alone is
    // what the id must have made.
    let dir = tacet_e2e::ScratchDir::new("cli-catalog");
    let store = dir.path().as_os_str();
    let add = tacet_here(
        &[
            "lists".as_ref(),
            "--store".as_ref(),
            store,
            "add".as_ref(),
            "hagezi-light".as_ref(),
            "--no-fetch".as_ref(),
        ],
        10,
    );
    assert!(add.status.success(), "{add:?}");
    let listed = tacet_here(
        &[
            "lists".as_ref(),
            "--store".as_ref(),
            store,
            "--json".as_ref(),
        ],
        10,
    );
    let text = String::from_utf8_lossy(&listed.stdout);
    assert!(
        text.contains(
            "https://raw.githubusercontent.com/hagezi/dns-blocklists/main/adblock/light.txt"
        ) && text.contains("HaGeZi Light"),
        "{text}"
    );
    let catalog = tacet_here(
        &[
            "lists".as_ref(),
            "--store".as_ref(),
            store,
            "catalog".as_ref(),
        ],
        10,
    );
    let text = String::from_utf8_lossy(&catalog.stdout);
    assert!(
        text.contains("hagezi-light  HaGeZi Light  (subscribed)"),
        "{text}"
    );
    assert!(text.contains("oisd-small  OISD small\n"), "{text}");
    // An id the catalogue does not have is not a URL either.
    let bad = tacet_here(
        &[
            "lists".as_ref(),
            "--store".as_ref(),
            store,
            "add".as_ref(),
            "no-such-list".as_ref(),
            "--no-fetch".as_ref(),
        ],
        10,
    );
    assert_clear_error(&bad, "https");
}
