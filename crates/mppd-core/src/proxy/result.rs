//! Parsing of the string `FindProxyForURL(url, host)` returns.
//!
//! The grammar is Netscape's, as Chromium and Firefox read it: `;`-separated entries, each a
//! case-insensitive keyword with optional surrounding whitespace, then (except for `DIRECT`)
//! one `host[:port]`. Keywords: `DIRECT`, `PROXY` and `HTTP` (plain HTTP proxy), `HTTPS` (HTTP
//! proxy reached over TLS), `SOCKS` (= SOCKS4, as in both browsers), `SOCKS4`, `SOCKS5`.
//! SOCKS entries are kept so that the caller can report them as unsupported and skip them.
//!
//! Decisions:
//! - Empty entries (e.g. a trailing `;`) are skipped, as browsers do; a string with no entry at
//!   all is [`ProxyResultError::Empty`] (the caller falls back to DIRECT with a warning).
//! - A missing port takes the scheme's default, as Chromium (`GetDefaultPortForScheme`) and
//!   Firefox (`ExtractProxyInfo`) do: 80 for `PROXY`/`HTTP`, 443 for `HTTPS`, 1080 for SOCKS.
//!   pacparser only returns the string and does not parse it.
//! - Unlike Chromium, which silently drops an unparsable entry, any bad entry is an error that
//!   names it: a PAC file that returns garbage should be reported, not half-used.
//! - IPv6 literals must be bracketed (`[::1]:3128`); the host is stored without brackets.
//!   Port 0 is rejected.

use std::fmt;
use std::net::Ipv6Addr;

/// The SOCKS version an entry names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SocksVersion {
    /// `SOCKS` or `SOCKS4`.
    V4,
    /// `SOCKS5`.
    V5,
}

/// One entry of a `FindProxyForURL` result, in the order the PAC file gave them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ProxyChoice {
    /// `DIRECT`: no proxy.
    Direct,
    /// `PROXY host:port` or `HTTP host:port`: a plain HTTP proxy.
    Http {
        /// Host name or IP address (IPv6 without brackets).
        host: String,
        /// Port (80 when the entry gave none).
        port: u16,
    },
    /// `HTTPS host:port`: an HTTP proxy spoken to over TLS.
    Https {
        /// Host name or IP address (IPv6 without brackets).
        host: String,
        /// Port (443 when the entry gave none).
        port: u16,
    },
    /// `SOCKS`, `SOCKS4` or `SOCKS5 host:port`: not supported by mppd, kept for reporting.
    Socks {
        /// SOCKS version.
        version: SocksVersion,
        /// Host name or IP address (IPv6 without brackets).
        host: String,
        /// Port (1080 when the entry gave none).
        port: u16,
    },
}

struct HostPort<'a>(&'a str, u16);

impl fmt::Display for HostPort<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.contains(':') {
            write!(f, "[{}]:{}", self.0, self.1)
        } else {
            write!(f, "{}:{}", self.0, self.1)
        }
    }
}

impl fmt::Display for ProxyChoice {
    /// The canonical PAC spelling (`PROXY` for plain HTTP, explicit port).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Direct => f.write_str("DIRECT"),
            Self::Http { host, port } => write!(f, "PROXY {}", HostPort(host, *port)),
            Self::Https { host, port } => write!(f, "HTTPS {}", HostPort(host, *port)),
            Self::Socks {
                version: SocksVersion::V4,
                host,
                port,
            } => {
                write!(f, "SOCKS4 {}", HostPort(host, *port))
            }
            Self::Socks {
                version: SocksVersion::V5,
                host,
                port,
            } => {
                write!(f, "SOCKS5 {}", HostPort(host, *port))
            }
        }
    }
}

/// Why a `FindProxyForURL` result string was rejected; each variant names the bad entry
/// (trimmed).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProxyResultError {
    /// The string held no entry at all (empty, blank or only `;`).
    Empty,
    /// The entry's keyword is none of DIRECT, PROXY, HTTP, HTTPS, SOCKS, SOCKS4, SOCKS5.
    UnknownKeyword {
        /// The offending entry.
        entry: String,
    },
    /// A proxy keyword without `host[:port]`.
    MissingAddress {
        /// The offending entry.
        entry: String,
    },
    /// `DIRECT` followed by something.
    UnexpectedAddress {
        /// The offending entry.
        entry: String,
    },
    /// The host part is empty, holds invalid characters, is an unbracketed or invalid IPv6
    /// literal, or is followed by more words.
    BadHost {
        /// The offending entry.
        entry: String,
    },
    /// The port is not a number in 1..=65535.
    BadPort {
        /// The offending entry.
        entry: String,
    },
}

impl fmt::Display for ProxyResultError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty proxy result"),
            Self::UnknownKeyword { entry } => write!(f, "unknown proxy keyword in {entry:?}"),
            Self::MissingAddress { entry } => write!(f, "missing host:port in {entry:?}"),
            Self::UnexpectedAddress { entry } => {
                write!(f, "DIRECT takes no address: {entry:?}")
            }
            Self::BadHost { entry } => write!(f, "invalid proxy host in {entry:?}"),
            Self::BadPort { entry } => write!(f, "invalid proxy port in {entry:?}"),
        }
    }
}

impl std::error::Error for ProxyResultError {}

/// Parses a `FindProxyForURL` result into its entries, in order.
///
/// # Errors
/// [`ProxyResultError::Empty`] when there is no entry; otherwise the first bad entry.
pub fn parse_proxy_result(s: &str) -> Result<Vec<ProxyChoice>, ProxyResultError> {
    let mut out = Vec::new();
    for raw in s.split(';') {
        let entry = raw.trim();
        if !entry.is_empty() {
            out.push(parse_entry(entry)?);
        }
    }
    if out.is_empty() {
        return Err(ProxyResultError::Empty);
    }
    Ok(out)
}

#[derive(Clone, Copy)]
enum Kind {
    Http,
    Https,
    Socks(SocksVersion),
}

fn parse_entry(entry: &str) -> Result<ProxyChoice, ProxyResultError> {
    let (keyword, rest) = match entry.find(char::is_whitespace) {
        Some(i) => (&entry[..i], entry[i..].trim()),
        None => (entry, ""),
    };
    let kind = if keyword.eq_ignore_ascii_case("DIRECT") {
        if !rest.is_empty() {
            return Err(ProxyResultError::UnexpectedAddress {
                entry: entry.to_owned(),
            });
        }
        return Ok(ProxyChoice::Direct);
    } else if keyword.eq_ignore_ascii_case("PROXY") || keyword.eq_ignore_ascii_case("HTTP") {
        Kind::Http
    } else if keyword.eq_ignore_ascii_case("HTTPS") {
        Kind::Https
    } else if keyword.eq_ignore_ascii_case("SOCKS") || keyword.eq_ignore_ascii_case("SOCKS4") {
        Kind::Socks(SocksVersion::V4)
    } else if keyword.eq_ignore_ascii_case("SOCKS5") {
        Kind::Socks(SocksVersion::V5)
    } else {
        return Err(ProxyResultError::UnknownKeyword {
            entry: entry.to_owned(),
        });
    };
    if rest.is_empty() {
        return Err(ProxyResultError::MissingAddress {
            entry: entry.to_owned(),
        });
    }
    let default_port = match kind {
        Kind::Http => 80,
        Kind::Https => 443,
        Kind::Socks(_) => 1080,
    };
    let (host, port) = parse_host_port(rest, default_port, entry)?;
    Ok(match kind {
        Kind::Http => ProxyChoice::Http { host, port },
        Kind::Https => ProxyChoice::Https { host, port },
        Kind::Socks(version) => ProxyChoice::Socks {
            version,
            host,
            port,
        },
    })
}

fn parse_host_port(
    rest: &str,
    default_port: u16,
    entry: &str,
) -> Result<(String, u16), ProxyResultError> {
    let bad_host = || ProxyResultError::BadHost {
        entry: entry.to_owned(),
    };
    if rest.contains(char::is_whitespace) {
        return Err(bad_host());
    }
    let (host, port) = if let Some(inner) = rest.strip_prefix('[') {
        let (addr, after) = inner.split_once(']').ok_or_else(bad_host)?;
        let addr: Ipv6Addr = addr.parse().map_err(|_| bad_host())?;
        let port = if after.is_empty() {
            None
        } else {
            Some(after.strip_prefix(':').ok_or_else(bad_host)?)
        };
        (addr.to_string(), port)
    } else {
        let (host, port) = match rest.split_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (rest, None),
        };
        let valid = !host.is_empty()
            && host
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_'));
        if !valid {
            return Err(bad_host());
        }
        if port.is_some_and(|p| p.contains(':')) {
            // An unbracketed IPv6 literal: ambiguous.
            return Err(bad_host());
        }
        (host.to_owned(), port)
    };
    let port = match port {
        None => default_port,
        Some(p) => {
            let n = if p.bytes().all(|b| b.is_ascii_digit()) {
                p.parse::<u16>().ok()
            } else {
                None
            };
            match n {
                Some(n) if n != 0 => n,
                _ => {
                    return Err(ProxyResultError::BadPort {
                        entry: entry.to_owned(),
                    });
                }
            }
        }
    };
    Ok((host, port))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn http(h: &str, p: u16) -> ProxyChoice {
        ProxyChoice::Http {
            host: h.into(),
            port: p,
        }
    }

    #[test]
    fn direct_and_lists() {
        assert_eq!(
            parse_proxy_result("DIRECT").unwrap(),
            vec![ProxyChoice::Direct]
        );
        assert_eq!(
            parse_proxy_result(
                "PROXY w3proxy.example.com:8080; PROXY mozilla.example.com:8081; DIRECT"
            )
            .unwrap(),
            vec![
                http("w3proxy.example.com", 8080),
                http("mozilla.example.com", 8081),
                ProxyChoice::Direct
            ]
        );
        assert_eq!(
            parse_proxy_result("  proxy  a:1 ;;  direct ; ").unwrap(),
            vec![http("a", 1), ProxyChoice::Direct]
        );
    }

    #[test]
    fn every_keyword() {
        let got = parse_proxy_result(
            "HTTP h1:1;HTTPS h2:2;SOCKS s:3;socks4 s4:4;Socks5 s5:5;\tPROXY\t10.0.0.1:3128",
        )
        .unwrap();
        assert_eq!(
            got,
            vec![
                http("h1", 1),
                ProxyChoice::Https {
                    host: "h2".into(),
                    port: 2
                },
                ProxyChoice::Socks {
                    version: SocksVersion::V4,
                    host: "s".into(),
                    port: 3
                },
                ProxyChoice::Socks {
                    version: SocksVersion::V4,
                    host: "s4".into(),
                    port: 4
                },
                ProxyChoice::Socks {
                    version: SocksVersion::V5,
                    host: "s5".into(),
                    port: 5
                },
                http("10.0.0.1", 3128),
            ]
        );
    }

    #[test]
    fn default_ports() {
        assert_eq!(parse_proxy_result("PROXY p").unwrap(), vec![http("p", 80)]);
        assert_eq!(
            parse_proxy_result("HTTPS p").unwrap(),
            vec![ProxyChoice::Https {
                host: "p".into(),
                port: 443
            }]
        );
        assert_eq!(
            parse_proxy_result("SOCKS5 p").unwrap(),
            vec![ProxyChoice::Socks {
                version: SocksVersion::V5,
                host: "p".into(),
                port: 1080
            }]
        );
        assert_eq!(
            parse_proxy_result("PROXY [::1]").unwrap(),
            vec![http("::1", 80)]
        );
    }

    #[test]
    fn ipv6() {
        assert_eq!(
            parse_proxy_result("PROXY [::1]:3128").unwrap(),
            vec![http("::1", 3128)]
        );
        assert_eq!(
            parse_proxy_result("PROXY [2001:DB8::1]:8080").unwrap(),
            vec![http("2001:db8::1", 8080)]
        );
        assert_eq!(http("::1", 3128).to_string(), "PROXY [::1]:3128");
        for bad in [
            "PROXY ::1:3128",
            "PROXY [::1",
            "PROXY [zz::1]:1",
            "PROXY [::1]3128",
        ] {
            assert_eq!(
                parse_proxy_result(bad),
                Err(ProxyResultError::BadHost { entry: bad.into() }),
                "{bad}"
            );
        }
    }

    #[test]
    fn errors_name_the_entry() {
        assert_eq!(parse_proxy_result(""), Err(ProxyResultError::Empty));
        assert_eq!(parse_proxy_result(" ; ;"), Err(ProxyResultError::Empty));
        assert_eq!(
            parse_proxy_result("DIRECT; FTP x:1"),
            Err(ProxyResultError::UnknownKeyword {
                entry: "FTP x:1".into()
            })
        );
        assert_eq!(
            parse_proxy_result("PROXY"),
            Err(ProxyResultError::MissingAddress {
                entry: "PROXY".into()
            })
        );
        assert_eq!(
            parse_proxy_result("DIRECT x"),
            Err(ProxyResultError::UnexpectedAddress {
                entry: "DIRECT x".into()
            })
        );
        assert_eq!(
            parse_proxy_result("PROXY a b:1"),
            Err(ProxyResultError::BadHost {
                entry: "PROXY a b:1".into()
            })
        );
        assert_eq!(
            parse_proxy_result("PROXY :80"),
            Err(ProxyResultError::BadHost {
                entry: "PROXY :80".into()
            })
        );
        assert_eq!(
            parse_proxy_result("PROXY a/b:80"),
            Err(ProxyResultError::BadHost {
                entry: "PROXY a/b:80".into()
            })
        );
        for bad in [
            "PROXY a:",
            "PROXY a:0",
            "PROXY a:65536",
            "PROXY a:+1",
            "PROXY a:x",
        ] {
            assert_eq!(
                parse_proxy_result(bad),
                Err(ProxyResultError::BadPort { entry: bad.into() }),
                "{bad}"
            );
        }
        // Display names the entry.
        let e = parse_proxy_result("PROXY a:0").unwrap_err();
        assert!(e.to_string().contains("PROXY a:0"));
    }

    #[test]
    fn display_round_trips() {
        let s = "PROXY a:1; HTTPS b:2; SOCKS4 c:3; SOCKS5 [::1]:4; DIRECT";
        let parsed = parse_proxy_result(s).unwrap();
        let printed: Vec<String> = parsed.iter().map(ToString::to_string).collect();
        assert_eq!(printed.join("; "), s);
    }
}
