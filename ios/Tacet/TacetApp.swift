// The app: the main screen with the switch and the tunnel's real status,
// pause buttons, the blocked counters and most-blocked names (read from the
// store the extension writes), and the paste box with its report; from it
// the journal, the lists and the DNS screens. The filtering itself runs in
// the packet tunnel extension.

import BackgroundTasks
import NetworkExtension
import SwiftUI

@main
struct TacetApp: App {
    init() {
        ListChecks.register()
    }

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
                Section(header: Text("Journal")) {
                    NavigationLink("What was blocked, when, and why") { JournalScreen(tunnel: tunnel) }
                }
                Section(header: Text("Lists to follow")) {
                    NavigationLink("Well-known lists, and your own by web address") { ListsScreen(tunnel: tunnel) }
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
            ListChecks.checkDue(tunnel: tunnel) // on launch, as the issue asks; then background refresh
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

/// The followed lists' checks: on launch and from iOS background refresh
/// (`BGAppRefreshTask`, whose identifier the Info.plist permits), never a
/// timer. The core says which lists are due and when the next one is.
enum ListChecks {
    static let taskID = "dev.tacet.ios.lists"
    private static let queue = DispatchQueue(label: "tacet-lists")

    static var subscriptions: ListSubscriptions? {
        guard let dir = Shared.storeDirectory else { return nil }
        try? FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        return try? ListSubscriptions(storeDir: dir.path, extraCaPem: nil)
    }

    static func register() {
        BGTaskScheduler.shared.register(forTaskWithIdentifier: taskID, using: nil) { task in
            let work = DispatchWorkItem {
                let changed = (try? subscriptions?.updateDue())?.contains { if case .changed = $0.outcome { return true } else { return false } } ?? false
                if changed { TunnelController.sendToRunning(.reloadLists) }
                schedule()
                task.setTaskCompleted(success: true)
            }
            // iOS may end the task early: the core's downloads are bounded
            // and keep the last good copies; the next run goes on.
            task.expirationHandler = { work.cancel() }
            queue.async(execute: work)
        }
    }

    /// Asks iOS to wake the app when the next list is due.
    static func schedule() {
        guard let next = (try? subscriptions?.nextCheckUnixMs()) ?? nil else {
            BGTaskScheduler.shared.cancel(taskRequestWithIdentifier: taskID)
            return
        }
        let request = BGAppRefreshTaskRequest(identifier: taskID)
        request.earliestBeginDate = Date(timeIntervalSince1970: Double(next) / 1000)
        try? BGTaskScheduler.shared.submit(request)
    }

    /// Checks what is due now (launch), off the main thread.
    static func checkDue(tunnel: TunnelController) {
        queue.async {
            let updates = (try? subscriptions?.updateDue()) ?? nil
            if updates?.contains(where: { if case .changed = $0.outcome { return true } else { return false } }) == true {
                DispatchQueue.main.async { tunnel.send(.reloadLists) }
            }
            schedule()
        }
    }
}

/// The lists to follow, as on Android: the core's catalogue with a switch
/// each, other lists by web address, and each one's status.
struct ListsScreen: View {
    @ObservedObject var tunnel: TunnelController
    @State private var followed: [Subscription] = []
    @State private var url = ""
    @State private var message: String?
    private let catalog = listCatalog()
    private let queue = DispatchQueue(label: "tacet-lists-ui")

    var body: some View {
        Form {
            Section(footer: Text("Fetched over HTTPS and checked once a day; when a download fails or looks wrong, the last good copy keeps blocking.")) {
                ForEach(catalog, id: \.id) { list in
                    let sub = followed.first { $0.url == list.url }
                    Toggle(isOn: Binding(get: { sub != nil }, set: { on in
                        if on { follow(list.url, list.title) } else if let sub { unfollow(sub.id) }
                    })) {
                        VStack(alignment: .leading) {
                            Text(list.title)
                            Text("\(list.blocks) About \(list.approxRules) rules · \(list.licence)").font(.footnote).foregroundColor(.secondary)
                            if let sub { Text(Self.status(sub)).font(.footnote).bold() }
                        }
                    }
                }
            }
            Section(header: Text("By web address")) {
                ForEach(followed.filter { s in !catalog.contains { $0.url == s.url } }, id: \.id) { sub in
                    VStack(alignment: .leading) {
                        Text(sub.title)
                        Text("\(sub.url)\n\(Self.status(sub))").font(.footnote).foregroundColor(.secondary)
                        Button("Remove") { unfollow(sub.id) }
                    }
                }
                TextField("https://… a list's web address", text: $url)
                    .keyboardType(.URL)
                    .autocapitalization(.none)
                    .disableAutocorrection(true)
                Button("Follow this list") { follow(url.trimmingCharacters(in: .whitespaces), nil) }
                Button("Check all now") { run { subs in try subs.update(ids: [], force: false) } }
                if let message { Text(message).font(.footnote) }
            }
        }
        .navigationTitle("Lists")
        .onAppear { reload() }
    }

    static func status(_ s: Subscription) -> String {
        if let damaged = s.damaged { return "Cannot be read (\(damaged)): remove it and subscribe again." }
        var text = s.lastChangedUnixMs == nil ? "Not fetched yet" : "\(s.names) rules"
        if let error = s.lastError { text += "\nKept the last copy: \(error)" }
        return text
    }

    private func reload() {
        queue.async {
            let list = (try? ListChecks.subscriptions?.list()) ?? nil
            DispatchQueue.main.async { followed = list ?? [] }
        }
    }

    private func follow(_ url: String, _ title: String?) {
        guard !url.isEmpty else { return }
        message = "Fetching…"
        run { subs in
            let sub = try subs.add(url: url, title: title)
            return try subs.update(ids: [sub.id], force: false)
        }
    }

    private func unfollow(_ id: String) {
        run { subs in
            _ = try subs.remove(id: id)
            return []
        }
    }

    /// Runs a change off the main thread, then tells the running extension
    /// and schedules the next check.
    private func run(_ change: @escaping (ListSubscriptions) throws -> [ListUpdate]) {
        queue.async {
            var said = "Done"
            if let subs = ListChecks.subscriptions {
                do {
                    let updates = try change(subs)
                    if let kept = updates.first(where: { if case .kept = $0.outcome { return true } else { return false } }),
                       case .kept(let reason) = kept.outcome {
                        said = "\(kept.title): \(reason)"
                    }
                } catch {
                    said = "\(error)"
                }
            }
            ListChecks.schedule()
            DispatchQueue.main.async {
                message = said
                tunnel.send(.reloadLists)
                reload()
            }
        }
    }
}
