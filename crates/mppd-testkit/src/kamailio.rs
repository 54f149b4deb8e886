//! kamailio 5.6 (Debian packages `kamailio`, `kamailio-tls-modules`) as the SIP registrar and
//! proxy of the SIP tests, on free loopback ports, with one fixed credential.
//!
//! The runner writes `kamailio.cfg` into a temporary directory and runs
//! `kamailio -DD -E -f CFG -l udp:127.0.0.1:P [-l tcp:127.0.0.1:P2] [-l tls:127.0.0.1:P3]
//! -m 64 -M 8 -w DIR -Y DIR`, with stderr (its whole log) in `DIR/kamailio.log`. The main
//! process forks children (1 per transport plus timers, 7 or 8 processes): dropping the runner
//! sends SIGTERM to the main process by its PID (kamailio then stops its children), waits at
//! most 5 s, and kills any child recorded at start that is left.
//!
//! A UDP listener is always opened: readiness is an `OPTIONS` over UDP answered `200` with an
//! `X-Mppd-Instance` header naming this instance, so another test's kamailio on a reused port
//! is never taken for this one. [`Kamailio::udp_port`] is that port.
//!
//! What the configuration does (the routing block of [`KamailioBuilder::config`]):
//! - `OPTIONS` for the server itself: `200 OK`.
//! - `REGISTER` without `Authorization`: `401` with one `WWW-Authenticate: Digest
//!   realm="<domain>", nonce="...", qop="auth", algorithm=<MD5|SHA-256>` (`www_challenge("$td",
//!   "1")`; the realm is the To domain). kamailio 5.6 sends one challenge per 401.
//! - `REGISTER` with credentials of another user name, or with a wrong response:
//!   `403 Forbidden` (never a new 401, so a client cannot loop). An expired nonce
//!   (`pv_www_authenticate` -4; -6 "reused" cannot happen as nonce counting is off) is
//!   challenged again with a 401; a nonce kamailio never issued gives -1, hence 403.
//! - kamailio verifies the response with its configured algorithm and does not look at the
//!   `algorithm=` the client states: a SHA-256 response labelled `algorithm=MD5` registers.
//!   Which algorithm the client claims is only in the logged `Authorization` header.
//! - the right credentials: `save("location")` (usrloc in memory, `db_mode` 0) and the
//!   registrar's `200 OK` with the bound `Contact;expires=N`. Over TCP and TLS the binding
//!   records where the REGISTER came from (`fix_nated_register`), so requests to that user go
//!   back over the client's own connection (kept for `tcp_connection_lifetime` 3605 s): the
//!   client needs no listening TCP/TLS socket; the 200's Contact then reads
//!   `<...>;expires=300;received="sip:IP:PORT;transport=tcp"`. Over UDP requests go to the
//!   Contact address.
//! - `INVITE` (and any other out-of-dialog request but `REGISTER`/`OPTIONS`) to a registered
//!   user: `lookup("location")` + `t_relay()`; to an unknown user: `404 Not Found`. Requests
//!   within a dialog, `ACK` and `CANCEL` are relayed statelessly of routing (`t_relay()`). No
//!   `Record-Route`: in-dialog requests go end to end.
//!
//! Log lines (grep [`Kamailio::log`]; one per line, `NOTICE: <script>: ` before them):
//! - `MPPD-REGISTER proto=<udp|tcp|tls> src=<ip:port> to=<To URI> cseq=<n> authorization=[<the
//!   Authorization header, or <null>>]` for every REGISTER;
//! - `MPPD-CHALLENGE algorithm=<MD5|SHA-256> cseq=<n>` when it answers 401;
//! - `MPPD-REJECT user=<auth user> rc=<pv_www_authenticate code, or "user">` when it answers 403
//!   (-2: wrong password);
//! - `MPPD-REGISTERED user=<auth user> contact=<Contact>` when it answers 200;
//! - `MPPD-RELAY method=<m> ruri=<new R-URI> proto=<pr>` / `MPPD-NOT-FOUND method=<m>
//!   ruri=<R-URI>` for INVITE and other requests.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use tempfile::TempDir;

use crate::process::{self, ChildGuard, READY_TIMEOUT};
use crate::sipp::{self, Proto};

/// The default SIP domain (and digest realm).
pub const DOMAIN: &str = "mppd.test";

/// The default user name of the one credential.
pub const DEFAULT_USER: &str = "alice";

/// The default password of the one credential.
pub const DEFAULT_PASSWORD: &str = "alice-secret";

/// How many times a start is retried when a chosen port was taken in the meantime.
const PORT_ATTEMPTS: u32 = 5;

/// How long [`Kamailio::wait_log`] waits for a line.
pub const LOG_TIMEOUT: Duration = Duration::from_secs(10);

const MODULES: &str = "/usr/lib/x86_64-linux-gnu/kamailio/modules";

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The options of a kamailio; [`start`](Self::start) runs it.
#[derive(Debug, Clone)]
pub struct KamailioBuilder {
    algorithm: String,
    user: String,
    password: String,
    domain: String,
    tcp: bool,
    tls: Option<(PathBuf, PathBuf)>,
    tls_method: String,
    cipher_list: Option<String>,
}

impl KamailioBuilder {
    /// The digest algorithm of the challenges: `"MD5"` (default) or `"SHA-256"`
    /// (`modparam("auth", "algorithm", ...)`; 5.6 refuses to start with `SHA-512-256`).
    pub fn algorithm(mut self, algorithm: &str) -> Self {
        algorithm.clone_into(&mut self.algorithm);
        self
    }

    /// The one credential that registers (default [`DEFAULT_USER`] / [`DEFAULT_PASSWORD`]).
    /// Neither may hold `"` or `\`.
    pub fn user(mut self, name: &str, password: &str) -> Self {
        for s in [name, password] {
            assert!(
                !s.contains(['"', '\\', '\n']),
                "kamailio: credential with a quote, backslash or newline: {s:?}"
            );
        }
        name.clone_into(&mut self.user);
        password.clone_into(&mut self.password);
        self
    }

    /// The SIP domain: an alias of the server and the digest realm (default [`DOMAIN`]).
    pub fn domain(mut self, domain: &str) -> Self {
        domain.clone_into(&mut self.domain);
        self
    }

    /// Listen on UDP. A UDP listener is always there (it is the readiness probe); this is for
    /// a builder chain that says what the test uses.
    pub fn udp(self) -> Self {
        self
    }

    /// Also listen on TCP.
    pub fn tcp(mut self) -> Self {
        self.tcp = true;
        self
    }

    /// Also listen on TLS, presenting `cert` (PEM, leaf first) with `key`.
    pub fn tls(mut self, cert: &Path, key: &Path) -> Self {
        self.tls = Some((cert.to_owned(), key.to_owned()));
        self
    }

    /// `modparam("tls", "tls_method", ...)`: `"TLSv1.2+"` (default), `"TLSv1.1"` (only 1.1;
    /// needs [`cipher_list`](Self::cipher_list)`("DEFAULT:@SECLEVEL=0")` with OpenSSL 3), ...
    pub fn tls_method(mut self, method: &str) -> Self {
        method.clone_into(&mut self.tls_method);
        self
    }

    /// `modparam("tls", "cipher_list", ...)`: an OpenSSL cipher string.
    pub fn cipher_list(mut self, ciphers: &str) -> Self {
        self.cipher_list = Some(ciphers.to_owned());
        self
    }

    /// The configuration this builder writes, for a server whose readiness token is
    /// `instance`.
    pub fn config(&self, instance: &str) -> String {
        let mut c = String::new();
        let _ = write!(
            c,
            "#!KAMAILIO\n\
             # Written by mppd-testkit (kamailio.rs) for one test.\n\
             debug=2\n\
             log_stderror=yes\n\
             children=1\n\
             tcp_children=1\n\
             auto_aliases=no\n\
             tcp_connection_lifetime=3605\n\
             alias=\"{domain}\"\n\
             server_header=\"Server: kamailio (mppd-testkit)\"\n\
             mpath=\"{MODULES}/\"\n",
            domain = self.domain,
        );
        if self.tls.is_some() {
            c.push_str("enable_tls=yes\n");
        }
        c.push('\n');
        for m in [
            "kex",
            "corex",
            "tm",
            "sl",
            "pv",
            "maxfwd",
            "textops",
            "siputils",
            "xlog",
            "sanity",
            "usrloc",
            "registrar",
            "auth",
            "nathelper",
        ] {
            let _ = writeln!(c, "loadmodule \"{m}.so\"");
        }
        let _ = write!(
            c,
            "\nmodparam(\"usrloc\", \"db_mode\", 0)\n\
             modparam(\"nathelper\", \"received_avp\", \"$avp(RECEIVED)\")\n\
             modparam(\"registrar\", \"received_avp\", \"$avp(RECEIVED)\")\n\
             modparam(\"auth\", \"algorithm\", \"{}\")\n",
            self.algorithm
        );
        if let Some((cert, key)) = &self.tls {
            let _ = write!(
                c,
                "loadmodule \"tls.so\"\n\
                 modparam(\"tls\", \"certificate\", \"{}\")\n\
                 modparam(\"tls\", \"private_key\", \"{}\")\n\
                 modparam(\"tls\", \"tls_method\", \"{}\")\n\
                 modparam(\"tls\", \"verify_certificate\", 0)\n\
                 modparam(\"tls\", \"require_certificate\", 0)\n",
                cert.display(),
                key.display(),
                self.tls_method
            );
            if let Some(ciphers) = &self.cipher_list {
                let _ = writeln!(c, "modparam(\"tls\", \"cipher_list\", \"{ciphers}\")");
            }
        }
        let _ = write!(
            c,
            r#"
request_route {{
    if (!mf_process_maxfwd_header("10")) {{
        sl_send_reply("483", "Too Many Hops");
        exit;
    }}
    if (is_method("OPTIONS") && uri == myself && $rU == $null) {{
        append_to_reply("X-Mppd-Instance: {instance}\r\n");
        sl_send_reply("200", "OK");
        exit;
    }}
    if (is_method("REGISTER")) {{
        route(REGISTER);
    }}
    if (is_method("CANCEL")) {{
        if (t_check_trans()) {{
            t_relay();
        }}
        exit;
    }}
    if (has_totag() || is_method("ACK")) {{
        xlog("L_NOTICE", "MPPD-RELAY method=$rm ruri=$ru proto=$pr in-dialog\n");
        t_relay();
        exit;
    }}
    if (!lookup("location")) {{
        xlog("L_NOTICE", "MPPD-NOT-FOUND method=$rm ruri=$ru\n");
        sl_send_reply("404", "Not Found");
        exit;
    }}
    xlog("L_NOTICE", "MPPD-RELAY method=$rm ruri=$ru proto=$pr\n");
    if (!t_relay()) {{
        sl_reply_error();
    }}
    exit;
}}

route[REGISTER] {{
    xlog("L_NOTICE", "MPPD-REGISTER proto=$pr src=$si:$sp to=$tu cseq=$cs authorization=[$hdr(Authorization)]\n");
    if (!is_present_hf("Authorization")) {{
        xlog("L_NOTICE", "MPPD-CHALLENGE algorithm={algorithm} cseq=$cs\n");
        www_challenge("$td", "1");
        exit;
    }}
    if ($au != "{user}") {{
        xlog("L_NOTICE", "MPPD-REJECT user=$au rc=user\n");
        sl_send_reply("403", "Forbidden");
        exit;
    }}
    $var(rc) = pv_www_authenticate("$td", "{password}", "0");
    if ($var(rc) == -4 || $var(rc) == -6) {{
        xlog("L_NOTICE", "MPPD-CHALLENGE algorithm={algorithm} cseq=$cs stale rc=$var(rc)\n");
        www_challenge("$td", "1");
        exit;
    }}
    if ($var(rc) < 0) {{
        xlog("L_NOTICE", "MPPD-REJECT user=$au rc=$var(rc)\n");
        sl_send_reply("403", "Forbidden");
        exit;
    }}
    consume_credentials();
    if ($pr != "udp") {{
        # Requests to this contact go back over the client's own connection.
        fix_nated_register();
    }}
    if (!save("location")) {{
        sl_reply_error();
        exit;
    }}
    xlog("L_NOTICE", "MPPD-REGISTERED user=$au contact=$ct\n");
    exit;
}}
"#,
            algorithm = self.algorithm,
            user = self.user,
            password = self.password,
        );
        c
    }

    /// Writes the configuration, starts kamailio on free loopback ports (one per transport)
    /// and waits until it answers an `OPTIONS` over UDP and accepts TCP connections on its
    /// TCP and TLS ports; panics with its log if it does not.
    pub fn start(self) -> Kamailio {
        let kamailio = sipp::require_tool("kamailio", "kamailio");
        if self.tls.is_some() {
            assert!(
                Path::new(MODULES).join("tls.so").is_file(),
                "kamailio's tls module is not installed: install the Debian package `kamailio-tls-modules`"
            );
        }
        let dir = sipp::temp_dir("mppd-kamailio-");
        let instance = dir
            .path()
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let cfg = dir.path().join("kamailio.cfg");
        sipp::write(&cfg, &self.config(&instance));
        let log = dir.path().join("kamailio.log");
        let mut last = String::new();
        for _ in 1..=PORT_ATTEMPTS {
            let udp_port = sipp::free_udp_tcp_port();
            let tcp_port = self.tcp.then(|| process::free_port(LOCALHOST));
            let tls_port = self.tls.as_ref().map(|_| process::free_port(LOCALHOST));
            let out = process::log_file(&log);
            let err = out
                .try_clone()
                .unwrap_or_else(|e| panic!("duplicating {}: {e}", log.display()));
            let mut cmd = Command::new(&kamailio);
            cmd.args(["-DD", "-E", "-f"])
                .arg(&cfg)
                .args(["-l", &format!("udp:127.0.0.1:{udp_port}")]);
            if let Some(p) = tcp_port {
                cmd.args(["-l", &format!("tcp:127.0.0.1:{p}")]);
            }
            if let Some(p) = tls_port {
                cmd.args(["-l", &format!("tls:127.0.0.1:{p}")]);
            }
            cmd.args(["-m", "64", "-M", "8", "-w"])
                .arg(dir.path())
                .arg("-Y")
                .arg(dir.path())
                .current_dir(dir.path())
                .stdin(Stdio::null())
                .stdout(out)
                .stderr(err);
            let what = format!("kamailio on 127.0.0.1:{udp_port}");
            let mut child = ChildGuard::spawn(&mut cmd, &what);
            match wait_ready(&mut child, udp_port, &[tcp_port, tls_port], &instance) {
                Ok(()) => {
                    let children = sipp::child_pids(child.pid());
                    return Kamailio {
                        child,
                        children,
                        udp_port,
                        tcp_port,
                        tls_port,
                        log,
                        cfg,
                        user: self.user,
                        password: self.password,
                        domain: self.domain,
                        dir,
                    };
                }
                Err(why) => {
                    let text = process::read_log(&log);
                    last = format!(
                        "{what} {why}\ncommand: {cmd:?}\n--- log:\n{text}\n--- {}:\n{}",
                        cfg.display(),
                        process::read_log(&cfg)
                    );
                    let exited = child.exited().is_some();
                    let children = sipp::child_pids(child.pid());
                    sipp::terminate(&mut child);
                    sipp::kill_leftovers(&children, &cfg.to_string_lossy());
                    if !(exited && text.contains("in use")) {
                        break;
                    }
                }
            }
        }
        panic!("{last}");
    }
}

/// Waits until the kamailio in `child` answers an `OPTIONS` on `udp_port` with this
/// `instance`'s header and its TCP `ports` accept connections.
fn wait_ready(
    child: &mut ChildGuard,
    udp_port: u16,
    ports: &[Option<u16>],
    instance: &str,
) -> Result<(), String> {
    let start = Instant::now();
    let socket = UdpSocket::bind(SocketAddr::new(LOCALHOST, 0))
        .unwrap_or_else(|e| panic!("binding a UDP socket for the kamailio probe: {e}"));
    socket
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap_or_else(|e| panic!("UDP read timeout: {e}"));
    let local = socket
        .local_addr()
        .unwrap_or_else(|e| panic!("local address of the probe socket: {e}"));
    let server = SocketAddr::new(LOCALHOST, udp_port);
    let mut n = 0u32;
    loop {
        if let Some(status) = child.exited() {
            return Err(format!(
                "exited before it was ready ({})",
                sipp::status_text(status)
            ));
        }
        if start.elapsed() > READY_TIMEOUT {
            return Err(format!("was not ready within {READY_TIMEOUT:?}"));
        }
        n += 1;
        let options = format!(
            "OPTIONS sip:127.0.0.1:{udp_port} SIP/2.0\r\n\
             Via: SIP/2.0/UDP {local};branch=z9hG4bK-mppd-probe-{n}\r\n\
             Max-Forwards: 70\r\n\
             From: <sip:probe@127.0.0.1>;tag=probe{n}\r\n\
             To: <sip:127.0.0.1:{udp_port}>\r\n\
             Call-ID: mppd-probe-{n}@127.0.0.1\r\n\
             CSeq: {n} OPTIONS\r\n\
             Content-Length: 0\r\n\r\n"
        );
        let _ = socket.send_to(options.as_bytes(), server);
        let mut buf = [0u8; 4096];
        let answered = match socket.recv_from(&mut buf) {
            Ok((len, from)) if from == server => {
                let text = String::from_utf8_lossy(&buf[..len]);
                text.starts_with("SIP/2.0 200") && text.contains(instance)
            }
            _ => false,
        };
        if !answered {
            continue;
        }
        let tcp_ok = ports.iter().flatten().all(|p| {
            std::net::TcpStream::connect_timeout(
                &SocketAddr::new(LOCALHOST, *p),
                Duration::from_millis(200),
            )
            .is_ok()
                && std::iter::once(child.pid())
                    .chain(sipp::child_pids(child.pid()))
                    .any(|pid| sipp::socket_bound_by(pid, *p, Proto::TcpListen))
        });
        if tcp_ok {
            return Ok(());
        }
        thread::sleep(Duration::from_millis(20));
    }
}

/// A running kamailio, stopped by PID when dropped.
#[derive(Debug)]
pub struct Kamailio {
    child: ChildGuard,
    children: Vec<u32>,
    udp_port: u16,
    tcp_port: Option<u16>,
    tls_port: Option<u16>,
    log: PathBuf,
    cfg: PathBuf,
    user: String,
    password: String,
    domain: String,
    dir: TempDir,
}

impl Kamailio {
    /// A registrar for `alice@mppd.test` (password [`DEFAULT_PASSWORD`]) with MD5 challenges,
    /// on UDP only.
    pub fn builder() -> KamailioBuilder {
        KamailioBuilder {
            algorithm: "MD5".to_owned(),
            user: DEFAULT_USER.to_owned(),
            password: DEFAULT_PASSWORD.to_owned(),
            domain: DOMAIN.to_owned(),
            tcp: false,
            tls: None,
            tls_method: "TLSv1.2+".to_owned(),
            cipher_list: None,
        }
    }

    /// The UDP port on 127.0.0.1 (always there).
    pub fn udp_port(&self) -> u16 {
        self.udp_port
    }

    /// The TCP port on 127.0.0.1; panics when the builder did not ask for TCP.
    pub fn tcp_port(&self) -> u16 {
        self.tcp_port
            .unwrap_or_else(|| panic!("kamailio: no TCP listener (use KamailioBuilder::tcp)"))
    }

    /// The TLS port on 127.0.0.1; panics when the builder did not ask for TLS.
    pub fn tls_port(&self) -> u16 {
        self.tls_port
            .unwrap_or_else(|| panic!("kamailio: no TLS listener (use KamailioBuilder::tls)"))
    }

    /// `127.0.0.1:port` for a port of this server.
    pub fn addr(&self, port: u16) -> SocketAddr {
        SocketAddr::new(LOCALHOST, port)
    }

    /// The user name of the credential.
    pub fn user(&self) -> &str {
        &self.user
    }

    /// The password of the credential.
    pub fn password(&self) -> &str {
        &self.password
    }

    /// The SIP domain and digest realm.
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The main process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The directory holding its configuration and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The configuration file.
    pub fn config_path(&self) -> &Path {
        &self.cfg
    }

    /// Its whole log so far (stderr: startup, errors and the `MPPD-*` lines).
    pub fn log(&self) -> String {
        process::read_log(&self.log)
    }

    /// The `MPPD-*` lines of the log so far, from `MPPD-` on.
    pub fn script_lines(&self) -> Vec<String> {
        self.log()
            .lines()
            .filter_map(|l| l.find("MPPD-").map(|i| l[i..].to_owned()))
            .collect()
    }

    /// Polls the log until it contains `needle`, for at most [`LOG_TIMEOUT`]; returns the log
    /// or panics with it.
    pub fn wait_log(&self, needle: &str) -> String {
        let start = Instant::now();
        loop {
            let text = self.log();
            if text.contains(needle) {
                return text;
            }
            if start.elapsed() > LOG_TIMEOUT {
                panic!("kamailio: no {needle:?} in its log within {LOG_TIMEOUT:?}:\n{text}");
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Kamailio {
    fn drop(&mut self) {
        // Children forked after the start (TLS, timers) are found now as well.
        let mut children = sipp::child_pids(self.child.pid());
        children.extend(&self.children);
        sipp::terminate(&mut self.child);
        sipp::kill_leftovers(&children, &self.cfg.to_string_lossy());
    }
}
