//! Real HTTP proxies on a free loopback port for the HTTP proxy tests (issue 8): tinyproxy and
//! squid, each in the foreground with its configuration and logs in a temporary directory,
//! optionally (tinyproxy) or always (squid) requiring Basic credentials, and stopped by PID when
//! dropped. [`connect_through`] sends a raw `CONNECT` through either.
//!
//! What they answer (checked by `tests/proxy_runners.rs`):
//! - tinyproxy 1.11: no `Proxy-Authorization` gives `407`, wrong credentials give `401`
//!   (sic); its log (`LogFile`, `LogLevel Info`) has a line
//!   `Request (file descriptor N): CONNECT host:port HTTP/1.1` for every CONNECT, authorised
//!   or not.
//! - squid 5.7: no or wrong credentials both give `407`; its access log has one line per
//!   request once it is done, e.g. `TCP_TUNNEL/200 45 CONNECT 127.0.0.1:4711 user
//!   HIER_DIRECT/127.0.0.1 -` or `TCP_DENIED/407 ... CONNECT 127.0.0.1:4711 - HIER_NONE/- ...`.
//!
//! Squid refuses to run as root (`FATAL: Don't run Squid as root`) and, started as root,
//! switches to `cache_effective_user`: it runs as Debian's `proxy` user, so its temporary
//! directory is handed to that user. Each squid gets a service name of its own (`-n`), which
//! names its shared memory segments (`/dev/shm/NAME-cf__*.shm`), so that several can run at
//! once; it is stopped with SIGTERM (`shutdown_lifetime 0`) so that it removes them and stops
//! its `basic_ncsa_auth` helper, then killed if it is still there, and any segment left is
//! removed.

use std::fmt::Write as _;
use std::fs;
use std::io::{ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::{self, ChildGuard, NotReady, READY_TIMEOUT};

/// How many times a start is retried when the chosen port was taken in the meantime.
const PORT_ATTEMPTS: u32 = 5;

/// How long [`Tinyproxy::wait_log`] and [`Squid::wait_log`] wait for a line.
pub const LOG_TIMEOUT: Duration = Duration::from_secs(10);

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Finds `name` on the PATH or in `/usr/sbin` (root's PATH is not always everyone's); panics
/// naming the Debian package that provides it when it is missing.
fn require_tool(name: &str, package: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain([PathBuf::from("/usr/sbin"), PathBuf::from("/usr/bin")])
        .map(|d| d.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!("{name} is not installed: install the Debian package `{package}` (scripts/test lists it)")
        })
}

fn temp_dir(prefix: &str) -> TempDir {
    tempfile::Builder::new()
        .prefix(prefix)
        .tempdir()
        .unwrap_or_else(|e| panic!("creating a temp dir: {e}"))
}

fn write(path: &Path, text: &str) {
    fs::write(path, text).unwrap_or_else(|e| panic!("writing {}: {e}", path.display()));
}

/// Polls `read` until its text contains `needle`, for at most [`LOG_TIMEOUT`]; panics with the
/// text otherwise.
fn wait_for_text(what: &str, needle: &str, read: impl Fn() -> String) -> String {
    let start = Instant::now();
    loop {
        let text = read();
        if text.contains(needle) {
            return text;
        }
        if start.elapsed() > LOG_TIMEOUT {
            panic!("{what}: no {needle:?} within {LOG_TIMEOUT:?}; it has:\n{text}");
        }
        thread::sleep(Duration::from_millis(50));
    }
}

// ---------------------------------------------------------------- tinyproxy

/// The options of a tinyproxy; [`start`](Self::start) runs it.
#[derive(Debug, Clone, Default)]
pub struct TinyproxyBuilder {
    basic_auth: Option<(String, String)>,
    connect_ports: Vec<u16>,
}

impl TinyproxyBuilder {
    /// `BasicAuth user pass`: require these credentials (`Proxy-Authorization: Basic`).
    pub fn basic_auth(mut self, user: &str, pass: &str) -> Self {
        self.basic_auth = Some((user.to_owned(), pass.to_owned()));
        self
    }

    /// `ConnectPort port`: allow CONNECT to this port (with none, tinyproxy allows every port).
    /// Each call adds one.
    pub fn connect_port(mut self, port: u16) -> Self {
        self.connect_ports.push(port);
        self
    }

    fn config(&self, port: u16, log: &Path) -> String {
        let mut c = String::new();
        let _ = write!(
            c,
            "Port {port}\n\
             Listen 127.0.0.1\n\
             Timeout 60\n\
             MaxClients 50\n\
             Allow 127.0.0.1\n\
             LogFile \"{}\"\n\
             LogLevel Info\n",
            log.display()
        );
        if let Some((user, pass)) = &self.basic_auth {
            let _ = writeln!(c, "BasicAuth {user} {pass}");
        }
        for p in &self.connect_ports {
            let _ = writeln!(c, "ConnectPort {p}");
        }
        c
    }

    /// Writes the configuration, starts `tinyproxy -d -c CONF` on a free loopback port and
    /// waits until it accepts TCP connections; panics with its log if it does not.
    pub fn start(self) -> Tinyproxy {
        let bin = require_tool("tinyproxy", "tinyproxy");
        let dir = temp_dir("mppd-tinyproxy-");
        let conf = dir.path().join("tinyproxy.conf");
        let mut last = String::new();
        for attempt in 1..=PORT_ATTEMPTS {
            let port = process::free_port(LOCALHOST);
            let addr = SocketAddr::new(LOCALHOST, port);
            let log = dir.path().join(format!("tinyproxy-{attempt}.log"));
            let stderr = dir.path().join(format!("stderr-{attempt}.log"));
            write(&conf, &self.config(port, &log));
            let mut cmd = Command::new(&bin);
            cmd.arg("-d")
                .arg("-c")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(process::log_file(&stderr))
                .stderr(process::log_file(&stderr.with_extension("err")));
            let what = format!("tinyproxy on {addr}");
            let mut child = ChildGuard::spawn(&mut cmd, &what);
            // Logged once its socket listens (a lost port race ends it instead).
            let bound = || process::read_log(&log).contains("Starting main loop");
            match process::wait_for_tcp(&mut child, addr, READY_TIMEOUT, bound) {
                Ok(()) => {
                    return Tinyproxy {
                        _child: child,
                        addr,
                        log,
                        _dir: dir,
                    };
                }
                Err(why) => {
                    let text = process::read_log(&log);
                    last = format!(
                        "{what} {why}\ncommand: {cmd:?}\n--- log:\n{text}\n--- stdout:\n{}\n--- stderr:\n{}\n--- {}:\n{}",
                        process::read_log(&stderr),
                        process::read_log(&stderr.with_extension("err")),
                        conf.display(),
                        process::read_log(&conf)
                    );
                    let port_taken = matches!(why, NotReady::Exited(_))
                        && (text.contains("in use") || text.contains("Could not create"));
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        panic!("{last}");
    }
}

/// A running tinyproxy (Debian's 1.11), killed by PID when dropped.
#[derive(Debug)]
pub struct Tinyproxy {
    _child: ChildGuard,
    addr: SocketAddr,
    log: PathBuf,
    _dir: TempDir,
}

impl Tinyproxy {
    /// A tinyproxy on 127.0.0.1 accepting clients from 127.0.0.1, with no credentials and
    /// CONNECT to any port until the builder says otherwise.
    pub fn builder() -> TinyproxyBuilder {
        TinyproxyBuilder::default()
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Its log so far (`LogLevel Info`): one `Request (file descriptor N): CONNECT host:port
    /// HTTP/1.1` line per CONNECT, among others (the readiness probe's connection shows as a
    /// `Connect (file descriptor N): 127.0.0.1` line without a request).
    pub fn log(&self) -> String {
        process::read_log(&self.log)
    }

    /// Waits until the log contains `needle` and returns the log; panics with the log after
    /// [`LOG_TIMEOUT`].
    pub fn wait_log(&self, needle: &str) -> String {
        wait_for_text(&format!("tinyproxy on {}", self.addr), needle, || {
            self.log()
        })
    }
}

// ---------------------------------------------------------------- squid

/// The uid and gid of a system user, from `/etc/passwd`.
fn system_user(name: &str) -> (u32, u32) {
    let passwd =
        fs::read_to_string("/etc/passwd").unwrap_or_else(|e| panic!("reading /etc/passwd: {e}"));
    passwd
        .lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() > 3 && f[0] == name)
                .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
                .flatten()
        })
        .unwrap_or_else(|| {
            panic!("no user `{name}` in /etc/passwd (the Debian package `squid` creates it)")
        })
}

/// `user:HASH` for squid's `basic_ncsa_auth`, the hash made by `openssl passwd -apr1`.
fn htpasswd_line(user: &str, pass: &str) -> String {
    let out = Command::new(require_tool("openssl", "openssl"))
        .args(["passwd", "-apr1", pass])
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("running openssl passwd: {e}"));
    assert!(out.status.success(), "openssl passwd -apr1: {out:?}");
    let hash = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    format!("{user}:{hash}\n")
}

/// A running squid (Debian's 5.7) that requires Basic credentials (`basic_ncsa_auth`), caches
/// nothing, and logs every request to its access log. Stopped when dropped (see the module
/// documentation).
#[derive(Debug)]
pub struct Squid {
    child: ChildGuard,
    addr: SocketAddr,
    service: String,
    access_log: PathBuf,
    cache_log: PathBuf,
    _dir: TempDir,
}

impl Squid {
    /// Starts `squid -N -n NAME -f CONF` on a free loopback port, allowing only clients that
    /// present `user`/`pass`, and waits until it accepts TCP connections; panics with its
    /// cache log if it does not.
    pub fn start(user: &str, pass: &str) -> Self {
        let bin = require_tool("squid", "squid");
        let helper = Path::new("/usr/lib/squid/basic_ncsa_auth");
        assert!(
            helper.is_file(),
            "{} is missing: install the Debian package `squid`",
            helper.display()
        );
        let (uid, gid) = system_user("proxy");
        let dir = temp_dir("mppd-squid-");
        let passwd = dir.path().join("passwd");
        write(&passwd, &htpasswd_line(user, pass));
        // Squid runs as `proxy`: it must read the password file and write its logs.
        for p in [dir.path(), passwd.as_path()] {
            std::os::unix::fs::chown(p, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("chown proxy {}: {e}", p.display()));
        }
        let conf = dir.path().join("squid.conf");
        let mut last = String::new();
        for attempt in 1..=PORT_ATTEMPTS {
            let port = process::free_port(LOCALHOST);
            let addr = SocketAddr::new(LOCALHOST, port);
            let service = format!("mppdtest{}x{port}", std::process::id());
            let access_log = dir.path().join(format!("access-{attempt}.log"));
            let cache_log = dir.path().join(format!("cache-{attempt}.log"));
            let stderr = dir.path().join(format!("stderr-{attempt}.log"));
            write(
                &conf,
                &squid_config(dir.path(), port, &passwd, &access_log, &cache_log),
            );
            let mut cmd = Command::new(&bin);
            cmd.arg("-N")
                .arg("-n")
                .arg(&service)
                .arg("-f")
                .arg(&conf)
                .stdin(Stdio::null())
                .stdout(process::log_file(&stderr))
                .stderr(process::log_file(&stderr.with_extension("err")));
            let what = format!("squid on {addr}");
            let mut child = ChildGuard::spawn(&mut cmd, &what);
            let listening = "Accepting HTTP Socket connections at conn";
            let local = format!("local={addr} ");
            let bound = || {
                process::read_log(&cache_log)
                    .lines()
                    .any(|l| l.contains(listening) && l.contains(&local))
            };
            match process::wait_for_tcp(&mut child, addr, READY_TIMEOUT, bound) {
                Ok(()) => {
                    return Self {
                        child,
                        addr,
                        service,
                        access_log,
                        cache_log,
                        _dir: dir,
                    };
                }
                Err(why) => {
                    stop_squid(&mut child, &service);
                    drop(child);
                    let log = process::read_log(&cache_log);
                    last = format!(
                        "{what} {why}\ncommand: {cmd:?}\n--- cache log:\n{log}\n--- stdout:\n{}\n--- stderr:\n{}\n--- {}:\n{}",
                        process::read_log(&stderr),
                        process::read_log(&stderr.with_extension("err")),
                        conf.display(),
                        process::read_log(&conf)
                    );
                    let port_taken = log.contains("in use") || log.contains("Cannot bind");
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        panic!("{last}");
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Its access log so far: one line per request once it is done (`TCP_TUNNEL/200 ...
    /// CONNECT host:port user ...`, `TCP_DENIED/407 ... CONNECT host:port - ...`). The first
    /// line is the readiness probe's connection, closed without a request
    /// (`NONE_NONE/000 0 - error:transaction-end-before-headers`).
    pub fn log(&self) -> String {
        process::read_log(&self.access_log)
    }

    /// Its cache log (diagnostics) so far.
    pub fn cache_log(&self) -> String {
        process::read_log(&self.cache_log)
    }

    /// Waits until the access log contains `needle` and returns the access log; panics with
    /// the access and cache logs after [`LOG_TIMEOUT`].
    pub fn wait_log(&self, needle: &str) -> String {
        let what = format!("squid on {} (cache log:\n{})", self.addr, self.cache_log());
        wait_for_text(&what, needle, || self.log())
    }
}

/// Stops a squid (SIGTERM by its PID, waiting at most 5 s; the [`ChildGuard`] kills it when
/// dropped if it is still there) and removes the shared memory segments of its service name,
/// which is this squid's alone.
fn stop_squid(child: &mut ChildGuard, service: &str) {
    if child.exited().is_none() {
        // By its PID only; errors mean it is already gone.
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.pid().to_string())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
        let start = Instant::now();
        while child.exited().is_none() && start.elapsed() < Duration::from_secs(5) {
            thread::sleep(Duration::from_millis(20));
        }
    }
    if let Ok(entries) = fs::read_dir("/dev/shm") {
        let prefix = format!("{service}-");
        for e in entries.flatten() {
            if e.file_name().to_string_lossy().starts_with(&prefix) {
                let _ = fs::remove_file(e.path());
            }
        }
    }
}

impl Drop for Squid {
    fn drop(&mut self) {
        stop_squid(&mut self.child, &self.service);
    }
}

fn squid_config(
    dir: &Path,
    port: u16,
    passwd: &Path,
    access_log: &Path,
    cache_log: &Path,
) -> String {
    let d = dir.display();
    format!(
        "http_port 127.0.0.1:{port}\n\
         visible_hostname mppd-test-squid\n\
         cache_effective_user proxy\n\
         auth_param basic program /usr/lib/squid/basic_ncsa_auth {passwd}\n\
         auth_param basic children 2 startup=1 idle=1\n\
         auth_param basic realm mppd-test\n\
         acl auth proxy_auth REQUIRED\n\
         http_access allow auth\n\
         http_access deny all\n\
         cache deny all\n\
         access_log stdio:{access_log}\n\
         cache_log {cache_log}\n\
         pid_filename {d}/squid.pid\n\
         coredump_dir {d}\n\
         netdb_filename none\n\
         pinger_enable off\n\
         shutdown_lifetime 0 seconds\n",
        passwd = passwd.display(),
        access_log = access_log.display(),
        cache_log = cache_log.display(),
    )
}

// ---------------------------------------------------------------- a raw CONNECT

/// The proxy's answer to a `CONNECT`.
#[derive(Debug)]
pub struct ConnectReply {
    /// The status code of the answer (`200` when the tunnel is up).
    pub status: u16,
    /// The answer's status line and headers, as received.
    pub head: String,
    /// The connection: after a `200`, the tunnel to the target (bytes the target sent right
    /// after the proxy's answer may already have been read: see `early`).
    pub stream: TcpStream,
    /// Bytes received after the answer's head (the start of the target's data, or of the
    /// proxy's error page).
    pub early: Vec<u8>,
}

/// Sends `CONNECT target HTTP/1.1` (with `Proxy-Authorization: Basic` when `credentials` are
/// given) to the proxy at `proxy` and reads the answer's head, for at most 10 s.
pub fn connect_through(
    proxy: SocketAddr,
    target: &str,
    credentials: Option<(&str, &str)>,
) -> ConnectReply {
    let mut stream = TcpStream::connect_timeout(&proxy, Duration::from_secs(5))
        .unwrap_or_else(|e| panic!("connecting to the proxy {proxy}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap_or_else(|e| panic!("setting a read timeout: {e}"));
    let mut req = format!("CONNECT {target} HTTP/1.1\r\nHost: {target}\r\n");
    if let Some((user, pass)) = credentials {
        let token = openssl::base64::encode_block(format!("{user}:{pass}").as_bytes());
        let _ = write!(req, "Proxy-Authorization: Basic {token}\r\n");
    }
    req.push_str("\r\n");
    stream
        .write_all(req.as_bytes())
        .unwrap_or_else(|e| panic!("sending CONNECT to {proxy}: {e}"));
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        match stream.read(&mut chunk) {
            Ok(0) => panic!(
                "the proxy {proxy} closed the connection before the end of its answer to \
                 CONNECT {target}: {:?}",
                String::from_utf8_lossy(&buf)
            ),
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => panic!(
                "reading the answer of {proxy} to CONNECT {target}: {e} (so far: {:?})",
                String::from_utf8_lossy(&buf)
            ),
        }
    };
    let head = String::from_utf8_lossy(&buf[..end]).into_owned();
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no status code in the answer of {proxy}: {head:?}"));
    ConnectReply {
        status,
        head,
        stream,
        early: buf[end..].to_vec(),
    }
}
