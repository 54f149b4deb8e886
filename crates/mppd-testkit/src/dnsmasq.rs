//! dnsmasq (Debian package `dnsmasq-base`) as a DNS server on 127.0.0.1 only, with the records
//! a test gives (`--host-record`, `--srv-host`, `--naptr-record`, ...) and nothing else: no
//! upstream server, no hosts file, no DHCP. Every query is logged. Killed by its PID on drop.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use tempfile::TempDir;

use crate::process::{ChildGuard, free_port, log_file, read_log, wait_for_tcp};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A running dnsmasq answering DNS on 127.0.0.1.
#[derive(Debug)]
pub struct Dnsmasq {
    _child: ChildGuard,
    port: u16,
    log: PathBuf,
    _dir: TempDir,
}

impl Dnsmasq {
    /// A dnsmasq with the A records `(name, ip)`.
    pub fn with_hosts(records: &[(&str, &str)]) -> Self {
        let options: Vec<String> = records
            .iter()
            .map(|(name, ip)| format!("--host-record={name},{ip}"))
            .collect();
        Self::start(&options)
    }

    /// A dnsmasq with `options` (record options such as `--srv-host=...`), on a free port;
    /// panics with its log when it does not start.
    pub fn start(options: &[String]) -> Self {
        let dir = tempfile::Builder::new()
            .prefix("mppd-dnsmasq-")
            .tempdir()
            .unwrap_or_else(|e| panic!("dnsmasq: temporary directory: {e}"));
        let mut last = String::new();
        for attempt in 1..=5 {
            let port = free_port(LOCALHOST);
            let out = dir.path().join(format!("dnsmasq-{attempt}.out"));
            let log = dir.path().join(format!("dnsmasq-{attempt}.log"));
            let mut cmd = Command::new("dnsmasq");
            cmd.args([
                "--no-daemon",
                "--conf-file=/dev/null",
                "--listen-address=127.0.0.1",
                "--bind-interfaces",
                "--no-resolv",
                "--no-hosts",
                "--user=root",
                "--pid-file=",
                "--log-queries",
            ])
            .arg(format!("--port={port}"))
            .args(options)
            .stdin(Stdio::null())
            .stdout(log_file(&out))
            .stderr(log_file(&log));
            let mut child = ChildGuard::spawn(&mut cmd, "dnsmasq (package dnsmasq-base)");
            let started = || read_log(&log).contains("started, version");
            match wait_for_tcp(
                &mut child,
                SocketAddr::new(LOCALHOST, port),
                Duration::from_secs(10),
                started,
            ) {
                Ok(()) => {
                    return Self {
                        _child: child,
                        port,
                        log,
                        _dir: dir,
                    };
                }
                Err(e) => last = format!("{e:?}: {}", read_log(&log)),
            }
        }
        panic!("dnsmasq did not start: {last}");
    }

    /// `127.0.0.1:PORT`, for `--nameserver`.
    pub fn nameserver(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Its log: one `query[TYPE] name from ...` line per query, and the answers.
    pub fn log(&self) -> String {
        read_log(&self.log)
    }
}
