// What the app and the packet tunnel extension share: the App Group
// container (the store, the pasted list, a few settings) and the messages
// the app sends to the running extension. Compiled into both targets.

import Foundation

enum Shared {
    /// The App Group both targets have in their entitlements. Change it,
    /// and `tunnelBundleID`, to identifiers of your own team.
    static let appGroup = "group.dev.tacet"

    /// The bundle identifier of the packet tunnel extension.
    static let tunnelBundleID = "dev.tacet.ios.tunnel"

    /// The App Group container; nil only when the entitlement is missing.
    static var container: URL? {
        FileManager.default.containerURL(forSecurityApplicationGroupIdentifier: appGroup)
    }

    /// The store directory (journal, counters, the user's names). The
    /// extension's firewall writes it; the app only reads it (`StoreReader`
    /// takes no lock and writes nothing).
    static var storeDirectory: URL? { container?.appendingPathComponent("tacet", isDirectory: true) }

    /// The pasted list, as a file: it may be megabytes, which do not belong
    /// in user defaults (both processes would load them whole).
    static var customListFile: URL? { container?.appendingPathComponent("custom-list.txt") }

    /// Small values both processes read: the end of a pause, why the
    /// tunnel last stopped.
    static let defaults = UserDefaults(suiteName: appGroup)

    /// When the pause ends (seconds since 1970), absent when not paused.
    static let pausedUntilKey = "pausedUntil"

    /// Why the extension last stopped on its own, absent after a clean stop.
    static let lastFailureKey = "lastFailure"

    /// Where the names let through are asked (`DnsChoice.encoded`).
    static let dnsChoiceKey = "dnsChoice"

    /// The saved DNS choice; the network's DNS when none is saved.
    static var dnsChoice: DnsChoice {
        get { DnsChoice(encoded: defaults?.string(forKey: dnsChoiceKey)) }
        set { defaults?.set(newValue.encoded, forKey: dnsChoiceKey) }
    }

    /// The pasted list, or "" when there is none.
    static func readCustomList() -> String {
        guard let file = customListFile, let text = try? String(contentsOf: file, encoding: .utf8) else { return "" }
        return text
    }

    /// The end of the pause in force, if any.
    static var pausedUntil: Date? {
        guard let seconds = defaults?.object(forKey: pausedUntilKey) as? Double else { return nil }
        let until = Date(timeIntervalSince1970: seconds)
        return until > Date() ? until : nil
    }
}

/// What the app asks of the running extension (`sendProviderMessage`),
/// as one short line of text.
enum TunnelMessage: Equatable {
    /// Let everything through for this many minutes.
    case pause(minutes: Int)
    /// Filter again now.
    case resume
    /// The pasted list changed: read it again.
    case reloadCustomList
    /// The DNS choice changed: use it now, in the same tunnel.
    case dnsChanged
    /// A followed list changed (added, removed, updated): read them again.
    case reloadLists
    /// Allow this name and its subdomains (the journal's Allow).
    case allow(name: String)
    /// Block this name and its subdomains (the journal's Block).
    case block(name: String)

    /// The pauses offered, as on Android.
    static let pauseChoices = [5, 15, 60]

    var data: Data {
        switch self {
        case .pause(let minutes): return Data("pause \(minutes)".utf8)
        case .resume: return Data("resume".utf8)
        case .reloadCustomList: return Data("reload-custom-list".utf8)
        case .dnsChanged: return Data("dns-changed".utf8)
        case .reloadLists: return Data("reload-lists".utf8)
        case .allow(let name): return Data("allow \(name)".utf8)
        case .block(let name): return Data("block \(name)".utf8)
        }
    }

    init?(data: Data) {
        let text = String(decoding: data, as: UTF8.self)
        if text == "resume" {
            self = .resume
        } else if text == "reload-custom-list" {
            self = .reloadCustomList
        } else if text == "dns-changed" {
            self = .dnsChanged
        } else if text == "reload-lists" {
            self = .reloadLists
        } else if text.hasPrefix("allow "), let name = Self.name(text.dropFirst(6)) {
            self = .allow(name: name)
        } else if text.hasPrefix("block "), let name = Self.name(text.dropFirst(6)) {
            self = .block(name: name)
        } else if text.hasPrefix("pause "), let minutes = Int(text.dropFirst(6)), (1...1440).contains(minutes) {
            // 1 minute to 24 hours, as Android's PauseTimer accepts.
            self = .pause(minutes: minutes)
        } else {
            return nil
        }
    }

    /// A name as a journal entry has it: 1 to 253 bytes of letters,
    /// digits, '-', '_' and '.'; the core checks it again.
    private static func name(_ text: Substring) -> String? {
        let allowed = Set("abcdefghijklmnopqrstuvwxyz0123456789-_.")
        guard (1...253).contains(text.utf8.count), text.allSatisfy({ allowed.contains($0) }) else { return nil }
        return String(text)
    }
}

/// Where tacet sends the names it lets through, as Android's `DnsChoice`:
/// the network's resolvers (plain), one of the core's
/// `knownEncryptedResolvers()`, or upstreams the user typed (checked with
/// `parseUpstreams()` before they are saved). Saved as one line of text,
/// the same as Android's.
enum DnsChoice: Equatable {
    case network
    case known(id: String)
    case custom([String])

    /// The most entries kept, and their longest text: settings are input too.
    static let maxEntries = 16
    private static let maxEntryLength = 512

    var encoded: String {
        switch self {
        case .network: return "network"
        case .known(let id): return "known:" + id
        case .custom(let entries): return "custom:" + entries.joined(separator: " ")
        }
    }

    /// The saved choice; anything unreadable is the network's DNS.
    init(encoded: String?) {
        guard let text = encoded else { self = .network; return }
        if text.hasPrefix("known:") {
            let id = text.dropFirst(6).trimmingCharacters(in: .whitespaces)
            self = (!id.isEmpty && id.count <= Self.maxEntryLength) ? .known(id: id) : .network
        } else if text.hasPrefix("custom:") {
            let entries = text.dropFirst(7).split(separator: " ").map(String.init)
                .filter { $0.count <= Self.maxEntryLength }.prefix(Self.maxEntries)
            self = entries.isEmpty ? .network : .custom(Array(entries))
        } else {
            self = .network
        }
    }

    /// The firewall's upstreams, or nil when the choice cannot be honoured
    /// (a known resolver this build no longer offers): never plain DNS
    /// instead of what the user chose to hide.
    func upstreams(network: [String], known: [String: [String]]) -> [String]? {
        switch self {
        case .network: return network
        case .known(let id): return known[id].flatMap { $0.isEmpty ? nil : $0 }
        case .custom(let entries): return entries.isEmpty ? nil : entries
        }
    }
}
