//! SIPp 3.6.1 (Debian package `sip-tester`) as a scripted SIP peer, and `socat` as the TLS
//! front of a SIPp TCP server (this SIPp is built without TLS: `-t l1` fails).
//!
//! A [`Sipp`] runs one XML scenario (`crates/mppd/tests/data/sip/*.xml`) as a server (UAS,
//! listening on a free loopback port) or as a client (UAC, calling a remote address), over UDP
//! (`-t u1`) or TCP (`-t t1`), for `-m N` calls, with `-timeout` so that it always ends.
//! Every run traces its messages (`-trace_msg`, `-message_file`) and errors (`-trace_err`,
//! `-error_file`) into a temporary directory; [`Sipp::wait`] returns its exit status with
//! those texts. Each message in the message log is preceded by a line of dashes and a
//! direction line (`UDP message received [N] bytes :`, `TCP message sent (N bytes):`).
//!
//! Every run has `-default_behaviors all,-bye`: an aborted call is not followed by a BYE,
//! unexpected messages still abort it.
//!
//! SIPp's exit status: 0 when every call succeeded, 1 when a call failed (an unexpected
//! message, e.g. a `403` where the scenario waits for `200`, or a timeout with
//! `-timeout_error`), 97 after an internal `stop_now`, 99 when no call was processed, 255 on
//! a fatal error, 254 when it could not bind its socket (then [`SippBuilder::start`] retries
//! with another port). SIPp's `[authentication]` and `verifyauth` do MD5 only.
//!
//! Sockets: the SIP socket and the media sockets (`-mp` .. `-mp`+3) are bound to 127.0.0.1,
//! each on a free port; SIPp 3.6.1 binds its UDP remote-control socket (`-cp`, a free port
//! here) to 0.0.0.0 and has no option to bind it elsewhere or to turn it off.
//!
//! Facts about this SIPp the scenarios rely on: a `[key]` used in a scenario must be given
//! with `-key` (SIPp refuses to start otherwise); a variable assigned by `<ereg>` must be
//! referenced twice (`<Reference variables="..."/>`); `<pause milliseconds>` takes no
//! keyword; `[field0]` is not expanded inside `[authentication username=... password=...]`
//! (use [`SippBuilder::credentials`]); the digest `uri` of `[authentication]` is
//! `sip:REMOTE_IP:REMOTE_PORT` unless `-auth_uri` is given; over TCP, a request that arrives
//! before SIPp answered the previous one (pipelined) is an unexpected message.
//!
//! Processes are killed by PID (SIGTERM, then SIGKILL) when dropped; their temporary
//! directories are removed.

use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::{self, ChildGuard, READY_TIMEOUT};

/// How many times a start is retried when a chosen port was taken in the meantime.
const PORT_ATTEMPTS: u32 = 5;

/// The default `-timeout` of a run.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(20);

/// How long [`Sipp::wait`] waits beyond the run's `-timeout` before it gives up.
const WAIT_MARGIN: Duration = Duration::from_secs(10);

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The transport of a SIPp run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SippTransport {
    /// `-t u1`: UDP, one socket.
    Udp,
    /// `-t t1`: TCP, one connection.
    Tcp,
}

impl SippTransport {
    fn flag(self) -> &'static str {
        match self {
            Self::Udp => "u1",
            Self::Tcp => "t1",
        }
    }

    fn proto(self) -> Proto {
        match self {
            Self::Udp => Proto::Udp,
            Self::Tcp => Proto::TcpListen,
        }
    }
}

#[derive(Debug, Clone)]
enum Role {
    Uas,
    Uac { service: String, remote: SocketAddr },
}

/// The options of a SIPp run; [`start`](Self::start) runs it.
#[derive(Debug, Clone)]
pub struct SippBuilder {
    scenario: PathBuf,
    role: Role,
    transport: SippTransport,
    calls: u32,
    timeout: Duration,
    keys: Vec<(String, String)>,
    credentials: Option<(String, String)>,
    inject: Option<String>,
    args: Vec<String>,
}

impl SippBuilder {
    /// `-t u1` (the default) or `-t t1`.
    pub fn transport(mut self, transport: SippTransport) -> Self {
        self.transport = transport;
        self
    }

    /// `-t t1`.
    pub fn tcp(self) -> Self {
        self.transport(SippTransport::Tcp)
    }

    /// `-m N`: stop after N calls (default 1).
    pub fn calls(mut self, n: u32) -> Self {
        self.calls = n;
        self
    }

    /// `-timeout`: SIPp quits (as a failure, `-timeout_error`) after this long (default
    /// [`DEFAULT_TIMEOUT`]); whole seconds, at least 1.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// `-key NAME VALUE`: a scenario parameter, used as `[NAME]` in the scenario. Each call
    /// appends.
    pub fn key(mut self, name: &str, value: &str) -> Self {
        self.keys.push((name.to_owned(), value.to_owned()));
        self
    }

    /// `-au USER -ap PASSWORD`: the credentials of a bare `[authentication]`.
    pub fn credentials(mut self, user: &str, password: &str) -> Self {
        self.credentials = Some((user.to_owned(), password.to_owned()));
        self
    }

    /// `-inf FILE` with one `SEQUENTIAL` line holding `fields`: the scenario reads them as
    /// `[field0]`, `[field1]`, ... in message text (SIPp 3.6.1 does not expand them inside
    /// `[authentication ...]`: use [`credentials`](Self::credentials)). Fields must not
    /// contain `;`.
    pub fn inject(mut self, fields: &[&str]) -> Self {
        let mut csv = String::from("SEQUENTIAL\n");
        for f in fields {
            assert!(!f.contains(';'), "sipp: an injected field holds ';': {f:?}");
            csv.push_str(f);
            csv.push(';');
        }
        csv.push('\n');
        self.inject = Some(csv);
        self
    }

    /// Any other SIPp argument, passed as is (after the runner's own).
    pub fn arg(mut self, arg: &str) -> Self {
        self.args.push(arg.to_owned());
        self
    }

    /// Starts SIPp on a free loopback port. A UAS is ready when this returns: its socket is
    /// bound (UDP) or listening (TCP). A UAC may already have finished. Panics with SIPp's
    /// output when it cannot start.
    pub fn start(self) -> Sipp {
        let sipp = require_tool("sipp", "sip-tester");
        assert!(
            self.scenario.is_file(),
            "sipp: no scenario file {}",
            self.scenario.display()
        );
        let dir = temp_dir("mppd-sipp-");
        let messages = dir.path().join("messages.log");
        let errors = dir.path().join("errors.log");
        let inject = self.inject.as_ref().map(|csv| {
            let p = dir.path().join("inject.csv");
            write(&p, csv);
            p
        });
        let timeout_s = self.timeout.as_secs().max(1);
        let mut last = String::new();
        for attempt in 1..=PORT_ATTEMPTS {
            // SIPp binds the media ports -mp .. -mp+3 (RTP, RTCP, video) on -mi and the
            // control socket -cp on 0.0.0.0: none may collide (SIPp exits with 254).
            let port = free_udp_tcp_port();
            let media = free_udp_range(4, &[port]);
            let control = free_udp_range(1, &[port, media, media + 1, media + 2, media + 3]);
            let screen = dir.path().join(format!("screen-{attempt}.log"));
            let out = process::log_file(&screen);
            let err = out
                .try_clone()
                .unwrap_or_else(|e| panic!("duplicating {}: {e}", screen.display()));
            let mut cmd = Command::new(&sipp);
            cmd.current_dir(dir.path())
                .arg("-sf")
                .arg(&self.scenario)
                .args(["-i", "127.0.0.1", "-mi", "127.0.0.1"])
                .args(["-p", &port.to_string()])
                .args(["-mp", &media.to_string()])
                .args(["-cp", &control.to_string()])
                .args(["-t", self.transport.flag()])
                .args(["-m", &self.calls.to_string()])
                .args(["-timeout", &format!("{timeout_s}s"), "-timeout_error"])
                // No BYE for an aborted call (a refused REGISTER is not a dialog).
                .args(["-default_behaviors", "all,-bye"])
                .args(["-nostdin", "-trace_msg", "-trace_err"])
                .arg("-message_file")
                .arg(&messages)
                .arg("-error_file")
                .arg(&errors);
            for (k, v) in &self.keys {
                cmd.args(["-key", k, v]);
            }
            if let Some((u, p)) = &self.credentials {
                cmd.args(["-au", u, "-ap", p]);
            }
            if let Some(p) = &inject {
                cmd.arg("-inf").arg(p);
            }
            cmd.args(&self.args);
            if let Role::Uac { service, remote } = &self.role {
                cmd.args(["-s", service]).arg(remote.to_string());
            }
            cmd.stdin(Stdio::null()).stdout(out).stderr(err);
            let what = format!("sipp {} on 127.0.0.1:{port}", self.scenario.display());
            let mut child = ChildGuard::spawn(&mut cmd, &what);
            let start = Instant::now();
            loop {
                if let Some(status) = child.exited() {
                    // 254 (-2): it could not bind its socket.
                    if status.code() == Some(254) {
                        last = format!(
                            "{what} could not bind ({status})\ncommand: {cmd:?}\n{}",
                            process::read_log(&screen)
                        );
                        break;
                    }
                    if matches!(self.role, Role::Uas) {
                        panic!(
                            "{what} exited before listening ({status})\ncommand: {cmd:?}\n--- output:\n{}\n--- errors:\n{}",
                            process::read_log(&screen),
                            process::read_log(&errors)
                        );
                    }
                    // A UAC that already finished.
                    return Sipp::new(child, port, self, dir, messages, errors, screen);
                }
                if socket_bound_by(child.pid(), port, self.transport.proto()) {
                    return Sipp::new(child, port, self, dir, messages, errors, screen);
                }
                if start.elapsed() > READY_TIMEOUT {
                    panic!(
                        "{what} did not bind its port within {READY_TIMEOUT:?}\ncommand: {cmd:?}\n--- output:\n{}",
                        process::read_log(&screen)
                    );
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
        panic!("{last}");
    }
}

/// What a finished SIPp run left.
#[derive(Debug, Clone)]
pub struct SippRun {
    /// Its exit status (see the module documentation for the codes).
    pub status: ExitStatus,
    /// The message log (`-trace_msg`): every message sent and received.
    pub messages: String,
    /// The error log (`-trace_err`): why a call failed.
    pub errors: String,
    /// What SIPp printed (its statistics screen and fatal errors).
    pub screen: String,
}

impl SippRun {
    /// Whether SIPp exited with status 0 (every call succeeded).
    pub fn success(&self) -> bool {
        self.status.success()
    }

    /// The whole run, for panic messages.
    pub fn describe(&self) -> String {
        format!(
            "status {}\n--- messages:\n{}\n--- errors:\n{}\n--- screen:\n{}",
            self.status, self.messages, self.errors, self.screen
        )
    }
}

/// A running SIPp, killed by PID when dropped.
#[derive(Debug)]
pub struct Sipp {
    child: ChildGuard,
    port: u16,
    timeout: Duration,
    messages: PathBuf,
    errors: PathBuf,
    screen: PathBuf,
    dir: TempDir,
}

impl Sipp {
    /// A UAS running `scenario` (`-sf`): it listens on 127.0.0.1:[`port`](Self::port).
    pub fn uas(scenario: &Path) -> SippBuilder {
        Self::builder(scenario, Role::Uas)
    }

    /// A UAC running `scenario`: `-s service` (the scenario's `[service]`) towards `remote`.
    pub fn uac(scenario: &Path, service: &str, remote: SocketAddr) -> SippBuilder {
        Self::builder(
            scenario,
            Role::Uac {
                service: service.to_owned(),
                remote,
            },
        )
    }

    fn builder(scenario: &Path, role: Role) -> SippBuilder {
        SippBuilder {
            scenario: scenario.to_owned(),
            role,
            transport: SippTransport::Udp,
            calls: 1,
            timeout: DEFAULT_TIMEOUT,
            keys: Vec::new(),
            credentials: None,
            inject: None,
            args: Vec::new(),
        }
    }

    fn new(
        child: ChildGuard,
        port: u16,
        b: SippBuilder,
        dir: TempDir,
        messages: PathBuf,
        errors: PathBuf,
        screen: PathBuf,
    ) -> Self {
        Self {
            child,
            port,
            timeout: b.timeout,
            messages,
            errors,
            screen,
            dir,
        }
    }

    /// Its local SIP port on 127.0.0.1 (where a UAS listens).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its local SIP address.
    pub fn addr(&self) -> SocketAddr {
        SocketAddr::new(LOCALHOST, self.port)
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The directory holding its logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The message log so far.
    pub fn messages(&self) -> String {
        process::read_log(&self.messages)
    }

    /// Waits until SIPp exits (at most its `-timeout` plus 10 s; then it is killed and this
    /// panics with its logs) and returns its status and logs.
    pub fn wait(&mut self) -> SippRun {
        let deadline = self.timeout.max(Duration::from_secs(1)) + WAIT_MARGIN;
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.exited() {
                break status;
            }
            if start.elapsed() > deadline {
                terminate(&mut self.child);
                panic!(
                    "sipp (pid {}) still ran {deadline:?} after it started waiting\n--- messages:\n{}\n--- errors:\n{}\n--- screen:\n{}",
                    self.child.pid(),
                    process::read_log(&self.messages),
                    process::read_log(&self.errors),
                    process::read_log(&self.screen)
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        SippRun {
            status,
            messages: process::read_log(&self.messages),
            errors: process::read_log(&self.errors),
            screen: process::read_log(&self.screen),
        }
    }
}

impl Drop for Sipp {
    fn drop(&mut self) {
        terminate(&mut self.child);
    }
}

/// `socat` terminating TLS on a free loopback port and forwarding each connection (it forks
/// one child per connection) to a TCP port on 127.0.0.1, typically a SIPp TCP UAS:
/// `socat -d -d OPENSSL-LISTEN:PORT,bind=127.0.0.1,reuseaddr,fork,cert=C,key=K,verify=0
/// TCP:127.0.0.1:BACKEND`. Its log (`-d -d`, stderr) names each accepted connection.
#[derive(Debug)]
pub struct SocatTls {
    child: ChildGuard,
    port: u16,
    log: PathBuf,
    dir: TempDir,
}

impl SocatTls {
    /// Starts socat presenting `cert` with `key` and forwarding to `127.0.0.1:backend`;
    /// returns when it listens. `options` are added to the `OPENSSL-LISTEN` address (e.g.
    /// `min-version=TLS1.2`); pass `""` for none.
    pub fn start(cert: &Path, key: &Path, backend: u16, options: &str) -> Self {
        let socat = require_tool("socat", "socat");
        let dir = temp_dir("mppd-socat-");
        let log = dir.path().join("socat.log");
        let mut last = String::new();
        for _ in 1..=PORT_ATTEMPTS {
            let port = process::free_port(LOCALHOST);
            let mut listen = format!(
                "OPENSSL-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork,cert={},key={},verify=0",
                cert.display(),
                key.display()
            );
            if !options.is_empty() {
                let _ = write!(listen, ",{options}");
            }
            let out = process::log_file(&log);
            let mut cmd = Command::new(&socat);
            cmd.args(["-d", "-d"])
                .arg(&listen)
                .arg(format!("TCP:127.0.0.1:{backend}"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(out);
            let what = format!("socat TLS on 127.0.0.1:{port} to {backend}");
            let mut child = ChildGuard::spawn(&mut cmd, &what);
            let start = Instant::now();
            loop {
                if let Some(status) = child.exited() {
                    let text = process::read_log(&log);
                    last = format!("{what} exited ({status})\ncommand: {cmd:?}\n{text}");
                    if text.contains("in use") {
                        break;
                    }
                    panic!("{last}");
                }
                if socket_bound_by(child.pid(), port, Proto::TcpListen) {
                    return Self {
                        child,
                        port,
                        log,
                        dir,
                    };
                }
                if start.elapsed() > READY_TIMEOUT {
                    panic!(
                        "{what} did not listen within {READY_TIMEOUT:?}\ncommand: {cmd:?}\n{}",
                        process::read_log(&log)
                    );
                }
                thread::sleep(Duration::from_millis(10));
            }
        }
        panic!("{last}");
    }

    /// The TLS port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Its process id (the listener; connections are served by forked children).
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// socat's log so far.
    pub fn log(&self) -> String {
        process::read_log(&self.log)
    }

    /// The directory holding its log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }
}

impl Drop for SocatTls {
    fn drop(&mut self) {
        // The forked children end with their connection (a TLS client or SIPp closing).
        let children = child_pids(self.child.pid());
        terminate(&mut self.child);
        kill_leftovers(&children, "socat");
    }
}

// ---------------------------------------------------------------------------------------
// Helpers shared with the kamailio runner.

/// Finds `name` on the PATH or in `/usr/sbin`; panics naming the Debian package that provides
/// it when it is missing.
pub(crate) fn require_tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not installed: install the Debian package `{package}` (scripts/test lists it)")
        })
}

pub(crate) fn temp_dir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap_or_else(|e| panic!("creating a temp dir: {e}"))
}

pub(crate) fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// A loopback port that was free for both TCP and UDP a moment ago.
pub(crate) fn free_udp_tcp_port() -> u16 {
    for _ in 0..50 {
        let port = process::free_port(LOCALHOST);
        if UdpSocket::bind(SocketAddr::new(LOCALHOST, port)).is_ok() {
            return port;
        }
    }
    panic!("no loopback port free for both TCP and UDP after 50 tries");
}

/// The first of `n` consecutive UDP ports on 127.0.0.1 that were all free a moment ago, none
/// of them in `avoid`.
fn free_udp_range(n: u16, avoid: &[u16]) -> u16 {
    for _ in 0..100 {
        let base = process::free_port(LOCALHOST);
        if base.checked_add(n).is_none() {
            continue;
        }
        let held: Vec<_> = (base..base + n)
            .filter(|p| !avoid.contains(p))
            .filter_map(|p| UdpSocket::bind(SocketAddr::new(LOCALHOST, p)).ok())
            .collect();
        if held.len() == usize::from(n) {
            return base;
        }
    }
    panic!("no {n} consecutive free UDP ports on 127.0.0.1 after 100 tries");
}

/// Which kind of socket [`socket_bound_by`] looks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Proto {
    /// A UDP socket bound to the port.
    Udp,
    /// A TCP socket listening on the port.
    TcpListen,
}

/// Whether process `pid` holds a socket bound to 127.0.0.1:`port` (UDP) or listening there
/// (TCP), from `/proc/net/{udp,tcp}` and the process's file descriptors: unlike a probe,
/// this cannot be fooled by another process that holds the port.
pub(crate) fn socket_bound_by(pid: u32, port: u16, proto: Proto) -> bool {
    let (table, state) = match proto {
        Proto::Udp => ("/proc/net/udp", "07"),
        Proto::TcpListen => ("/proc/net/tcp", "0A"),
    };
    let local = format!("0100007F:{port:04X}");
    let inodes: Vec<String> = process::read_log(Path::new(table))
        .lines()
        .skip(1)
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.len() > 9 && f[1] == local && f[3] == state).then(|| f[9].to_owned())
        })
        .collect();
    if inodes.is_empty() {
        return false;
    }
    let Ok(fds) = fs::read_dir(format!("/proc/{pid}/fd")) else {
        return false;
    };
    fds.flatten().any(|fd| {
        fs::read_link(fd.path()).is_ok_and(|target| {
            let t = target.to_string_lossy();
            inodes.iter().any(|i| t == format!("socket:[{i}]"))
        })
    })
}

/// The PIDs whose parent is `pid` (from `/proc/*/stat`).
pub(crate) fn child_pids(pid: u32) -> Vec<u32> {
    let Ok(entries) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .filter(|p| parent_of(*p) == Some(pid))
        .collect()
}

fn parent_of(pid: u32) -> Option<u32> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // `pid (comm) state ppid ...`; comm may hold spaces and parentheses.
    let rest = &stat[stat.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

fn send_signal(pid: u32, signal: &str) {
    // By its PID only; errors mean it is already gone.
    let _ = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

/// SIGTERM to the child by its PID, a wait of at most 5 s, then (when the [`ChildGuard`] is
/// dropped) SIGKILL.
pub(crate) fn terminate(child: &mut ChildGuard) {
    if child.exited().is_some() {
        return;
    }
    send_signal(child.pid(), "TERM");
    let start = Instant::now();
    while child.exited().is_none() && start.elapsed() < Duration::from_secs(5) {
        thread::sleep(Duration::from_millis(20));
    }
}

/// SIGKILL, by PID, to each of `pids` that still runs and whose command line names `what`
/// (a recorded child of a process this module started, not a reused PID).
pub(crate) fn kill_leftovers(pids: &[u32], what: &str) {
    for pid in pids {
        let cmdline = fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if String::from_utf8_lossy(&cmdline).contains(what) {
            send_signal(*pid, "KILL");
        }
    }
}

/// The signal or code of an exit status, for messages.
pub(crate) fn status_text(status: ExitStatus) -> String {
    match (status.code(), status.signal()) {
        (Some(c), _) => format!("exit code {c}"),
        (None, Some(s)) => format!("signal {s}"),
        _ => status.to_string(),
    }
}
