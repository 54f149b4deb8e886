//! Locating a line's registrar (RFC 3263; SPEC §8): the DNS queries behind
//! [`mppd_core::sip::locate`]. Host addresses come from `/etc/hosts`, then DNS A records (as
//! provisioning resolves them); NAPTR and SRV records from DNS, with the system's name servers
//! or `--nameserver`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

use hickory_resolver::TokioResolver;
use hickory_resolver::proto::rr::{RData, RecordType};
use mppd_core::sip::locate::{
    Naptr, ProxyValue, SrvTarget, Transport, TransportSetting, naptr_choices, sort_srv,
};

use crate::provision::dns::{HostsThenDns, dns_resolver};
use crate::provision::fetch::Resolve;

/// One place to send the line's requests.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The transport.
    pub transport: Transport,
    /// The address.
    pub addr: SocketAddr,
    /// The name the server's certificate must carry (TLS): the registrar's domain, or the
    /// host of `Proxy_n_`/`Outbound_Proxy_n_` (RFC 5922 §4).
    pub name: String,
    /// How it was found, for the log (`NAPTR`, `SRV _sips._tcp.example.com`, `A`, ...).
    pub how: String,
}

/// The DNS side of locating.
#[derive(Debug, Clone)]
pub struct SipResolver {
    nameserver: Option<SocketAddr>,
    hosts: Arc<HostsThenDns>,
}

impl SipResolver {
    /// The system's resolver (`/etc/hosts`, `/etc/resolv.conf`), or `nameserver`.
    pub fn new(nameserver: Option<SocketAddr>) -> Self {
        Self {
            nameserver,
            hosts: Arc::new(
                nameserver.map_or_else(HostsThenDns::system, HostsThenDns::with_nameserver),
            ),
        }
    }

    fn resolver(&self) -> Result<TokioResolver, String> {
        dns_resolver(self.nameserver)
    }

    /// NAPTR records of `name` (none when the name has none).
    pub async fn naptr(&self, name: &str) -> Vec<Naptr> {
        let Ok(r) = self.resolver() else {
            return Vec::new();
        };
        let Ok(lookup) = r.lookup(name, RecordType::NAPTR).await else {
            return Vec::new();
        };
        lookup
            .answers()
            .iter()
            .filter_map(|rec| match &rec.data {
                RData::NAPTR(n) => Some(Naptr {
                    order: n.order,
                    preference: n.preference,
                    flags: String::from_utf8_lossy(&n.flags).into_owned(),
                    services: String::from_utf8_lossy(&n.services).into_owned(),
                    replacement: n.replacement.to_ascii(),
                }),
                _ => None,
            })
            .collect()
    }

    /// SRV records of `name`, sorted (none when the name has none).
    pub async fn srv(&self, name: &str) -> Vec<SrvTarget> {
        let Ok(r) = self.resolver() else {
            return Vec::new();
        };
        let Ok(lookup) = r.lookup(name, RecordType::SRV).await else {
            return Vec::new();
        };
        let mut out: Vec<SrvTarget> = lookup
            .answers()
            .iter()
            .filter_map(|rec| match &rec.data {
                RData::SRV(s) => Some(SrvTarget {
                    priority: s.priority,
                    weight: s.weight,
                    port: s.port,
                    target: s.target.to_ascii().trim_end_matches('.').to_owned(),
                }),
                _ => None,
            })
            .collect();
        sort_srv(&mut out);
        out
    }

    /// The addresses of `host` (an IP literal as it is).
    pub async fn addrs(&self, host: &str) -> Result<Vec<IpAddr>, String> {
        if let Ok(ip) = host.parse::<IpAddr>() {
            return Ok(vec![ip]);
        }
        let hosts = Arc::clone(&self.hosts);
        let name = host.to_owned();
        tokio::task::spawn_blocking(move || hosts.resolve(&name))
            .await
            .map_err(|e| format!("resolver task failed: {e}"))?
            .map_err(|e| format!("cannot resolve {host}: {e}"))
    }
}

/// The targets of a line, in the order to try them (see [`mppd_core::sip::locate`]).
pub async fn locate(
    resolver: &SipResolver,
    proxy: &ProxyValue,
    setting: TransportSetting,
    use_srv: bool,
) -> Result<Vec<Target>, String> {
    let mut out = Vec::new();
    let fixed = match setting {
        TransportSetting::Fixed(t) => Some(t),
        TransportSetting::Auto => None,
    };
    match proxy {
        ProxyValue::SrvList { name, targets } => {
            let t = fixed.unwrap_or(Transport::Udp);
            push_srv_targets(resolver, targets, t, name, "SRV list in Proxy", &mut out).await;
        }
        ProxyValue::Host { host, port } => {
            let literal = host.parse::<IpAddr>().is_ok();
            match (fixed, port) {
                (Some(t), Some(p)) => push_host(resolver, host, *p, t, host, "A", &mut out).await?,
                (Some(t), None) if use_srv && !literal => {
                    let name = format!("{}{host}", t.srv_prefix());
                    let srv = resolver.srv(&name).await;
                    if srv.is_empty() {
                        push_host(resolver, host, t.default_port(), t, host, "A", &mut out).await?;
                    } else {
                        push_srv_targets(resolver, &srv, t, host, &format!("SRV {name}"), &mut out)
                            .await;
                    }
                }
                (Some(t), None) => {
                    push_host(resolver, host, t.default_port(), t, host, "A", &mut out).await?;
                }
                (None, Some(p)) => {
                    push_host(resolver, host, *p, Transport::Udp, host, "A", &mut out).await?;
                }
                (None, None) if literal => {
                    push_host(resolver, host, 5060, Transport::Udp, host, "A", &mut out).await?;
                }
                (None, None) => {
                    let naptr = resolver.naptr(host).await;
                    let mut choices = naptr_choices(&naptr);
                    let how_naptr = !choices.is_empty();
                    if choices.is_empty() {
                        choices = [Transport::Tls, Transport::Tcp, Transport::Udp]
                            .into_iter()
                            .map(|t| (t, format!("{}{host}", t.srv_prefix())))
                            .collect();
                    }
                    for (t, name) in choices {
                        let srv = resolver.srv(&name).await;
                        let how = if how_naptr {
                            format!("NAPTR {host} -> SRV {name}")
                        } else {
                            format!("SRV {name}")
                        };
                        push_srv_targets(resolver, &srv, t, host, &how, &mut out).await;
                    }
                    if out.is_empty() {
                        push_host(resolver, host, 5060, Transport::Udp, host, "A", &mut out)
                            .await?;
                    }
                }
            }
        }
    }
    if out.is_empty() {
        return Err(format!(
            "no address found for {}",
            match proxy {
                ProxyValue::Host { host, .. } => host.as_str(),
                ProxyValue::SrvList { name, .. } => name.as_str(),
            }
        ));
    }
    Ok(out)
}

async fn push_host(
    resolver: &SipResolver,
    host: &str,
    port: u16,
    transport: Transport,
    name: &str,
    how: &str,
    out: &mut Vec<Target>,
) -> Result<(), String> {
    for ip in resolver.addrs(host).await? {
        out.push(Target {
            transport,
            addr: SocketAddr::new(ip, port),
            name: name.to_owned(),
            how: how.to_owned(),
        });
    }
    Ok(())
}

async fn push_srv_targets(
    resolver: &SipResolver,
    targets: &[SrvTarget],
    transport: Transport,
    name: &str,
    how: &str,
    out: &mut Vec<Target>,
) {
    for t in targets {
        if let Ok(ips) = resolver.addrs(&t.target).await {
            for ip in ips {
                out.push(Target {
                    transport,
                    addr: SocketAddr::new(ip, t.port),
                    name: name.to_owned(),
                    how: how.to_owned(),
                });
            }
        }
    }
}
