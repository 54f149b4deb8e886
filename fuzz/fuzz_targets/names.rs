//! Names that peers and users hand the phone: the host name check of every TLS channel
//! (`tls::host_matches`, SPEC §10 and §15; the names come from the peer's certificate) and the
//! dial string of `mppd sip call` (`call::target_uri`). The data is cut at `0xFF` bytes (never
//! part of UTF-8) into text fields:
//!
//! - fields 0-2 as DNS SANs, field 3 as an IP SAN, field 4 as the CN, field 5 as the host:
//!   whatever they hold, no panic; a DNS SAN spelled like the host (other case) names it; a
//!   wildcard SAN `*.REST` names a host only when the host is one more label than `REST` and
//!   ends with it; a certificate without any name names nothing;
//! - field 6 as a dial string with field 7 as the line's domain: a target that is accepted is a
//!   `sip:`/`sips:` URI with no whitespace, control character, `<`, `>` or `"`, and it names a
//!   host.
//!
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run names`.
#![no_main]

use std::net::IpAddr;

use libfuzzer_sys::fuzz_target;
use mppd_core::sip::call::target_uri;
use mppd_core::tls::{CertNames, host_matches};

fn field(parts: &[String], i: usize) -> &str {
    parts.get(i).map_or("", String::as_str)
}

/// A DNS name as certificates carry them: labels of letters, digits and `-`, none empty.
fn dns_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.')
            .all(|l| !l.is_empty() && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
        && s.parse::<IpAddr>().is_err()
}

fuzz_target!(|data: &[u8]| {
    let parts: Vec<String> = data
        .split(|b| *b == 0xFF)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let host = field(&parts, 5);
    let names = CertNames {
        dns: (0..3)
            .map(|i| field(&parts, i).to_owned())
            .filter(|d| !d.is_empty())
            .collect(),
        ips: field(&parts, 3).parse().into_iter().collect(),
        cns: Some(field(&parts, 4).to_owned())
            .filter(|c| !c.is_empty())
            .into_iter()
            .collect(),
    };
    for slash in [false, true] {
        let _ = host_matches(&names, host, slash);
        assert!(
            !host_matches(&CertNames::default(), host, slash),
            "a certificate without names names {host:?}"
        );
    }
    if dns_name(host) {
        let same = CertNames {
            dns: vec![host.to_ascii_uppercase()],
            ..CertNames::default()
        };
        assert!(
            host_matches(&same, host, false),
            "{host:?} is not its own SAN"
        );
    }
    let rest = field(&parts, 0);
    if dns_name(rest) {
        let wildcard = CertNames {
            dns: vec![format!("*.{rest}")],
            ..CertNames::default()
        };
        if host_matches(&wildcard, host, false) {
            let h = host.strip_suffix('.').unwrap_or(host).to_ascii_lowercase();
            let suffix = format!(".{}", rest.to_ascii_lowercase());
            assert!(
                h.ends_with(&suffix) && h.split('.').count() == rest.split('.').count() + 1,
                "*.{rest} names {host:?}"
            );
        }
    }

    if let Ok(uri) = target_uri(field(&parts, 6), field(&parts, 7)) {
        let lower = uri.to_ascii_lowercase();
        assert!(
            lower.starts_with("sip:") || lower.starts_with("sips:"),
            "{uri:?}"
        );
        assert!(
            !uri.chars()
                .any(|c| c.is_whitespace() || c.is_control() || "<>\"".contains(c)),
            "{uri:?} carries characters that would break a header"
        );
        let rest = uri.split_once(':').map_or("", |(_, r)| r);
        let host = rest.rsplit_once('@').map_or(rest, |(_, h)| h);
        assert!(!host.is_empty(), "{uri:?} names no host");
    }
});
