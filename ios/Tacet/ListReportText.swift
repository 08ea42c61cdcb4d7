// A pasted list's report as the paste box shows it: Android's
// present/ListReportText.kt, line for line.

import Foundation

struct ListReportText {
    /// "1,204 rules from 1,210 lines · 4 lines not used · 2 blank or comments".
    let summary: String
    /// What was used, by kind ("1,200 domains").
    let used: [String]
    /// The unused lines by why, biggest group first: a heading and a few examples.
    let unused: [(heading: String, examples: [String])]

    static let examplesPerGroup = 3
    static let maxGroups = 6

    init(_ report: ParseReport) {
        guard report.lines > 0 else {
            self.init(summary: "Nothing pasted yet.", used: [], unused: [])
            return
        }
        var summary = ["\(n(report.rules)) \(plural(report.rules, "rule")) from \(n(report.lines)) \(plural(report.lines, "line"))"]
        summary.append(report.unusedCount == 0 ? "every line used" : "\(n(report.unusedCount)) \(plural(report.unusedCount, "line")) not used")
        if report.ignored > 0 { summary.append("\(n(report.ignored)) blank or comments") }

        let kinds: [(UInt64, String)] = [
            (report.domains, "domain"), (report.hosts, "hosts line"), (report.adblock, "adblock rule"),
            (report.adblockAllow, "adblock allow rule"), (report.wildcards, "wildcard"),
            (report.addresses, "address or range"), (report.badfilters, "$badfilter rule"),
        ]
        let used = kinds.filter { $0.0 > 0 }.map { "\(n($0.0)) \(plural($0.0, $0.1))" }

        // The examples the core kept (at most 1,000 lines), by kind; the
        // counts come from `problems`, which goes on past that cap.
        let byKind = Dictionary(grouping: report.unused, by: \.kind)
        var groups = Set(byKind.keys).union(report.problems.keys).map { kind -> (kind: String, count: UInt64, examples: [String]) in
            let examples = byKind[kind] ?? []
            let count = max(report.problems[kind] ?? 0, UInt64(examples.count))
            return (kind, count, examples.prefix(Self.examplesPerGroup).map { "line \($0.line): \($0.excerpt) (\($0.reason))" })
        }
        groups.sort { $0.count != $1.count ? $0.count > $1.count : $0.kind < $1.kind }
        if groups.count > Self.maxGroups {
            let rest = groups[(Self.maxGroups - 1)...]
            let folded: (kind: String, count: UInt64, examples: [String]) =
                ("\(rest.count) other kinds", rest.reduce(0) { $0 + $1.count }, [])
            groups = Array(groups.prefix(Self.maxGroups - 1)) + [folded]
        }
        let unused = groups.map { group -> (heading: String, examples: [String]) in
            let more = group.count - UInt64(group.examples.count)
            return ("✗ \(n(group.count)) not used: \(group.kind)", group.examples + (more > 0 ? ["and \(n(more)) more"] : []))
        }
        self.init(summary: summary.joined(separator: " · "), used: used, unused: unused)
    }

    private init(summary: String, used: [String], unused: [(heading: String, examples: [String])]) {
        self.summary = summary
        self.used = used
        self.unused = unused
    }
}

private func n(_ value: UInt64) -> String {
    NumberFormatter.localizedString(from: NSNumber(value: value), number: .decimal)
}

private func plural(_ count: UInt64, _ word: String) -> String {
    count == 1 ? word : word.hasSuffix("s") ? word + "es" : word + "s"
}
