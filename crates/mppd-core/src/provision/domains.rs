//! `Restricted_Access_Domains` (SPEC §1): the servers the phone may provision, upgrade, report
//! and register to.
//!
//! The value is a comma-separated list of FQDNs (items trimmed, empty items ignored, a trailing
//! dot ignored, case-insensitive). An empty list means no restriction. A host is allowed when
//! it equals an entry or is a subdomain of it (`a.prov.example.net` matches `prov.example.net`,
//! `evilprov.example.net` does not). An IP literal (IPv4, or IPv6 with or without brackets)
//! matches only an entry holding the same address, and an IP entry never matches a name.
//!
//! The check applies to the host of every rule URL after macro expansion and to every redirect
//! target; the caller runs it before connecting.

use std::fmt;
use std::net::IpAddr;

/// One entry of the list, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    /// A domain name, lowercase, without a trailing dot.
    Name(String),
    /// An IP literal.
    Ip(IpAddr),
}

/// A host as the check sees it.
enum Host {
    Name(String),
    Ip(IpAddr),
}

/// The parsed `Restricted_Access_Domains` list.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RestrictedDomains {
    entries: Vec<Entry>,
    /// The items as written (trimmed), for messages.
    written: Vec<String>,
}

impl RestrictedDomains {
    /// Parses the parameter value. Never fails: items are trimmed and empty items (`a,,b`, a
    /// trailing comma) are skipped. Whether each item is a well-formed name is the validation
    /// layer's concern; an item that is not a host simply matches nothing but itself.
    pub fn parse(value: &str) -> Self {
        let mut entries = Vec::new();
        let mut written = Vec::new();
        for item in value.split(',').map(str::trim) {
            let Some(host) = normalise(item) else {
                continue;
            };
            entries.push(match host {
                Host::Name(n) => Entry::Name(n),
                Host::Ip(ip) => Entry::Ip(ip),
            });
            written.push(item.to_owned());
        }
        Self { entries, written }
    }

    /// Whether the list is empty, i.e. there is no restriction.
    pub fn is_unrestricted(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entries as written in the parameter (trimmed, empty items dropped).
    pub fn entries(&self) -> impl Iterator<Item = &str> {
        self.written.iter().map(String::as_str)
    }

    /// Whether `host` may be contacted. `host` is a name or an IP literal (IPv6 may be in
    /// brackets), without a port. An empty list allows everything; an empty host is never
    /// allowed by a non-empty list.
    pub fn allows(&self, host: &str) -> bool {
        if self.entries.is_empty() {
            return true;
        }
        let Some(host) = normalise(host) else {
            return false;
        };
        self.entries.iter().any(|entry| match (entry, &host) {
            (Entry::Ip(a), Host::Ip(b)) => a == b,
            (Entry::Name(e), Host::Name(h)) => {
                h == e
                    || h.strip_suffix(e.as_str())
                        .is_some_and(|prefix| prefix.ends_with('.') && prefix.len() > 1)
            }
            _ => false,
        })
    }

    /// [`Self::allows`] as a `Result` whose error names the host and the list.
    pub fn check(&self, host: &str) -> Result<(), DomainError> {
        if self.allows(host) {
            Ok(())
        } else {
            Err(DomainError::NotAllowed {
                host: host.to_owned(),
                list: self.written.clone(),
            })
        }
    }
}

/// Trims, strips IPv6 brackets and one trailing dot, lowercases; `None` for an empty host.
fn normalise(raw: &str) -> Option<Host> {
    let raw = raw.trim();
    let unbracketed = raw
        .strip_prefix('[')
        .and_then(|r| r.strip_suffix(']'))
        .unwrap_or(raw);
    if let Ok(ip) = unbracketed.parse::<IpAddr>() {
        return Some(Host::Ip(ip));
    }
    let name = raw.strip_suffix('.').unwrap_or(raw);
    if name.is_empty() {
        return None;
    }
    Some(Host::Name(name.to_ascii_lowercase()))
}

/// A server refused by `Restricted_Access_Domains`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DomainError {
    /// `host` is neither an entry of the list nor a subdomain of one.
    NotAllowed {
        /// The host as given to the check.
        host: String,
        /// The list's entries as written.
        list: Vec<String>,
    },
}

impl fmt::Display for DomainError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotAllowed { host, list } => write!(
                f,
                "host \"{host}\" is not in Restricted_Access_Domains ({})",
                list.join(", ")
            ),
        }
    }
}

impl std::error::Error for DomainError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_list_allows_everything() {
        for v in ["", "  ", " , ,"] {
            let d = RestrictedDomains::parse(v);
            assert!(d.is_unrestricted());
            assert!(d.allows("evil.example"));
            assert!(d.allows("10.0.0.1"));
            assert_eq!(d.check("x"), Ok(()));
        }
    }

    #[test]
    fn equal_and_subdomains_match() {
        let d = RestrictedDomains::parse("voiceip.com, voiceip1.com");
        assert_eq!(
            d.entries().collect::<Vec<_>>(),
            ["voiceip.com", "voiceip1.com"]
        );
        assert!(d.allows("voiceip.com"));
        assert!(d.allows("prov.voiceip.com"));
        assert!(d.allows("a.b.voiceip1.com"));
        assert!(!d.allows("evilvoiceip.com"));
        assert!(!d.allows("voiceip.com.evil.example"));
        assert!(!d.allows("com"));
        assert!(!d.allows(""));
        assert!(!d.allows(".voiceip.com"));
    }

    #[test]
    fn case_and_trailing_dots_are_ignored() {
        let d = RestrictedDomains::parse(" Prov.Example.NET. ,,");
        assert!(d.allows("prov.example.net"));
        assert!(d.allows("PROV.example.net."));
        assert!(d.allows("x.PROV.EXAMPLE.NET"));
        assert!(!d.allows("example.net"));
    }

    #[test]
    fn ip_literals_match_only_themselves() {
        let d = RestrictedDomains::parse("10.0.0.5, 2001:db8::1, example.net");
        assert!(d.allows("10.0.0.5"));
        assert!(!d.allows("10.0.0.50"));
        assert!(!d.allows("1.10.0.0.5"));
        assert!(d.allows("[2001:db8::1]"));
        assert!(d.allows("2001:db8:0::1"));
        assert!(!d.allows("2001:db8::2"));
        // A name entry does not match an address, even one that is "under" it textually.
        assert!(!RestrictedDomains::parse("0.5").allows("10.0.0.5"));
        assert!(d.allows("a.example.net"));
    }

    #[test]
    fn error_names_host_and_list() {
        let d = RestrictedDomains::parse("pbx.example.net, prov.example.net");
        let err = d.check("evil.example").unwrap_err();
        assert_eq!(
            err.to_string(),
            "host \"evil.example\" is not in Restricted_Access_Domains (pbx.example.net, prov.example.net)"
        );
        assert_eq!(
            err,
            DomainError::NotAllowed {
                host: "evil.example".into(),
                list: vec!["pbx.example.net".into(), "prov.example.net".into()],
            }
        );
        assert_eq!(d.check("a.pbx.example.net"), Ok(()));
    }

    #[test]
    fn non_ascii_does_not_panic() {
        let d = RestrictedDomains::parse("ex\u{e4}mple.net,\u{1F600}");
        assert!(d.allows("a.ex\u{e4}mple.net"));
        assert!(d.allows("\u{1F600}"));
        assert!(!d.allows("\u{1F601}"));
    }
}
