//! The curated lists that ship with tacet (from `blocklists/`, embedded at
//! build time), and the default rule set built from them.
//!
//! `blocklists/manifest.toml` describes the same lists for people and tools;
//! a test keeps the two in agreement.

use std::io;

use crate::{ListInfo, ParseReport, RuleSet, RuleSetBuilder};

/// What a curated list is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Category {
    /// Usage statistics, analytics, ads and location uploads.
    Telemetry,
    /// Cloud services of connected devices.
    Iot,
    /// All of one company's services.
    Company,
    /// Resolvers that let apps go around the firewall: encrypted DNS and
    /// HTTPDNS endpoints.
    Bypass,
    /// Names that must keep working.
    KeepWorking,
}

impl Category {
    /// The category's name in the manifest.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Telemetry => "telemetry",
            Self::Iot => "iot",
            Self::Company => "company",
            Self::Bypass => "bypass",
            Self::KeepWorking => "keep-working",
        }
    }
}

/// One list that ships with tacet.
#[derive(Clone, Copy, Debug)]
pub struct CuratedList {
    /// Stable id, used in settings and in the journal.
    pub id: &'static str,
    /// Human title.
    pub title: &'static str,
    /// One or two sentences: what it blocks, and what it breaks.
    pub description: &'static str,
    /// What the list is about.
    pub category: Category,
    /// Turned on for a new install.
    pub default_on: bool,
    /// Every rule in it allows (added with
    /// [`RuleSetBuilder::add_allow_list`]).
    pub is_allowlist: bool,
    /// The list text, with a comment above each entry saying why.
    pub text: &'static str,
}

impl CuratedList {
    /// The [`ListInfo`] under which the list's rules are reported.
    pub fn info(&self) -> ListInfo {
        ListInfo {
            id: self.id.to_owned(),
            title: self.title.to_owned(),
        }
    }

    /// Adds this list to `builder`, as a block list or an allowlist.
    pub fn add_to(&self, builder: &mut RuleSetBuilder) -> io::Result<ParseReport> {
        if self.is_allowlist {
            builder.add_allow_list(self.info(), self.text.as_bytes())
        } else {
            builder.add_list(self.info(), self.text.as_bytes())
        }
    }
}

static CATALOG: [CuratedList; 6] = [
    CuratedList {
        id: "xiaomi-huami-telemetry",
        title: "Xiaomi and Huami telemetry",
        description: "Usage statistics, ads and location uploads of Xiaomi phones, Mi Fit / Zepp Life, Mi Band and Amazfit watches.",
        category: Category::Telemetry,
        default_on: true,
        is_allowlist: false,
        text: include_str!("../../../blocklists/xiaomi-huami-telemetry.txt"),
    },
    CuratedList {
        id: "throughtek-kalay",
        title: "ThroughTek Kalay P2P in IP cameras",
        description: "The cloud relay of cheap IP cameras and baby monitors (CVE-2021-28372); keeps them on the local network.",
        category: Category::Iot,
        default_on: true,
        is_allowlist: false,
        text: include_str!("../../../blocklists/throughtek-kalay.txt"),
    },
    CuratedList {
        id: "encrypted-dns",
        title: "Encrypted DNS and HTTPDNS",
        description: "Public DNS-over-HTTPS and DNS-over-TLS resolvers and the HTTPDNS services of Alibaba and Tencent SDKs, so apps fall back to tacet. Breaks apps and browsers that insist on one of them with no fallback.",
        category: Category::Bypass,
        default_on: true,
        is_allowlist: false,
        text: include_str!("../../../blocklists/encrypted-dns.txt"),
    },
    CuratedList {
        id: "facebook",
        title: "Facebook",
        description: "Meta's services and the Facebook SDK in other apps. Breaks Facebook, Instagram, Messenger and WhatsApp.",
        category: Category::Company,
        default_on: false,
        is_allowlist: false,
        text: include_str!("../../../blocklists/facebook.txt"),
    },
    CuratedList {
        id: "google",
        title: "Google",
        description: "Google's services, ads and analytics. Breaks Google's apps, Play services, push messages and YouTube.",
        category: Category::Company,
        default_on: false,
        is_allowlist: false,
        text: include_str!("../../../blocklists/google.txt"),
    },
    CuratedList {
        id: "keep-working",
        title: "Keep working",
        description: "Names devices cannot work without (Xiaomi vacuums, watch updates, account login, time servers), allowed whatever the other lists say.",
        category: Category::KeepWorking,
        default_on: true,
        is_allowlist: true,
        text: include_str!("../../../blocklists/keep-working.txt"),
    },
];

/// Every curated list, in a stable order.
pub fn catalog() -> &'static [CuratedList] {
    &CATALOG
}

/// The curated list with this id.
pub fn find(id: &str) -> Option<&'static CuratedList> {
    CATALOG.iter().find(|l| l.id == id)
}

/// Adds every default-on list (the keep-working allowlist among them) to
/// `builder`.
pub fn add_defaults(builder: &mut RuleSetBuilder) -> io::Result<Vec<ParseReport>> {
    CATALOG
        .iter()
        .filter(|l| l.default_on)
        .map(|l| l.add_to(builder))
        .collect()
}

/// The rule set of a new install: every default-on curated list, plus the
/// keep-working allowlist.
pub fn default_rule_set() -> RuleSet {
    let mut builder = RuleSetBuilder::new();
    // Reading from an in-memory string cannot fail.
    let _ = add_defaults(&mut builder);
    builder.build()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Verdict;

    #[test]
    fn default_set_blocks_telemetry_and_keeps_what_must_work() {
        let set = default_rule_set();
        for name in [
            "api-mifit.huami.com",
            "api-mifit-fr.huami.com",
            "fusion.qq.com",
            "cgi.connect.qq.com",
            "restapi.amap.com",
            "iotcplatform.com",
        ] {
            assert!(
                matches!(set.lookup(name), Verdict::Blocked(_)),
                "{name} should be blocked"
            );
        }
        for name in ["api.xmpush.xiaomi.com", "ot.io.mi.com", "pool.ntp.org"] {
            assert!(
                !matches!(set.lookup(name), Verdict::Blocked(_)),
                "{name} should stay reachable"
            );
        }
        // Subdomains too: relay servers, NTP pool members.
        assert!(matches!(
            set.lookup("m1.iotcplatform.com"),
            Verdict::Blocked(_)
        ));
        assert!(matches!(
            set.lookup("0.cn.pool.ntp.org"),
            Verdict::Allowed(_)
        ));
        assert_eq!(set.lookup("example.com"), Verdict::Unlisted);
        // Facebook and Google are off by default.
        assert_eq!(set.lookup("facebook.com"), Verdict::Unlisted);
        assert_eq!(set.lookup("google.com"), Verdict::Unlisted);
    }

    #[test]
    fn every_curated_line_is_used_or_a_comment() {
        for list in catalog() {
            let mut builder = RuleSetBuilder::new();
            let report = list.add_to(&mut builder).unwrap();
            assert!(report.is_clean(), "{}: {report}", list.id);
            assert!(report.rules > 0, "{} has no rules", list.id);
            // Every rule line has a comment above it (the "why").
            let mut commented = false;
            for line in list.text.lines() {
                let line = line.trim();
                if line.starts_with('#') {
                    commented = true;
                } else if !line.is_empty() {
                    assert!(commented, "{}: {line} has no reason above it", list.id);
                }
            }
        }
    }

    #[test]
    fn manifest_agrees_with_catalog() {
        let manifest = include_str!("../../../blocklists/manifest.toml");
        let mut entries: Vec<Vec<(String, String)>> = Vec::new();
        for line in manifest.lines() {
            let line = line.trim();
            if line == "[[list]]" {
                entries.push(Vec::new());
            } else if let (Some(current), Some((k, v))) =
                (entries.last_mut(), line.split_once(" = "))
            {
                current.push((k.to_owned(), v.trim_matches('"').to_owned()));
            }
        }
        assert_eq!(entries.len(), catalog().len());
        for (entry, list) in entries.iter().zip(catalog()) {
            let get = |k: &str| {
                entry
                    .iter()
                    .find(|(key, _)| key == k)
                    .map(|(_, v)| v.as_str())
                    .unwrap()
            };
            assert_eq!(get("id"), list.id);
            assert_eq!(get("title"), list.title);
            assert_eq!(get("description"), list.description);
            assert_eq!(get("category"), list.category.as_str());
            assert_eq!(get("default_on"), list.default_on.to_string());
            assert_eq!(get("allowlist"), list.is_allowlist.to_string());
            let file = std::fs::read_to_string(
                std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("../../blocklists")
                    .join(get("file")),
            )
            .unwrap();
            assert_eq!(file, list.text, "{} file differs", list.id);
        }
    }
}
