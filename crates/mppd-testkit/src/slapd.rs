//! OpenLDAP `slapd` as the corporate directory of LDAP tests, on free loopback ports.
//!
//! Everything lives in a temporary directory: `slapd.conf`, the mdb database (loaded offline
//! with `slapadd`), the pid file and slapd's log. slapd runs in the foreground (`-d 256`) and
//! is killed by PID when dropped (reference/peers.md).
//!
//! Debian's slapd is linked with GnuTLS: `TLSCipherSuite` is a GnuTLS priority string
//! (`NORMAL:-VERS-ALL:+VERS-TLS1.1` limits it to TLS 1.1) and `TLSProtocolMin` is ignored.
//! SASL DIGEST-MD5 uses slapd's internal auxprop: the password is the entry's cleartext
//! `userPassword`, and `authz-regexp` maps `uid=NAME,cn=REALM,cn=digest-md5,cn=auth` to
//! `uid=NAME,ou=people,SUFFIX`.

use std::fmt::Write as _;
use std::fs;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use tempfile::TempDir;

use crate::process::{self, ChildGuard, NotReady, READY_TIMEOUT};

/// The directory suffix of every test server.
pub const SUFFIX: &str = "dc=example,dc=test";

/// The SASL realm of every test server.
pub const REALM: &str = "example.test";

/// The root DN (its password is [`ROOT_PASSWORD`]).
pub const ROOT_DN: &str = "cn=admin,dc=example,dc=test";

/// The root DN's password.
pub const ROOT_PASSWORD: &str = "rootsecret";

/// How many times a start is retried when a chosen port was taken in the meantime.
const PORT_ATTEMPTS: u32 = 5;

/// The options of a slapd; [`start`](Self::start) runs it.
#[derive(Debug, Clone)]
pub struct SlapdBuilder {
    tls: Option<(PathBuf, PathBuf, PathBuf)>,
    cipher_suite: Option<String>,
    require_tls: bool,
    sasl_host: String,
    ldif: String,
}

impl SlapdBuilder {
    /// Serve TLS (ldaps:// and StartTLS) with `cert` and `key`; `ca` is the CA file slapd
    /// loads (GnuTLS needs the issuer there).
    pub fn tls(mut self, cert: &Path, key: &Path, ca: &Path) -> Self {
        self.tls = Some((cert.to_owned(), key.to_owned(), ca.to_owned()));
        self
    }

    /// `TLSCipherSuite`: a GnuTLS priority string, e.g. `NORMAL:-VERS-ALL:+VERS-TLS1.1`.
    pub fn cipher_suite(mut self, priority: &str) -> Self {
        self.cipher_suite = Some(priority.to_owned());
        self
    }

    /// `security tls=1`: every operation but StartTLS needs TLS.
    pub fn require_tls(mut self) -> Self {
        self.require_tls = true;
        self
    }

    /// `sasl-host` (default `localhost`): the host a DIGEST-MD5 `digest-uri` must name.
    pub fn sasl_host(mut self, host: &str) -> Self {
        host.clone_into(&mut self.sasl_host);
        self
    }

    /// Entries loaded with `slapadd` after the suffix entry and `ou=people` (which are always
    /// there): LDIF records, blank-line separated.
    pub fn ldif(mut self, ldif: &str) -> Self {
        self.ldif.push_str(ldif.trim());
        self.ldif.push_str("\n\n");
        self
    }

    fn config(&self, dir: &Path) -> String {
        let d = dir.display();
        let mut c = String::new();
        let _ = write!(
            c,
            "include /etc/ldap/schema/core.schema\n\
             include /etc/ldap/schema/cosine.schema\n\
             include /etc/ldap/schema/inetorgperson.schema\n\
             modulepath /usr/lib/ldap\n\
             moduleload back_mdb\n\
             pidfile {d}/slapd.pid\n\
             argsfile {d}/slapd.args\n\
             sasl-realm {REALM}\n\
             sasl-host {host}\n\
             authz-regexp \"^uid=([^,]+),cn={REALM},cn=digest-md5,cn=auth$\" \"uid=$1,ou=people,{SUFFIX}\"\n\
             authz-regexp \"^uid=([^,]+),cn=digest-md5,cn=auth$\" \"uid=$1,ou=people,{SUFFIX}\"\n",
            host = self.sasl_host,
        );
        if let Some((cert, key, ca)) = &self.tls {
            let _ = write!(
                c,
                "TLSCertificateFile {}\nTLSCertificateKeyFile {}\nTLSCACertificateFile {}\n",
                cert.display(),
                key.display(),
                ca.display()
            );
        }
        if let Some(p) = &self.cipher_suite {
            let _ = writeln!(c, "TLSCipherSuite {p}");
        }
        if self.require_tls {
            c.push_str("security tls=1\n");
        }
        let _ = write!(
            c,
            "database mdb\n\
             maxsize 10485760\n\
             suffix \"{SUFFIX}\"\n\
             rootdn \"{ROOT_DN}\"\n\
             rootpw {ROOT_PASSWORD}\n\
             directory {d}/db\n\
             access to attrs=userPassword by self read by anonymous auth by * none\n\
             access to * by * read\n"
        );
        c
    }

    fn data(&self) -> String {
        format!(
            "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\no: Example\ndc: example\n\n\
             dn: ou=people,{SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n{}",
            self.ldif
        )
    }

    /// Writes the configuration, loads the entries with `slapadd`, starts slapd on free
    /// ports and waits until it accepts connections; panics with its log if it does not.
    pub fn start(self) -> Slapd {
        let dir = tempfile::Builder::new()
            .prefix("mppd-slapd-")
            .tempdir()
            .unwrap_or_else(|e| panic!("slapd: creating a temp dir: {e}"));
        let db = dir.path().join("db");
        fs::create_dir_all(&db).unwrap_or_else(|e| panic!("creating {}: {e}", db.display()));
        let conf = dir.path().join("slapd.conf");
        fs::write(&conf, self.config(dir.path()))
            .unwrap_or_else(|e| panic!("writing {}: {e}", conf.display()));
        let data = dir.path().join("data.ldif");
        fs::write(&data, self.data()).unwrap_or_else(|e| panic!("writing {}: {e}", data.display()));
        let out = Command::new(binary("slapadd"))
            .arg("-f")
            .arg(&conf)
            .arg("-l")
            .arg(&data)
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("slapadd: cannot run it ({e}); install the slapd package"));
        assert!(
            out.status.success(),
            "slapadd -f {} -l {} failed ({})\n--- stderr:\n{}\n--- slapd.conf:\n{}\n--- data.ldif:\n{}",
            conf.display(),
            data.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr),
            process::read_log(&conf),
            process::read_log(&data)
        );
        let ip = Ipv4Addr::LOCALHOST.into();
        let mut last = String::new();
        for attempt in 1..=PORT_ATTEMPTS {
            let ldap = SocketAddr::new(ip, process::free_port(ip));
            let ldaps = self
                .tls
                .as_ref()
                .map(|_| SocketAddr::new(ip, process::free_port(ip)));
            let mut urls = format!("ldap://{ldap}/");
            if let Some(a) = ldaps {
                let _ = write!(urls, " ldaps://{a}/");
            }
            let log = dir.path().join(format!("slapd-{attempt}.log"));
            let out_file = process::log_file(&log);
            let err_file = out_file
                .try_clone()
                .unwrap_or_else(|e| panic!("duplicating {}: {e}", log.display()));
            let mut cmd = Command::new(binary("slapd"));
            cmd.arg("-f")
                .arg(&conf)
                .arg("-h")
                .arg(&urls)
                .arg("-d")
                .arg("256")
                .stdin(Stdio::null())
                .stdout(out_file)
                .stderr(err_file);
            let what = format!("slapd on {urls}");
            let mut child = ChildGuard::spawn(&mut cmd, &what);
            let bound = || process::read_log(&log).contains("slapd starting");
            let ready =
                process::wait_for_tcp(&mut child, ldap, READY_TIMEOUT, bound).and_then(|()| {
                    match ldaps {
                        Some(a) => process::wait_for_tcp(&mut child, a, READY_TIMEOUT, || true),
                        None => Ok(()),
                    }
                });
            match ready {
                Ok(()) => {
                    return Slapd {
                        child,
                        ldap,
                        ldaps,
                        log,
                        dir,
                    };
                }
                Err(why) => {
                    let text = process::read_log(&log);
                    last = format!(
                        "{what} {why}\ncommand: {cmd:?}\n--- log:\n{text}\n--- {}:\n{}",
                        conf.display(),
                        process::read_log(&conf)
                    );
                    let port_taken =
                        matches!(why, NotReady::Exited(_)) && text.contains("already in use");
                    if !port_taken {
                        break;
                    }
                }
            }
        }
        panic!("{last}");
    }
}

/// `/usr/sbin/NAME` when it exists (root's PATH is not always everyone's), else NAME.
fn binary(name: &str) -> PathBuf {
    let sbin = Path::new("/usr/sbin").join(name);
    if sbin.exists() {
        sbin
    } else {
        PathBuf::from(name)
    }
}

/// A running slapd, killed by PID when dropped.
#[derive(Debug)]
pub struct Slapd {
    child: ChildGuard,
    ldap: SocketAddr,
    ldaps: Option<SocketAddr>,
    log: PathBuf,
    dir: TempDir,
}

impl Slapd {
    /// A slapd with the suffix [`SUFFIX`], no TLS, anonymous read access.
    pub fn builder() -> SlapdBuilder {
        SlapdBuilder {
            tls: None,
            cipher_suite: None,
            require_tls: false,
            sasl_host: "localhost".to_owned(),
            ldif: String::new(),
        }
    }

    /// The `ldap://` address.
    pub fn ldap_addr(&self) -> SocketAddr {
        self.ldap
    }

    /// The `ldaps://` address; panics when TLS is not configured.
    pub fn ldaps_addr(&self) -> SocketAddr {
        self.ldaps
            .unwrap_or_else(|| panic!("this slapd was started without TLS: no ldaps:// port"))
    }

    /// Its process id.
    pub fn pid(&self) -> u32 {
        self.child.pid()
    }

    /// The directory holding its configuration, database and log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// slapd's log so far (`-d 256`: connections and operations).
    pub fn log(&self) -> String {
        process::read_log(&self.log)
    }
}
