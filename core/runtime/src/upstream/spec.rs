//! Upstream resolvers as a user writes them: plain DNS by address, DNS over
//! TLS (RFC 7858) and DNS over HTTPS (RFC 8484), always by address, with
//! the name the certificate must be valid for written beside it, so the
//! resolver's own name is never looked up in plaintext.
//!
//! | written | meaning |
//! |---|---|
//! | `9.9.9.9`, `9.9.9.9:5353`, `2620:fe::fe`, `[2620:fe::fe]:53` | plain DNS over UDP (TCP on truncation) |
//! | `tls://9.9.9.9#dns.quad9.net` | DNS over TLS to port 853, certificate valid for `dns.quad9.net` |
//! | `tls://[2620:fe::fe]:853#dns.quad9.net` | the same, IPv6, port given |
//! | `https://1.1.1.1/dns-query#cloudflare-dns.com` | DNS over HTTPS (HTTP/2, POST) to port 443, that path |
//! | `…#dns.quad9.net;pin-sha256=BASE64` | also require the certificate's public key to hash to this pin |
//!
//! A pin is the base64 SHA-256 of the certificate's SubjectPublicKeyInfo,
//! as HPKP (RFC 7469) and `openssl … | openssl dgst -sha256 -binary |
//! base64` write it; several `;pin-sha256=` may be given (any one matches,
//! so a key rotation can be staged).

use std::fmt;
use std::net::{IpAddr, SocketAddr};

/// A pin: the SHA-256 of a certificate's SubjectPublicKeyInfo.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct SpkiPin(pub [u8; 32]);

/// How queries reach an upstream.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// Plain DNS: UDP, and TCP for truncated answers.
    Plain,
    /// DNS over TLS (RFC 7858).
    Tls(TlsName),
    /// DNS over HTTPS (RFC 8484) over HTTP/2, POST to `path`.
    Https {
        /// The server's name and pins.
        tls: TlsName,
        /// The request path, such as `/dns-query`.
        path: String,
    },
}

/// What the server's certificate must prove.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct TlsName {
    /// The name the certificate must be valid for (never looked up).
    pub name: String,
    /// Public keys the certificate must have one of, besides being valid.
    pub pins: Vec<SpkiPin>,
}

/// One upstream resolver.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct UpstreamSpec {
    /// Its address and port.
    pub addr: SocketAddr,
    /// How to reach it.
    pub transport: Transport,
}

impl UpstreamSpec {
    /// A plain upstream at `addr`.
    pub fn plain(addr: SocketAddr) -> Self {
        Self {
            addr,
            transport: Transport::Plain,
        }
    }

    /// Whether queries to it are encrypted.
    pub fn is_encrypted(&self) -> bool {
        !matches!(self.transport, Transport::Plain)
    }

    /// Reads an upstream as a user writes it (see the module's table). The
    /// error says what is expected, for a shell to show as it is.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        let shown: String = text.chars().take(80).collect();
        let fail = |why: &str| format!("upstream `{shown}`: {why}");
        if let Some(rest) = text.strip_prefix("tls://") {
            let (authority, tls) = split_name(rest).map_err(|e| fail(&e))?;
            if authority.contains('/') {
                return Err(fail("DNS over TLS takes no path (tls://ADDR[:PORT]#NAME)"));
            }
            let addr = parse_addr(authority, 853).map_err(|e| fail(&e))?;
            return Ok(Self {
                addr,
                transport: Transport::Tls(tls),
            });
        }
        if let Some(rest) = text.strip_prefix("https://") {
            let (location, tls) = split_name(rest).map_err(|e| fail(&e))?;
            let (authority, path) = match location.find('/') {
                Some(i) => location.split_at(i),
                None => (location, "/dns-query"),
            };
            if path.contains(['?', ' ']) || path.len() > 256 {
                return Err(fail("the path must be plain, such as /dns-query"));
            }
            let addr = parse_addr(authority, 443).map_err(|e| fail(&e))?;
            return Ok(Self {
                addr,
                transport: Transport::Https {
                    tls,
                    path: path.to_owned(),
                },
            });
        }
        if text.contains("://") {
            return Err(fail(
                "use plain ADDR[:PORT], tls://ADDR[:PORT]#NAME or https://ADDR[:PORT]/PATH#NAME",
            ));
        }
        let addr = parse_addr(text, 53).map_err(|_| {
            fail(
                "not an IP address (such as 192.0.2.1, 192.0.2.1:5353, [2001:db8::1]:53, \
                 tls://9.9.9.9#dns.quad9.net or https://1.1.1.1/dns-query#cloudflare-dns.com)",
            )
        })?;
        Ok(Self::plain(addr))
    }
}

impl std::str::FromStr for UpstreamSpec {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        Self::parse(text)
    }
}

/// `ADDR[:PORT]…#NAME[;pin-sha256=B64]…` → (`ADDR[:PORT]…`, name and pins).
fn split_name(text: &str) -> Result<(&str, TlsName), String> {
    let Some((location, fragment)) = text.split_once('#') else {
        return Err(
            "give the name the server's certificate is valid for after `#` (it is never \
             looked up): tls://9.9.9.9#dns.quad9.net"
                .into(),
        );
    };
    let mut parts = fragment.split(';');
    let name = parts.next().unwrap_or_default().trim_end_matches('.');
    let name = tacet_rules::normalize_name(name)
        .map_err(|e| format!("`{name}` is not a server name: {e}"))?;
    if name.is_empty() || name.parse::<IpAddr>().is_ok() {
        return Err("after `#` comes the server's name, not an address".into());
    }
    let mut pins = Vec::new();
    for part in parts {
        let Some(b64) = part.strip_prefix("pin-sha256=") else {
            return Err(format!("unknown option `{part}` (only pin-sha256=BASE64)"));
        };
        let bytes = base64_decode(b64.trim_matches('"'))
            .ok_or_else(|| format!("pin `{b64}` is not base64"))?;
        let pin: [u8; 32] = bytes
            .try_into()
            .map_err(|_| format!("pin `{b64}` is not a SHA-256 (32 bytes)"))?;
        pins.push(SpkiPin(pin));
    }
    Ok((location, TlsName { name, pins }))
}

/// An address with an optional port: `192.0.2.1`, `192.0.2.1:853`,
/// `2001:db8::1`, `[2001:db8::1]`, `[2001:db8::1]:853`.
fn parse_addr(text: &str, default_port: u16) -> Result<SocketAddr, String> {
    let bare = text
        .strip_prefix('[')
        .and_then(|t| t.strip_suffix(']'))
        .unwrap_or(text);
    if let Ok(ip) = bare.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, default_port));
    }
    text.parse::<SocketAddr>()
        .map_err(|_| format!("`{text}` is not an IP address with an optional port"))
}

/// Standard base64 (with or without padding); `None` on anything else.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let value = |c: u8| -> Option<u32> {
        Some(u32::from(match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return None,
        }))
    };
    let text = text.trim_end_matches('=').as_bytes();
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    for chunk in text.chunks(4) {
        let mut acc = 0u32;
        for (i, &c) in chunk.iter().enumerate() {
            acc |= value(c)? << (18 - 6 * i);
        }
        let bytes = acc.to_be_bytes();
        match chunk.len() {
            4 => out.extend_from_slice(bytes.get(1..4)?),
            3 => out.extend_from_slice(bytes.get(1..3)?),
            2 => out.extend_from_slice(bytes.get(1..2)?),
            _ => return None,
        }
    }
    Some(out)
}

/// The base64 of bytes, for pins in messages.
pub fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut acc = 0u32;
        for (i, &b) in chunk.iter().enumerate() {
            acc |= u32::from(b) << (16 - 8 * i);
        }
        for i in 0..4 {
            if i <= chunk.len() {
                let index = usize::try_from((acc >> (18 - 6 * i)) & 63).unwrap_or(0);
                out.push(char::from(ALPHABET.get(index).copied().unwrap_or(b'A')));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// As it was written (pins abbreviated).
impl fmt::Display for UpstreamSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = |tls: &TlsName| {
            let pins: String = tls
                .pins
                .iter()
                .map(|p| format!(";pin-sha256={}", base64_encode(&p.0)))
                .collect();
            format!("#{}{pins}", tls.name)
        };
        match &self.transport {
            Transport::Plain => write!(f, "{}", self.addr),
            Transport::Tls(tls) => write!(f, "tls://{}{}", self.addr, name(tls)),
            Transport::Https { tls, path } => {
                write!(f, "https://{}{path}{}", self.addr, name(tls))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(text: &str) -> UpstreamSpec {
        UpstreamSpec::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    #[test]
    fn plain_upstreams_keep_their_syntax() {
        assert_eq!(parsed("192.0.2.1").addr, "192.0.2.1:53".parse().unwrap());
        assert_eq!(parsed(" 192.0.2.1:5353 ").to_string(), "192.0.2.1:5353");
        assert_eq!(parsed("fd00::1").to_string(), "[fd00::1]:53");
        assert_eq!(parsed("[fd00::1]").to_string(), "[fd00::1]:53");
        assert!(!parsed("[fd00::1]:53").is_encrypted());
    }

    #[test]
    fn encrypted_upstreams_are_given_by_address_with_their_name() {
        let dot = parsed("tls://9.9.9.9#dns.quad9.net");
        assert_eq!(dot.addr, "9.9.9.9:853".parse().unwrap());
        assert_eq!(
            dot.transport,
            Transport::Tls(TlsName {
                name: "dns.quad9.net".into(),
                pins: vec![]
            })
        );
        assert_eq!(dot.to_string(), "tls://9.9.9.9:853#dns.quad9.net");
        let v6 = parsed("tls://[2620:fe::fe]:8853#DNS.Quad9.net.");
        assert_eq!(v6.addr, "[2620:fe::fe]:8853".parse().unwrap());
        let doh = parsed("https://1.1.1.1/dns-query#cloudflare-dns.com");
        assert_eq!(doh.addr.port(), 443);
        assert!(matches!(doh.transport, Transport::Https { ref path, .. } if path == "/dns-query"));
        let default_path = parsed("https://[2606:4700::1111]:8443#cloudflare-dns.com");
        assert_eq!(
            default_path.to_string(),
            "https://[2606:4700::1111]:8443/dns-query#cloudflare-dns.com"
        );
    }

    #[test]
    fn pins_are_base64_sha256() {
        let pin = base64_encode(&[7u8; 32]);
        let spec = parsed(&format!("tls://9.9.9.9#dns.quad9.net;pin-sha256={pin}"));
        let Transport::Tls(tls) = &spec.transport else {
            panic!()
        };
        assert_eq!(tls.pins, vec![SpkiPin([7; 32])]);
        assert!(spec.to_string().ends_with(&pin));
        assert_eq!(base64_decode("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(base64_encode(b"hello"), "aGVsbG8=");
        for bad in ["pin-sha256=abc", "pin-sha256=!!!!", "pin=xyz"] {
            assert!(
                UpstreamSpec::parse(&format!("tls://9.9.9.9#dns.quad9.net;{bad}")).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn names_are_required_and_addresses_only() {
        for bad in [
            "tls://9.9.9.9",
            "tls://dns.quad9.net#dns.quad9.net",
            "tls://9.9.9.9#9.9.9.9",
            "tls://9.9.9.9/path#dns.quad9.net",
            "https://dns.google/dns-query#dns.google",
            "https://8.8.8.8/dns-query?dns=x#dns.google",
            "quic://9.9.9.9#dns.quad9.net",
            "dns.example",
            "tls://9.9.9.9#bad name",
        ] {
            let e = UpstreamSpec::parse(bad).unwrap_err();
            assert!(e.contains("upstream `"), "{bad}: {e}");
        }
    }
}
