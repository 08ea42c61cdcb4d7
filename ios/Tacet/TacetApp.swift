// The app: one screen with the switch and the tunnel's real status, pause
// buttons, the blocked counters and most-blocked names (read from the store
// the extension writes), and the paste box with its report. The filtering
// itself runs in the packet tunnel extension.

import NetworkExtension
import SwiftUI

@main
struct TacetApp: App {
    var body: some Scene {
        WindowGroup { MainScreen() }
    }
}

struct MainScreen: View {
    @StateObject private var tunnel = TunnelController()
    @StateObject private var counters = Counters()
    @State private var pasted = ""
    @State private var report: ListReportText?
    @State private var now = Date()
    // While the screen shows: counters, and a pause's time left.
    private let tick = Timer.publish(every: 1, on: .main, in: .common).autoconnect()

    var body: some View {
        NavigationView {
            Form {
                Section {
                    Toggle("Firewall", isOn: Binding(
                        get: { tunnel.isOn },
                        set: { $0 ? tunnel.switchOn() : tunnel.switchOff() }
                    ))
                    Text(tunnel.describe(pausedUntil: Shared.pausedUntil, now: now)).bold()
                    if let problem = tunnel.problem { Text(problem).foregroundColor(.red) }
                    pauseButtons
                }
                Section(header: Text("Blocked attempts")) {
                    Text(counters.line).font(.title3).bold()
                }
                Section(header: Text("Most blocked")) {
                    Text(counters.topNames)
                }
                Section(header: Text("DNS")) {
                    NavigationLink("Ask: \(DnsScreen.summary(Shared.dnsChoice))") { DnsScreen(tunnel: tunnel) }
                }
                Section(header: Text("Your list"),
                        footer: Text("Paste a hosts file, domains, or adblock rules. Lines that cannot be used are listed below, with why.")) {
                    TextEditor(text: $pasted)
                        .font(.system(.footnote, design: .monospaced))
                        .frame(minHeight: 120)
                        .disableAutocorrection(true)
                    Button("Use this list") { useList() }
                    if let report { ReportView(report: report) }
                }
            }
            .navigationTitle("tacet")
        }
        .onAppear {
            counters.refresh()
            pasted = Shared.readCustomList()
            preview(pasted)
        }
        .onReceive(tick) { date in
            now = date
            counters.refresh()
        }
    }

    @ViewBuilder private var pauseButtons: some View {
        if tunnel.status == .connected {
            if Shared.pausedUntil != nil {
                Button("Resume now") { tunnel.send(.resume) }
            } else {
                HStack {
                    ForEach(TunnelMessage.pauseChoices, id: \.self) { minutes in
                        Button("Pause \(minutes) min") { tunnel.send(.pause(minutes: minutes)) }
                            .buttonStyle(.bordered)
                    }
                }
            }
        }
    }

    /// Saves the paste for the extension (read at every start) and tells a
    /// running one; the report comes from the same parser the firewall uses.
    private func useList() {
        let text = pasted
        DispatchQueue.global(qos: .userInitiated).async {
            if let file = Shared.customListFile {
                try? text.write(to: file, atomically: true, encoding: .utf8)
            }
            let shown = ListReportText(parseList(text: text))
            DispatchQueue.main.async {
                report = shown
                tunnel.send(.reloadCustomList)
            }
        }
    }

    /// The report of `text`, without using it.
    private func preview(_ text: String) {
        DispatchQueue.global(qos: .userInitiated).async {
            let shown = ListReportText(parseList(text: text))
            DispatchQueue.main.async { report = shown }
        }
    }
}

private struct ReportView: View {
    let report: ListReportText

    var body: some View {
        VStack(alignment: .leading, spacing: 4) {
            Text(report.summary).bold()
            ForEach(report.used, id: \.self) { Text("✓ \($0)").font(.footnote) }
            ForEach(report.unused.indices, id: \.self) { index in
                Text(report.unused[index].heading).font(.subheadline).bold()
                ForEach(report.unused[index].examples, id: \.self) { Text("   \($0)").font(.footnote) }
            }
        }
    }
}

/// Today's and all-time blocked attempts and the most-blocked names, read
/// from the store the extension writes (`StoreReader` takes no lock).
final class Counters: ObservableObject {
    @Published private(set) var line = "0 today · 0 in total"
    @Published private(set) var topNames = "Nothing yet."
    private let io = DispatchQueue(label: "tacet-ui-io")

    func refresh() {
        io.async {
            let (line, top) = Self.read()
            DispatchQueue.main.async {
                self.line = line
                self.topNames = top
            }
        }
    }

    private static func read() -> (String, String) {
        guard let dir = Shared.storeDirectory, let store = try? StoreReader.open(dir: dir.path) else {
            return (text(today: 0, total: 0), "Nothing yet.") // no run wrote it yet
        }
        do {
            let nowMs = UInt64(Date().timeIntervalSince1970 * 1000)
            let offset = Int32(TimeZone.current.secondsFromGMT() / 60)
            let today = try store.blockedToday(nowUnixMs: nowMs, utcOffsetMinutes: offset)
            let all = try store.counters(topNames: 5)
            let top = all.topNames.map { "\($0.name)  \($0.count)" }.joined(separator: "\n")
            return (text(today: today, total: all.blockedTotal), top.isEmpty ? "Nothing yet." : top)
        } catch {
            return ("Counters unavailable: \(error.localizedDescription)", "")
        }
    }

    private static func text(today: UInt64, total: UInt64) -> String {
        let format: (UInt64) -> String = { NumberFormatter.localizedString(from: NSNumber(value: $0), number: .decimal) }
        return "\(format(today)) today · \(format(total)) in total"
    }
}

/// Where the names let through are asked, as Android's DNS screen: the
/// network's DNS, one of the core's known encrypted resolvers, or the
/// user's own servers, each line checked by the core.
struct DnsScreen: View {
    @ObservedObject var tunnel: TunnelController
    @State private var choice = Shared.dnsChoice
    @State private var typed = ""
    @State private var problem: String?
    private let known = knownEncryptedResolvers()

    static func summary(_ choice: DnsChoice) -> String {
        switch choice {
        case .network: return "your network's, not encrypted"
        case .known(let id): return (knownEncryptedResolvers().first { $0.id == id }?.name ?? id) + ", encrypted"
        case .custom: return "your own servers"
        }
    }

    var body: some View {
        Form {
            Section(footer: Text("Plain DNS can be read and changed by the network; encrypted DNS only by the server you choose.")) {
                row("Your network's DNS", "Not encrypted.", .network)
                ForEach(known, id: \.id) { r in row(r.name, "Encrypted. \(r.description)", .known(id: r.id)) }
            }
            Section(header: Text("Your own servers"),
                    footer: Text("One a line: tls://ADDRESS#NAME or https://ADDRESS/dns-query#NAME. NAME is what the certificate must be for; it is never looked up.")) {
                TextEditor(text: $typed)
                    .font(.system(.footnote, design: .monospaced))
                    .frame(minHeight: 80)
                    .disableAutocorrection(true)
                Button("Check and use these") { useTyped() }
                if let problem { Text(problem).foregroundColor(.red).font(.footnote) }
            }
        }
        .navigationTitle("DNS")
        .onAppear { if case .custom(let entries) = choice { typed = entries.joined(separator: "\n") } }
    }

    private func row(_ title: String, _ detail: String, _ value: DnsChoice) -> some View {
        Button { save(value) } label: {
            HStack {
                VStack(alignment: .leading) {
                    Text(title)
                    Text(detail).font(.footnote).foregroundColor(.secondary)
                }
                Spacer()
                if choice == value { Image(systemName: "checkmark") }
            }
        }
    }

    /// Every typed line must parse, and plain DNS may not sit beside
    /// encrypted servers (strict mode refuses it), as on Android.
    private func useTyped() {
        let lines = typed.split(whereSeparator: \.isNewline).map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let entries = parseUpstreams(texts: lines)
        if lines.isEmpty || lines.count > DnsChoice.maxEntries {
            problem = "Type 1 to \(DnsChoice.maxEntries) servers, one a line."
        } else if let bad = entries.firstIndex(where: { $0.error != nil || $0.kind == nil }) {
            problem = "Line \(bad + 1), \(entries[bad].text): \(entries[bad].error ?? "not a DNS server")"
        } else if entries.contains(where: { $0.kind == .plain }) && entries.contains(where: { $0.kind != .plain }) {
            problem = "Plain DNS beside encrypted servers would send names in the clear. Keep only one kind."
        } else {
            problem = nil
            save(.custom(lines))
        }
    }

    private func save(_ value: DnsChoice) {
        choice = value
        Shared.dnsChoice = value
        tunnel.send(.dnsChanged)
    }
}
