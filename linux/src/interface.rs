//! Giving a TUN interface its addresses and routes, with iproute2.
//!
//! On a phone the OS does this when the VPN is established; on Linux the
//! shell does it for the interface it created.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::process::Command;

/// The tunnel's own IPv4 address and prefix; the default IPv4 resolver
/// (10.111.222.53) lies inside it.
pub const TUN_V4: &str = "10.111.222.1/24";
/// Packets the kernel may queue on the TUN for the firewall.
const TX_QUEUE_LEN: &str = "4096";
/// The tunnel's own IPv6 address and prefix.
pub const TUN_V6: &str = "fd74:6163:6574::1/64";

/// Brings `name` up with the tunnel addresses and host routes to the
/// virtual resolvers. IPv6 is skipped with a warning where it is disabled.
pub fn configure(name: &str, resolver_v4: Ipv4Addr, resolver_v6: Ipv6Addr) -> Result<(), String> {
    ip(&["addr", "add", TUN_V4, "dev", name])?;
    // The kernel queues packets for the firewall to read here; at the
    // default 500 a burst of a thousand queries sent at once (an app
    // starting, a test) overflows it before the firewall drains it.
    ip(&["link", "set", "dev", name, "txqueuelen", TX_QUEUE_LEN])?;
    ip(&["link", "set", "dev", name, "up"])?;
    ip(&[
        "route",
        "replace",
        &format!("{resolver_v4}/32"),
        "dev",
        name,
    ])?;
    let v6 = ip(&["-6", "addr", "add", TUN_V6, "dev", name, "nodad"]).and_then(|()| {
        ip(&[
            "-6",
            "route",
            "replace",
            &format!("{resolver_v6}/128"),
            "dev",
            name,
        ])
    });
    if let Err(e) = v6 {
        log::warn!("no IPv6 on {name} ({e}); the IPv6 resolver is not reachable");
    }
    Ok(())
}

/// Runs `ip ARGS`, turning a failure into a message with its stderr.
pub fn ip(args: &[&str]) -> Result<(), String> {
    let output = Command::new("ip")
        .args(args)
        .output()
        .map_err(|e| format!("cannot run `ip` ({e}): install iproute2"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`ip {}` failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&output.stderr).trim()
        ))
    }
}
