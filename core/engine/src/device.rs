//! Per-device policies (serve mode): a device that may reach only the
//! names it needs, everything else it asks blocked.

use std::collections::HashMap;
use std::net::IpAddr;

use tacet_rules::{normalize_name, NameError};

/// The most devices with a policy; more are refused when set.
pub const MAX_DEVICES: usize = 4096;

/// The most names one device's policy lists.
pub const MAX_NAMES_PER_DEVICE: usize = 1024;

/// What a device may ask for.
///
/// "Allowlist-only" narrows, it never widens: a listed name is then
/// judged by the rules like any other device's query (a blocklist that
/// lists it still blocks it; allow it to let it through).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DevicePolicy {
    /// The names (and their subdomains) the device may ask for, in rule form.
    only: Vec<String>,
}

/// Why a policy could not be made.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyError {
    /// A name is not a DNS name.
    BadName(String, NameError),
    /// More than [`MAX_NAMES_PER_DEVICE`] names.
    TooManyNames,
    /// More than [`MAX_DEVICES`] devices.
    TooManyDevices,
}

impl std::fmt::Display for PolicyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::BadName(name, e) => write!(f, "`{name}` is not a name: {e}"),
            Self::TooManyNames => {
                write!(f, "a device may list at most {MAX_NAMES_PER_DEVICE} names")
            }
            Self::TooManyDevices => write!(f, "at most {MAX_DEVICES} devices may have a policy"),
        }
    }
}

impl std::error::Error for PolicyError {}

impl DevicePolicy {
    /// Only these names and their subdomains; the others are blocked.
    pub fn only<S: AsRef<str>>(names: &[S]) -> Result<Self, PolicyError> {
        if names.len() > MAX_NAMES_PER_DEVICE {
            return Err(PolicyError::TooManyNames);
        }
        let mut only = names
            .iter()
            .map(|n| {
                let n = n.as_ref().trim();
                normalize_name(n).map_err(|e| PolicyError::BadName(n.to_owned(), e))
            })
            .collect::<Result<Vec<_>, _>>()?;
        only.sort();
        only.dedup();
        Ok(Self { only })
    }

    /// Whether the device may ask for `name` (in rule form): it is listed,
    /// or a subdomain of a listed name.
    pub fn allows(&self, name: &str) -> bool {
        self.only.iter().any(|listed| {
            name == listed
                || name
                    .strip_suffix(listed.as_str())
                    .is_some_and(|head| head.ends_with('.'))
        })
    }

    /// The names listed, in rule form.
    pub fn names(&self) -> &[String] {
        &self.only
    }
}

/// The policies in force, by device address.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DevicePolicies {
    by_addr: HashMap<IpAddr, DevicePolicy>,
}

impl DevicePolicies {
    /// Policies for these addresses (at most [`MAX_DEVICES`]).
    pub fn new(by_addr: HashMap<IpAddr, DevicePolicy>) -> Result<Self, PolicyError> {
        if by_addr.len() > MAX_DEVICES {
            return Err(PolicyError::TooManyDevices);
        }
        Ok(Self { by_addr })
    }

    /// The policy of the device at `addr`, if it has one. An IPv4 address
    /// mapped into IPv6 (a dual-stack socket's view) is the IPv4 device.
    pub fn of(&self, addr: IpAddr) -> Option<&DevicePolicy> {
        if self.by_addr.is_empty() {
            return None;
        }
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        self.by_addr.get(&addr)
    }

    /// How many devices have a policy.
    pub fn len(&self) -> usize {
        self.by_addr.len()
    }

    /// Whether no device has a policy.
    pub fn is_empty(&self) -> bool {
        self.by_addr.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_listed_names_and_their_subdomains() {
        let policy = DevicePolicy::only(&["OT.io.mi.com.", "pool.ntp.org"]).unwrap();
        assert!(policy.allows("ot.io.mi.com"));
        assert!(policy.allows("de.ot.io.mi.com"));
        assert!(policy.allows("0.pool.ntp.org"));
        assert!(!policy.allows("io.mi.com"));
        assert!(!policy.allows("xot.io.mi.com"));
        assert!(!policy.allows("ot.io.mi.com.evil.example"));
        assert!(!policy.allows(""));
    }

    #[test]
    fn bad_names_and_too_many_are_refused() {
        assert!(matches!(
            DevicePolicy::only(&["bad..name"]),
            Err(PolicyError::BadName(..))
        ));
        let many: Vec<String> = (0..=MAX_NAMES_PER_DEVICE)
            .map(|i| format!("n{i}.example"))
            .collect();
        assert_eq!(DevicePolicy::only(&many), Err(PolicyError::TooManyNames));
    }

    #[test]
    fn a_mapped_address_is_the_ipv4_device() {
        let policy = DevicePolicy::only(&["ot.io.mi.com"]).unwrap();
        let v4: IpAddr = "192.168.1.60".parse().unwrap();
        let policies = DevicePolicies::new(HashMap::from([(v4, policy)])).unwrap();
        assert!(policies.of(v4).is_some());
        assert!(policies
            .of("::ffff:192.168.1.60".parse().unwrap())
            .is_some());
        assert!(policies.of("192.168.1.61".parse().unwrap()).is_none());
    }
}
