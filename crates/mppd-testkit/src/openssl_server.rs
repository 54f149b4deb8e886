//! `openssl s_server` as a TLS peer on a free loopback port.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

use crate::process::{self, ChildGuard, NotReady, READY_TIMEOUT};

/// How many times a start is retried when the chosen port was taken in the meantime.
const PORT_ATTEMPTS: u32 = 5;

/// The one protocol version a server is pinned to (`-tls1`, `-tls1_1`, `-tls1_2`, `-tls1_3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerVersion {
    /// `-tls1`: TLS 1.0 only.
    Tls1_0,
    /// `-tls1_1`: TLS 1.1 only.
    Tls1_1,
    /// `-tls1_2`: TLS 1.2 only.
    Tls1_2,
    /// `-tls1_3`: TLS 1.3 only.
    Tls1_3,
}

impl ServerVersion {
    /// The `s_server` flag.
    pub fn flag(self) -> &'static str {
        match self {
            Self::Tls1_0 => "-tls1",
            Self::Tls1_1 => "-tls1_1",
            Self::Tls1_2 => "-tls1_2",
            Self::Tls1_3 => "-tls1_3",
        }
    }
}

/// The options of an `openssl s_server`; [`start`](Self::start) runs it.
#[derive(Debug, Clone)]
pub struct OpensslServerBuilder {
    cert: PathBuf,
    key: PathBuf,
    ip: IpAddr,
    version: Option<ServerVersion>,
    cipher: Option<String>,
    ciphersuites: Option<String>,
    verify_ca: Option<PathBuf>,
    server_pref: bool,
}

impl OpensslServerBuilder {
    /// Listen on `ip` (default 127.0.0.1).
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ip = ip;
        self
    }

    /// Pin the protocol version (default: OpenSSL's range, TLS 1.2 and 1.3 at its default
    /// security level).
    pub fn version(mut self, v: ServerVersion) -> Self {
        self.version = Some(v);
        self
    }

    /// `-cipher LIST`: the TLS 1.2-and-older suites (e.g. `DEFAULT:@SECLEVEL=0`, which an
    /// OpenSSL 3 server needs to speak TLS 1.0 or 1.1 at all).
    pub fn cipher(mut self, list: &str) -> Self {
        self.cipher = Some(list.to_owned());
        self
    }

    /// `-ciphersuites LIST`: the TLS 1.3 suites.
    pub fn ciphersuites(mut self, list: &str) -> Self {
        self.ciphersuites = Some(list.to_owned());
        self
    }

    /// `-Verify 1 -CAfile CA`: require a client certificate issued by `ca`.
    pub fn require_client_cert(mut self, ca: &Path) -> Self {
        self.verify_ca = Some(ca.to_owned());
        self
    }

    /// `-serverpref`: choose the suite by the server's order instead of the client's
    /// (default: the client's order).
    pub fn server_preference(mut self, on: bool) -> Self {
        self.server_pref = on;
        self
    }

    /// Starts the server with `-www` (it answers a `GET /` with a status page) on a free port
    /// and waits until it accepts TCP connections; panics with its output if it does not.
    pub fn start(self) -> OpensslServer {
        let dir = tempfile::Builder::new()
            .prefix("mppd-s_server-")
            .tempdir()
            .unwrap_or_else(|e| panic!("openssl s_server: creating a temp dir: {e}"));
        let mut last = String::new();
        for attempt in 1..=PORT_ATTEMPTS {
            let port = process::free_port(self.ip);
            let addr = SocketAddr::new(self.ip, port);
            let out = dir.path().join(format!("stdout-{attempt}.log"));
            let err = dir.path().join(format!("stderr-{attempt}.log"));
            let mut cmd = self.command(addr);
            cmd.stdin(Stdio::null())
                .stdout(process::log_file(&out))
                .stderr(process::log_file(&err));
            let what = format!("openssl s_server on {addr}");
            let mut child = ChildGuard::spawn(&mut cmd, &what);
            // s_server prints `ACCEPT` once it has bound the port.
            let bound = || process::read_log(&out).lines().any(|l| l == "ACCEPT");
            match process::wait_for_tcp(&mut child, addr, READY_TIMEOUT, bound) {
                Ok(()) => {
                    return OpensslServer {
                        child,
                        addr,
                        stdout: out,
                        stderr: err,
                        _dir: dir,
                    };
                }
                Err(why) => {
                    let stderr = process::read_log(&err);
                    let stdout = process::read_log(&out);
                    last = format!(
                        "{what} {why}\ncommand: {cmd:?}\n--- stderr:\n{stderr}\n--- stdout:\n{stdout}"
                    );
                    let port_taken = matches!(why, NotReady::Exited(_))
                        && (stderr.contains("in use") || stdout.contains("in use"));
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        panic!("{last}");
    }

    fn command(&self, addr: SocketAddr) -> Command {
        let mut c = Command::new("openssl");
        c.arg("s_server")
            .arg("-accept")
            .arg(addr.to_string())
            .arg("-cert")
            .arg(&self.cert)
            .arg("-key")
            .arg(&self.key)
            .arg("-www");
        if let Some(v) = self.version {
            c.arg(v.flag());
        }
        if let Some(list) = &self.cipher {
            c.arg("-cipher").arg(list);
        }
        if let Some(list) = &self.ciphersuites {
            c.arg("-ciphersuites").arg(list);
        }
        if let Some(ca) = &self.verify_ca {
            c.arg("-Verify").arg("1").arg("-CAfile").arg(ca);
        }
        if self.server_pref {
            c.arg("-serverpref");
        }
        c
    }
}

/// A running `openssl s_server -www`, killed by PID when dropped.
#[derive(Debug)]
pub struct OpensslServer {
    child: ChildGuard,
    addr: SocketAddr,
    stdout: PathBuf,
    stderr: PathBuf,
    _dir: TempDir,
}

impl OpensslServer {
    /// A server presenting `cert` with `key`, on 127.0.0.1, with OpenSSL's defaults.
    pub fn builder(cert: &Path, key: &Path) -> OpensslServerBuilder {
        OpensslServerBuilder {
            cert: cert.to_owned(),
            key: key.to_owned(),
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            version: None,
            cipher: None,
            ciphersuites: None,
            verify_ca: None,
            server_pref: false,
        }
    }

    /// Where it listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Its port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// What it printed so far (stdout, then stderr), for assertion messages.
    pub fn output(&self) -> String {
        format!(
            "--- s_server stdout:\n{}\n--- s_server stderr:\n{}",
            process::read_log(&self.stdout),
            process::read_log(&self.stderr)
        )
    }
}
