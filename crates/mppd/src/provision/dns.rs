//! Name resolution for provisioning (SPEC §11): `/etc/hosts` first, then DNS A records with
//! hickory-resolver, against the system's name servers (`/etc/resolv.conf`) or a given one.
//!
//! [`HostsThenDns`] implements [`Resolve`]: it is called on tokio's blocking pool, so each DNS
//! lookup runs on a small runtime of its own (lookups happen once per fetch, not per packet).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use hickory_resolver::TokioResolver;
use hickory_resolver::config::{
    ConnectionConfig, NameServerConfig, ResolveHosts, ResolverConfig, ResolverOpts,
};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::proto::rr::RData;

use super::fetch::Resolve;

/// The system's hosts file.
pub const HOSTS_FILE: &str = "/etc/hosts";

/// The DNS port used when a name server is given without one.
pub const DNS_PORT: u16 = 53;

/// How long one DNS query waits for an answer.
const QUERY_TIMEOUT: Duration = Duration::from_secs(3);

/// How many times a query is retried.
const QUERY_ATTEMPTS: usize = 2;

/// A hickory resolver asking `nameserver` (UDP, then TCP), or the system's name servers
/// (`/etc/resolv.conf`), never the hosts file (the callers read it themselves), with the
/// timeout and attempts of this module. Must be used inside a tokio runtime.
pub fn dns_resolver(nameserver: Option<SocketAddr>) -> Result<TokioResolver, String> {
    let mut builder = match nameserver {
        Some(addr) => {
            let mut udp = ConnectionConfig::udp();
            udp.port = addr.port();
            let mut tcp = ConnectionConfig::tcp();
            tcp.port = addr.port();
            let server = NameServerConfig::new(addr.ip(), true, vec![udp, tcp]);
            TokioResolver::builder_with_config(
                ResolverConfig::from_name_servers(vec![server]),
                TokioRuntimeProvider::default(),
            )
        }
        None => TokioResolver::builder_tokio()
            .map_err(|e| format!("no system DNS configuration: {e}"))?,
    };
    let opts: &mut ResolverOpts = builder.options_mut();
    opts.timeout = QUERY_TIMEOUT;
    opts.attempts = QUERY_ATTEMPTS;
    opts.use_hosts_file = ResolveHosts::Never;
    builder
        .build()
        .map_err(|e| format!("cannot start the resolver: {e}"))
}

/// `/etc/hosts` (or another hosts file), then DNS A records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostsThenDns {
    hosts: PathBuf,
    /// `None`: the system's configuration.
    nameserver: Option<SocketAddr>,
}

impl Default for HostsThenDns {
    fn default() -> Self {
        Self::system()
    }
}

impl HostsThenDns {
    /// `/etc/hosts`, then the name servers of `/etc/resolv.conf`.
    pub fn system() -> Self {
        Self {
            hosts: PathBuf::from(HOSTS_FILE),
            nameserver: None,
        }
    }

    /// `/etc/hosts`, then `nameserver` (UDP, then TCP for truncated answers).
    pub fn with_nameserver(nameserver: SocketAddr) -> Self {
        Self {
            hosts: PathBuf::from(HOSTS_FILE),
            nameserver: Some(nameserver),
        }
    }

    /// Reads `path` instead of `/etc/hosts`.
    #[must_use]
    pub fn hosts_file(mut self, path: impl Into<PathBuf>) -> Self {
        self.hosts = path.into();
        self
    }

    /// The name server in use, `None` for the system's configuration.
    pub const fn nameserver(&self) -> Option<SocketAddr> {
        self.nameserver
    }

    /// The A records of `host` from DNS.
    fn dns(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(|e| format!("cannot start the resolver: {e}"))?;
        runtime.block_on(async {
            let resolver = dns_resolver(self.nameserver)?;
            let server = self
                .nameserver
                .map_or_else(|| "the system's name servers".to_owned(), |a| a.to_string());
            let lookup = resolver
                .ipv4_lookup(host)
                .await
                .map_err(|e| format!("DNS ({server}): {e}"))?;
            let mut out: Vec<IpAddr> = Vec::new();
            for record in lookup.answers() {
                if let RData::A(a) = &record.data {
                    let ip = IpAddr::V4(a.0);
                    if !out.contains(&ip) {
                        out.push(ip);
                    }
                }
            }
            if out.is_empty() {
                return Err(format!("DNS ({server}): no A record"));
            }
            Ok(out)
        })
    }
}

impl Resolve for HostsThenDns {
    fn resolve(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        let from_hosts = hosts_file_lookup(&self.hosts, host);
        if !from_hosts.is_empty() {
            return Ok(from_hosts);
        }
        self.dns(host)
    }
}

/// The addresses `path` (a hosts file) gives `host`, in file order; none when the file is
/// missing or unreadable.
pub fn hosts_file_lookup(path: &Path, host: &str) -> Vec<IpAddr> {
    std::fs::read_to_string(path)
        .map(|text| hosts_lookup(&text, host))
        .unwrap_or_default()
}

/// The addresses a hosts file's `text` gives `host` (case-insensitive, a final dot ignored), in
/// file order without duplicates.
pub fn hosts_lookup(text: &str, host: &str) -> Vec<IpAddr> {
    let want = host.trim_end_matches('.');
    let mut out = Vec::new();
    for line in text.lines() {
        let line = line.split_once('#').map_or(line, |(l, _)| l);
        let mut fields = line.split_whitespace();
        let Some(Ok(ip)) = fields.next().map(str::parse::<IpAddr>) else {
            continue;
        };
        if fields.any(|n| n.trim_end_matches('.').eq_ignore_ascii_case(want)) && !out.contains(&ip)
        {
            out.push(ip);
        }
    }
    out
}

/// Parses `--nameserver`: `IP`, `IP:PORT`, `[IPv6]:PORT` (port 53 when none is given).
pub fn parse_nameserver(s: &str) -> Result<SocketAddr, String> {
    if let Ok(ip) = s.parse::<IpAddr>() {
        return Ok(SocketAddr::new(ip, DNS_PORT));
    }
    if let Ok(addr) = s.parse::<SocketAddr>() {
        return Ok(addr);
    }
    if let Some(ip) = s
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .and_then(|r| r.parse::<IpAddr>().ok())
    {
        return Ok(SocketAddr::new(ip, DNS_PORT));
    }
    Err(format!("not IP[:PORT]: {s}"))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn hosts_lines_comments_and_case() {
        let text = "127.0.0.1 localhost\n# 10.0.0.9 prov.test\n10.0.0.1\tprov.test prov # x\n\
                    10.0.0.2 other PROV.TEST.\nnot-an-ip prov.test\n::1 prov.test\n10.0.0.1 prov.test\n";
        let got = hosts_lookup(text, "prov.test");
        let want: Vec<IpAddr> = ["10.0.0.1", "10.0.0.2", "::1"]
            .iter()
            .map(|s| s.parse().unwrap())
            .collect();
        assert_eq!(got, want);
        assert!(hosts_lookup(text, "absent.test").is_empty());
        assert!(hosts_file_lookup(Path::new("/nonexistent/hosts"), "prov.test").is_empty());
    }

    #[test]
    fn hosts_file_answers_before_dns() {
        let dir = tempfile::tempdir().unwrap();
        let hosts = dir.path().join("hosts");
        std::fs::write(&hosts, "192.0.2.7 prov.test\n").unwrap();
        // A name server nobody runs: the hosts file must answer without asking it.
        let r = HostsThenDns::with_nameserver("127.0.0.1:9".parse().unwrap()).hosts_file(&hosts);
        assert_eq!(
            r.resolve("prov.test").unwrap(),
            vec!["192.0.2.7".parse::<IpAddr>().unwrap()]
        );
    }

    #[test]
    fn nameserver_syntax() {
        assert_eq!(
            parse_nameserver("127.0.0.1").unwrap(),
            "127.0.0.1:53".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("127.0.0.1:5353").unwrap(),
            "127.0.0.1:5353".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("::1").unwrap(),
            "[::1]:53".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("[::1]").unwrap(),
            "[::1]:53".parse().unwrap()
        );
        assert_eq!(
            parse_nameserver("[::1]:54").unwrap(),
            "[::1]:54".parse().unwrap()
        );
        assert!(parse_nameserver("ns.example").is_err());
        assert!(parse_nameserver("127.0.0.1:x").is_err());
    }
}
