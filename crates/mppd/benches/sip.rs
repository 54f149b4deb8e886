//! SIP figures of issue 5, all in one run against one kamailio 5.6 on loopback (started here,
//! SHA-256 challenges, UDP and TLS listeners):
//!
//! - **register time**: `register_once` (the code behind `mppd sip register`): locate, TCP and
//!   TLS handshake (or the UDP socket), REGISTER, 401 with a SHA-256 challenge, REGISTER with
//!   credentials, 200 OK; 60 runs per transport after 5 warm-up runs; median, p90 and best.
//!   The first-REGISTER-to-200 part alone is the TLS figure less the handshake; both are
//!   printed.
//! - **memory**: the peak resident set (`VmHWM` of `/proc/PID/status`) of `mppd run` (release
//!   build) once its line is registered over TLS, beside `baresip` registered over UDP to the
//!   same kamailio (a second one, challenging with MD5: baresip 1.0 has no SHA-256 digest).
//!
//!   The daemon is `MPPD_BIN` when set (scripts/bench-sip sets the release build, the one that
//!   is shipped), and the resident memory is also shown per mapping, with how much of the code
//!   layout file the binary still matches.
//!
//! `scripts/bench-sip` runs it. `MPPD_BENCH_MEMORY_ONLY=1` skips the register timings;
//! `MPPD_BENCH_LAYOUT=FILE` (scripts/layout) runs the daemon under callgrind and writes the
//! functions it executed to FILE. Needs root-free loopback only, kamailio (+ tls modules) and
//! baresip (and valgrind for the layout).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use mppd::sip::locate::SipResolver;
use mppd::sip::register::register_once;
use mppd::state::StateDir;
use mppd_config::Profile;
use mppd_testkit::kamailio::{DEFAULT_PASSWORD, DEFAULT_USER, DOMAIN, Kamailio};
use mppd_testkit::mppd::profile_xml;
use mppd_testkit::process::free_port;
use mppd_testkit::{TestCa, Validity};

/// The daemon under test: `MPPD_BIN` (scripts/bench-sip sets the release build, the one that is
/// shipped and laid out), else the bench profile's build.
fn bin() -> String {
    std::env::var("MPPD_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_mppd").to_owned())
}
const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const RUNS: usize = 60;

struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A `KEY:  N kB` line of a `/proc/PID/` file, in KiB.
fn proc_kib(pid: u32, file: &str, key: &str) -> u64 {
    let text = fs::read_to_string(format!("/proc/{pid}/{file}")).unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))
        .map(kib_of)
        .unwrap()
}

fn vm_hwm_kib(pid: u32) -> u64 {
    proc_kib(pid, "status", "VmHWM")
}

fn anon_kib(pid: u32) -> u64 {
    proc_kib(pid, "smaps_rollup", "Anonymous")
}

/// Resident KiB per mapping (summed by path; anonymous mappings as `[anon]`), largest first:
/// where the peak lies.
fn rss_by_mapping(pid: u32) -> Vec<(String, u64, u64)> {
    let smaps = fs::read_to_string(format!("/proc/{pid}/smaps")).unwrap();
    let mut by: std::collections::BTreeMap<String, (u64, u64)> = Default::default();
    let mut current = String::new();
    for line in smaps.lines() {
        let mut fields = line.split_whitespace();
        let first = fields.next().unwrap_or("");
        if first.contains('-') && !first.ends_with(':') {
            let name = line.split_whitespace().nth(5).unwrap_or("[anon]");
            current = name.rsplit('/').next().unwrap_or(name).to_owned();
        } else if let Some(kib) = line.strip_prefix("Rss:") {
            by.entry(current.clone()).or_default().0 += kib_of(kib);
        } else if let Some(kib) = line.strip_prefix("Anonymous:") {
            by.entry(current.clone()).or_default().1 += kib_of(kib);
        }
    }
    let mut v: Vec<_> = by.into_iter().map(|(k, (r, a))| (k, r, a)).collect();
    v.sort_by_key(|(_, r, _)| std::cmp::Reverse(*r));
    v
}

fn kib_of(v: &str) -> u64 {
    v.trim().trim_end_matches("kB").trim().parse().unwrap_or(0)
}

fn print_breakdown(who: &str, pid: u32) {
    let rows = rss_by_mapping(pid);
    let line = rows
        .iter()
        .filter(|(_, r, _)| *r >= 64)
        .map(|(n, r, a)| format!("{n} {r} ({a} anon)"))
        .collect::<Vec<_>>()
        .join(", ");
    println!("  {who} resident KiB by mapping: {line}");
}

fn profile(transport: &str, outbound: &str) -> String {
    let port = free_port(LOCALHOST).to_string();
    profile_xml(&[
        ("User_ID_1_", DEFAULT_USER),
        ("Password_1_", DEFAULT_PASSWORD),
        ("Proxy_1_", DOMAIN),
        ("Outbound_Proxy_1_", outbound),
        ("SIP_Transport_1_", transport),
        ("SIP_Port_1_", &port),
        ("Auth_Support_RFC8760_1_", "Yes"),
    ])
}

fn stats(mut v: Vec<Duration>) -> (Duration, Duration, Duration) {
    v.sort();
    (v[v.len() / 2], v[v.len() * 9 / 10], v[0])
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

fn main() {
    let ca = TestCa::new("mppd sip bench CA");
    let (cert, key) = ca.issue_server(&["sip.mppd.test"], &[LOCALHOST], None, Validity::Valid);
    let k = Kamailio::builder()
        .algorithm("SHA-256")
        .tcp()
        .tls(&cert, &key)
        .start();
    let dir = tempfile::tempdir().unwrap();
    let state_path = dir.path().join("state");
    fs::create_dir_all(&state_path).unwrap();
    ca.install_into(&state_path, "test-ca.pem");
    let state = StateDir::new(&state_path);
    let identity = mppd_config::identity::DeviceIdentity::emulated();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let resolver = SipResolver::new(None);

    println!("kamailio 5.6 on 127.0.0.1, SHA-256 challenges; {RUNS} registrations per transport");
    if let Some(file) = std::env::var_os("SSL_CERT_FILE") {
        println!(
            "(SSL_CERT_FILE={} is set: every TLS context of this process loads that bundle; \
             scripts/bench-sip runs the bench without it)",
            file.to_string_lossy()
        );
    }
    println!(
        "{:<44} {:>10} {:>10} {:>10}",
        "register (REGISTER/401/REGISTER/200)", "median", "p90", "best"
    );
    let mut tls_exchange = Duration::ZERO;
    let memory_only = std::env::var_os("MPPD_BENCH_MEMORY_ONLY").is_some();
    if !memory_only {
        for (transport, port) in [
            ("UDP", k.udp_port()),
            ("TCP", k.tcp_port()),
            ("TLS", k.tls_port()),
        ] {
            let p = Profile::parse(profile(transport, &format!("127.0.0.1:{port}")).as_bytes())
                .unwrap();
            let mut times = Vec::with_capacity(RUNS);
            let mut exchanges = Vec::with_capacity(RUNS);
            for i in 0..RUNS + 5 {
                let t0 = Instant::now();
                let o = runtime.block_on(register_once(&p, &state, &identity, 1, &resolver));
                let t = t0.elapsed();
                assert!(o.registered, "{}", o.summary);
                assert_eq!(o.algorithm.as_deref(), Some("SHA-256"), "{}", o.summary);
                if i >= 5 {
                    times.push(t);
                    exchanges.push(Duration::from_micros(o.exchange_us.unwrap()));
                }
            }
            let (median, p90, best) = stats(times);
            println!(
                "{:<44} {:>10} {:>10} {:>10}",
                format!("  {transport}: whole register_once"),
                ms(median),
                ms(p90),
                ms(best)
            );
            let (median, p90, best) = stats(exchanges);
            println!(
                "{:<44} {:>10} {:>10} {:>10}",
                format!("  {transport}: first REGISTER to 200"),
                ms(median),
                ms(p90),
                ms(best)
            );
            if transport == "TLS" {
                tls_exchange = median;
            }
        }
        // The TLS handshake alone (TCP connect + handshake + name check), same setup.
        {
            let policy = mppd_core::tls::client_policy(
                &Profile::parse(profile("TLS", "127.0.0.1:1").as_bytes()).unwrap(),
                mppd_core::tls::ClientApp::Sip { line: 1 },
            );
            let (connector, _) = mppd::tls::connector(&policy, &state).unwrap();
            let addr = std::net::SocketAddr::new(LOCALHOST, k.tls_port());
            let mut times = Vec::new();
            for _ in 0..RUNS {
                let t0 = Instant::now();
                runtime.block_on(async {
                    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
                    let _s =
                        mppd::tls::handshake(&connector, tcp, "127.0.0.1", Duration::from_secs(5))
                            .await
                            .unwrap();
                });
                times.push(t0.elapsed());
            }
            let (median, p90, best) = stats(times);
            println!(
                "{:<44} {:>10} {:>10} {:>10}",
                "  TLS: TCP connect + handshake alone",
                ms(median),
                ms(p90),
                ms(best)
            );
        }
        println!(
            "first REGISTER to 200 over TLS with a SHA-256 challenge: median {} (goal <= 10 ms: {})",
            ms(tls_exchange),
            if tls_exchange <= Duration::from_millis(10) {
                "met"
            } else {
                "MISSED"
            }
        );
        println!(
            "(the whole register_once includes building the TLS context, once per connection; \
             the system roots are looked up on demand, not loaded)"
        );
    }

    // Memory: mppd run (line 1 over TLS) and baresip (UDP) registered to one kamailio that
    // challenges with MD5: baresip 1.0 answers MD5 only.
    drop(k);
    let k = Kamailio::builder()
        .algorithm("MD5")
        .tls(&cert, &key)
        .start();
    fs::write(
        dir.path().join("p.xml"),
        profile("TLS", &format!("127.0.0.1:{}", k.tls_port())),
    )
    .unwrap();
    let ok = Command::new(bin())
        .arg("--state-dir")
        .arg(&state_path)
        .args(["config", "apply", "--replace"])
        .arg(dir.path().join("p.xml"))
        .status()
        .unwrap();
    assert!(ok.success());
    // scripts/layout: the daemon runs under callgrind, which lists every function it executes.
    let layout = std::env::var_os("MPPD_BENCH_LAYOUT").map(std::path::PathBuf::from);
    let callgrind_out = dir.path().join("callgrind.out");
    let mut cmd = match &layout {
        Some(_) => {
            let mut c = Command::new("valgrind");
            c.args(["--tool=callgrind", "--demangle=no"])
                .arg(format!("--callgrind-out-file={}", callgrind_out.display()))
                .arg(bin());
            c
        }
        None => Command::new(bin()),
    };
    // As a service runs it: OpenSSL's own trust paths (cargo sets SSL_CERT_FILE for what it
    // starts, which would make every TLS context load that whole bundle).
    cmd.env_remove("SSL_CERT_FILE").env_remove("SSL_CERT_DIR");
    let daemon = Killed(
        cmd.arg("--state-dir")
            .arg(&state_path)
            .arg("run")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_until("mppd run registered", || {
        let out = Command::new(bin())
            .arg("--state-dir")
            .arg(&state_path)
            .args(["status", "--format", "json"])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).contains("\"state\": \"registered\"")
    });
    std::thread::sleep(Duration::from_millis(500));
    let mppd_kib = vm_hwm_kib(daemon.0.id());
    let mppd_anon = anon_kib(daemon.0.id());

    // baresip over UDP to the same kamailio.
    let bdir = dir.path().join("baresip");
    fs::create_dir_all(&bdir).unwrap();
    let bport = free_port(LOCALHOST);
    fs::write(
        bdir.join("config"),
        format!(
            "sip_listen\t127.0.0.1:{bport}\nmodule_path\t/usr/lib/baresip/modules\n\
             module\tg711.so\nmodule_app\taccount.so\n"
        ),
    )
    .unwrap();
    fs::write(
        bdir.join("accounts"),
        format!(
            "<sip:{DEFAULT_USER}@127.0.0.1:{};transport=udp>;auth_pass={DEFAULT_PASSWORD};\
             regint=3600\n",
            k.udp_port()
        ),
    )
    .unwrap();
    let baresip = Killed(
        Command::new("baresip")
            .arg("-f")
            .arg(&bdir)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("baresip (Debian package baresip)"),
    );
    let needle = format!("127.0.0.1:{bport}");
    let registered = || {
        k.log()
            .lines()
            .any(|l| l.contains("MPPD-REGISTERED") && l.contains(&needle))
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while !registered() {
        assert!(
            Instant::now() < deadline,
            "baresip did not register; kamailio's log:\n{}",
            k.log()
                .lines()
                .filter(|l| l.contains("MPPD-"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(500));
    let baresip_kib = vm_hwm_kib(baresip.0.id());
    let baresip_anon = anon_kib(baresip.0.id());
    println!(
        "peak RSS (VmHWM) with one registered line: mppd run (TLS) {mppd_kib} KiB, \
         baresip (UDP) {baresip_kib} KiB, ratio mppd/baresip {:.2} (goal <= 1: {})",
        mppd_kib as f64 / baresip_kib as f64,
        if layout.is_some() {
            "not measured: the daemon ran under callgrind"
        } else if mppd_kib <= baresip_kib {
            "met"
        } else {
            "MISSED"
        }
    );
    println!(
        "  of which anonymous memory (heap, stacks; smaps_rollup): mppd {mppd_anon} KiB, \
         baresip {baresip_anon} KiB; the rest is file-backed pages of the binaries and of \
         libssl/libcrypto (mppd links OpenSSL statically)"
    );
    print_breakdown("mppd run", daemon.0.id());
    print_breakdown("baresip", baresip.0.id());
    print_layout_coverage();
    drop(baresip);
    match layout {
        Some(order_file) => write_layout(daemon, &callgrind_out, &order_file),
        None => drop(daemon),
    }
}

/// The layout file the release build links with (crates/mppd/build.rs).
const ORDER_FILE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/layout/mppd-run.order");

/// How much of the layout file the measured binary still has: names change as the code does
/// (a stale file costs memory, never correctness; `scripts/layout` records it again).
fn print_layout_coverage() {
    let Ok(order) = fs::read_to_string(ORDER_FILE) else {
        println!("  layout: no {ORDER_FILE}");
        return;
    };
    let Ok(out) = Command::new("nm").arg("--defined-only").arg(bin()).output() else {
        println!("  layout: nm (binutils) is missing; coverage not measured");
        return;
    };
    let symbols: std::collections::HashSet<&str> = std::str::from_utf8(&out.stdout)
        .unwrap_or("")
        .lines()
        .filter_map(|l| l.split_whitespace().nth(2))
        .collect();
    let names: Vec<&str> = order.lines().filter(|l| !l.is_empty()).collect();
    let found = names.iter().filter(|n| symbols.contains(**n)).count();
    println!(
        "  layout: {found} of the {} functions of layout/mppd-run.order are in the measured \
         binary{}",
        names.len(),
        // Each missing name can cost a 64 KiB window of text: 21 of 3,385 (0.6 %) once took
        // the peak from 6.7 to 7.5 MiB.
        if found * 1000 < names.len() * 999 {
            " (stale: run scripts/layout)"
        } else {
            ""
        }
    );
}

/// Stops the daemon (SIGTERM, so that callgrind writes its profile), then writes the names of
/// the functions of the binary it executed to `order_file` (in the profile's order, which is
/// callgrind's, not the order of execution: only grouping them matters).
fn write_layout(daemon: Killed, profile: &std::path::Path, order_file: &std::path::Path) {
    let pid = daemon.0.id().to_string();
    assert!(
        Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap()
            .success()
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while fs::metadata(profile).map_or(0, |m| m.len()) == 0 || process_alive(&pid) {
        assert!(
            Instant::now() < deadline,
            "callgrind did not write its profile"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    drop(daemon);
    let text = fs::read_to_string(profile).unwrap();
    let binary = fs::canonicalize(bin()).unwrap();
    let names = executed_functions(&text, &binary.to_string_lossy());
    assert!(
        names.len() > 1000,
        "only {} functions recorded",
        names.len()
    );
    fs::write(order_file, names.join("\n") + "\n").unwrap();
    println!(
        "layout: {} functions executed by mppd run written to {}",
        names.len(),
        order_file.display()
    );
}

fn process_alive(pid: &str) -> bool {
    fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| {
        !s.rsplit(')')
            .next()
            .unwrap_or("")
            .trim_start()
            .starts_with('Z')
    })
}

/// The functions of `object` that a callgrind profile (`--demangle=no`) shows executed, in
/// the order they first appear in the file. Callgrind compresses names: `fn=(12) name` defines id 12,
/// a later `fn=(12)` refers to it.
fn executed_functions(profile: &str, object: &str) -> Vec<String> {
    use std::collections::{HashMap, HashSet};
    fn resolve(table: &mut HashMap<String, String>, value: &str) -> Option<String> {
        match value.strip_prefix('(').and_then(|v| v.split_once(')')) {
            Some((id, rest)) => {
                let rest = rest.trim();
                if !rest.is_empty() {
                    table.insert(id.to_owned(), rest.to_owned());
                }
                table.get(id).cloned()
            }
            None => Some(value.to_owned()),
        }
    }
    let (mut objects, mut functions) = (HashMap::new(), HashMap::new());
    let mut current_object = None;
    let mut seen = HashSet::new();
    let mut order = Vec::new();
    for line in profile.lines() {
        if let Some(v) = line.strip_prefix("ob=") {
            current_object = resolve(&mut objects, v.trim());
        } else if let Some(v) = line.strip_prefix("cob=") {
            resolve(&mut objects, v.trim());
        } else if let Some(v) = line.strip_prefix("cfn=") {
            resolve(&mut functions, v.trim());
        } else if let Some(v) = line.strip_prefix("fn=") {
            let Some(name) = resolve(&mut functions, v.trim()) else {
                continue;
            };
            if current_object.as_deref() != Some(object) {
                continue;
            }
            // Recursion levels are shown as name'2; addresses stand for unnamed code.
            let name = name.split('\'').next().unwrap_or("").to_owned();
            if !name.is_empty() && !name.starts_with("0x") && seen.insert(name.clone()) {
                order.push(name);
            }
        }
    }
    order
}

fn wait_until(what: &str, mut ok: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(60);
    while !ok() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}
