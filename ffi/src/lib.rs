//! tacet-ffi: the uniffi bindings of tacet for the Android (Kotlin) and iOS
//! (Swift) shells.
//!
//! **Layer:** FFI. The shells hold one [`Firewall`] (start on the TUN file
//! descriptor the OS hands them, stop, pause, lists, per-name rules,
//! counters, events through a [`FirewallListener`]) and open a
//! [`StoreReader`] to page, search and export the journal, also from
//! another process. Exported methods convert arguments, delegate to the
//! core crates and map errors into the one small [`FirewallError`].
//!
//! **Never:** no filtering logic here. Two adapters stand in for what the
//! runtime does not do yet, each in its own module and marked as such:
//! composing the rule set from settings ([`settings`]) and writing the
//! journal from the engine's events ([`events`]).
//!
//! Modules: [`records`] (configuration, counters, lists, parse reports),
//! [`firewall`] (the `Firewall` object), [`events`] (events, the listener,
//! the dispatcher thread), [`store_reader`] (the `StoreReader` object and
//! the journal records), [`subscriptions`] (the `ListSubscriptions` object:
//! lists subscribed to by URL, their status, updates), [`settings`]
//! (checking the configuration, building rules), [`error`] (the two error
//! types).
//!
//! # Threads and panics
//!
//! Every method may be called from any thread; see [`firewall`] for the
//! locks and [`events`] for the thread the listener is called on (never the
//! runtime's I/O thread, never with a lock held).
//!
//! A panic inside an exported function does not abort the app: uniffi's
//! scaffolding runs each call under `catch_unwind` and hands the panic to
//! the foreign side as an error: Kotlin throws `InternalException` (a
//! `kotlin.Exception`), Swift throws `UniffiInternalError.rustPanic`. That
//! needs unwinding, so building with `panic = "abort"` is refused below.
//! A listener that throws is caught on the dispatcher thread and dropped.

#[cfg(panic = "abort")]
compile_error!(
    "tacet-ffi must be built with panic = \"unwind\": uniffi turns a panic in an \
     exported call into an exception only when it can unwind"
);

pub mod attribution;
pub mod error;
pub mod events;
pub mod firewall;
pub mod records;
pub mod settings;
pub mod store_reader;
pub mod subscriptions;

pub use attribution::{AppResolver, Transport};
pub use error::FirewallError;
pub use events::{FirewallEvent, FirewallListener};
pub use firewall::Firewall;
pub use records::{
    BlockMode, CatalogList, CheckResult, FirewallConfig, FirewallStats, KnownResolver,
    ListCategory, ListInfo, ParseReport, UnusedLine, UpstreamEntry, UpstreamKind, Verdict,
};
pub use store_reader::{
    CustomRule, CustomRuleKind, ExportFormat, JournalAction, JournalEntry, JournalFilter,
    JournalPage, JournalReason, StoreCounters, StoreReader, TopName,
};
pub use subscriptions::{ListSubscriptions, ListUpdate, Subscription, UpdateOutcome};

uniffi::setup_scaffolding!();

/// The curated lists that ship with tacet, in a stable order.
#[uniffi::export]
pub fn curated_lists() -> Vec<ListInfo> {
    tacet_rules::curated::catalog()
        .iter()
        .map(ListInfo::from)
        .collect()
}

/// The configuration of a new install: the curated default lists on, null
/// address answers with a 10 s TTL, no store, no upstream yet (fill in the
/// network's resolvers before `start`).
#[uniffi::export]
pub fn default_config() -> FirewallConfig {
    FirewallConfig::default()
}

/// How a list would be read, line by line, without using it (a preview of
/// a paste).
#[uniffi::export]
pub fn parse_list(text: String) -> ParseReport {
    (&settings::parse_report(&text)).into()
}

/// Checks upstream entries as the user typed them: each comes back with
/// its kind and address, or the reason it cannot be used.
#[uniffi::export]
pub fn parse_upstreams(texts: Vec<String>) -> Vec<UpstreamEntry> {
    texts.iter().map(|t| UpstreamEntry::parse(t)).collect()
}

/// Well-known lists to subscribe to (HaGeZi, OISD, AdGuard's, StevenBlack,
/// 1Hosts), for a lists screen.
#[uniffi::export]
pub fn list_catalog() -> Vec<CatalogList> {
    tacet_runtime::subscriptions::catalog::catalog()
        .iter()
        .map(|l| CatalogList {
            id: l.id.into(),
            title: l.title.into(),
            blocks: l.blocks.into(),
            approx_rules: l.approx_rules,
            licence: l.licence.into(),
            url: l.url.into(),
            homepage: l.homepage.into(),
        })
        .collect()
}

/// A short list of public encrypted resolvers, for a settings screen.
#[uniffi::export]
pub fn known_encrypted_resolvers() -> Vec<KnownResolver> {
    settings::known_encrypted_resolvers()
}

/// The upstreams that reach the resolver of Android's strict Private DNS
/// setting over TLS: `hostname` at each of `addresses` (the system resolved
/// them for its own Private DNS), so turning Private DNS off to use tacet
/// loses no privacy. Addresses that are not IP addresses are skipped.
#[uniffi::export]
pub fn private_dns_upstreams(hostname: String, addresses: Vec<String>) -> Vec<String> {
    settings::private_dns_upstreams(&hostname, &addresses)
}
