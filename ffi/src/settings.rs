//! The shell's configuration, checked and turned into what the runtime
//! takes: upstream socket addresses, the engine's settings, and the list
//! sources the runtime composes the rules from (curated lists that are on,
//! the store's custom list, the pasted list).

use std::path::PathBuf;

use tacet_rules::curated::{self, CuratedList};
use tacet_rules::{ListInfo, ParseReport, RuleSet, RuleSetBuilder};
use tacet_runtime::rule_sources::{self, Composed, ListSource, PASTED_LIST_ID};
use tacet_runtime::UpstreamSpec;

use crate::error::Error;
use crate::records::FirewallConfig;

/// A configuration that has been checked.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// As the shell gave it (returned by `Firewall.config()`).
    pub config: FirewallConfig,
    /// The upstream resolvers, plain or encrypted.
    pub upstreams: Vec<UpstreamSpec>,
    /// The curated lists that are on, in catalog order.
    pub lists: Vec<&'static CuratedList>,
    /// The store directory, if any.
    pub store_dir: Option<PathBuf>,
}

impl Settings {
    /// Checks every field; fails on the first that cannot be used.
    pub fn parse(config: FirewallConfig) -> Result<Self, Error> {
        let upstreams = config
            .upstreams
            .iter()
            .map(|text| parse_upstream(text))
            .collect::<Result<Vec<_>, _>>()?;
        for id in &config.enabled_lists {
            if curated::find(id).is_none() {
                return Err(Error::Config(format!(
                    "enabledLists: '{}' is not a curated list id",
                    id.chars().take(64).collect::<String>()
                )));
            }
        }
        let lists = curated::catalog()
            .iter()
            .filter(|l| config.enabled_lists.iter().any(|id| id == l.id))
            .collect();
        let store_dir = match config.store_dir.as_deref() {
            Some("") => return Err(Error::Config("storeDir is empty".into())),
            Some(dir) => Some(PathBuf::from(dir)),
            None => None,
        };
        Ok(Self {
            config,
            upstreams,
            lists,
            store_dir,
        })
    }

    /// The engine's settings (discovery mode is `report_allowed`).
    pub fn engine_config(&self) -> tacet_engine::Config {
        tacet_engine::Config {
            block_mode: self.config.block_mode.into(),
            block_ttl: self.config.block_ttl_secs,
            report_allowed: self.config.discovery,
            ..tacet_engine::Config::default()
        }
    }

    /// Where the runtime keeps the journal and counters, if anywhere.
    pub fn store_location(&self) -> Option<tacet_runtime::StoreLocation> {
        self.store_dir
            .clone()
            .map(|dir| tacet_runtime::StoreLocation {
                dir,
                config: self.store_config(),
            })
    }

    /// The store's settings.
    pub fn store_config(&self) -> tacet_store::StoreConfig {
        tacet_store::StoreConfig {
            discovery: self.config.discovery,
            ..tacet_store::StoreConfig::default()
        }
    }

    /// Compiles the rule set, and reports how the pasted list was read.
    pub fn build_rules(&self) -> Result<(RuleSet, ParseReport), Error> {
        let mut sources: Vec<ListSource> = self
            .lists
            .iter()
            .copied()
            .map(ListSource::Curated)
            .collect();
        if let Some(dir) = &self.store_dir {
            sources.push(ListSource::StoreSubscriptions(dir.clone()));
            sources.push(ListSource::StoreCustom(dir.clone()));
        }
        sources.push(ListSource::Pasted(self.config.custom_list.clone()));
        // With a store, the rules are read from a memory map of their
        // compiled file: clean pages, not the extension's heap; and when
        // no list changed since it was written, no list is read at all.
        let composed = match &self.store_dir {
            Some(dir) => rule_sources::compose_through_store(&sources, dir),
            None => rule_sources::compose(&sources),
        }
        .map_err(|e| Error::Rules(e.to_string()))?;
        let Composed {
            rules,
            mut reports,
            from_store,
        } = composed;
        let report = if from_store {
            // No list was read: the pasted one alone is read again for its
            // report (it is short; its rules are in the mapped set).
            let mut builder = tacet_rules::RuleSetBuilder::new();
            builder
                .add_list(
                    tacet_rules::ListInfo {
                        id: rule_sources::PASTED_LIST_ID.into(),
                        title: String::new(),
                    },
                    self.config.custom_list.as_bytes(),
                )
                .unwrap_or_default()
        } else {
            reports.pop().map(|(_, report)| report).unwrap_or_default()
        };
        Ok((rules, report))
    }
}

impl Settings {
    /// How encrypted upstreams are used.
    pub fn upstream_options(&self) -> tacet_runtime::UpstreamOptions {
        tacet_runtime::UpstreamOptions {
            mode: if self.config.allow_plain_fallback {
                tacet_runtime::Mode::Opportunistic
            } else {
                tacet_runtime::Mode::Strict
            },
            extra_ca: self.config.upstream_ca_pem.clone().map(String::into_bytes),
            ..tacet_runtime::UpstreamOptions::default()
        }
    }

    /// The names looked up before any app asks: those of the curated block
    /// lists that are on. (Their texts are built in: reading cannot fail.)
    pub fn enforced_names(&self) -> Vec<String> {
        tacet_runtime::enforced::enforced_names(&self.lists, &[])
            .map(|e| e.names)
            .unwrap_or_default()
    }
}

/// An upstream as `IP` (port 53), `IP:port`, `tls://IP#NAME` or
/// `https://IP/PATH#NAME`.
fn parse_upstream(text: &str) -> Result<UpstreamSpec, Error> {
    UpstreamSpec::parse(text).map_err(Error::Config)
}

/// Public encrypted resolvers, by address (from each operator's own
/// documentation; the same addresses the `encrypted-dns` list blocks for
/// apps, which a configured upstream is exempt from).
pub(crate) fn known_encrypted_resolvers() -> Vec<crate::records::KnownResolver> {
    let resolver = |id: &str, name: &str, description: &str, upstreams: &[&str]| {
        crate::records::KnownResolver {
            id: id.into(),
            name: name.into(),
            description: description.into(),
            upstreams: upstreams.iter().map(|u| (*u).to_owned()).collect(),
        }
    };
    vec![
        resolver(
            "quad9",
            "Quad9",
            "A Swiss foundation; blocks known malware domains; keeps no IP addresses.",
            &[
                "tls://9.9.9.9#dns.quad9.net",
                "tls://149.112.112.112#dns.quad9.net",
                "tls://[2620:fe::fe]#dns.quad9.net",
                "https://9.9.9.9/dns-query#dns.quad9.net",
            ],
        ),
        resolver(
            "cloudflare",
            "Cloudflare 1.1.1.1",
            "Fast and filters nothing; Cloudflare keeps limited logs for 25 hours.",
            &[
                "tls://1.1.1.1#one.one.one.one",
                "tls://1.0.0.1#one.one.one.one",
                "tls://[2606:4700:4700::1111]#one.one.one.one",
                "https://1.1.1.1/dns-query#cloudflare-dns.com",
            ],
        ),
        resolver(
            "mullvad",
            "Mullvad DNS",
            "From the Swedish VPN provider; filters nothing on this address; logs nothing.",
            &[
                "tls://194.242.2.2#dns.mullvad.net",
                "tls://[2a07:e340::2]#dns.mullvad.net",
                "https://194.242.2.2/dns-query#dns.mullvad.net",
            ],
        ),
        resolver(
            "adguard",
            "AdGuard DNS (unfiltered)",
            "AdGuard's resolver without its filters, so tacet's lists decide.",
            &[
                "tls://94.140.14.140#unfiltered.adguard-dns.com",
                "tls://94.140.14.141#unfiltered.adguard-dns.com",
                "https://94.140.14.140/dns-query#unfiltered.adguard-dns.com",
            ],
        ),
        resolver(
            "google",
            "Google Public DNS",
            "Fast and filters nothing; Google keeps some logs for a day or two.",
            &[
                "tls://8.8.8.8#dns.google",
                "tls://8.8.4.4#dns.google",
                "tls://[2001:4860:4860::8888]#dns.google",
                "https://8.8.8.8/dns-query#dns.google",
            ],
        ),
    ]
}

/// `tls://ADDRESS#HOSTNAME` for each address of a Private DNS hostname.
pub(crate) fn private_dns_upstreams(hostname: &str, addresses: &[String]) -> Vec<String> {
    addresses
        .iter()
        .filter_map(|a| a.trim().parse::<std::net::IpAddr>().ok())
        .map(|ip| match ip {
            std::net::IpAddr::V4(v4) => format!("tls://{v4}#{hostname}"),
            std::net::IpAddr::V6(v6) => format!("tls://[{v6}]#{hostname}"),
        })
        .filter(|text| UpstreamSpec::parse(text).is_ok())
        .collect()
}

/// How a list would be read, without using it.
pub(crate) fn parse_report(text: &str) -> ParseReport {
    let mut builder = RuleSetBuilder::new();
    let info = ListInfo {
        id: PASTED_LIST_ID.into(),
        title: String::new(),
    };
    // Reading from memory cannot fail.
    builder.add_list(info, text.as_bytes()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upstreams_parse_with_and_without_port() {
        assert_eq!(
            parse_upstream("192.0.2.1").unwrap().addr,
            "192.0.2.1:53".parse().unwrap()
        );
        assert_eq!(
            parse_upstream("[2001:db8::1]:5353").unwrap().addr,
            "[2001:db8::1]:5353".parse().unwrap()
        );
        assert!(parse_upstream("tls://9.9.9.9#dns.quad9.net")
            .unwrap()
            .is_encrypted());
        assert!(matches!(
            parse_upstream("dns.google"),
            Err(Error::Config(_))
        ));
    }

    #[test]
    fn known_resolvers_and_private_dns_give_usable_upstreams() {
        for known in known_encrypted_resolvers() {
            for text in &known.upstreams {
                let spec = UpstreamSpec::parse(text).unwrap_or_else(|e| panic!("{e}"));
                assert!(spec.is_encrypted(), "{text}");
            }
        }
        assert_eq!(
            private_dns_upstreams(
                "dns.example.net",
                &["192.0.2.1".into(), "2001:db8::1".into(), "nonsense".into()]
            ),
            vec![
                "tls://192.0.2.1#dns.example.net",
                "tls://[2001:db8::1]#dns.example.net"
            ]
        );
        assert!(private_dns_upstreams("not a name", &["192.0.2.1".into()]).is_empty());
    }

    #[test]
    fn unknown_list_ids_are_refused() {
        let config = FirewallConfig {
            enabled_lists: vec!["no-such-list".into()],
            ..FirewallConfig::default()
        };
        assert!(matches!(Settings::parse(config), Err(Error::Config(_))));
    }

    #[test]
    fn default_config_blocks_curated_defaults_and_the_pasted_list() {
        let config = FirewallConfig {
            custom_list: "ads.example\nexample.com##.banner\n".into(),
            ..FirewallConfig::default()
        };
        let (rules, report) = Settings::parse(config).unwrap().build_rules().unwrap();
        assert_eq!(report.rules, 1);
        assert_eq!(report.counts.unused, 1);
        assert!(matches!(
            rules.lookup("x.ads.example"),
            tacet_rules::Verdict::Blocked(_)
        ));
        assert!(matches!(
            rules.lookup("api-mifit.huami.com"),
            tacet_rules::Verdict::Blocked(_)
        ));
    }
}
