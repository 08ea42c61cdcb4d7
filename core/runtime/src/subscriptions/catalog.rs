//! Well-known lists to subscribe to with one tap (the phone apps) or by
//! id (`tacet lists add hagezi-light`): who publishes them, what they
//! block, about how many rules they hold, their licence and their URL.
//!
//! Sizes are what the lists held when this catalogue was written, to
//! choose by; the real count after a fetch is in the list's status. Every
//! URL is https and serves a format tacet reads (adblock or hosts).

/// One list of the catalogue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CatalogList {
    /// A stable id: the subscription takes it, and `tacet lists add ID`.
    pub id: &'static str,
    /// Its name.
    pub title: &'static str,
    /// What it blocks, and what it may break, in a sentence.
    pub blocks: &'static str,
    /// About how many rules it holds.
    pub approx_rules: u32,
    /// Its licence (an SPDX id, or where the publisher states it).
    pub licence: &'static str,
    /// Where it is fetched from.
    pub url: &'static str,
    /// Where its publisher explains it.
    pub homepage: &'static str,
}

/// The catalogue, lightest first within each publisher.
pub fn catalog() -> &'static [CatalogList] {
    CATALOG
}

/// The catalogue's list `id`.
pub fn find(id: &str) -> Option<&'static CatalogList> {
    CATALOG.iter().find(|l| l.id == id)
}

const CATALOG: &[CatalogList] = &[
    CatalogList {
        id: "hagezi-light",
        title: "HaGeZi Light",
        blocks:
            "Ads, tracking, metrics and telemetry, the most common only: breaks almost nothing.",
        approx_rules: 70_000,
        licence: "GPL-3.0",
        url: "https://raw.githubusercontent.com/hagezi/dns-blocklists/main/adblock/light.txt",
        homepage: "https://github.com/hagezi/dns-blocklists",
    },
    CatalogList {
        id: "hagezi-normal",
        title: "HaGeZi Multi Normal",
        blocks: "Ads, tracking, telemetry, phishing and malware, badware: the all-round list.",
        approx_rules: 160_000,
        licence: "GPL-3.0",
        url: "https://raw.githubusercontent.com/hagezi/dns-blocklists/main/adblock/multi.txt",
        homepage: "https://github.com/hagezi/dns-blocklists",
    },
    CatalogList {
        id: "hagezi-pro",
        title: "HaGeZi Multi Pro",
        blocks: "As Normal, and more trackers and affiliate links: some sites' links may break.",
        approx_rules: 200_000,
        licence: "GPL-3.0",
        url: "https://raw.githubusercontent.com/hagezi/dns-blocklists/main/adblock/pro.txt",
        homepage: "https://github.com/hagezi/dns-blocklists",
    },
    CatalogList {
        id: "oisd-small",
        title: "OISD small",
        blocks: "Ads, trackers and malware; made not to break sites (\"Block. Don't break.\").",
        approx_rules: 47_000,
        licence: "its own (github.com/sjhgvr/oisd)",
        url: "https://small.oisd.nl/",
        homepage: "https://oisd.nl",
    },
    CatalogList {
        id: "adguard-dns",
        title: "AdGuard DNS filter",
        blocks: "Ads and trackers, as AdGuard DNS blocks them; with its own exceptions.",
        approx_rules: 60_000,
        licence: "GPL-3.0",
        url: "https://adguardteam.github.io/AdGuardSDNSFilter/Filters/filter.txt",
        homepage: "https://github.com/AdguardTeam/AdGuardSDNSFilter",
    },
    CatalogList {
        id: "stevenblack",
        title: "StevenBlack unified hosts",
        blocks: "Ads and malware, from several hosts files merged: the Pi-hole default.",
        approx_rules: 80_000,
        licence: "MIT",
        url: "https://raw.githubusercontent.com/StevenBlack/hosts/master/hosts",
        homepage: "https://github.com/StevenBlack/hosts",
    },
    CatalogList {
        id: "1hosts-lite",
        title: "1Hosts Lite",
        blocks: "Ads, trackers and telemetry, kept light so apps keep working.",
        approx_rules: 90_000,
        licence: "MPL-2.0",
        url: "https://o0.pages.dev/Lite/adblock.txt",
        homepage: "https://github.com/badmojr/1Hosts",
    },
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_entry_is_https_unique_and_never_a_reserved_id() {
        let reserved = super::super::reserved_ids();
        let mut ids = std::collections::HashSet::new();
        for list in catalog() {
            assert!(ids.insert(list.id), "{} twice", list.id);
            assert!(list.url.starts_with("https://"), "{}", list.url);
            assert!(!reserved.contains(&list.id), "{}", list.id);
            // An id the store takes as it is (lower case, digits, dashes).
            assert!(
                list.id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'),
                "{}",
                list.id
            );
            assert!(!list.title.is_empty() && !list.blocks.is_empty() && !list.licence.is_empty());
        }
        assert_eq!(find("hagezi-light").map(|l| l.title), Some("HaGeZi Light"));
        assert_eq!(find("nope"), None);
    }
}
