#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The firewall for real: two network namespaces made by the test, "phone" and "peer", joined
//! by a veth pair with IPv4 and IPv6 addresses. The real `mppd` binary applies the ruleset in
//! the phone namespace (`ip netns exec PHONE mppd firewall apply`, or `mppd run --firewall
//! apply`), listeners run in the phone namespace, and probes from the peer namespace check what
//! a user would: which TCP/UDP ports answer, whether ping is answered, whether ICMP
//! port-unreachable comes back, that the phone's own flows get their replies while unsolicited
//! traffic to the same ports is dropped, over IPv4 and IPv6.
//!
//! Nothing touches the host's network: rules are applied only inside the namespaces, which
//! are removed (with their interfaces) even when a test fails. These tests need root, `ip`,
//! `nft`, `ping` and `setpriv`: without them they FAIL with a message saying what is missing
//! (CI and scripts/test run as root and install the packages).

mod common;

use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{BIN, Sandbox, s};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};
use serde_json::Value;

const PHONE4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 1));
const PEER4: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 77, 0, 2));
const PHONE6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 1));
const PEER6: IpAddr = IpAddr::V6(Ipv6Addr::new(0xfd77, 0, 0, 0, 0, 0, 0, 2));
const VETH: &str = "veth0";

/// How long a probe waits for an answer that must not come (a dropped SYN, a silent port).
const SILENCE: Duration = Duration::from_millis(800);

// ---------------------------------------------------------------- preconditions

/// Fails (never skips) when the test cannot run for real, with the same message in every
/// test.
fn require_privileges_and_tools() {
    static CHECK: OnceLock<Result<(), String>> = OnceLock::new();
    let verdict = CHECK.get_or_init(|| {
        let status = std::fs::read_to_string("/proc/self/status")
            .map_err(|e| format!("cannot read /proc/self/status: {e}"))?;
        let euid = status
            .lines()
            .find_map(|l| l.strip_prefix("Uid:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or("?");
        if euid != "0" {
            return Err(format!(
                "firewall_netns: these tests create network namespaces and apply nftables rules \
                 inside them, which needs root (running as uid {euid}); run them as root (CI and \
                 scripts/test do)"
            ));
        }
        for (tool, args, package) in [
            ("ip", &["-V"][..], "iproute2"),
            ("nft", &["--version"][..], "nftables"),
            ("ping", &["-V"][..], "iputils-ping"),
            ("setpriv", &["--version"][..], "util-linux"),
            ("sysctl", &["--version"][..], "procps"),
        ] {
            let ok = Command::new(tool)
                .args(args)
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if !ok {
                return Err(format!(
                    "firewall_netns: `{tool}` is missing: install the Debian package {package} \
                     (scripts/test installs it)"
                ));
            }
        }
        Ok(())
    });
    if let Err(msg) = verdict {
        panic!("{msg}");
    }
}

fn run(cmd: &mut Command) -> Output {
    cmd.output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"))
}

#[track_caller]
fn run_ok(cmd: &mut Command) -> String {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

// ---------------------------------------------------------------- namespaces

/// A network namespace made by the test; removed (with its interfaces) on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn new(name: String) -> Self {
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        Self { name }
    }

    /// `ip netns exec NAME PROGRAM`.
    fn exec(&self, program: &str) -> Command {
        let mut c = Command::new("ip");
        c.args(["netns", "exec", &self.name, program])
            .env_remove("MPPD_STATE_DIR")
            .env_remove("MPPD_LOG")
            .env("NO_COLOR", "1")
            .stdin(Stdio::null());
        c
    }

    fn path(&self) -> PathBuf {
        Path::new("/run/netns").join(&self.name)
    }

    /// Runs `f` on a thread that has entered this namespace (sockets it makes live there).
    fn spawn<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
        let path = self.path();
        std::thread::spawn(move || {
            let ns = File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            move_into_link_name_space(ns.as_fd(), Some(LinkNameSpaceType::Network))
                .unwrap_or_else(|e| panic!("setns {}: {e}", path.display()));
            f()
        })
    }

    fn within<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        self.spawn(f).join().expect("thread in namespace")
    }

    fn sysctl(&self, setting: &str) {
        run_ok(self.exec("sysctl").args(["-qw", setting]));
    }

    /// `nft -j list table inet mppd` without handles (comparable), `None` when absent.
    fn table(&self) -> Option<Value> {
        let out = run(self
            .exec("nft")
            .args(["-j", "list", "table", "inet", "mppd"]));
        if !out.status.success() {
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains("No such file or directory"), "nft list: {err}");
            return None;
        }
        let mut v: Value = serde_json::from_slice(&out.stdout).expect("nft -j output is JSON");
        let objs = v["nftables"].as_array_mut().expect("nftables array");
        objs.retain(|o| o.get("metainfo").is_none());
        for o in objs.iter_mut() {
            if let Some(m) = o
                .as_object_mut()
                .and_then(|m| m.values_mut().next())
                .and_then(Value::as_object_mut)
            {
                m.remove("handle");
            }
        }
        Some(v)
    }

    /// `nft list table inet mppd` as text (for messages), empty when absent.
    fn table_text(&self) -> String {
        String::from_utf8_lossy(
            &run(self.exec("nft").args(["list", "table", "inet", "mppd"])).stdout,
        )
        .into_owned()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// The phone and peer namespaces, joined by a veth pair.
struct Lab {
    // Declared before the namespaces so listeners stop before the namespaces go.
    servers: Vec<Server>,
    phone: Netns,
    peer: Netns,
}

static LAB_COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Lab {
    fn new() -> Self {
        require_privileges_and_tools();
        let id = format!(
            "{}-{}",
            std::process::id(),
            LAB_COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let phone = Netns::new(format!("mppdfw-phone-{id}"));
        let peer = Netns::new(format!("mppdfw-peer-{id}"));
        for ns in [&phone, &peer] {
            // Link-local addresses usable at once too (the global ones use nodad).
            ns.sysctl("net.ipv6.conf.default.accept_dad=0");
            ns.sysctl("net.ipv6.conf.all.accept_dad=0");
        }
        // The kernel rate-limits ICMP errors per destination (a burst of 6, then 1/s); the
        // probes below expect one port-unreachable per probe, so the phone sends them all.
        phone.sysctl("net.ipv4.icmp_ratelimit=0");
        phone.sysctl("net.ipv6.icmp.ratelimit=0");
        // The overall ICMP budget (a burst of 50) is per namespace only on newer kernels (6.12+);
        // where it is, raise it too.
        for setting in [
            "net.ipv4.icmp_msgs_burst=10000",
            "net.ipv4.icmp_msgs_per_sec=100000",
        ] {
            let _ = run(phone
                .exec("sysctl")
                .args(["-qw", setting])
                .stderr(Stdio::null()));
        }
        run_ok(Command::new("ip").args([
            "link",
            "add",
            VETH,
            "netns",
            &phone.name,
            "type",
            "veth",
            "peer",
            "name",
            VETH,
            "netns",
            &peer.name,
        ]));
        for (ns, v4, v6) in [
            (&phone, "10.77.0.1/24", "fd77::1/64"),
            (&peer, "10.77.0.2/24", "fd77::2/64"),
        ] {
            run_ok(ns.exec("ip").args(["addr", "add", v4, "dev", VETH]));
            run_ok(
                ns.exec("ip")
                    .args(["addr", "add", v6, "dev", VETH, "nodad"]),
            );
            run_ok(ns.exec("ip").args(["link", "set", "lo", "up"]));
            run_ok(ns.exec("ip").args(["link", "set", VETH, "up"]));
        }
        Self {
            servers: Vec::new(),
            phone,
            peer,
        }
    }

    /// `mppd --state-dir STATE ARGS` in the phone namespace.
    fn mppd(&self, state: &Path, args: &[&str]) -> Output {
        run(self
            .phone
            .exec(BIN)
            .arg("--state-dir")
            .arg(state)
            .args(args))
    }

    /// Applies a profile in the phone namespace with the real binary.
    fn apply(&self, sb: &Sandbox, profile: &Path) {
        let out = self.mppd(&sb.state(), &["firewall", "apply", "--profile", s(profile)]);
        assert!(
            out.status.success(),
            "mppd firewall apply: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Starts TCP listeners (answering `hello PORT`) and UDP echo servers in the phone
    /// namespace, on the IPv4 and IPv6 wildcard addresses.
    fn listen(&mut self, tcp: &[u16], udp: &[u16]) {
        let (tcp, udp) = (tcp.to_vec(), udp.to_vec());
        let (tl, ul) = self.phone.within(move || {
            let tl: Vec<TcpListener> = tcp
                .iter()
                .map(|&p| {
                    TcpListener::bind((Ipv6Addr::UNSPECIFIED, p))
                        .unwrap_or_else(|e| panic!("phone: listen on tcp {p}: {e}"))
                })
                .collect();
            let ul: Vec<UdpSocket> = udp
                .iter()
                .map(|&p| {
                    UdpSocket::bind((Ipv6Addr::UNSPECIFIED, p))
                        .unwrap_or_else(|e| panic!("phone: bind udp {p}: {e}"))
                })
                .collect();
            (tl, ul)
        });
        for l in tl {
            self.servers.push(Server::tcp(l));
        }
        for u in ul {
            self.servers.push(Server::udp_echo(u));
        }
    }
}

/// A listener served on its own thread until dropped.
struct Server {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn tcp(l: TcpListener) -> Self {
        let port = l.local_addr().unwrap().port();
        l.set_nonblocking(true).unwrap();
        Self::serve(move |stop| {
            while !stop.load(Ordering::Relaxed) {
                match l.accept() {
                    Ok((mut c, _)) => {
                        let _ = c.write_all(format!("hello {port}\n").as_bytes());
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(10)),
                }
            }
        })
    }

    fn udp_echo(u: UdpSocket) -> Self {
        u.set_read_timeout(Some(Duration::from_millis(50))).unwrap();
        Self::serve(move |stop| {
            let mut buf = [0u8; 1500];
            while !stop.load(Ordering::Relaxed) {
                if let Ok((n, from)) = u.recv_from(&mut buf) {
                    let mut reply = b"echo:".to_vec();
                    reply.extend_from_slice(&buf[..n]);
                    let _ = u.send_to(&reply, from);
                }
            }
        })
    }

    fn serve(f: impl FnOnce(&AtomicBool) + Send + 'static) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = Arc::clone(&stop);
        Self {
            stop,
            thread: Some(std::thread::spawn(move || f(&flag))),
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

// ---------------------------------------------------------------- probes

/// What a TCP connection attempt found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TcpResult {
    /// Connected and the phone's listener answered.
    Open,
    /// RST: nothing listens and no firewall dropped the SYN.
    Refused,
    /// No answer: dropped.
    Dropped,
}

/// What a UDP datagram found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum UdpResult {
    /// The phone's echo server answered.
    Answered,
    /// An ICMP port-unreachable came back.
    Unreachable,
    /// Nothing came back.
    Silent,
}

fn tcp_probe(addr: SocketAddr) -> TcpResult {
    match TcpStream::connect_timeout(&addr, SILENCE) {
        Ok(mut c) => {
            c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut line = String::new();
            let _ = c.read_to_string(&mut line);
            assert_eq!(
                line,
                format!("hello {}\n", addr.port()),
                "{addr}: unexpected answer"
            );
            TcpResult::Open
        }
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => TcpResult::Refused,
        Err(e) if matches!(e.kind(), ErrorKind::TimedOut | ErrorKind::WouldBlock) => {
            TcpResult::Dropped
        }
        Err(e) => panic!("tcp probe {addr}: {e}"),
    }
}

fn any_addr(of: SocketAddr) -> SocketAddr {
    match of {
        SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    }
}

/// A connected UDP socket: an ICMP port-unreachable shows as ECONNREFUSED on receive.
fn udp_probe(addr: SocketAddr) -> UdpResult {
    let sock = UdpSocket::bind(any_addr(addr)).unwrap();
    sock.connect(addr).unwrap();
    sock.set_read_timeout(Some(SILENCE)).unwrap();
    let payload = format!("probe {addr}");
    sock.send(payload.as_bytes()).unwrap();
    let mut buf = [0u8; 1500];
    match sock.recv(&mut buf) {
        Ok(n) => {
            assert_eq!(&buf[..n], format!("echo:{payload}").as_bytes(), "{addr}");
            UdpResult::Answered
        }
        Err(e) if e.kind() == ErrorKind::ConnectionRefused => UdpResult::Unreachable,
        Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
            UdpResult::Silent
        }
        Err(e) => panic!("udp probe {addr}: {e}"),
    }
}

/// What the probes must find, per protocol, port and address.
#[derive(Debug, Default)]
struct Expect {
    tcp: Vec<(u16, TcpResult)>,
    udp: Vec<(u16, UdpResult)>,
}

/// Probes every expectation from the peer namespace, over IPv4 and IPv6, all in parallel;
/// fails listing every mismatch.
fn check_ports(lab: &Lab, what: &str, expect: &Expect) {
    let mut probes: Vec<(String, String, JoinHandle<String>)> = Vec::new();
    for ip in [PHONE4, PHONE6] {
        for &(port, want) in &expect.tcp {
            let addr = SocketAddr::new(ip, port);
            let h = lab.peer.spawn(move || format!("{:?}", tcp_probe(addr)));
            probes.push((format!("tcp {addr}"), format!("{want:?}"), h));
        }
        for &(port, want) in &expect.udp {
            let addr = SocketAddr::new(ip, port);
            let h = lab.peer.spawn(move || format!("{:?}", udp_probe(addr)));
            probes.push((format!("udp {addr}"), format!("{want:?}"), h));
        }
    }
    let mut wrong = Vec::new();
    for (probe, want, h) in probes {
        let got = h.join().expect("probe thread");
        if got != want {
            wrong.push(format!("  {probe}: expected {want}, found {got}"));
        }
    }
    assert!(
        wrong.is_empty(),
        "{what}: {} probe(s) wrong:\n{}\nruleset in the phone namespace:\n{}",
        wrong.len(),
        wrong.join("\n"),
        lab.phone.table_text()
    );
}

/// Whether `ping` from the peer gets an answer from `addr`.
fn ping(lab: &Lab, addr: IpAddr) -> JoinHandle<bool> {
    let mut cmd = lab.peer.exec("ping");
    cmd.args(["-n", "-c", "1", "-W", "1", &addr.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    std::thread::spawn(move || cmd.status().is_ok_and(|s| s.success()))
}

fn profile(sb: &Sandbox, name: &str, firewall_config: &str) -> PathBuf {
    sb.write(
        name,
        format!(
            "<flat-profile>\n  <Firewall_Config>{firewall_config}</Firewall_Config>\n</flat-profile>\n"
        ),
    )
}

// ---------------------------------------------------------------- port maps of SPEC §13

/// Open TCP ports of the default profile plus `TCP:12000`.
const OPEN_TCP: &[u16] = &[443, 4051, 6970, 12000];
/// Open UDP ports with a listener: DHCP, DHCPv6, SIP lines 1-2, RTP ends, peer sharing, TFTP
/// client ends, and both ends of `UDP:8000:8010`.
const OPEN_UDP: &[u16] = &[
    68, 546, 4051, 5060, 5061, 8000, 8010, 16384, 16483, 53240, 53245,
];
/// Closed TCP ports, each with a listener (so only the firewall can keep them closed): the
/// neighbours of every open port, SIP over TCP, the TR-069 range (off by default).
const CLOSED_TCP: &[u16] = &[22, 80, 442, 444, 4052, 5060, 6969, 8080, 8765, 11999, 12001];
/// Closed UDP ports, each with a listener.
const CLOSED_UDP: &[u16] = &[
    53, 67, 69, 547, 5059, 5062, 7999, 7998, 8011, 12000, 16383, 16484, 53239, 53246,
];
/// Open UDP ports nobody listens on: one inside `UDP:8000:8010`, one in the RTP range.
const OPEN_UDP_NO_LISTENER: u16 = 8005;
const RTP_NO_LISTENER: u16 = 16400;

fn listen_on_all(lab: &mut Lab) {
    let tcp: Vec<u16> = OPEN_TCP.iter().chain(CLOSED_TCP).copied().collect();
    let udp: Vec<u16> = OPEN_UDP.iter().chain(CLOSED_UDP).copied().collect();
    lab.listen(&tcp, &udp);
}

fn expectations(closed_udp: UdpResult, open_udp_unbound: UdpResult) -> Expect {
    let mut e = Expect::default();
    e.tcp.extend(OPEN_TCP.iter().map(|&p| (p, TcpResult::Open)));
    e.tcp
        .extend(CLOSED_TCP.iter().map(|&p| (p, TcpResult::Dropped)));
    e.udp
        .extend(OPEN_UDP.iter().map(|&p| (p, UdpResult::Answered)));
    e.udp.extend(CLOSED_UDP.iter().map(|&p| (p, closed_udp)));
    e.udp.push((OPEN_UDP_NO_LISTENER, open_udp_unbound));
    // SPEC §13: ports of the RTP range always get port-unreachable.
    e.udp.push((RTP_NO_LISTENER, UdpResult::Unreachable));
    e
}

// ---------------------------------------------------------------- tests

/// Without the firewall every listener answers (the baseline that makes "dropped" mean
/// something); with `TCP:12000,UDP:8000:8010` exactly the SPEC ports answer, closed TCP
/// ports drop the SYN, closed UDP ports get port-unreachable, ping is answered.
#[test]
fn default_ports_open_closed_ping_and_unreachable() {
    let t0 = Instant::now();
    let mut lab = Lab::new();
    let sb = Sandbox::new();
    listen_on_all(&mut lab);

    // Baseline, no rules: every listener answers, an unbound UDP port is unreachable.
    assert_eq!(lab.phone.table(), None);
    let mut baseline = Expect::default();
    baseline.tcp.extend(
        OPEN_TCP
            .iter()
            .chain(CLOSED_TCP)
            .map(|&p| (p, TcpResult::Open)),
    );
    baseline.tcp.push((9, TcpResult::Refused));
    baseline.udp.extend(
        OPEN_UDP
            .iter()
            .chain(CLOSED_UDP)
            .map(|&p| (p, UdpResult::Answered)),
    );
    baseline
        .udp
        .push((OPEN_UDP_NO_LISTENER, UdpResult::Unreachable));
    check_ports(&lab, "no firewall", &baseline);

    lab.apply(&sb, &profile(&sb, "a.xml", "TCP:12000,UDP:8000:8010"));
    assert!(lab.phone.table().is_some());
    check_ports(
        &lab,
        "TCP:12000,UDP:8000:8010",
        &expectations(UdpResult::Unreachable, UdpResult::Unreachable),
    );
    let (p4, p6) = (ping(&lab, PHONE4), ping(&lab, PHONE6));
    assert!(p4.join().unwrap(), "ping over IPv4 must be answered");
    assert!(p6.join().unwrap(), "ping over IPv6 must be answered");
    eprintln!(
        "default_ports_open_closed_ping_and_unreachable: {:?}",
        t0.elapsed()
    );
}

/// `NO_ICMP_PING,NO_ICMP_UNREACHABLE`: ping unanswered (multicast echo still answered),
/// closed and unbound UDP ports silent, except the RTP range which still gets
/// port-unreachable; the open ports still answer.
#[test]
fn no_icmp_ping_and_no_icmp_unreachable() {
    let t0 = Instant::now();
    let mut lab = Lab::new();
    let sb = Sandbox::new();
    listen_on_all(&mut lab);
    lab.apply(
        &sb,
        &profile(
            &sb,
            "b.xml",
            "NO_ICMP_PING, NO_ICMP_UNREACHABLE, TCP:12000, UDP:8000:8010",
        ),
    );
    let (p4, p6) = (ping(&lab, PHONE4), ping(&lab, PHONE6));
    check_ports(
        &lab,
        "NO_ICMP_PING,NO_ICMP_UNREACHABLE,TCP:12000,UDP:8000:8010",
        &expectations(UdpResult::Silent, UdpResult::Silent),
    );
    assert!(
        !p4.join().unwrap(),
        "NO_ICMP_PING: ping over IPv4 must go unanswered"
    );
    assert!(
        !p6.join().unwrap(),
        "NO_ICMP_PING: ping over IPv6 must go unanswered"
    );

    // SPEC §13: the IPv6 multicast echo ("Broadcast Echo") keeps working.
    let phone_ll = run_ok(
        lab.phone
            .exec("ip")
            .args(["-6", "-o", "addr", "show", "dev", VETH, "scope", "link"]),
    );
    let phone_ll = phone_ll
        .split_whitespace()
        .skip_while(|w| *w != "inet6")
        .nth(1)
        .and_then(|a| a.split('/').next())
        .expect("phone link-local address")
        .to_owned();
    let out = run_ok(lab.peer.exec("ping").args([
        "-n",
        "-c",
        "2",
        "-w",
        "3",
        &format!("ff02::1%{VETH}"),
    ]));
    assert!(
        out.contains(&format!("from {phone_ll}")),
        "the phone ({phone_ll}) must answer a multicast echo request even with NO_ICMP_PING:\n{out}"
    );
    eprintln!("no_icmp_ping_and_no_icmp_unreachable: {:?}", t0.elapsed());
}

/// The phone's own UDP flow and TCP connection get their replies (stateful), while traffic
/// the phone did not ask for, to the very same local ports, is dropped.
#[test]
fn outgoing_flows_get_replies_unsolicited_traffic_is_dropped() {
    let t0 = Instant::now();
    let lab = Lab::new();
    let sb = Sandbox::new();
    lab.apply(&sb, &profile(&sb, "c.xml", "NO_ICMP_UNREACHABLE"));

    // Servers in the peer namespace: UDP echo on 7000, TCP on 7001 (no firewall there).
    let (peer_udp, peer_tcp) = lab.peer.within(|| {
        (
            UdpSocket::bind((Ipv6Addr::UNSPECIFIED, 7000)).unwrap(),
            TcpListener::bind((Ipv6Addr::UNSPECIFIED, 7001)).unwrap(),
        )
    });
    let _udp_server = Server::udp_echo(peer_udp);
    let _tcp_server = Server::tcp(peer_tcp);

    for (phone_ip, peer_ip) in [(PHONE4, PEER4), (PHONE6, PEER6)] {
        // UDP: the phone sends from a port the kernel picks (closed in the firewall) to the
        // peer's echo server. A fixed port here once collided in CI (EADDRINUSE).
        let phone_sock = lab.phone.within(move || {
            let bind: SocketAddr = match phone_ip {
                IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
                IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
            };
            UdpSocket::bind(bind).unwrap()
        });
        phone_sock
            .set_read_timeout(Some(Duration::from_secs(2)))
            .unwrap();
        phone_sock
            .send_to(b"ping", SocketAddr::new(peer_ip, 7000))
            .unwrap();
        let mut buf = [0u8; 64];
        let (n, from) = phone_sock.recv_from(&mut buf).unwrap_or_else(|e| {
            panic!("{phone_ip}: the reply to the phone's UDP flow must come in: {e}")
        });
        assert_eq!(
            (&buf[..n], from),
            (&b"echo:ping"[..], SocketAddr::new(peer_ip, 7000))
        );

        // Unsolicited: another peer port sends to the phone's flow port -> dropped.
        let target = SocketAddr::new(phone_ip, phone_sock.local_addr().unwrap().port());
        lab.peer.within(move || {
            let sock = UdpSocket::bind(SocketAddr::new(peer_ip, 0)).unwrap();
            sock.send_to(b"unsolicited", target).unwrap();
        });
        phone_sock.set_read_timeout(Some(SILENCE)).unwrap();
        match phone_sock.recv_from(&mut buf) {
            Ok((n, from)) => panic!(
                "{phone_ip}: unsolicited datagram from {from} reached the phone: {:?}",
                String::from_utf8_lossy(&buf[..n])
            ),
            Err(e) => assert!(
                matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut),
                "{e}"
            ),
        }

        // TCP: the phone connects out and gets the answer.
        let peer_addr = SocketAddr::new(peer_ip, 7001);
        let (answer, local_port) = lab.phone.within(move || {
            let mut c = TcpStream::connect_timeout(&peer_addr, Duration::from_secs(2))
                .expect("the phone's outgoing TCP connection");
            c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
            let mut line = String::new();
            c.read_to_string(&mut line).expect("read the answer");
            (line, c.local_addr().unwrap().port())
        });
        assert_eq!(answer, "hello 7001\n", "{phone_ip}");
        // Unsolicited: a new connection to the port the phone just used is dropped, not
        // refused (without the firewall the phone would answer with a RST).
        let target = SocketAddr::new(phone_ip, local_port);
        let got = lab.peer.within(move || tcp_probe(target));
        assert_eq!(
            got,
            TcpResult::Dropped,
            "{phone_ip}: SYN to the phone's port {local_port}"
        );
    }
    eprintln!(
        "outgoing_flows_get_replies_unsolicited_traffic_is_dropped: {:?}",
        t0.elapsed()
    );
}

/// The four invalid `Firewall_Config` values of the issue are refused, each naming the bad
/// item, and the ruleset in force stays byte for byte what it was.
#[test]
fn invalid_firewall_config_leaves_the_ruleset_unchanged() {
    let t0 = Instant::now();
    let lab = Lab::new();
    let sb = Sandbox::new();
    lab.apply(
        &sb,
        &profile(&sb, "good.xml", "NO_ICMP_PING,TCP:12000,UDP:8000:8010"),
    );
    let before = lab.phone.table().expect("table applied");
    for (value, item) in [
        ("TCP:1,TCP:2,TCP:3,TCP:4,TCP:5,TCP:6", "TCP:6"),
        ("TCP:70000", "TCP:70000"),
        ("UDP:9:3", "UDP:9:3"),
        ("NO_ICMP_PING,FOO", "FOO"),
    ] {
        let bad = profile(&sb, "bad.xml", value);
        for cmd in ["apply", "rules"] {
            let out = lab.mppd(&sb.state(), &["firewall", cmd, "--profile", s(&bad)]);
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert_eq!(out.status.code(), Some(1), "{cmd} {value}: {stderr}");
            assert!(
                stderr.contains("Firewall_Config") && stderr.contains(&format!("\"{item}\"")),
                "{cmd} {value}: the message must name {item}: {stderr}"
            );
        }
        assert_eq!(
            lab.phone.table().as_ref(),
            Some(&before),
            "{value}: the ruleset in force changed"
        );
    }
    eprintln!(
        "invalid_firewall_config_leaves_the_ruleset_unchanged: {:?}",
        t0.elapsed()
    );
}

/// `mppd firewall rules` (the `nft -f` script) and `mppd firewall apply` (JSON) put the very
/// same table in the kernel, for the three snapshot profiles; `flush` removes it.
#[test]
fn script_and_json_give_the_same_table() {
    let lab = Lab::new();
    let sb = Sandbox::new();
    let two_lines = sb.write(
        "two.xml",
        "<flat-profile><SIP_Transport_2_>Auto</SIP_Transport_2_><SIP_Port_2_>5062</SIP_Port_2_>\
         <Enable_TR-069>Yes</Enable_TR-069><Upgrade_Enable>Yes</Upgrade_Enable>\
         <Peer_Firmware_Sharing>Yes</Peer_Firmware_Sharing>\
         <Firewall_Config>NO_ICMP_UNREACHABLE</Firewall_Config></flat-profile>",
    );
    for p in [
        profile(&sb, "default.xml", ""),
        profile(&sb, "opts.xml", "NO_ICMP_PING,TCP:12000,UDP:8000:8010"),
        two_lines,
    ] {
        lab.apply(&sb, &p);
        let from_json = lab.phone.table().expect("applied");
        let script = lab.mppd(&sb.state(), &["firewall", "rules", "--profile", s(&p)]);
        assert!(script.status.success());
        run_ok(
            lab.phone
                .exec(BIN)
                .args(["--state-dir", s(&sb.state()), "firewall", "flush"]),
        );
        assert_eq!(lab.phone.table(), None, "flush removes the table");
        let mut nft = lab.phone.exec("nft");
        nft.args(["-f", "-"]).stdin(Stdio::piped());
        let mut child = nft.spawn().unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(&script.stdout)
            .unwrap();
        assert!(child.wait().unwrap().success(), "nft -f of the script");
        assert_eq!(lab.phone.table(), Some(from_json), "{}", p.display());
    }
    // The TR-069 port is in the state dir and in the rules.
    let port = std::fs::read_to_string(sb.state().join("tr069-port")).unwrap();
    assert!(
        lab.phone
            .table_text()
            .contains(&format!("tcp dport {} accept", port.trim()))
    );
}

// ---------------------------------------------------------------- the daemon

/// `mppd run` in the phone namespace; stopped (by its PID) when dropped.
struct Daemon {
    child: Option<Child>,
    log: PathBuf,
}

impl Daemon {
    fn start(lab: &Lab, state: &Path, log: PathBuf, wrap: &[&str], args: &[&str]) -> Self {
        let mut cmd = lab.phone.exec(wrap.first().copied().unwrap_or(BIN));
        if !wrap.is_empty() {
            cmd.args(&wrap[1..]).arg(BIN);
        }
        let child = cmd
            .arg("--state-dir")
            .arg(state)
            .arg("run")
            .args(args)
            .env("MPPD_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::from(File::create(&log).unwrap()))
            .spawn()
            .expect("spawn mppd run");
        let d = Self {
            child: Some(child),
            log,
        };
        let sock = state.join("mppd.sock");
        let start = Instant::now();
        while std::os::unix::net::UnixStream::connect(&sock).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the daemon did not start:\n{}",
                d.log()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        d
    }

    fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn signal(&self, sig: &str) {
        run_ok(Command::new("kill").args([&format!("-{sig}"), &self.pid().to_string()]));
    }

    fn wait_exit(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("running");
        let start = Instant::now();
        loop {
            if let Some(st) = child.try_wait().unwrap() {
                return st;
            }
            if start.elapsed() > Duration::from_secs(10) {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the daemon did not stop:\n{}", self.log());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // `ip netns exec` execs mppd, so this PID is the daemon's.
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

fn status(state: &Path) -> Value {
    let out = run_ok(
        Command::new(BIN)
            .args(["--state-dir", s(state), "status", "--format", "json"])
            .env_remove("MPPD_STATE_DIR"),
    );
    serde_json::from_str(&out).expect("status JSON")
}

/// Sends SIGHUP and waits for the reload to be reported in status.
fn reload(d: &Daemon, state: &Path) -> Value {
    let before = status(state)["profile"]["generation"].as_u64().unwrap();
    let before_msg = status(state)["last_reload"].clone();
    d.signal("HUP");
    let start = Instant::now();
    loop {
        let st = status(state);
        let generation = st["profile"]["generation"].as_u64().unwrap();
        if generation > before || (st["last_reload"] != before_msg && !st["last_reload"].is_null())
        {
            return st;
        }
        if start.elapsed() > Duration::from_secs(10) {
            panic!("no reload seen:\n{}", d.log());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn open_ports(st: &Value) -> Vec<String> {
    st["firewall"]["open"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            format!(
                "{} {}-{} {}",
                p["proto"].as_str().unwrap(),
                p["first"],
                p["last"],
                p["reason"].as_str().unwrap()
            )
        })
        .collect()
}

/// `mppd run --firewall apply`: applies at start, re-applies on a SIGHUP that changes the
/// ruleset (and only then), keeps the ruleset when the new profile is invalid, removes the
/// table on `Firewall` Disabled and puts it back when enabled again, reports it in status,
/// removes it on a clean stop, and keeps it with `--firewall-keep-on-exit`.
#[test]
fn daemon_applies_reloads_and_removes() {
    let t0 = Instant::now();
    let lab = Lab::new();
    let sb = Sandbox::new();
    let state = sb.state();
    let mut d = Daemon::start(
        &lab,
        &state,
        sb.dir.path().join("d1.log"),
        &[],
        &["--firewall", "apply"],
    );

    let st = status(&state);
    let fw = &st["firewall"];
    assert_eq!(fw["mode"], "apply", "{st}");
    assert_eq!(
        (fw["applied"].as_bool(), fw["filtering"].as_bool()),
        (Some(true), Some(true)),
        "{st}"
    );
    assert!(
        open_ports(&st).contains(&"udp 5060-5060 SIP line 1".to_owned()),
        "{st}"
    );
    assert!(
        open_ports(&st).contains(&"udp 16384-16483 RTP".to_owned()),
        "{st}"
    );
    let first = lab.phone.table().expect("applied at start");
    assert!(!lab.phone.table_text().contains("12000"));
    // Text status says it too.
    let text = run_ok(Command::new(BIN).args(["--state-dir", s(&state), "status"]));
    assert!(text.contains("firewall:     applied, filtering"), "{text}");

    // A change that affects the ruleset: applied on SIGHUP, no restart.
    run_ok(Command::new(BIN).args([
        "--state-dir",
        s(&state),
        "config",
        "set",
        "Firewall_Config=TCP:12000",
    ]));
    let st = reload(&d, &state);
    assert_eq!(st["last_reload"]["ok"], true, "{st}");
    assert!(
        lab.phone.table_text().contains("tcp dport 12000 accept"),
        "{}",
        lab.phone.table_text()
    );
    assert!(open_ports(&st).contains(&"tcp 12000-12000 Firewall_Config".to_owned()));
    let with_12000 = lab.phone.table().unwrap();
    assert_ne!(with_12000, first);
    // A change that does not: not re-applied.
    run_ok(Command::new(BIN).args([
        "--state-dir",
        s(&state),
        "config",
        "set",
        "Syslog_Server=192.0.2.9",
    ]));
    reload(&d, &state);
    assert!(d.log().contains("firewall unchanged"), "{}", d.log());

    // An invalid Firewall_Config (written behind the store's back): refused, ruleset kept.
    let xml = std::fs::read_to_string(state.join("profile.xml")).unwrap();
    let bad = xml.replace(">TCP:12000<", ">TCP:12000,UDP:9:3<");
    assert_ne!(bad, xml);
    std::fs::write(state.join("profile.xml"), bad).unwrap();
    let st = reload(&d, &state);
    assert_eq!(st["last_reload"]["ok"], false, "{st}");
    assert!(
        st["last_reload"]["message"]
            .as_str()
            .unwrap()
            .contains("\"UDP:9:3\""),
        "{st}"
    );
    assert_eq!(
        lab.phone.table(),
        Some(with_12000.clone()),
        "the previous firewall stays"
    );
    assert_eq!(st["firewall"]["applied"], true);

    // Firewall Disabled: the table goes; Enabled again: it comes back.
    let disabled = profile(&sb, "off.xml", "TCP:12000");
    let off = std::fs::read_to_string(&disabled).unwrap().replace(
        "<flat-profile>",
        "<flat-profile><Firewall>Disabled</Firewall>",
    );
    std::fs::write(&disabled, off).unwrap();
    run_ok(Command::new(BIN).args([
        "--state-dir",
        s(&state),
        "config",
        "apply",
        "--replace",
        s(&disabled),
    ]));
    let st = reload(&d, &state);
    assert_eq!(
        lab.phone.table(),
        None,
        "Firewall Disabled removes the table"
    );
    assert_eq!(
        (
            st["firewall"]["enabled"].as_bool(),
            st["firewall"]["filtering"].as_bool()
        ),
        (Some(false), Some(false)),
        "{st}"
    );
    run_ok(Command::new(BIN).args([
        "--state-dir",
        s(&state),
        "config",
        "set",
        "Firewall=Enabled",
    ]));
    reload(&d, &state);
    assert_eq!(lab.phone.table(), Some(with_12000.clone()), "enabled again");

    // Clean stop: the table is removed.
    d.signal("TERM");
    assert!(d.wait_exit().success());
    assert_eq!(
        lab.phone.table(),
        None,
        "a clean stop removes the table:\n{}",
        d.log()
    );

    // --firewall-keep-on-exit: the table stays after the stop, until `mppd firewall flush`.
    let mut d = Daemon::start(
        &lab,
        &state,
        sb.dir.path().join("d2.log"),
        &[],
        &["--firewall", "apply", "--firewall-keep-on-exit"],
    );
    d.signal("TERM");
    assert!(d.wait_exit().success());
    assert_eq!(
        lab.phone.table(),
        Some(with_12000),
        "kept on exit:\n{}",
        d.log()
    );
    run_ok(
        lab.phone
            .exec(BIN)
            .args(["--state-dir", s(&state), "firewall", "flush"]),
    );
    assert_eq!(lab.phone.table(), None);
    eprintln!("daemon_applies_reloads_and_removes: {:?}", t0.elapsed());
}

/// Without `--firewall apply` the daemon only computes and logs; without nft or without root
/// it says so clearly and runs on (status answers and shows the error).
#[test]
fn daemon_log_mode_and_missing_nft_or_root() {
    let lab = Lab::new();

    // Default mode: log only, nothing in the kernel.
    let sb = Sandbox::new();
    let mut d = Daemon::start(&lab, &sb.state(), sb.dir.path().join("log.log"), &[], &[]);
    let st = status(&sb.state());
    assert_eq!(st["firewall"]["mode"], "log", "{st}");
    assert_eq!(st["firewall"]["applied"], false, "{st}");
    assert!(
        !open_ports(&st).is_empty(),
        "status shows what the ruleset would open: {st}"
    );
    assert!(
        d.log().contains("firewall ruleset computed, not applied"),
        "{}",
        d.log()
    );
    assert_eq!(lab.phone.table(), None);
    assert_eq!(run_ok(lab.phone.exec("nft").args(["list", "ruleset"])), "");
    d.signal("TERM");
    assert!(d.wait_exit().success());

    // No nft on PATH.
    let sb = Sandbox::new();
    let mut d = Daemon::start(
        &lab,
        &sb.state(),
        sb.dir.path().join("nonft.log"),
        &["env", "PATH=/nonexistent"],
        &["--firewall", "apply"],
    );
    let st = status(&sb.state());
    assert_eq!(st["firewall"]["applied"], false, "{st}");
    let err = st["firewall"]["error"].as_str().unwrap_or_default();
    assert!(err.contains("nft not found"), "{st}");
    assert!(
        d.log().contains("firewall NOT applied: nft not found"),
        "{}",
        d.log()
    );
    d.signal("TERM");
    assert!(d.wait_exit().success(), "runs on and stops cleanly");

    // Not root.
    let sb = Sandbox::new();
    std::fs::set_permissions(sb.dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
    let mut d = Daemon::start(
        &lab,
        &sb.state(),
        sb.dir.path().join("nonroot.log"),
        &[
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ],
        &["--firewall", "apply"],
    );
    let st = status(&sb.state());
    let err = st["firewall"]["error"].as_str().unwrap_or_default();
    assert!(err.contains("needs root"), "{st}");
    assert!(
        d.log().contains("firewall NOT applied: not permitted"),
        "{}",
        d.log()
    );
    assert_eq!(lab.phone.table(), None);
    d.signal("TERM");
    assert!(d.wait_exit().success());

    // `mppd firewall apply` without root: exit 1, saying why, nothing applied.
    let out = run(lab
        .phone
        .exec("setpriv")
        .args(["--reuid=65534", "--regid=65534", "--clear-groups", BIN])
        .args(["--state-dir", s(&sb.state()), "firewall", "apply"]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("firewall not applied: not permitted") && stderr.contains("needs root"),
        "{stderr}"
    );
    assert_eq!(lab.phone.table(), None);
}
