//! `tacet demo`: a phone, a firewall and an upstream resolver in throwaway
//! network namespaces, and the "phoning home" of a Xiaomi fitness app, a
//! Foscam camera and a Xiaomi vacuum replayed through them.
//!
//! Everything runs in this one process: threads enter the namespaces with
//! setns(2), so the TUN, the firewall's upstream sockets and the demo's
//! clients live in the "phone" namespace and the stand-in resolver in the
//! "net" one. Nothing leaves the namespaces; no internet is needed. Both
//! namespaces are deleted on exit, Ctrl-C included.

use crate::out::outln;
use std::net::{Ipv4Addr, SocketAddr, UdpSocket};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use simple_dns::rdata::RData;
use simple_dns::{Name, Packet, PacketFlag, Question, CLASS, QCLASS, QTYPE, TYPE};
use tacet_engine::{BlockReason, Config, Event, RuleSet, DEFAULT_RESOLVER_V4};
use tacet_runtime::{Firewall, Observer, RuntimeConfig, Tun};

use crate::netns::Netns;

/// Arguments of `tacet demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Pause between queries, in milliseconds, to watch the counter climb.
    #[arg(long, value_name = "MS", default_value_t = 150)]
    pub delay_ms: u64,
}

const UPSTREAM: Ipv4Addr = Ipv4Addr::new(10, 53, 0, 1);
const PHONE_LINK: &str = "10.53.0.2/24";
const UPSTREAM_LINK: &str = "10.53.0.1/24";
const TUN_NAME: &str = "tacet0";

/// Who phones home, and where: the traffic the demo replays.
const SCRIPT: &[(&str, &[(&str, TYPE)])] = &[
    (
        "Mi Fit, the app of a Xiaomi fitness band",
        &[
            ("api-mifit.huami.com", TYPE::A),
            ("api-mifit.huami.com", TYPE::AAAA),
            ("api-mifit-fr.huami.com", TYPE::A),
            ("fusion.qq.com", TYPE::A),
            ("cgi.connect.qq.com", TYPE::A),
            ("restapi.amap.com", TYPE::A),
            ("api.xmpush.xiaomi.com", TYPE::A),
        ],
    ),
    (
        "A Foscam camera, P2P switched off, retrying anyway",
        &[
            ("iotcplatform.com", TYPE::A),
            ("iotcplatform.com", TYPE::A),
            ("iotcplatform.com", TYPE::A),
        ],
    ),
    (
        "A Xiaomi vacuum that must keep obeying",
        &[("ot.io.mi.com", TYPE::A)],
    ),
    (
        "Every device, setting its clock",
        &[("pool.ntp.org", TYPE::A)],
    ),
];

/// Passes the firewall's events to the demo's main thread, and its routes
/// to the route thread.
struct Forward {
    events: mpsc::Sender<(Event, String)>,
    routes: Option<mpsc::Sender<Vec<tacet_engine::Route>>>,
}

impl Observer for Forward {
    fn on_event(&mut self, event: &Event, rules: &RuleSet) {
        let rule = match event {
            Event::Blocked {
                reason: BlockReason::Rule(rule),
                ..
            }
            | Event::Allowed {
                rule: Some(rule), ..
            } => Some(*rule),
            Event::Blocked { .. } | Event::Allowed { rule: None, .. } => None,
            Event::RoutesChanged { routes } => {
                if let Some(sender) = &self.routes {
                    let _ = sender.send(routes.clone());
                }
                return;
            }
            Event::Rejected { .. }
            | Event::SharedAddress { .. }
            | Event::AnswerRefused { .. }
            | Event::AddressLearned { .. } => return,
        };
        let source = rule
            .and_then(|r| {
                rules
                    .list(r.list)
                    .map(|l| format!("{}, line {}", l.title, r.line))
            })
            .unwrap_or_default();
        let _ = self.events.send((event.clone(), source));
    }
}

/// `tacet demo`.
pub fn demo(args: DemoArgs) -> Result<ExitCode, String> {
    crate::require_root("tacet demo")?;
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    }

    let id = std::process::id();
    // Dropped in reverse order: the namespaces go last, taking the veth
    // pair and the TUN with them.
    let phone = Netns::create(&format!("tacet-demo-{id}-phone"))?;
    let net = Netns::create(&format!("tacet-demo-{id}-net"))?;
    let (phone_veth, net_veth) = (format!("tdp{id}"), format!("tdn{id}"));
    crate::interface::ip(&[
        "link",
        "add",
        &phone_veth,
        "netns",
        phone.name(),
        "type",
        "veth",
        "peer",
        "name",
        &net_veth,
        "netns",
        net.name(),
    ])?;
    phone.ip(&["addr", "add", PHONE_LINK, "dev", &phone_veth])?;
    phone.ip(&["link", "set", &phone_veth, "up"])?;
    net.ip(&["addr", "add", UPSTREAM_LINK, "dev", &net_veth])?;
    net.ip(&["link", "set", &net_veth, "up"])?;

    let upstream_socket = net
        .run(|| UdpSocket::bind((UPSTREAM, 53)))?
        .map_err(|e| format!("demo upstream: {e}"))?;
    let upstream_stop = Arc::new(AtomicBool::new(false));
    let upstream_thread = {
        let stop = Arc::clone(&upstream_stop);
        std::thread::spawn(move || crate::demo_upstream::serve(upstream_socket, stop))
    };

    let (events, received) = mpsc::channel();
    let rules = Arc::new(tacet_rules::curated::default_rule_set());
    let mut firewall = phone.run(|| -> Result<Firewall, String> {
        let tun = Tun::create(TUN_NAME, 1500).map_err(|e| e.to_string())?;
        let config = Config {
            report_allowed: true,
            ..Config::default()
        };
        crate::interface::configure(TUN_NAME, config.resolver_v4, config.resolver_v6)?;
        let curated: Vec<_> = tacet_rules::curated::catalog()
            .iter()
            .filter(|l| l.default_on)
            .collect();
        let enforced_names = tacet_runtime::enforced::enforced_names(&curated, &[])
            .map_err(|e| e.to_string())?
            .names;
        let runtime = RuntimeConfig {
            engine: config,
            upstreams: vec![tacet_runtime::UpstreamSpec::plain(SocketAddr::from((
                UPSTREAM, 53,
            )))],
            upstream_options: tacet_runtime::UpstreamOptions::default(),
            enforced_names,
            store: None,
        };
        let forward = Forward {
            events,
            routes: Some(crate::routes::route_thread(TUN_NAME.to_owned())),
        };
        Firewall::start(tun, runtime, rules, Box::new(forward)).map_err(|e| e.to_string())
    })??;
    let client = phone
        .run(|| UdpSocket::bind((Ipv4Addr::UNSPECIFIED, 0)))?
        .map_err(|e| e.to_string())?;
    client
        .set_read_timeout(Some(Duration::from_secs(2)))
        .map_err(|e| e.to_string())?;

    outln!("tacet demo: a phone ({}) runs the firewall on {TUN_NAME}; its DNS goes to {DEFAULT_RESOLVER_V4}.", phone.name())?;
    outln!(
        "            Upstream: a stand-in resolver at {UPSTREAM} ({}); no internet is used.",
        net.name()
    )?;
    let mut query_id = 0u16;
    'script: for (who, queries) in SCRIPT {
        outln!("\n{who}")?;
        outln!(
            "  blocked  {:<24} {:<5} {:<16} why",
            "name",
            "type",
            "answer"
        )?;
        for (name, qtype) in *queries {
            if stop.load(Ordering::SeqCst) {
                outln!("\ninterrupted")?;
                break 'script;
            }
            query_id = query_id.wrapping_add(1);
            let fate = ask(&client, query_id, name, *qtype);
            let source = received.recv_timeout(Duration::from_millis(500)).ok();
            let why = match &source {
                Some((Event::Blocked { .. }, list)) => format!("BLOCKED by {list}"),
                Some((Event::Allowed { .. }, list)) if !list.is_empty() => {
                    format!("allowed: {list}")
                }
                _ => "allowed: no list has it".to_string(),
            };
            let blocked = firewall.stats().map_or(0, |s| s.blocked);
            outln!(
                "  {blocked:>7}  {name:<24} {:<5} {fate:<16} {why}",
                format!("{qtype:?}")
            )?;
            std::thread::sleep(Duration::from_millis(args.delay_ms));
        }
    }
    if !stop.load(Ordering::SeqCst) {
        hard_coded_camera(&phone)?;
    }
    let stats = firewall.stop().map_err(|e| e.to_string())?;
    upstream_stop.store(true, Ordering::SeqCst);
    let _ = upstream_thread.join();
    outln!(
        "\n{} queries: {} blocked ({} distinct names), {} allowed and forwarded, {} upstream failures.",
        stats.queries, stats.blocked, stats.unique_blocked, stats.forwarded, stats.upstream_failures
    )?;
    drop(net);
    drop(phone);
    outln!("Removed the demo's namespaces; nothing is left behind.")?;
    Ok(ExitCode::SUCCESS)
}

/// The camera again, now with its fallback server's address built in: it
/// never asks the firewall, yet its connection is refused at once,
/// because the curated lists' names were looked up when the firewall
/// started and their addresses are rejected from then on.
fn hard_coded_camera(phone: &Netns) -> Result<(), String> {
    let server = Ipv4Addr::from(crate::demo_upstream::address_v4("iotcplatform.com"));
    outln!("\nThe camera again, its P2P server's address built in (no DNS at all)")?;
    let tried = phone.run(move || {
        let started = std::time::Instant::now();
        let result = std::net::TcpStream::connect_timeout(
            &SocketAddr::from((server, 32100)),
            Duration::from_secs(3),
        );
        (result, started.elapsed())
    })?;
    let fate = match tried {
        (Err(e), took) if e.kind() == std::io::ErrorKind::ConnectionRefused => format!(
            "REFUSED in {:.1} ms: iotcplatform.com was looked up at start",
            took.as_secs_f64() * 1000.0
        ),
        (Err(e), _) => format!("failed: {e}"),
        (Ok(_), _) => "connected: not enforced".to_owned(),
    };
    outln!("  connect {server}:32100  {fate}")?;
    Ok(())
}

/// Sends one query to the firewall and describes the answer.
fn ask(client: &UdpSocket, id: u16, name: &str, qtype: TYPE) -> String {
    let mut query = Packet::new_query(id);
    query.set_flags(PacketFlag::RECURSION_DESIRED);
    query.questions.push(Question::new(
        Name::new_unchecked(name),
        QTYPE::TYPE(qtype),
        QCLASS::CLASS(CLASS::IN),
        false,
    ));
    let Ok(bytes) = query.build_bytes_vec() else {
        return "could not build the query".into();
    };
    if let Err(e) = client.send_to(&bytes, (DEFAULT_RESOLVER_V4, 53)) {
        return format!("send failed: {e}");
    }
    let mut buf = [0u8; 4096];
    loop {
        let Ok(n) = client.recv(&mut buf) else {
            return "no answer (timeout)".into();
        };
        let Ok(answer) = Packet::parse(buf.get(..n).unwrap_or_default()) else {
            continue;
        };
        if answer.id() != id {
            continue;
        }
        return match answer.answers.first().map(|r| &r.rdata) {
            Some(RData::A(a)) => Ipv4Addr::from(a.address).to_string(),
            Some(RData::AAAA(a)) => std::net::Ipv6Addr::from(a.address).to_string(),
            _ => format!("{:?}", answer.rcode()),
        };
    }
}
