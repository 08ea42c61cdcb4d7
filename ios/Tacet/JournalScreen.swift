// The journal, as Android's JournalActivity shows it: newest first, a
// search, older pages, and Allow or Block with one swipe. Entries are read
// with StoreReader from the store the extension writes (no lock taken);
// Allow and Block are messages to the extension, which holds the store's
// writer lock.

import SwiftUI

/// One entry as a row: Android's `JournalRow`, in the same words.
struct JournalRowText: Identifiable, Equatable {
    let id: UInt64
    let name: String
    /// "14:03 · 12× · blocked: Telemetry, line 42".
    let detail: String
    let blocked: Bool

    init(_ entry: JournalEntry, listTitles: [String: String], now: Date = Date(), calendar: Calendar = .current) {
        id = entry.seq
        name = entry.name
        blocked = entry.action == .blocked
        let at = Date(timeIntervalSince1970: Double(entry.lastUnixMs) / 1000)
        let time = DateFormatter()
        time.calendar = calendar
        time.timeZone = calendar.timeZone
        time.dateFormat = calendar.isDate(at, inSameDayAs: now) ? "HH:mm" : "d MMM HH:mm"
        var parts = [time.string(from: at)]
        if entry.count > 1 { parts.append("\(entry.count)×") }
        if let app = entry.app { parts.append(app) }
        switch entry.action {
        case .blocked: parts.append("blocked: " + Self.reason(entry.reason, listTitles))
        case .failed: parts.append("failed: " + Self.reason(entry.reason, listTitles))
        case .allowed: parts.append("allowed")
        }
        detail = parts.joined(separator: " · ")
    }

    static func reason(_ reason: JournalReason, _ titles: [String: String]) -> String {
        switch reason {
        case .rule(let listId, let line): return "\(listName(listId, titles)), line \(line)"
        case .cname(let via, let listId, let line): return "its alias \(via) is in \(listName(listId, titles)), line \(line)"
        case .learnedAddress(let address): return "connection to \(address), an address of a blocked name"
        case .canary: return "canary name"
        case .bypass: return "it tried another resolver than tacet"
        case .noRule: return "no rule"
        case .badAnswer(let problem): return "the network's resolver sent an answer that could not be read: \(problem)"
        }
    }

    static func listName(_ id: String, _ titles: [String: String]) -> String {
        switch id {
        case "custom": return "your block and allow names"
        case "pasted": return "your pasted list"
        default: return titles[id] ?? id
        }
    }
}

struct JournalScreen: View {
    @ObservedObject var tunnel: TunnelController
    @State private var search = ""
    @State private var rows: [JournalRowText] = []
    @State private var next: String?
    @State private var problem: String?
    private static let pageSize: UInt32 = 100

    var body: some View {
        List {
            if let problem { Text(problem).foregroundColor(.secondary) }
            if rows.isEmpty && problem == nil {
                Text(search.isEmpty
                     ? "Nothing blocked yet. Names the firewall blocks show here, newest first."
                     : "No entry has \u{201C}\(search)\u{201D} in its name.")
                    .foregroundColor(.secondary)
            }
            ForEach(rows) { row in
                VStack(alignment: .leading, spacing: 2) {
                    Text(row.name).font(.body.monospaced())
                    Text(row.detail).font(.caption).foregroundColor(.secondary)
                }
                .swipeActions {
                    Button(row.blocked ? "Allow" : "Block") {
                        tunnel.send(row.blocked ? .allow(name: row.name) : .block(name: row.name))
                    }
                    .tint(row.blocked ? .green : .red)
                }
            }
            if next != nil {
                Button("Older entries") { load(more: true) }
            }
        }
        .searchable(text: $search, prompt: "Search names")
        .onChange(of: search) { _ in load(more: false) }
        .refreshable { load(more: false) }
        .onAppear { load(more: false) }
        .navigationTitle("Journal")
    }

    /// Reads a page off the main thread: the first one, or the next older.
    private func load(more: Bool) {
        let filter = JournalFilter(nameContains: search.isEmpty ? nil : search, action: nil,
                                   sinceUnixMs: nil, untilUnixMs: nil, app: nil, listId: nil, client: nil)
        let cursor = more ? next : nil
        DispatchQueue.global(qos: .userInitiated).async {
            guard let dir = Shared.storeDirectory, let store = try? StoreReader.open(dir: dir.path) else {
                DispatchQueue.main.async { problem = "The journal appears once the firewall has run." }
                return
            }
            let titles = Dictionary(curatedLists().map { ($0.id, $0.title) }, uniquingKeysWith: { a, _ in a })
            do {
                let page = try store.journal(filter: filter, cursor: cursor, limit: Self.pageSize)
                let shown = page.entries.map { JournalRowText($0, listTitles: titles) }
                DispatchQueue.main.async {
                    problem = nil
                    rows = more ? rows + shown : shown
                    next = page.next
                }
            } catch {
                DispatchQueue.main.async { problem = "The journal could not be read: \(error.localizedDescription)" }
            }
        }
    }
}
