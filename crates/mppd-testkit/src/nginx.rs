//! nginx as an HTTPS (provisioning) server on a free loopback port, optionally requiring a
//! client certificate, with its access log recording the client certificate's subject.
//!
//! nginx runs as one foreground process (`master_process off`, `daemon off`) with its prefix,
//! configuration, pid file, logs and temp paths inside a temporary directory, so no system
//! directory is touched; it is killed by PID when dropped.

use std::fmt::Write as _;
use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

use crate::process::{self, ChildGuard, NotReady, READY_TIMEOUT};

/// How many times a start is retried when the chosen port was taken in the meantime.
const PORT_ATTEMPTS: u32 = 5;

/// The access log format: one line per request,
/// `client_verify=<$ssl_client_verify> client_s_dn=<$ssl_client_s_dn> <$ssl_protocol> <$ssl_cipher> <$status> "<$request>"`.
pub const LOG_FORMAT: &str = "client_verify=$ssl_client_verify client_s_dn=\"$ssl_client_s_dn\" \
                              $ssl_protocol $ssl_cipher $status \"$request\"";

/// The options of an nginx HTTPS server; [`start`](Self::start) runs it.
#[derive(Debug, Clone)]
pub struct NginxBuilder {
    cert: PathBuf,
    key: PathBuf,
    ip: IpAddr,
    client_ca: Option<PathBuf>,
    protocols: String,
    plain: bool,
    locations: String,
}

impl NginxBuilder {
    /// Listen on `ip` (default 127.0.0.1).
    pub fn ip(mut self, ip: IpAddr) -> Self {
        self.ip = ip;
        self
    }

    /// `ssl_client_certificate CA; ssl_verify_client on;`: require a client certificate
    /// issued by `ca`.
    pub fn require_client_cert(mut self, ca: &Path) -> Self {
        self.client_ca = Some(ca.to_owned());
        self
    }

    /// `ssl_protocols` (default `TLSv1.2 TLSv1.3`).
    pub fn protocols(mut self, protocols: &str) -> Self {
        protocols.clone_into(&mut self.protocols);
        self
    }

    /// Serve plain HTTP instead of HTTPS (the certificate and the TLS options are unused).
    pub fn plain_http(mut self) -> Self {
        self.plain = true;
        self
    }

    /// Adds configuration inside the `server` block, before the catch-all `location /` that
    /// answers `200 ok`: locations serving files under [`Nginx::html_dir`], `return 302 ...;`,
    /// `auth_basic` with a user file made by `openssl passwd -apr1`, `return 404;`, and so on.
    /// Each call appends.
    pub fn locations(mut self, config: &str) -> Self {
        self.locations.push_str(config);
        self.locations.push('\n');
        self
    }

    /// Writes the configuration, starts nginx on a free port and waits until it accepts TCP
    /// connections; panics with its error log if it does not.
    pub fn start(self) -> Nginx {
        let dir = tempfile::Builder::new()
            .prefix("mppd-nginx-")
            .tempdir()
            .unwrap_or_else(|e| panic!("nginx: creating a temp dir: {e}"));
        for sub in ["logs", "tmp", "html"] {
            let p = dir.path().join(sub);
            fs::create_dir_all(&p).unwrap_or_else(|e| panic!("creating {}: {e}", p.display()));
        }
        let conf = dir.path().join("nginx.conf");
        let error_log = dir.path().join("logs/error.log");
        let access_log = dir.path().join("logs/access.log");
        let mut last = String::new();
        for attempt in 1..=PORT_ATTEMPTS {
            let port = process::free_port(self.ip);
            let addr = SocketAddr::new(self.ip, port);
            fs::write(&conf, self.config(dir.path(), addr))
                .unwrap_or_else(|e| panic!("writing {}: {e}", conf.display()));
            let stderr = dir.path().join(format!("logs/stderr-{attempt}.log"));
            let out_file = process::log_file(&stderr);
            let err_file = out_file
                .try_clone()
                .unwrap_or_else(|e| panic!("duplicating {}: {e}", stderr.display()));
            let mut cmd = Command::new(nginx_binary());
            cmd.arg("-p")
                .arg(dir.path())
                .arg("-e")
                .arg(&error_log)
                .arg("-c")
                .arg(&conf)
                .arg("-g")
                .arg("daemon off;")
                .stdin(Stdio::null())
                .stdout(out_file)
                .stderr(err_file);
            let what = format!("nginx on {addr}");
            let mut child = ChildGuard::spawn(&mut cmd, &what);
            // nginx writes its pid file after opening the listening sockets.
            let pid_file = dir.path().join("logs/nginx.pid");
            let pid = child.pid().to_string();
            let bound = || process::read_log(&pid_file).trim() == pid;
            match process::wait_for_tcp(&mut child, addr, READY_TIMEOUT, bound) {
                Ok(()) => {
                    return Nginx {
                        child,
                        addr,
                        access_log,
                        error_log,
                        dir,
                    };
                }
                Err(why) => {
                    let log = process::read_log(&error_log);
                    let out = process::read_log(&stderr);
                    last = format!(
                        "{what} {why}\ncommand: {cmd:?}\n--- stderr:\n{out}\n--- error log:\n{log}\n--- {}:\n{}",
                        conf.display(),
                        process::read_log(&conf)
                    );
                    let port_taken = matches!(why, NotReady::Exited(_))
                        && (log.contains("in use") || out.contains("in use"));
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        panic!("{last}");
    }

    fn config(&self, dir: &Path, addr: SocketAddr) -> String {
        let d = dir.display();
        let mut c = String::new();
        let _ = write!(
            c,
            "master_process off;\n\
             worker_processes 1;\n\
             pid {d}/logs/nginx.pid;\n\
             error_log {d}/logs/error.log info;\n\
             events {{ worker_connections 64; }}\n\
             http {{\n\
             \x20   client_body_temp_path {d}/tmp/client_body;\n\
             \x20   proxy_temp_path {d}/tmp/proxy;\n\
             \x20   fastcgi_temp_path {d}/tmp/fastcgi;\n\
             \x20   uwsgi_temp_path {d}/tmp/uwsgi;\n\
             \x20   scgi_temp_path {d}/tmp/scgi;\n\
             \x20   default_type text/plain;\n\
             \x20   log_format mppd '{LOG_FORMAT}';\n\
             \x20   access_log {d}/logs/access.log mppd;\n\
             \x20   server {{\n\
             \x20       listen {addr}{ssl};\n\
             \x20       server_name localhost;\n\
             \x20       root {d}/html;\n",
            ssl = if self.plain { "" } else { " ssl" },
        );
        if !self.plain {
            let _ = write!(
                c,
                "        ssl_certificate {cert};\n\
                 \x20       ssl_certificate_key {key};\n\
                 \x20       ssl_protocols {protocols};\n",
                cert = self.cert.display(),
                key = self.key.display(),
                protocols = self.protocols,
            );
        }
        c.push_str(&self.locations);
        if let (Some(ca), false) = (&self.client_ca, self.plain) {
            let _ = write!(
                c,
                "        ssl_client_certificate {};\n        ssl_verify_client on;\n",
                ca.display()
            );
        }
        c.push_str("        location / { return 200 \"ok\\n\"; }\n    }\n}\n");
        c
    }
}

/// nginx: `/usr/sbin/nginx` when it exists (root's PATH is not always everyone's), else
/// `nginx` from the PATH.
fn nginx_binary() -> PathBuf {
    let sbin = Path::new("/usr/sbin/nginx");
    if sbin.exists() {
        sbin.to_owned()
    } else {
        PathBuf::from("nginx")
    }
}

/// A running nginx, killed by PID when dropped.
#[derive(Debug)]
pub struct Nginx {
    child: ChildGuard,
    addr: SocketAddr,
    access_log: PathBuf,
    error_log: PathBuf,
    dir: TempDir,
}

impl Nginx {
    /// An HTTPS server presenting `cert` with `key` on 127.0.0.1 that answers every request
    /// with `200 ok`.
    pub fn builder(cert: &Path, key: &Path) -> NginxBuilder {
        NginxBuilder {
            cert: cert.to_owned(),
            key: key.to_owned(),
            ip: IpAddr::V4(Ipv4Addr::LOCALHOST),
            client_ca: None,
            protocols: "TLSv1.2 TLSv1.3".to_owned(),
            plain: false,
            locations: String::new(),
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

    /// The directory holding its configuration and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The document root (`DIR/html`): files written here are served by locations added with
    /// [`NginxBuilder::locations`].
    pub fn html_dir(&self) -> PathBuf {
        self.dir.path().join("html")
    }

    /// The access log so far, in the [`LOG_FORMAT`] (nginx writes each line when the request
    /// completes).
    pub fn access_log(&self) -> String {
        process::read_log(&self.access_log)
    }

    /// The error log so far.
    pub fn error_log(&self) -> String {
        process::read_log(&self.error_log)
    }
}
