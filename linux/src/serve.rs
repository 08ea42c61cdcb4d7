//! `tacet serve`: the firewall as a DNS resolver for a home network, for
//! the devices that cannot run an app (a camera, a vacuum). Same engine,
//! lists, store and journal as `tacet run`; the device that asked (its
//! address, and its name from `--device`, `--devices` or a DHCP leases
//! file, [`crate::leases`]) is the "app" of each journal entry, and a
//! device can be held to the names it needs (`--only`).

use std::collections::HashMap;
use std::io::Write;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc;
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use tacet_engine::{DevicePolicies, DevicePolicy};
use tacet_runtime::{Firewall, ServeConfig, ServeLimits};

use crate::leases::read_leases;
use crate::run::{FirewallArgs, Session};

/// How often the leases file is looked at for a change.
const LEASES_POLL: Duration = Duration::from_secs(2);

/// What the leases watcher sends the main loop when names changed (beside
/// the signals' numbers).
pub(crate) const DEVICES_CHANGED: i32 = -1;

/// The most TCP connections `--tcp-max-connections` may ask for.
const MAX_TCP_CONNECTIONS: usize = 768;

/// Arguments of `tacet serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeArgs {
    /// On the gateway the devices route through: reject their connections
    /// to the addresses blocked names resolved to (and to address and CIDR
    /// rules) in the nftables table `inet TABLE` (default `tacet`),
    /// created at start and deleted at exit: TCP with a reset, the rest
    /// with ICMP "administratively prohibited". Needs `nft` and
    /// CAP_NET_ADMIN.
    #[arg(long, value_name = "TABLE", num_args = 0..=1, default_missing_value = "tacet")]
    pub nftables: Option<String>,
    /// An address to answer DNS on, UDP and TCP: IP or IP:PORT (port 53
    /// by default); repeatable, IPv4 and IPv6 (`--listen 192.168.1.2
    /// --listen [::]:53`). An IPv6 address takes IPv6 only.
    #[arg(long = "listen", value_name = "ADDR", required = true, value_parser = parse_listen)]
    pub listen: Vec<SocketAddr>,
    /// A device's name: NAME=IP (repeatable). The journal names the device
    /// that asked; these win over the leases file.
    #[arg(long = "device", value_name = "NAME=IP", value_parser = parse_device)]
    pub devices: Vec<(String, IpAddr)>,
    /// A file of devices, re-read on SIGHUP: one a line, `NAME ADDRESS
    /// [ADDRESS...] [only=NAME,NAME,...]` (`#` starts a comment). Its
    /// names and policies join those of --device and --only.
    #[arg(long = "devices", value_name = "FILE")]
    pub devices_file: Option<PathBuf>,
    /// A DHCP leases file: dnsmasq's (`/var/lib/misc/dnsmasq.leases`), ISC
    /// dhcpd's (`dhcpd.leases`) or Kea's memfile CSV: devices are named by
    /// the hostnames they gave DHCP. Re-read when it changes.
    #[arg(long, value_name = "FILE")]
    pub leases: Option<PathBuf>,
    /// Hold a device to the names it needs: DEVICE=NAME,NAME,... where
    /// DEVICE is a device's name or address (repeatable). It gets those
    /// names and their subdomains, everything else it asks is blocked (as
    /// --block-mode says) and journaled as "not_for_device". The lists
    /// still apply to the names given.
    #[arg(long = "only", value_name = "DEVICE=NAMES", value_parser = parse_only)]
    pub only: Vec<(String, Vec<String>)>,
    /// The most TCP connections open at once (at most 768).
    #[arg(long, value_name = "N", default_value_t = ServeLimits::default().max_connections)]
    pub tcp_max_connections: usize,
    /// The most TCP connections open at once from one address.
    #[arg(long, value_name = "N", default_value_t = ServeLimits::default().max_connections_per_client)]
    pub tcp_max_per_client: usize,
    /// A TCP connection without a whole query or answer for this long is
    /// closed (1 s to a day).
    #[arg(long, value_name = "SECS", default_value_t = ServeLimits::default().idle.as_secs())]
    pub tcp_idle_secs: u64,
    /// The most queries of one device waiting for the upstream at once
    /// (of --max-pending in all); past it, its queries get SERVFAIL.
    #[arg(long, value_name = "N", default_value_t = tacet_engine::Config::default().max_pending_per_client)]
    pub max_pending_per_client: usize,
    #[command(flatten)]
    pub firewall: FirewallArgs,
}

fn parse_listen(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let ip = text.trim_start_matches('[').trim_end_matches(']');
    ip.parse::<IpAddr>()
        .map(|ip| SocketAddr::new(ip, 53))
        .map_err(|_| format!("`{text}` is not an address: give IP or IP:PORT"))
}

fn parse_device(text: &str) -> Result<(String, IpAddr), String> {
    let (name, ip) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: give NAME=IP"))?;
    let name = device_name(name).ok_or_else(|| format!("`{name}` is not a device name"))?;
    let ip = ip
        .trim()
        .parse()
        .map_err(|_| format!("`{ip}` is not an IP address"))?;
    Ok((name, ip))
}

fn parse_only(text: &str) -> Result<(String, Vec<String>), String> {
    let (device, names) = text
        .split_once('=')
        .ok_or_else(|| format!("`{text}`: give DEVICE=NAME,NAME,..."))?;
    let device = device.trim().to_owned();
    if device.is_empty() {
        return Err(format!("`{text}`: no device"));
    }
    let names: Vec<String> = names
        .split(',')
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .map(str::to_owned)
        .collect();
    // Checked here, so a typo fails at start rather than blocking all.
    DevicePolicy::only(&names).map_err(|e| format!("--only {device}: {e}"))?;
    Ok((device, names))
}

/// A device name as the journal keeps it: 1 to 63 letters, digits, `-`
/// or `_` (a DHCP hostname's label), lowercase; `None` for anything else.
pub(crate) fn device_name(text: &str) -> Option<String> {
    let name = text.trim();
    let ok = (1..=63).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    ok.then(|| name.to_ascii_lowercase())
}

/// The most bytes read of a devices file.
pub const MAX_DEVICES_FILE_BYTES: u64 = 1024 * 1024;

/// What a devices file says.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DevicesFile {
    /// Names by address.
    pub names: Vec<(String, IpAddr)>,
    /// Policies by device name.
    pub only: Vec<(String, Vec<String>)>,
}

/// Reads a devices file: `NAME ADDRESS [ADDRESS...] [only=NAME,...]` a
/// line. It is the user's own configuration, so a line that cannot be
/// used is an error with its number, not a skip: a typo must not leave a
/// device unheld.
pub fn parse_devices(text: &str) -> Result<DevicesFile, String> {
    let mut file = DevicesFile::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or_default().trim();
        let mut words = line.split_ascii_whitespace();
        let Some(name) = words.next() else { continue };
        let at = |why: String| format!("line {}: {why}", i + 1);
        let name = device_name(name).ok_or_else(|| at(format!("`{name}` is not a device name")))?;
        let mut addresses = 0;
        for word in words {
            if let Some(names) = word.strip_prefix("only=") {
                let (_, names) = parse_only(&format!("{name}={names}")).map_err(at)?;
                file.only.push((name.clone(), names));
            } else {
                let ip = word
                    .parse()
                    .map_err(|_| at(format!("`{word}` is not an IP address")))?;
                file.names.push((name.clone(), ip));
                addresses += 1;
            }
        }
        if addresses == 0 {
            return Err(at(format!("{name} has no address")));
        }
        if file.names.len() > tacet_engine::device::MAX_DEVICES {
            return Err(at("too many devices".to_owned()));
        }
    }
    Ok(file)
}

fn read_devices(path: &Path) -> Result<DevicesFile, String> {
    use std::io::Read;
    let fail = |e: std::io::Error| format!("cannot read {}: {e}", path.display());
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(fail)?
        .take(MAX_DEVICES_FILE_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(fail)?;
    if text.len() as u64 > MAX_DEVICES_FILE_BYTES {
        return Err(format!(
            "{}: larger than {MAX_DEVICES_FILE_BYTES} bytes",
            path.display()
        ));
    }
    parse_devices(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// The names of the network's devices, by address: the static ones, then
/// the DHCP leases'.
#[derive(Debug, Default)]
pub struct DeviceNames {
    fixed: HashMap<IpAddr, String>,
    leased: HashMap<IpAddr, String>,
}

impl DeviceNames {
    /// The name of the device at `addr`, if known. An IPv4 address mapped
    /// into IPv6 is the IPv4 device.
    pub fn name_of(&self, addr: IpAddr) -> Option<&str> {
        let addr = match addr {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(addr, IpAddr::V4),
            v4 => v4,
        };
        self.fixed
            .get(&addr)
            .or_else(|| self.leased.get(&addr))
            .map(String::as_str)
    }

    /// Every address going by `name`.
    fn addresses_of(&self, name: &str) -> Vec<IpAddr> {
        let mut found: Vec<IpAddr> = self
            .fixed
            .iter()
            .chain(
                self.leased
                    .iter()
                    .filter(|(a, _)| !self.fixed.contains_key(a)),
            )
            .filter(|(_, n)| n.as_str() == name)
            .map(|(a, _)| *a)
            .collect();
        found.sort();
        found
    }
}

/// The policies of `--only`, for the addresses the devices have now.
/// A device given by a name no address goes by holds no one yet. `None`
/// (and a message) when they cannot be used, over the bound of addresses
/// say: the caller keeps those in force, so no held device is let go.
fn policies(only: &[(String, Vec<String>)], names: &DeviceNames) -> Option<DevicePolicies> {
    let mut by_addr = HashMap::new();
    for (device, allowed) in only {
        let Ok(policy) = DevicePolicy::only(allowed) else {
            continue; // checked when the arguments were parsed
        };
        let addrs = match device.parse::<IpAddr>() {
            Ok(ip) => vec![ip],
            Err(_) => names.addresses_of(&device.to_ascii_lowercase()),
        };
        for addr in addrs {
            by_addr.insert(addr, policy.clone());
        }
    }
    DevicePolicies::new(by_addr)
        .map_err(|e| eprintln!("tacet: device policies not changed: {e}"))
        .ok()
}

/// Starts the thread that re-reads the leases file when it changes and
/// tells the main loop ([`DEVICES_CHANGED`]).
fn watch_leases(path: PathBuf, names: Arc<RwLock<DeviceNames>>, wake: mpsc::Sender<i32>) {
    let stamp = |p: &Path| {
        std::fs::metadata(p)
            .ok()
            .map(|m| (m.modified().unwrap_or(SystemTime::UNIX_EPOCH), m.len()))
    };
    let mut seen = stamp(&path);
    let spawned = std::thread::Builder::new()
        .name("tacet-leases".into())
        .spawn(move || loop {
            std::thread::sleep(LEASES_POLL);
            let now = stamp(&path);
            if now == seen {
                continue;
            }
            seen = now;
            load_leases(&path, &names);
            if wake.send(DEVICES_CHANGED).is_err() {
                return;
            }
        });
    if let Err(e) = spawned {
        eprintln!("tacet: the leases file will not be re-read: {e}");
    }
}

/// Reads the leases into `names`; a file that cannot be read keeps the
/// names known.
fn load_leases(path: &Path, names: &RwLock<DeviceNames>) {
    match read_leases(path) {
        Ok(leases) => {
            if leases.bad_lines > 0 || leases.left_out > 0 {
                log::warn!(
                    "leases file: {} unusable lines, {} left out past the bounds",
                    leases.bad_lines,
                    leases.left_out
                );
            }
            log::info!("leases file: {} named devices", leases.names.len());
            if let Ok(mut names) = names.write() {
                names.leased = leases.names;
            }
        }
        Err(e) => eprintln!("tacet: cannot read the leases file {}: {e}", path.display()),
    }
}

/// `tacet serve`.
pub fn serve(args: ServeArgs, log_queries: bool) -> Result<ExitCode, String> {
    if args.listen.len() > tacet_runtime::serve::MAX_LISTEN {
        return Err(format!(
            "at most {} --listen addresses",
            tacet_runtime::serve::MAX_LISTEN
        ));
    }
    let file = match &args.devices_file {
        Some(path) => read_devices(path)?,
        None => DevicesFile::default(),
    };
    let fixed = |file: &DevicesFile| -> HashMap<IpAddr, String> {
        // --device wins over the file.
        file.names
            .iter()
            .chain(&args.devices)
            .map(|(n, a)| (*a, n.clone()))
            .collect()
    };
    let names = Arc::new(RwLock::new(DeviceNames {
        fixed: fixed(&file),
        leased: HashMap::new(),
    }));
    let only = RwLock::new([args.only.clone(), file.only].concat());
    if let Some(path) = &args.leases {
        load_leases(path, &names);
    }
    let ours: Vec<IpAddr> = args.listen.iter().map(SocketAddr::ip).collect();
    let upstreams = crate::run::upstreams(&args.firewall, &ours)?;
    let engine = tacet_engine::Config {
        max_pending_per_client: args.max_pending_per_client.max(1),
        ..args.firewall.engine_config(log_queries)
    };
    let session = Session::prepare(&args.firewall, engine, &upstreams)?;
    let serve = ServeConfig {
        listen: args.listen.clone(),
        limits: ServeLimits {
            // Bounded whatever is asked: each connection is a descriptor
            // (the service's soft limit is 1024) and a slot made at start;
            // an idle time past a day would overflow the clock.
            max_connections: args.tcp_max_connections.clamp(1, MAX_TCP_CONNECTIONS),
            max_connections_per_client: args.tcp_max_per_client.clamp(1, MAX_TCP_CONNECTIONS),
            idle: Duration::from_secs(args.tcp_idle_secs.clamp(1, 86_400)),
            ..ServeLimits::default()
        },
    };
    // Before the firewall starts, so its first announcement has a table;
    // dropped after it stops, which deletes the table.
    let nftables = match &args.nftables {
        Some(table) => Some(crate::nftables::Nftables::install(table)?),
        None => None,
    };
    let observer = Box::new(crate::run::LogEvents {
        stopped: session.wake.clone(),
        routes: nftables.as_ref().map(crate::nftables::Nftables::sender),
        devices: Some(Arc::clone(&names)),
    });
    let firewall = Firewall::serve(
        serve,
        session.config.clone(),
        Arc::clone(&session.rules),
        observer,
    )
    .map_err(|e| e.to_string())?;
    let apply = |firewall: &Firewall| {
        if let (Ok(names), Ok(only)) = (names.read(), only.read()) {
            if let Some(policies) = policies(&only, &names) {
                firewall.set_device_policies(policies);
            }
        }
    };
    apply(&firewall);
    if let Some(path) = &args.leases {
        watch_leases(path.clone(), Arc::clone(&names), session.wake.clone());
    }
    let listening: Vec<String> = firewall
        .listening()
        .iter()
        .map(ToString::to_string)
        .collect();
    let upstream_list: Vec<String> = upstreams.iter().map(ToString::to_string).collect();
    let _ = writeln!(
        std::io::stdout().lock(),
        "tacet: ready: serving DNS on {} (upstream {})",
        listening.join(", "),
        upstream_list.join(", ")
    );
    // SIGHUP re-reads the lists, the devices file and the leases; a
    // change of the leases file re-applies the device policies alone.
    let leases = args.leases.clone();
    let devices_file = args.devices_file.clone();
    session.until_stopped(&args.firewall, firewall, |firewall| {
        if let Some(path) = &devices_file {
            match read_devices(path) {
                Ok(file) => {
                    if let (Ok(mut names), Ok(mut only)) = (names.write(), only.write()) {
                        names.fixed = fixed(&file);
                        *only = [args.only.clone(), file.only].concat();
                    }
                }
                Err(e) => eprintln!("tacet: kept the devices as they were: {e}"),
            }
        }
        if let Some(path) = &leases {
            load_leases(path, &names);
        }
        apply(firewall);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn static_names_win_and_policies_follow_the_names() {
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let names = DeviceNames {
            fixed: HashMap::from([(ip("192.168.1.50"), "camera".to_owned())]),
            leased: HashMap::from([
                (ip("192.168.1.50"), "foscam".to_owned()),
                (ip("192.168.1.60"), "vacuum".to_owned()),
            ]),
        };
        assert_eq!(names.name_of(ip("192.168.1.50")), Some("camera"));
        assert_eq!(names.name_of(ip("::ffff:192.168.1.60")), Some("vacuum"));
        assert_eq!(names.name_of(ip("192.168.1.61")), None);
        let only = vec![
            ("Vacuum".to_owned(), vec!["ot.io.mi.com".to_owned()]),
            ("192.168.1.99".to_owned(), vec!["pool.ntp.org".to_owned()]),
            ("nobody".to_owned(), vec!["x.example".to_owned()]),
        ];
        let policies = policies(&only, &names).unwrap();
        assert_eq!(policies.len(), 2);
        assert!(policies
            .of(ip("192.168.1.60"))
            .unwrap()
            .allows("ot.io.mi.com"));
        assert!(policies.of(ip("192.168.1.99")).is_some());
        assert!(policies.of(ip("192.168.1.50")).is_none());
    }

    #[test]
    fn the_shipped_service_settings_parse() {
        use clap::Parser;
        let default = include_str!("../../dist/package/tacet-serve.default");
        let args = default
            .lines()
            .find_map(|l| l.strip_prefix("TACET_SERVE_ARGS="))
            .unwrap();
        let unit = include_str!("../../dist/package/tacet-serve.service");
        let exec = unit
            .lines()
            .find_map(|l| l.strip_prefix("ExecStart="))
            .unwrap()
            .replace("$TACET_SERVE_ARGS", args);
        let cli = crate::Cli::try_parse_from(exec.split_whitespace()).unwrap();
        let crate::Command::Serve(serve) = cli.command else {
            panic!("not serve: {exec}")
        };
        assert_eq!(serve.listen.len(), 2);
        assert_eq!(serve.only.len(), 1);
        assert_eq!(serve.firewall.store, PathBuf::from("/var/lib/tacet"));
    }

    #[test]
    fn a_devices_file_names_devices_and_holds_them() {
        let file = parse_devices(
            "# the house\n\
             camera 192.168.1.50\n\
             Vacuum 192.168.1.60 fd00::60 only=ot.io.mi.com,pool.ntp.org  # Xiaomi\n\
             \n",
        )
        .unwrap();
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        assert_eq!(
            file.names,
            [
                ("camera".to_owned(), ip("192.168.1.50")),
                ("vacuum".to_owned(), ip("192.168.1.60")),
                ("vacuum".to_owned(), ip("fd00::60")),
            ]
        );
        assert_eq!(file.only.len(), 1);
        for (bad, why) in [
            ("camera\n", "line 1: camera has no address"),
            (
                "ok 10.0.0.1\ncam era 10.0.0.2\n",
                "line 2: `era` is not an IP address",
            ),
            (
                "cam 10.0.0.300\n",
                "line 1: `10.0.0.300` is not an IP address",
            ),
            ("cam;x 10.0.0.3\n", "line 1: `cam;x` is not a device name"),
        ] {
            assert_eq!(parse_devices(bad).unwrap_err(), why);
        }
        assert!(parse_devices("v 10.0.0.1 only=bad..name\n")
            .unwrap_err()
            .starts_with("line 1: --only v: `bad..name` is not a name"));
    }

    #[test]
    fn arguments_parse() {
        assert_eq!(
            parse_listen("192.168.1.2").unwrap().to_string(),
            "192.168.1.2:53"
        );
        assert_eq!(parse_listen("[::]:5353").unwrap().to_string(), "[::]:5353");
        assert_eq!(
            parse_listen("[fd00::1]").unwrap().to_string(),
            "[fd00::1]:53"
        );
        assert!(parse_listen("lan").is_err());
        assert_eq!(
            parse_device("Camera=192.168.1.50").unwrap(),
            ("camera".to_owned(), "192.168.1.50".parse().unwrap())
        );
        assert!(parse_device("cam era=192.168.1.50").is_err());
        assert!(parse_device("camera").is_err());
        let (device, names) =
            parse_only("vacuum=ot.io.mi.com, ott.io.mi.com,pool.ntp.org").unwrap();
        assert_eq!(device, "vacuum");
        assert_eq!(names.len(), 3);
        assert!(parse_only("vacuum=bad..name").is_err());
    }
}
