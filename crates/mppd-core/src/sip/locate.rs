//! Where a line's REGISTER goes (SPEC §8; RFC 3263), the pure parts: the `Proxy_n_` value
//! (`host[:port]`, or MPP's `name:SRV=host:port:p=PRIO:w=WEIGHT|...` list), the transport of
//! `SIP_Transport_n_`, and the choice among NAPTR and SRV records. The shell does the DNS
//! queries.
//!
//! - UDP, TCP, TLS: a `host:port` is used as it is; a host without port is looked up as SRV
//!   (`_sip._udp`, `_sip._tcp`, `_sips._tcp`) when `Use_DNS_SRV_n_` is Yes, else taken with
//!   the default port (5060, or 5061 for TLS).
//! - Auto (RFC 3263 §4.1): an IP literal or a `host:port` means UDP. Otherwise NAPTR records
//!   for the host, the ones whose service the phone speaks (`SIPS+D2T`, `SIP+D2T`,
//!   `SIP+D2U`) by order then preference, each giving an SRV name; with no usable NAPTR, SRV
//!   queries for TLS, TCP, UDP in that order; with none, the host's addresses over UDP.
//! - An explicit SRV list in `Proxy_n_` is used as SRV records would be.

use std::fmt;

/// A SIP transport.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP.
    Udp,
    /// TCP.
    Tcp,
    /// TLS over TCP.
    Tls,
}

impl Transport {
    /// The Via token: `UDP`, `TCP`, `TLS`.
    pub const fn via(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
            Self::Tls => "TLS",
        }
    }

    /// The default port: 5060, or 5061 for TLS.
    pub const fn default_port(self) -> u16 {
        match self {
            Self::Tls => 5061,
            _ => 5060,
        }
    }

    /// The SRV name prefix: `_sip._udp.`, `_sip._tcp.`, `_sips._tcp.`.
    pub const fn srv_prefix(self) -> &'static str {
        match self {
            Self::Udp => "_sip._udp.",
            Self::Tcp => "_sip._tcp.",
            Self::Tls => "_sips._tcp.",
        }
    }

    /// The NAPTR service for the transport.
    pub const fn naptr_service(self) -> &'static str {
        match self {
            Self::Udp => "SIP+D2U",
            Self::Tcp => "SIP+D2T",
            Self::Tls => "SIPS+D2T",
        }
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.via())
    }
}

/// `SIP_Transport_n_`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TransportSetting {
    /// One transport.
    Fixed(Transport),
    /// RFC 3263 selection.
    Auto,
}

impl TransportSetting {
    /// From the profile's value (`UDP`, `TCP`, `TLS`, `Auto`; case-insensitive).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_uppercase().as_str() {
            "UDP" => Some(Self::Fixed(Transport::Udp)),
            "TCP" => Some(Self::Fixed(Transport::Tcp)),
            "TLS" => Some(Self::Fixed(Transport::Tls)),
            "AUTO" => Some(Self::Auto),
            _ => None,
        }
    }
}

/// One SRV target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SrvTarget {
    /// Priority (lower first).
    pub priority: u16,
    /// Weight (among equal priorities, heavier first here).
    pub weight: u16,
    /// Port.
    pub port: u16,
    /// Host name or address.
    pub target: String,
}

/// `Proxy_n_` parsed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyValue {
    /// `host[:port]` (IPv6 in brackets).
    Host {
        /// The host (no brackets).
        host: String,
        /// The port when written.
        port: Option<u16>,
    },
    /// `name:SRV=host:port:p=PRIO:w=WEIGHT|...`: the domain name and its targets.
    SrvList {
        /// The name before `:SRV=` (the registrar domain).
        name: String,
        /// The targets.
        targets: Vec<SrvTarget>,
    },
}

impl ProxyValue {
    /// Parses `Proxy_n_` (or `Outbound_Proxy_n_`); `None` when empty.
    pub fn parse(value: &str) -> Result<Option<Self>, String> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(None);
        }
        if let Some((name, list)) = value.split_once(":SRV=") {
            let mut targets = Vec::new();
            for item in list.split('|') {
                let mut parts = item.split(':');
                let host = parts.next().unwrap_or("").trim();
                if host.is_empty() {
                    return Err(format!("empty host in {item:?}"));
                }
                let mut t = SrvTarget {
                    priority: 0,
                    weight: 0,
                    port: 5060,
                    target: host.to_owned(),
                };
                for p in parts {
                    match p.split_once('=') {
                        Some(("p", n)) => {
                            t.priority = n.parse().map_err(|_| format!("bad priority {p:?}"))?;
                        }
                        Some(("w", n)) => {
                            t.weight = n.parse().map_err(|_| format!("bad weight {p:?}"))?;
                        }
                        None => t.port = p.parse().map_err(|_| format!("bad port {p:?}"))?,
                        Some(_) => return Err(format!("bad field {p:?} in {item:?}")),
                    }
                }
                targets.push(t);
            }
            sort_srv(&mut targets);
            return Ok(Some(Self::SrvList {
                name: name.trim().to_owned(),
                targets,
            }));
        }
        let (host, port) = split_host_port(value)?;
        Ok(Some(Self::Host { host, port }))
    }

    /// The domain of the address of record: the host, or the SRV list's name.
    pub fn domain(&self) -> &str {
        match self {
            Self::Host { host, .. } => host,
            Self::SrvList { name, .. } => name,
        }
    }
}

/// `host[:port]`, IPv6 in brackets.
pub fn split_host_port(value: &str) -> Result<(String, Option<u16>), String> {
    if let Some(rest) = value.strip_prefix('[') {
        let (host, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("unclosed [ in {value:?}"))?;
        let port = match after.strip_prefix(':') {
            Some(p) => Some(p.parse().map_err(|_| format!("bad port in {value:?}"))?),
            None if after.is_empty() => None,
            None => return Err(format!("junk after ] in {value:?}")),
        };
        return Ok((host.to_owned(), port));
    }
    match value.rsplit_once(':') {
        Some((h, p)) if !h.contains(':') => {
            let port: u16 = p.parse().map_err(|_| format!("bad port in {value:?}"))?;
            if port == 0 {
                return Err(format!("port 0 in {value:?}"));
            }
            Ok((h.to_owned(), Some(port)))
        }
        _ => Ok((value.to_owned(), None)),
    }
}

/// Sorts SRV targets: priority ascending, then weight descending (a deterministic stand-in
/// for RFC 2782's weighted random pick), then name.
pub fn sort_srv(targets: &mut [SrvTarget]) {
    targets.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then(b.weight.cmp(&a.weight))
            .then(a.target.cmp(&b.target))
    });
}

/// One NAPTR record as the shell got it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Naptr {
    /// Order.
    pub order: u16,
    /// Preference.
    pub preference: u16,
    /// Flags (`S` for an SRV replacement).
    pub flags: String,
    /// Service (`SIPS+D2T`, ...).
    pub services: String,
    /// The replacement (an SRV name).
    pub replacement: String,
}

/// The SRV names to query, in order, from the NAPTR records (RFC 3263 §4.1): only `S`-flagged
/// records whose service the phone speaks, by order then preference.
pub fn naptr_choices(records: &[Naptr]) -> Vec<(Transport, String)> {
    let mut usable: Vec<(&Naptr, Transport)> = records
        .iter()
        .filter(|r| r.flags.eq_ignore_ascii_case("s"))
        .filter_map(|r| {
            [Transport::Tls, Transport::Tcp, Transport::Udp]
                .into_iter()
                .find(|t| r.services.eq_ignore_ascii_case(t.naptr_service()))
                .map(|t| (r, t))
        })
        .collect();
    usable.sort_by_key(|(r, _)| (r.order, r.preference));
    usable
        .into_iter()
        .map(|(r, t)| (t, r.replacement.trim_end_matches('.').to_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn proxy_values() {
        assert_eq!(ProxyValue::parse(" ").unwrap(), None);
        assert_eq!(
            ProxyValue::parse("sip.example.com:5070").unwrap(),
            Some(ProxyValue::Host {
                host: "sip.example.com".to_owned(),
                port: Some(5070)
            })
        );
        assert_eq!(
            ProxyValue::parse("[2001:db8::1]").unwrap(),
            Some(ProxyValue::Host {
                host: "2001:db8::1".to_owned(),
                port: None
            })
        );
        let v = ProxyValue::parse("pbx.example:SRV=10.0.0.2:5062:p=1|10.0.0.1:5060:p=0:w=5")
            .unwrap()
            .unwrap();
        assert_eq!(v.domain(), "pbx.example");
        let ProxyValue::SrvList { targets, .. } = v else {
            panic!()
        };
        assert_eq!(
            targets
                .iter()
                .map(|t| (t.target.as_str(), t.port))
                .collect::<Vec<_>>(),
            [("10.0.0.1", 5060), ("10.0.0.2", 5062)]
        );
        assert!(ProxyValue::parse("h:0").is_err());
        assert!(ProxyValue::parse("n:SRV=h:x").is_err());
    }

    #[test]
    fn naptr_order_and_services() {
        let r = |order, preference, services: &str, replacement: &str| Naptr {
            order,
            preference,
            flags: "S".to_owned(),
            services: services.to_owned(),
            replacement: replacement.to_owned(),
        };
        let records = [
            r(20, 10, "SIP+D2U", "_sip._udp.example.com."),
            r(10, 20, "SIP+D2T", "_sip._tcp.example.com."),
            r(10, 10, "SIPS+D2T", "_sips._tcp.example.com."),
            r(5, 10, "SIP+D2S", "_sip._sctp.example.com."),
        ];
        assert_eq!(
            naptr_choices(&records),
            [
                (Transport::Tls, "_sips._tcp.example.com".to_owned()),
                (Transport::Tcp, "_sip._tcp.example.com".to_owned()),
                (Transport::Udp, "_sip._udp.example.com".to_owned()),
            ]
        );
        let mut a = r(1, 1, "SIP+D2U", "x");
        a.flags = "A".to_owned();
        assert!(naptr_choices(&[a]).is_empty());
    }
}
