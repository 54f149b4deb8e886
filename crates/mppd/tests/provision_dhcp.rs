#![allow(clippy::unwrap_used, clippy::expect_used)]
//! DHCP discovery for real (issue 4 item 6): two network namespaces made by the test, "server"
//! and "phone", joined by a veth pair. dnsmasq runs in the server namespace, bound to its end of
//! the veth only, and answers DHCP with option 160 (first case) or 66 and 150 (second case); a
//! small HTTP server in the server namespace serves the profile at one of the candidate paths.
//! `ip netns exec PHONE mppd provision --once --dhcp-iface VETH` discovers, derives the
//! candidate URLs (mpp-provisioning §3.4), tries them in order and provisions from the served
//! one.
//!
//! Nothing touches the host's network: DHCP runs only inside the namespaces, which are removed
//! (with their interfaces) even when a test fails; dnsmasq is stopped by its PID. The phone's
//! address is configured statically (mppd only discovers options, it takes no lease). These
//! tests need root, `ip` and `dnsmasq`: without them they FAIL saying what is missing (CI and
//! scripts/test run as root and install the packages).

mod common;

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use common::{BIN, Sandbox, s};
use rustix::thread::{LinkNameSpaceType, move_into_link_name_space};

const SERVER: Ipv4Addr = Ipv4Addr::new(10, 77, 1, 1);
const VETH: &str = "dhcp0";

/// The candidate tail of the emulated identity (`$PSN` 8851-3PCC).
const PSN_TAIL: &str = "/8851-3PCC.xml";

fn require_root_and_tools() {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let euid = status
        .lines()
        .find_map(|l| l.strip_prefix("Uid:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .unwrap_or("?");
    assert_eq!(
        euid, "0",
        "provision_dhcp: these tests create network namespaces and run dnsmasq in them, which \
         needs root; run them as root (CI and scripts/test do)"
    );
    for (tool, arg, package) in [
        ("ip", "-V", "iproute2"),
        ("dnsmasq", "--version", "dnsmasq-base"),
    ] {
        let ok = Command::new(tool)
            .arg(arg)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        assert!(
            ok,
            "provision_dhcp: `{tool}` is missing: install the Debian package {package} \
             (scripts/test installs it)"
        );
    }
}

#[track_caller]
fn run_ok(cmd: &mut Command) -> String {
    let out: Output = cmd
        .output()
        .unwrap_or_else(|e| panic!("running {cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace made by the test; removed (with its interfaces) on drop.
struct Netns {
    name: String,
}

impl Netns {
    fn new(name: String) -> Self {
        run_ok(Command::new("ip").args(["netns", "add", &name]));
        Self { name }
    }

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
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .stderr(Stdio::null())
            .status();
    }
}

/// A process the test started; killed by its PID on drop.
struct Proc {
    child: Child,
    log: PathBuf,
}

impl Proc {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        // `ip netns exec` execs the program, so this PID is dnsmasq's.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A minimal HTTP/1.0 server on a thread inside a namespace: `GET path` answers 200 with the
/// body mapped to `path`, anything else 404; records the paths asked for. Stops on drop.
struct Http {
    stop: Arc<AtomicBool>,
    requests: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl Http {
    fn start(ns: &Netns, addr: SocketAddr, files: BTreeMap<String, String>) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let requests = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let path = ns.path();
        let (stop2, requests2) = (stop.clone(), requests.clone());
        let thread = std::thread::spawn(move || {
            let f = File::open(&path).unwrap();
            move_into_link_name_space(f.as_fd(), Some(LinkNameSpaceType::Network)).unwrap();
            let listener = TcpListener::bind(addr).unwrap();
            listener.set_nonblocking(true).unwrap();
            ready_tx.send(()).unwrap();
            while !stop2.load(Ordering::SeqCst) {
                match listener.accept() {
                    Ok((mut conn, _)) => {
                        conn.set_nonblocking(false).unwrap();
                        conn.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
                        let mut head = Vec::new();
                        let mut buf = [0u8; 1024];
                        while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                            match conn.read(&mut buf) {
                                Ok(0) | Err(_) => break,
                                Ok(n) => head.extend_from_slice(&buf[..n]),
                            }
                        }
                        let head = String::from_utf8_lossy(&head);
                        let target = head.split_whitespace().nth(1).unwrap_or("").to_owned();
                        requests2.lock().unwrap().push(target.clone());
                        let (status, body) = match files.get(&target) {
                            Some(b) => ("200 OK", b.as_str()),
                            None => ("404 Not Found", "not found\n"),
                        };
                        let _ = write!(
                            conn,
                            "HTTP/1.0 {status}\r\nContent-Type: text/xml\r\n\
                             Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
                            body.len()
                        );
                    }
                    Err(e) if e.kind() == ErrorKind::WouldBlock => {
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(e) => panic!("accept: {e}"),
                }
            }
        });
        ready_rx
            .recv_timeout(Duration::from_secs(10))
            .expect("HTTP server ready");
        Self {
            stop,
            requests,
            thread: Some(thread),
        }
    }

    fn requests(&self) -> Vec<String> {
        self.requests.lock().unwrap().clone()
    }
}

impl Drop for Http {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The server and phone namespaces joined by a veth pair; dnsmasq and the HTTP server are
/// declared first so that they stop before the namespaces go.
struct Lab {
    dnsmasq: Option<Proc>,
    http: Option<Http>,
    phone: Netns,
    server: Netns,
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

impl Lab {
    fn new() -> Self {
        require_root_and_tools();
        let id = format!(
            "{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        );
        let lab = Self {
            dnsmasq: None,
            http: None,
            phone: Netns::new(format!("mppddhcp-phone-{id}")),
            server: Netns::new(format!("mppddhcp-srv-{id}")),
        };
        // Both ends are made directly inside the namespaces: the host never has them.
        run_ok(Command::new("ip").args([
            "link",
            "add",
            VETH,
            "netns",
            &lab.phone.name,
            "type",
            "veth",
            "peer",
            "name",
            VETH,
            "netns",
            &lab.server.name,
        ]));
        // The phone's address is the OS's business (static here): mppd takes no lease.
        for (ns, addr) in [(&lab.server, "10.77.1.1/24"), (&lab.phone, "10.77.1.2/24")] {
            run_ok(ns.exec("ip").args(["addr", "add", addr, "dev", VETH]));
            run_ok(ns.exec("ip").args(["link", "set", VETH, "up"]));
            run_ok(ns.exec("ip").args(["link", "set", "lo", "up"]));
        }
        lab
    }

    /// dnsmasq on the server's veth only, DHCP with `options`, no DNS; waits until it serves.
    fn start_dnsmasq(&mut self, dir: &Path, options: &[&str]) {
        self.start_dnsmasq_with(dir, options, &["--port=0"]);
    }

    /// [`Self::start_dnsmasq`] with other arguments than `--port=0` (DNS records).
    fn start_dnsmasq_with(&mut self, dir: &Path, options: &[&str], extra: &[&str]) {
        let log = dir.join("dnsmasq.log");
        let mut cmd = self.server.exec("dnsmasq");
        cmd.args([
            "--no-daemon",
            "--conf-file=/dev/null",
            &format!("--interface={VETH}"),
            "--bind-interfaces",
            "--except-interface=lo",
            "--dhcp-range=10.77.1.100,10.77.1.150,255.255.255.0,1h",
            "--user=root",
            "--pid-file=",
            "--log-dhcp",
            "--log-facility=-",
        ])
        .args(extra)
        .arg(format!("--dhcp-leasefile={}", dir.join("leases").display()))
        .args(options.iter().map(|o| format!("--dhcp-option={o}")))
        .stdout(Stdio::from(File::create(&log).unwrap()))
        .stderr(Stdio::from(File::create(dir.join("dnsmasq.err")).unwrap()));
        let child = cmd.spawn().expect("spawn dnsmasq");
        let proc = Proc { child, log };
        let start = Instant::now();
        loop {
            let log = proc.log() + &std::fs::read_to_string(dir.join("dnsmasq.err")).unwrap();
            if log.contains("DHCP, IP range") {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "dnsmasq did not start:\n{log}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        self.dnsmasq = Some(proc);
    }

    fn dnsmasq_log(&self, dir: &Path) -> String {
        self.dnsmasq.as_ref().map(Proc::log).unwrap_or_default()
            + &std::fs::read_to_string(dir.join("dnsmasq.err")).unwrap_or_default()
    }

    /// `mppd --state-dir STATE provision --once --dhcp-iface VETH` in the phone namespace.
    fn provision(&self, state: &Path) -> Output {
        self.phone
            .exec(BIN)
            .args(["--state-dir", s(state), "provision", "--once"])
            .args(["--dhcp-iface", VETH])
            .output()
            .expect("run mppd provision")
    }
}

fn profile(station: &str) -> String {
    format!("<flat-profile>\n  <Station_Name>{station}</Station_Name>\n</flat-profile>\n")
}

fn stored(state: &Path) -> String {
    std::fs::read_to_string(state.join("profile.xml")).unwrap_or_default()
}

/// Option 160 with a URL: the candidates are the URL, then `/$PSN.xml` and
/// `/Cisco/$PN/$MA.cfg` under it; only `/$PSN.xml` is served, so the first candidate fails
/// (404) and the second provisions.
#[test]
fn option_160_url_provisions_from_the_served_candidate() {
    let mut lab = Lab::new();
    let sb = Sandbox::new();
    let port = 8160;
    let base = format!("http://{SERVER}:{port}/prov");
    lab.http = Some(Http::start(
        &lab.server,
        SocketAddr::from((SERVER, port)),
        BTreeMap::from([(format!("/prov{PSN_TAIL}"), profile("dhcp-160"))]),
    ));
    lab.start_dnsmasq(sb.dir.path(), &[&format!("160,{base}")]);

    let out = lab.provision(&sb.state());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!(
        "--- stdout:\n{stdout}\n--- stderr:\n{stderr}\n--- dnsmasq:\n{}",
        lab.dnsmasq_log(sb.dir.path())
    );
    assert!(out.status.success(), "{all}");
    assert!(
        stdout.contains(&format!("dhcp: offer from {SERVER} on {VETH}: 160={base}")),
        "{all}"
    );
    assert!(
        stdout.contains(&format!("dhcp: candidate failed: {base} (option 160)")),
        "{all}"
    );
    assert!(
        stdout.contains(&format!(
            "dhcp: candidate used: {base}{PSN_TAIL} (option 160)"
        )),
        "{all}"
    );
    assert!(stdout.contains("result: ok"), "{all}");
    assert!(stored(&sb.state()).contains("dhcp-160"), "{all}");
    // dnsmasq saw the vendor class $PN.
    assert!(
        lab.dnsmasq_log(sb.dir.path())
            .contains("vendor class: CP-8851-3PCC"),
        "{all}"
    );
    let http = lab.http.as_ref().unwrap();
    assert_eq!(
        http.requests(),
        ["/prov".to_owned(), format!("/prov{PSN_TAIL}")],
        "{all}"
    );
}

/// Options 66 (a bare IP) and 150 (two IPs): option 66 comes first in the default
/// `DHCP_Option_To_Use`; its candidates are tftp, then http, then https; no TFTP server answers,
/// the http `/$PSN.xml` one is served on port 80 and provisions. Option 150's are not needed.
#[test]
fn options_66_and_150_provision_over_http_after_tftp() {
    let mut lab = Lab::new();
    let sb = Sandbox::new();
    lab.http = Some(Http::start(
        &lab.server,
        SocketAddr::from((SERVER, 80)),
        BTreeMap::from([(PSN_TAIL.to_owned(), profile("dhcp-66"))]),
    ));
    lab.start_dnsmasq(sb.dir.path(), &["66,10.77.1.1", "150,10.77.1.1,10.77.1.3"]);

    let out = lab.provision(&sb.state());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let all = format!(
        "--- stdout:\n{stdout}\n--- stderr:\n{stderr}\n--- dnsmasq:\n{}",
        lab.dnsmasq_log(sb.dir.path())
    );
    assert!(out.status.success(), "{all}");
    assert!(
        stdout.contains(&format!(
            "dhcp: offer from {SERVER} on {VETH}: 66=10.77.1.1, 150=10.77.1.1;10.77.1.3"
        )),
        "{all}"
    );
    for tftp in [
        format!("tftp://{SERVER}{PSN_TAIL}"),
        format!("tftp://{SERVER}/Cisco/CP-8851-3PCC/020000000001.cfg"),
    ] {
        assert!(
            stdout.contains(&format!("dhcp: candidate failed: {tftp} (option 66)")),
            "{all}"
        );
    }
    assert!(
        stdout.contains(&format!(
            "dhcp: candidate used: http://{SERVER}{PSN_TAIL} (option 66)"
        )),
        "{all}"
    );
    assert!(stored(&sb.state()).contains("dhcp-66"), "{all}");
    assert_eq!(
        lab.http.as_ref().unwrap().requests(),
        [PSN_TAIL.to_owned()],
        "{all}"
    );
}

/// The PAC file WPAD finds, for `mppd proxy find` in the phone namespace.
const WPAD_PAC: &str = "function FindProxyForURL(url, host) {\n\
    if (dnsDomainIs(host, \".example.com\")) return \"PROXY 10.77.1.1:3128; DIRECT\";\n\
    return \"DIRECT\";\n}\n";

/// `mppd proxy find --profile AUTO --dhcp-iface VETH URL [args]` in the phone namespace.
fn proxy_find(lab: &Lab, sb: &Sandbox, args: &[&str]) -> (Output, String) {
    let profile = sb.write(
        "auto.xml",
        "<flat-profile><Proxy_Mode>Auto</Proxy_Mode></flat-profile>",
    );
    let out = lab
        .phone
        .exec(BIN)
        .args(["--state-dir", s(&sb.state()), "proxy", "find", "--profile"])
        .arg(&profile)
        .args(["--dhcp-iface", VETH])
        .args(args)
        .arg("http://www.example.com/index.html")
        .output()
        .expect("run mppd proxy find");
    let all = format!(
        "--- stdout:\n{}\n--- stderr:\n{}\n--- dnsmasq:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        lab.dnsmasq_log(sb.dir.path())
    );
    (out, all)
}

/// WPAD by DHCP option 252 (issue 8): dnsmasq hands out the PAC URL, the phone fetches the PAC
/// file from it and evaluates it.
#[test]
fn wpad_option_252_gives_the_pac_file() {
    let mut lab = Lab::new();
    let sb = Sandbox::new();
    lab.http = Some(Http::start(
        &lab.server,
        SocketAddr::from((SERVER, 8252)),
        BTreeMap::from([("/wpad.dat".to_owned(), WPAD_PAC.to_owned())]),
    ));
    let url = format!("http://{SERVER}:8252/wpad.dat");
    lab.start_dnsmasq(sb.dir.path(), &[&format!("252,{url}")]);
    let (out, all) = proxy_find(&lab, &sb, &[]);
    assert!(out.status.success(), "{all}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "PROXY 10.77.1.1:3128; DIRECT",
            "proxy: PROXY 10.77.1.1:3128",
            "fallback: DIRECT",
            &format!("pac: {url}"),
        ],
        "{all}"
    );
    assert_eq!(
        lab.http.as_ref().unwrap().requests(),
        ["/wpad.dat"],
        "{all}"
    );
}

/// WPAD by DNS (issue 8): no option 252, the DHCP domain is `a.corp.example.test`; dnsmasq's
/// DNS knows only `wpad.corp.example.test`, so the phone walks one label down the domain and
/// finds the PAC file at `http://wpad.corp.example.test/wpad.dat` (and never asks for
/// `wpad.example.test`'s parent, `wpad.test`).
#[test]
fn wpad_dns_walks_down_the_dhcp_domain() {
    let mut lab = Lab::new();
    let sb = Sandbox::new();
    lab.http = Some(Http::start(
        &lab.server,
        SocketAddr::from((SERVER, 80)),
        BTreeMap::from([("/wpad.dat".to_owned(), WPAD_PAC.to_owned())]),
    ));
    lab.start_dnsmasq_with(
        sb.dir.path(),
        &["15,a.corp.example.test"],
        &[
            "--port=53",
            "--no-resolv",
            "--no-hosts",
            "--log-queries",
            "--host-record=wpad.corp.example.test,10.77.1.1",
        ],
    );
    let (out, all) = proxy_find(&lab, &sb, &["--nameserver", "10.77.1.1"]);
    assert!(out.status.success(), "{all}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        stdout.lines().collect::<Vec<_>>(),
        [
            "PROXY 10.77.1.1:3128; DIRECT",
            "proxy: PROXY 10.77.1.1:3128",
            "fallback: DIRECT",
            "pac: http://wpad.corp.example.test/wpad.dat",
        ],
        "{all}"
    );
    let log = lab.dnsmasq_log(sb.dir.path());
    assert!(log.contains("query[A] wpad.a.corp.example.test"), "{all}");
    assert!(log.contains("query[A] wpad.corp.example.test"), "{all}");
    assert!(
        !log.contains("wpad.example.test") && !log.contains("wpad.test"),
        "{all}"
    );
}
