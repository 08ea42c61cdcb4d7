// The app's side of the tunnel: installs the VPN configuration, starts and
// stops the packet tunnel extension, shows its real status, and sends it
// pause and reload messages.

import Foundation
import NetworkExtension

/// Observed by the screen; changed on the main thread only.
final class TunnelController: ObservableObject {
    @Published private(set) var status: NEVPNStatus = .invalid
    /// Why the last attempt failed (the configuration could not be saved,
    /// the tunnel could not start), shown under the switch.
    @Published private(set) var problem: String?

    private var manager: NETunnelProviderManager?
    private var statusObserver: NSObjectProtocol?

    init() {
        statusObserver = NotificationCenter.default.addObserver(
            forName: .NEVPNStatusDidChange, object: nil, queue: .main
        ) { [weak self] _ in
            self?.status = self?.manager?.connection.status ?? .invalid
        }
        NETunnelProviderManager.loadAllFromPreferences { managers, error in
            DispatchQueue.main.async {
                self.manager = managers?.first
                self.status = self.manager?.connection.status ?? .invalid
                if let error { self.problem = error.localizedDescription }
            }
        }
    }

    deinit {
        if let statusObserver { NotificationCenter.default.removeObserver(statusObserver) }
    }

    /// Whether the switch shows on: the tunnel runs or is getting there.
    var isOn: Bool {
        let running: [NEVPNStatus] = [.connecting, .connected, .reasserting]
        return running.contains(status)
    }

    /// Installs (the first time, iOS asks the user) and enables the
    /// configuration, then starts the tunnel.
    func switchOn() {
        problem = nil
        let manager = self.manager ?? NETunnelProviderManager()
        let proto = NETunnelProviderProtocol()
        proto.providerBundleIdentifier = Shared.tunnelBundleID
        proto.serverAddress = "tacet" // no server; shown in Settings → VPN
        manager.protocolConfiguration = proto
        manager.localizedDescription = "tacet"
        manager.isEnabled = true
        // Connect on every network, always: iOS starts the tunnel again
        // after a reboot, and when the extension was stopped (memory, an
        // update), as Android's always-on and boot receiver do.
        manager.onDemandRules = [NEOnDemandRuleConnect()]
        manager.isOnDemandEnabled = true
        manager.saveToPreferences { error in
            if let error {
                DispatchQueue.main.async { self.problem = "The VPN configuration was not saved: \(error.localizedDescription)" }
                return
            }
            // A configuration just saved must be loaded again before it starts.
            manager.loadFromPreferences { _ in
                DispatchQueue.main.async {
                    self.manager = manager
                    do {
                        try manager.connection.startVPNTunnel()
                    } catch {
                        self.problem = "The tunnel did not start: \(error.localizedDescription)"
                    }
                    self.status = manager.connection.status
                }
            }
        }
    }

    /// Turns the on-demand rule off first: with it on, iOS would start the
    /// tunnel again as soon as it stopped.
    func switchOff() {
        guard let manager else { return }
        manager.isOnDemandEnabled = false
        manager.saveToPreferences { error in
            DispatchQueue.main.async {
                if let error { self.problem = "The VPN configuration was not saved: \(error.localizedDescription)" }
                manager.connection.stopVPNTunnel()
            }
        }
    }

    /// Sends `message` to the running extension; nothing happens when it does not run.
    func send(_ message: TunnelMessage) {
        guard status == .connected, let session = manager?.connection as? NETunnelProviderSession else { return }
        do {
            try session.sendProviderMessage(message.data) { _ in }
        } catch {
            problem = "The tunnel did not get the message: \(error.localizedDescription)"
        }
    }

    /// Sends `message` to the running extension from where no controller
    /// exists (a background refresh): loads the configuration first.
    static func sendToRunning(_ message: TunnelMessage) {
        NETunnelProviderManager.loadAllFromPreferences { managers, _ in
            guard let session = managers?.first?.connection as? NETunnelProviderSession,
                  session.status == .connected else { return }
            try? session.sendProviderMessage(message.data) { _ in }
        }
    }

    /// The status in words, as Android's switch describes its state.
    func describe(pausedUntil: Date?, now: Date = Date()) -> String {
        switch status {
        case .connected:
            guard let until = pausedUntil else { return "On: blocking" }
            return "Paused: everything allowed for \(Self.remaining(until.timeIntervalSince(now)))"
        case .connecting: return "Starting…"
        case .reasserting: return "Reconnecting…"
        case .disconnecting: return "Stopping…"
        case .disconnected, .invalid:
            if let failure = Shared.defaults?.string(forKey: Shared.lastFailureKey) { return "Stopped: \(failure)" }
            return "Off: nothing is blocked"
        @unknown default: return "Off: nothing is blocked"
        }
    }

    /// `m:ss` (or `h:mm:ss`), rounded up to the second.
    static func remaining(_ seconds: TimeInterval) -> String {
        let total = Int(max(0, seconds).rounded(.up))
        let (h, m, s) = (total / 3600, total % 3600 / 60, total % 60)
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, s) : String(format: "%d:%02d", m, s)
    }
}
