//! DHCP leases files, for the names of a home network's devices (`tacet
//! serve --leases`): dnsmasq's, ISC dhcpd's and Kea's, told apart by their
//! look. Every file is hostile: read up to [`MAX_LEASES_BYTES`], at most
//! [`MAX_LEASES`] leases kept, every line that is not a usable lease
//! counted and skipped, names only as DHCP hostnames may be.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::Path;

use crate::serve::device_name;

/// A leases file larger than this is read up to here only (counted).
pub const MAX_LEASES_BYTES: u64 = 1024 * 1024;

/// The most leases kept; further ones are counted and left out.
pub const MAX_LEASES: usize = 4096;

/// What reading a leases file found.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Leases {
    /// Hostnames by address.
    pub names: HashMap<IpAddr, String>,
    /// Lines that were not a lease with a usable hostname (`*` for none
    /// is not counted).
    pub bad_lines: usize,
    /// Leases past [`MAX_LEASES`], or bytes past [`MAX_LEASES_BYTES`].
    pub left_out: usize,
}

/// Reads a leases file of dnsmasq, ISC dhcpd or Kea, told apart by their
/// look (see [`parse_dnsmasq`], [`parse_isc`], [`parse_kea`]).
pub fn parse_leases(text: &str) -> Leases {
    let first = text
        .lines()
        .map(str::trim)
        .find(|l| !l.is_empty() && !l.starts_with('#'));
    match first {
        Some(line) if line.starts_with("address,") => parse_kea(text),
        Some(line) if line.starts_with("lease ") || line.starts_with("authoring-byte-order") => {
            parse_isc(text)
        }
        _ => parse_dnsmasq(text),
    }
}

impl Leases {
    /// Keeps `name` for `ip`, within [`MAX_LEASES`]; a later lease of the
    /// same address replaces the earlier.
    fn keep(&mut self, ip: IpAddr, name: String) {
        if self.names.len() >= MAX_LEASES && !self.names.contains_key(&ip) {
            self.left_out += 1;
            return;
        }
        self.names.insert(ip, name);
    }
}

/// A hostname as DHCP gives it, perhaps a qualified name
/// (`camera.lan.`): its first label, as a device name.
fn host_label(text: &str) -> Option<String> {
    let text = text.trim().trim_matches('"');
    device_name(text.split('.').next().unwrap_or_default())
}

/// dnsmasq: `EXPIRY MAC IP HOSTNAME CLIENT-ID` a line (`duid ...` lines
/// of DHCPv6 are skipped, `*` is no hostname).
pub fn parse_dnsmasq(text: &str) -> Leases {
    let mut leases = Leases::default();
    for line in text.lines() {
        let fields: Vec<&str> = line.split_ascii_whitespace().take(5).collect();
        match fields.as_slice() {
            [] | ["duid", ..] => {}
            [_, _, _, "*", ..] => {}
            [expiry, _mac, ip, host, ..] if expiry.bytes().all(|b| b.is_ascii_digit()) => {
                match (ip.parse::<IpAddr>(), device_name(host)) {
                    (Ok(ip), Some(name)) => leases.keep(ip, name),
                    _ => leases.bad_lines += 1,
                }
            }
            _ => leases.bad_lines += 1,
        }
    }
    leases
}

/// ISC dhcpd's `dhcpd.leases`: `lease IP { ... client-hostname "NAME";
/// binding state active; ... }` blocks, appended as leases change (the
/// last block of an address wins; one no longer active drops its name).
pub fn parse_isc(text: &str) -> Leases {
    let mut leases = Leases::default();
    let mut current: Option<(Option<IpAddr>, Option<String>, bool)> = None;
    for line in text.lines() {
        let line = line.trim();
        if let Some(rest) = line.strip_prefix("lease ") {
            if current.is_some() {
                leases.bad_lines += 1; // an unclosed block
            }
            let ip = rest.trim_end_matches('{').trim().parse::<IpAddr>().ok();
            if ip.is_none() {
                leases.bad_lines += 1;
            }
            current = Some((ip, None, false));
        } else if line == "}" {
            if let Some((Some(ip), name, active)) = current.take() {
                match name {
                    Some(name) if active => leases.keep(ip, name),
                    _ => {
                        leases.names.remove(&ip);
                    }
                }
            }
        } else if let Some((_, name, active)) = current.as_mut() {
            if let Some(host) = line.strip_prefix("client-hostname ") {
                *name = host_label(host.trim_end_matches(';'));
                if name.is_none() {
                    leases.bad_lines += 1;
                }
            } else if let Some(state) = line.strip_prefix("binding state ") {
                *active = state.trim_end_matches(';').trim() == "active";
            }
        }
    }
    leases
}

/// Kea's memfile CSV: a header line naming the columns (`address`,
/// `hostname`, `state`), then one lease a line; state 0 is a lease in
/// use. Later lines of an address win.
pub fn parse_kea(text: &str) -> Leases {
    let mut leases = Leases::default();
    let mut lines = text.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let column = |name: &str| header.iter().position(|h| h.trim() == name);
    let (Some(address), Some(hostname)) = (column("address"), column("hostname")) else {
        leases.bad_lines += 1;
        return leases;
    };
    let state = column("state");
    for line in lines.filter(|l| !l.trim().is_empty()) {
        let fields: Vec<&str> = line.split(',').take(64).collect();
        let Some(Ok(ip)) = fields.get(address).map(|a| a.trim().parse::<IpAddr>()) else {
            leases.bad_lines += 1;
            continue;
        };
        let in_use = state.is_none_or(|i| fields.get(i).is_some_and(|s| s.trim() == "0"));
        let host = fields.get(hostname).map_or("", |h| h.trim());
        if !in_use || host.is_empty() {
            leases.names.remove(&ip);
            continue;
        }
        match host_label(host) {
            Some(name) => leases.keep(ip, name),
            None => leases.bad_lines += 1,
        }
    }
    leases
}

/// Reads at most [`MAX_LEASES_BYTES`] of `path`.
pub(crate) fn read_leases(path: &Path) -> std::io::Result<Leases> {
    use std::io::Read;
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(MAX_LEASES_BYTES + 1).read_to_end(&mut bytes)?;
    let cut = bytes.len() as u64 > MAX_LEASES_BYTES;
    if cut {
        // Up to the last whole line within the bound.
        bytes.truncate(MAX_LEASES_BYTES as usize);
        let end = bytes.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        bytes.truncate(end);
    }
    let mut leases = parse_leases(&String::from_utf8_lossy(&bytes));
    leases.left_out += usize::from(cut);
    Ok(leases)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_name_devices_and_hostile_lines_are_counted() {
        let text = "1733500000 aa:bb:cc:dd:ee:01 192.168.1.50 Camera 01:aa:bb\n\
                    1733500000 aa:bb:cc:dd:ee:02 192.168.1.60 vacuum *\n\
                    1733500000 aa:bb:cc:dd:ee:03 192.168.1.70 * *\n\
                    duid 00:01:00:01\n\
                    0 aa:bb 2001:db8::9 phone *\n\
                    garbage\n\
                    1733500000 aa 192.168.1.999 bad *\n\
                    1733500000 aa 192.168.1.80 evil;name *\n";
        let leases = parse_leases(text);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(leases.names.get(&ip("192.168.1.50")).unwrap(), "camera");
        assert_eq!(leases.names.get(&ip("192.168.1.60")).unwrap(), "vacuum");
        assert_eq!(leases.names.get(&ip("2001:db8::9")).unwrap(), "phone");
        assert_eq!(leases.names.len(), 3);
        assert_eq!(leases.bad_lines, 3);
    }

    #[test]
    fn leases_are_bounded() {
        let text: String = (0..MAX_LEASES + 10)
            .map(|i| {
                format!(
                    "1 aa 10.{}.{}.{} d{i} *\n",
                    i >> 16,
                    (i >> 8) & 255,
                    i & 255
                )
            })
            .collect();
        let leases = parse_leases(&text);
        assert_eq!(leases.names.len(), MAX_LEASES);
        assert_eq!(leases.left_out, 10);
        let dir = std::env::temp_dir().join(format!("tacet-leases-{}", std::process::id()));
        std::fs::write(&dir, "1 aa 10.0.0.1 ok *\n".repeat(100_000)).unwrap();
        let read = read_leases(&dir).unwrap();
        std::fs::remove_file(&dir).unwrap();
        assert_eq!(read.left_out, 1, "a file past the size bound is cut");
        assert_eq!(read.names.len(), 1);
    }

    #[test]
    fn isc_dhcpd_leases_name_active_bindings_and_the_last_block_wins() {
        let text = "# The format of this file is documented in the dhcpd.leases(5) manual page.\n\
            authoring-byte-order little-endian;\n\
            lease 192.168.1.50 {\n  starts 4 2026/12/03 10:00:00;\n  binding state active;\n  \
              hardware ethernet aa:bb:cc:00:00:50;\n  client-hostname \"Camera\";\n}\n\
            lease 192.168.1.60 {\n  binding state active;\n  client-hostname \"vacuum.lan\";\n}\n\
            lease 192.168.1.60 {\n  binding state free;\n}\n\
            lease 192.168.1.70 {\n  binding state active;\n  client-hostname \"bad name\";\n}\n\
            lease not-an-ip {\n}\n";
        let leases = parse_leases(text);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(leases.names.get(&ip("192.168.1.50")).unwrap(), "camera");
        assert!(
            !leases.names.contains_key(&ip("192.168.1.60")),
            "freed later"
        );
        assert_eq!(leases.names.len(), 1);
        assert_eq!(leases.bad_lines, 2);
    }

    #[test]
    fn kea_csv_leases_name_the_leases_in_use() {
        let text = "address,hwaddr,client_id,valid_lifetime,expire,subnet_id,fqdn_fwd,fqdn_rev,hostname,state,user_context\n\
            192.168.1.50,aa:bb:cc:00:00:50,,3600,1999999999,1,0,0,camera.home.arpa.,0,\n\
            192.168.1.60,aa:bb:cc:00:00:60,,3600,1999999999,1,0,0,vacuum,0,\n\
            192.168.1.60,aa:bb:cc:00:00:60,,3600,1999999999,1,0,0,vacuum,2,\n\
            192.168.1.70,aa:bb:cc:00:00:70,,3600,1999999999,1,0,0,,0,\n\
            192.168.1.999,aa,,3600,1,1,0,0,x,0,\n\
            192.168.1.80,aa,,3600,1,1,0,0,evil;name,0,\n";
        let leases = parse_leases(text);
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(leases.names.get(&ip("192.168.1.50")).unwrap(), "camera");
        assert!(
            !leases.names.contains_key(&ip("192.168.1.60")),
            "reclaimed later"
        );
        assert_eq!(leases.names.len(), 1);
        assert_eq!(leases.bad_lines, 2);
        assert_eq!(
            parse_kea("address,hwaddr\n1.2.3.4,aa\n").bad_lines,
            1,
            "no hostname column"
        );
    }
}
