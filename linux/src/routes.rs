//! Keeping a TUN's routes equal to the firewall's announced ones (address
//! rules' networks and learned addresses), on a thread of its own so `ip`
//! never runs on the I/O thread.
//!
//! Each announcement is applied at once, in one `ip -batch` (a start with
//! a hundred address rules is one process, not a hundred), so a blocked
//! name's first address is routed into the tunnel, and its connections
//! rejected, within milliseconds of the answer that taught it. Routes are
//! added, never replaced: a network the machine already routes (its LAN,
//! a default route) keeps its route, with a warning, rather than being
//! taken over and lost when tacet exits.

use std::collections::HashSet;
use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::mpsc;

use tacet_engine::Route;

/// Starts the thread for `tun`; send it every announced route set.
pub fn route_thread(tun: String) -> mpsc::Sender<Vec<Route>> {
    let (sender, receiver) = mpsc::channel::<Vec<Route>>();
    std::thread::spawn(move || {
        let mut routed: HashSet<Route> = HashSet::new();
        while let Ok(mut wanted) = receiver.recv() {
            // Only the latest set matters.
            while let Ok(newer) = receiver.try_recv() {
                wanted = newer;
            }
            let wanted: HashSet<Route> = wanted.into_iter().collect();
            let gone: Vec<Route> = routed.difference(&wanted).copied().collect();
            let new: Vec<Route> = wanted.difference(&routed).copied().collect();
            let mut lines: Vec<String> = gone
                .iter()
                .map(|r| format!("route del {r} dev {tun}"))
                .collect();
            lines.extend(new.iter().map(|r| format!("route add {r} dev {tun}")));
            let failed = match ip_batch(&lines) {
                Ok(failed) => failed,
                Err(e) => {
                    log::warn!("routes into {tun} not changed: {e}");
                    continue;
                }
            };
            for route in &gone {
                routed.remove(route);
            }
            for (i, route) in new.iter().enumerate() {
                if failed.contains(&(gone.len() + i)) {
                    log::warn!(
                        "a blocked network was not routed into {tun}: it has a route of its own"
                    );
                    log::debug!("{route} not routed into {tun}");
                } else {
                    routed.insert(*route);
                }
            }
            log::info!(
                "{} blocked networks and addresses routed into {tun}",
                routed.len()
            );
        }
    });
    sender
}

/// Runs `ip -force -batch -` with these commands; returns the indexes of
/// the lines that failed (`ip` goes on past them and names them on stderr
/// as "Command failed -:N").
fn ip_batch(lines: &[String]) -> Result<HashSet<usize>, String> {
    if lines.is_empty() {
        return Ok(HashSet::new());
    }
    let mut child = Command::new("ip")
        .args(["-force", "-batch", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run `ip` ({e}): install iproute2"))?;
    let input: String = lines.iter().map(|l| format!("{l}\n")).collect();
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input.as_bytes())
            .map_err(|e| format!("`ip -batch`: {e}"))?;
    }
    let output = child
        .wait_with_output()
        .map_err(|e| format!("`ip -batch`: {e}"))?;
    let stderr = String::from_utf8_lossy(&output.stderr);
    Ok(failed_lines(&stderr))
}

/// The 0-based indexes of the lines `ip -batch` reports as failed.
fn failed_lines(stderr: &str) -> HashSet<usize> {
    stderr
        .lines()
        .filter_map(|l| l.split("Command failed -:").nth(1))
        .filter_map(|n| n.trim().parse::<usize>().ok())
        .filter_map(|n| n.checked_sub(1))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::failed_lines;

    #[test]
    fn failed_batch_lines_are_read_from_ips_stderr() {
        let stderr = "RTNETLINK answers: File exists\nCommand failed -:2\n\
                      RTNETLINK answers: File exists\nCommand failed -:5\n";
        let failed = failed_lines(stderr);
        assert_eq!(failed.len(), 2);
        assert!(failed.contains(&1) && failed.contains(&4));
        assert!(failed_lines("").is_empty());
    }
}
