// The packet tunnel extension: iOS's counterpart of Android's
// TacetVpnService. It applies the tunnel's network settings (only DNS, and
// what the firewall rejects, goes in), hands the utun descriptor to the
// firewall, follows the firewall's routes and the network's resolvers, and
// pauses when the app asks.
//
// No per-app attribution: iOS does not tell a packet tunnel which app owns
// a connection, so no `AppResolver` is set and the journal has no app.

import Foundation
import Network
import NetworkExtension
import os

final class PacketTunnelProvider: NEPacketTunnelProvider {
    /// All tunnel work runs here, so settings, starts, stops and debounced
    /// changes never race each other (Android's "tacet-tunnel" thread).
    private let queue = DispatchQueue(label: "tacet-tunnel")
    private let log = Logger(subsystem: "dev.tacet", category: "tunnel")

    private var firewall: Firewall?
    /// The utun NetworkExtension opened; it stays the same when settings change.
    private var utun: Int32?
    private var routes: [IPPrefix] = []
    /// The network's own resolvers, as last read (the DNS choice picks the
    /// firewall's upstreams from them, or ignores them for encrypted ones).
    private var upstreams: [String] = []
    private var pauseEnd: DispatchWorkItem?
    private var pathMonitor: NWPathMonitor?
    private var lastPath: String?
    private lazy var routeChanges = Debouncer<[IPPrefix]>(queue: queue, quiet: 2, maxWait: 10) { [weak self] in
        self?.applyRoutes($0)
    }
    private lazy var networkChanges = Debouncer<String>(queue: queue, quiet: 1.5, maxWait: 5) { [weak self] _ in
        self?.refreshUpstreams()
    }

    // MARK: - NEPacketTunnelProvider

    override func startTunnel(options: [String: NSObject]?, completionHandler: @escaping @Sendable (Error?) -> Void) {
        queue.async {
            Shared.defaults?.removeObject(forKey: Shared.lastFailureKey)
            // Read before our DNS settings exist: afterwards libresolv reports our own.
            let network = Upstreams.read()
            guard !network.isEmpty else {
                completionHandler(self.failure("no DNS resolver on this network"))
                return
            }
            guard let upstreams = Self.chosen(network: network) else {
                completionHandler(self.failure(Self.unavailableChoice))
                return
            }
            let firewall: Firewall
            do {
                firewall = try self.makeFirewall(upstreams: upstreams)
            } catch {
                completionHandler(self.failure(Self.reason(error)))
                return
            }
            self.apply(routes: [], claimAllNames: true) { error in
                if let error {
                    completionHandler(self.failure("iOS refused the tunnel settings: \(error.localizedDescription)"))
                    return
                }
                guard let utun = Utun.descriptor() else {
                    completionHandler(self.failure("the tunnel's descriptor was not found"))
                    return
                }
                do {
                    try Self.start(firewall, on: utun)
                } catch {
                    firewall.stop()
                    completionHandler(self.failure(Self.reason(error)))
                    return
                }
                self.firewall = firewall
                self.utun = utun
                self.upstreams = network
                self.reapplyPause()
                self.followNetwork()
                self.log.info("tunnel up: \(upstreams.count) upstreams")
                completionHandler(nil)
            }
        }
    }

    override func stopTunnel(with reason: NEProviderStopReason, completionHandler: @escaping @Sendable () -> Void) {
        queue.async {
            self.teardown()
            completionHandler()
        }
    }

    override func handleAppMessage(_ messageData: Data, completionHandler: (@Sendable (Data?) -> Void)? = nil) {
        queue.async {
            defer { completionHandler?(nil) }
            guard let message = TunnelMessage(data: messageData), let firewall = self.firewall else { return }
            switch message {
            case .pause(let minutes):
                let until = Date().addingTimeInterval(Double(minutes) * 60)
                Shared.defaults?.set(until.timeIntervalSince1970, forKey: Shared.pausedUntilKey)
                firewall.pause(minutes: UInt32(minutes))
                self.schedulePauseEnd(at: until)
            case .resume:
                self.resumeNow()
            case .dnsChanged:
                self.useUpstreams(network: self.upstreams, on: firewall)
            case .reloadLists:
                do {
                    try firewall.reloadLists()
                } catch {
                    self.log.error("followed lists not reloaded: \(Self.reason(error), privacy: .public)")
                }
            case .allow(let name):
                do { try firewall.allowName(name: name) } catch {
                    self.log.error("allow not applied: \(Self.reason(error), privacy: .public)")
                }
            case .block(let name):
                do { try firewall.blockName(name: name) } catch {
                    self.log.error("block not applied: \(Self.reason(error), privacy: .public)")
                }
            case .reloadCustomList:
                do {
                    _ = try firewall.setCustomList(text: Shared.readCustomList())
                } catch {
                    self.log.error("pasted list not applied: \(Self.reason(error), privacy: .public)")
                }
            }
        }
    }

    // MARK: - Firewall

    private func makeFirewall(upstreams: [String]) throws -> Firewall {
        guard let store = Shared.storeDirectory else { throw TunnelFailure(reason: "the App Group container is missing") }
        try FileManager.default.createDirectory(at: store, withIntermediateDirectories: true)
        var config = defaultConfig()
        config.upstreams = upstreams
        config.storeDir = store.path
        config.customList = Shared.readCustomList()
        return try Firewall(config: config, listener: EventRelay { [weak self] event in
            self?.queue.async { self?.onEvent(event) }
        })
    }

    /// The firewall owns and closes the descriptor it is given, and the utun
    /// belongs to NetworkExtension, so it gets a duplicate (as WireGuard's
    /// iOS app does). Starting a running firewall swaps in the new one and
    /// keeps its state.
    private static func start(_ firewall: Firewall, on utun: Int32) throws {
        let own = dup(utun)
        guard own >= 0 else { throw TunnelFailure(reason: "cannot duplicate the tunnel descriptor (errno \(errno))") }
        do {
            try firewall.start(tunFd: own)
        } catch let error as FirewallError {
            // Only a refused descriptor is still ours to close.
            if case .BadFileDescriptor = error { close(own) }
            throw error
        }
    }

    /// Tunnel queue: an event of the firewall.
    private func onEvent(_ event: FirewallEvent) {
        switch event {
        case .routesChanged(let routes):
            guard firewall != nil else { return }
            log.debug("routes changed: \(routes.count) networks")
            routeChanges.submit(LearnedRoutes.parse(routes))
        case .stopped(let error):
            // nil follows our own stop().
            guard let error, firewall != nil else { return }
            log.error("the firewall stopped on its own: \(error, privacy: .public)")
            teardown()
            cancelTunnelWithError(failure(error))
        case .statsChanged:
            break // the app reads the store itself
        case .upstreamUnavailable(_, let reason):
            log.error("encrypted DNS unavailable: \(reason, privacy: .public)")
        case .plainFallback(let reason):
            log.error("falling back to plain DNS: \(reason, privacy: .public)")
        case .upstreamRecovered:
            log.info("encrypted DNS works again")
        }
    }

    private func teardown() {
        routeChanges.cancel()
        networkChanges.cancel()
        pathMonitor?.cancel()
        pathMonitor = nil
        lastPath = nil
        pauseEnd?.cancel()
        pauseEnd = nil
        firewall?.stop() // closes its duplicate of the utun, releases the store
        firewall = nil
        utun = nil
        routes = []
    }

    // MARK: - Settings and routes

    /// Applies the settings; `done` runs on the tunnel queue. On iOS the
    /// utun stays the same when settings change: no restart is needed.
    private func apply(routes: [IPPrefix], claimAllNames: Bool, done: @escaping (Error?) -> Void) {
        setTunnelNetworkSettings(TunnelSpec.settings(learned: routes, claimAllNames: claimAllNames)) { error in
            self.queue.async { done(error) }
        }
    }

    /// Tunnel queue: the settled routes of a burst of `RoutesChanged`.
    private func applyRoutes(_ learned: [IPPrefix]) {
        guard firewall != nil, learned != routes else { return }
        apply(routes: learned, claimAllNames: true) { error in
            if let error {
                self.log.error("routes not applied: \(error.localizedDescription, privacy: .public)")
            } else {
                self.routes = learned
            }
        }
    }

    // MARK: - The network's resolvers

    /// Watches the network; a change of interface or gateway (not our own
    /// settings, which also wake the monitor) re-reads the resolvers.
    private func followNetwork() {
        let monitor = NWPathMonitor()
        monitor.pathUpdateHandler = { [weak self] path in
            guard let self, path.status == .satisfied else { return }
            let key = path.availableInterfaces.filter { $0.type != .other }.map(\.name).joined(separator: ",")
                + "|" + path.gateways.map { "\($0)" }.joined(separator: ",")
            if key != self.lastPath {
                if self.lastPath != nil { self.networkChanges.submit(key) }
                self.lastPath = key
            }
        }
        monitor.start(queue: queue)
        pathMonitor = monitor
    }

    /// Tunnel queue: reads the new network's resolvers (see `Upstreams` for
    /// why the settings change twice) and gives the running firewall the
    /// chosen upstreams for them if they changed (the same utun, the same
    /// compiled rules).
    private func refreshUpstreams() {
        guard firewall != nil else { return }
        apply(routes: routes, claimAllNames: false) { _ in
            guard self.firewall != nil else { return } // stopped meanwhile
            let found = Upstreams.read()
            self.apply(routes: self.routes, claimAllNames: true) { _ in
                // No resolver: the network is going away; keep the old ones.
                guard let firewall = self.firewall, !found.isEmpty, found != self.upstreams else { return }
                if self.useUpstreams(network: found, on: firewall) {
                    self.upstreams = found
                    self.log.info("new network: \(found.count) resolvers")
                }
            }
        }
    }

    /// The upstreams for the saved DNS choice, given the network's resolvers.
    private static func chosen(network: [String]) -> [String]? {
        let known = Dictionary(knownEncryptedResolvers().map { ($0.id, $0.upstreams) }, uniquingKeysWith: { a, _ in a })
        return Shared.dnsChoice.upstreams(network: network, known: known)
    }

    private static let unavailableChoice =
        "the encrypted DNS you chose is not offered any more: choose another under DNS"

    /// Tunnel queue: the running firewall asks the chosen upstreams from now
    /// on (setConfig applies them at once, with the same compiled rules).
    @discardableResult
    private func useUpstreams(network: [String], on firewall: Firewall) -> Bool {
        guard let upstreams = Self.chosen(network: network) else {
            log.error("\(Self.unavailableChoice, privacy: .public)")
            return false
        }
        do {
            var config = firewall.config()
            config.upstreams = upstreams
            _ = try firewall.setConfig(config: config)
            return true
        } catch {
            log.error("upstreams not changed: \(Self.reason(error), privacy: .public)")
            return false
        }
    }

    // MARK: - Pause

    /// The firewall's unit is the minute; the shell ends the pause on time.
    private func schedulePauseEnd(at until: Date) {
        pauseEnd?.cancel()
        let work = DispatchWorkItem { [weak self] in self?.resumeNow() }
        pauseEnd = work
        queue.asyncAfter(deadline: .now() + max(0, until.timeIntervalSinceNow), execute: work)
    }

    private func resumeNow() {
        pauseEnd?.cancel()
        pauseEnd = nil
        Shared.defaults?.removeObject(forKey: Shared.pausedUntilKey)
        firewall?.resume()
    }

    /// A new firewall knows nothing of a pause: give it what is left,
    /// rounded up to the minute (after the extension was restarted mid-pause).
    private func reapplyPause() {
        guard let until = Shared.pausedUntil, let firewall else { return }
        firewall.pause(minutes: UInt32((until.timeIntervalSinceNow / 60).rounded(.up)))
        schedulePauseEnd(at: until)
    }

    // MARK: - Failures

    /// Records why the tunnel cannot run, for the app to show.
    private func failure(_ reason: String) -> TunnelFailure {
        log.error("cannot run: \(reason, privacy: .public)")
        Shared.defaults?.set(reason, forKey: Shared.lastFailureKey)
        return TunnelFailure(reason: reason)
    }

    /// The plain sentence of an error, for the user.
    private static func reason(_ error: Error) -> String {
        switch error {
        case FirewallError.BadFileDescriptor(_, let reason), FirewallError.InvalidConfig(let reason),
             FirewallError.InvalidInput(let reason), FirewallError.UpstreamUnreachable(let reason),
             FirewallError.StoreUnavailable(let reason), FirewallError.Internal(let reason):
            return reason
        case let failure as TunnelFailure:
            return failure.reason
        default:
            return error.localizedDescription
        }
    }
}

/// Why the tunnel cannot run, in a sentence.
struct TunnelFailure: LocalizedError {
    let reason: String
    var errorDescription: String? { reason }
}

/// Hands the firewall's events on; called on tacet-ffi's event thread.
private final class EventRelay: FirewallListener, @unchecked Sendable {
    private let handle: (FirewallEvent) -> Void
    init(_ handle: @escaping (FirewallEvent) -> Void) { self.handle = handle }
    func onEvent(event: FirewallEvent) throws { handle(event) }
}

/// The utun descriptor NetworkExtension opened for this provider: the one
/// whose UTUN_OPT_IFNAME names a utun. Neither constant is visible to Swift
/// on iOS (`<net/if_utun.h>` is not in the iOS SDK), so they are written by
/// value, as WireGuard's iOS app does.
private enum Utun {
    static let sysprotoControl: Int32 = 2 // SYSPROTO_CONTROL, <sys/sys_domain.h>
    static let optIfname: Int32 = 2 // UTUN_OPT_IFNAME, <net/if_utun.h>

    static func descriptor() -> Int32? {
        var name = [CChar](repeating: 0, count: Int(IFNAMSIZ))
        for fd: Int32 in 0...1024 {
            var length = socklen_t(name.count)
            if getsockopt(fd, sysprotoControl, optIfname, &name, &length) == 0,
               String(cString: name).hasPrefix("utun") {
                return fd
            }
        }
        return nil
    }
}

/// Folds a burst of values into one call with the last of them: `quiet`
/// seconds after the last, but no later than `maxWait` after the first
/// (Android's `Debouncer`). Use it on `queue`, where `action` runs.
private final class Debouncer<Value> {
    private let queue: DispatchQueue
    private let quiet: Double
    private let maxWait: Double
    private let action: (Value) -> Void
    private var latest: Value?
    private var burstStart: DispatchTime?
    private var pending: DispatchWorkItem?

    init(queue: DispatchQueue, quiet: Double, maxWait: Double, action: @escaping (Value) -> Void) {
        self.queue = queue
        self.quiet = quiet
        self.maxWait = maxWait
        self.action = action
    }

    func submit(_ value: Value) {
        let now = DispatchTime.now()
        let start = burstStart ?? now
        burstStart = start
        latest = value
        pending?.cancel()
        let work = DispatchWorkItem { [weak self] in self?.fire() }
        pending = work
        queue.asyncAfter(deadline: min(now + quiet, start + maxWait), execute: work)
    }

    func cancel() {
        pending?.cancel()
        pending = nil
        latest = nil
        burstStart = nil
    }

    private func fire() {
        guard let value = latest else { return }
        cancel()
        action(value)
    }
}
