//! The system's resolvers, from `/etc/resolv.conf`, as upstream defaults.

use std::net::{IpAddr, SocketAddr};

/// The `nameserver` addresses in resolv.conf text, in order, on port 53.
/// Lines that are not nameserver lines, or whose address does not parse
/// (such as a scoped `fe80::1%eth0`), are skipped.
pub fn nameservers(text: &str) -> Vec<SocketAddr> {
    text.lines()
        .filter_map(|line| {
            let mut fields = line.split_whitespace();
            (fields.next()? == "nameserver").then_some(())?;
            let ip: IpAddr = fields.next()?.parse().ok()?;
            Some(SocketAddr::new(ip, 53))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_nameservers_and_skips_the_rest() {
        let text = "# generated\nsearch lan\nnameserver 192.0.2.1\nnameserver  2001:db8::1\nnameserver fe80::1%eth0\noptions edns0\nnameserver\n";
        assert_eq!(
            nameservers(text),
            vec![
                "192.0.2.1:53".parse().unwrap(),
                "[2001:db8::1]:53".parse().unwrap()
            ]
        );
    }
}
