//! WPAD candidate URLs (SPEC §18; issue 8 item 2), in the order to try them.
//!
//! DHCP option 252 comes first, as given (only trailing NULs and whitespace, and a pair of
//! surrounding double quotes, are trimmed: Windows DHCP servers famously append a NUL). Then `http://wpad.<domain>/wpad.dat` for the
//! phone's DNS domain and each parent domain, one label at a time, but never a public suffix or
//! a single label.
//!
//! With no public-suffix list available offline, a parent is a public suffix by this heuristic:
//! - a single label (`com`, `localdomain`) is always one: the walk stops at two labels
//!   (`a.b.example.com` → `wpad.a.b.example.com`, `wpad.b.example.com`, `wpad.example.com`);
//! - when the last label is a two-letter ccTLD and the label before it is a well-known
//!   second-level label ([`KNOWN_SECOND_LEVEL`]: `co`, `com`, `org`, `net`, `ac`, `gov`, `edu`,
//!   …), two labels are a suffix too and the walk stops at three (`example.co.uk` →
//!   `wpad.example.co.uk` only).
//!
//! Limits of the heuristic: it misses second-level suffixes outside the list (`example.ltd.xy`
//! if `ltd` were unknown, Japanese city domains such as `example.city.kawasaki.jp`, US state
//! domains such as `example.k12.ca.us`), multi-label private suffixes (`blogspot.com`-style
//! hosting domains, dynamic-DNS providers) and second-level labels under generic TLDs; for
//! such domains it may query one level too high, inside a registry's namespace. It never goes
//! below two labels, which rules out the historic `wpad.com`/`wpad` attacks. Its false
//! positives (a real registrable domain such as `net.de` read as a suffix) only drop
//! candidates, the safe direction. A phone whose
//! domain is under such a suffix should set `PAC_URL` or use option 252.

/// Second-level labels that, under a two-letter ccTLD, form a public suffix (`co.uk`,
/// `com.au`, `ac.jp`, `or.jp`, `gov.in`, …).
pub const KNOWN_SECOND_LEVEL: &[&str] = &[
    "ac", "co", "com", "edu", "gen", "go", "gob", "gov", "govt", "gv", "int", "ltd", "me", "mil",
    "ne", "net", "nhs", "nic", "nom", "or", "org", "plc", "sch",
];

/// The WPAD URLs to try, in order: option 252 (if given and not blank), then the DNS
/// candidates for `domain` (none if `domain` is missing, blank or not a valid DNS name).
/// Duplicates are dropped.
pub fn wpad_candidates(dhcp_option_252: Option<&str>, domain: Option<&str>) -> Vec<String> {
    let mut out = Vec::new();
    if let Some(url) = dhcp_option_252 {
        let url = url
            .trim_end_matches(|c: char| c == '\0' || c.is_whitespace())
            .trim_start();
        // Some servers send the quotes of their configuration file along.
        let url = url
            .strip_prefix('"')
            .and_then(|u| u.strip_suffix('"'))
            .unwrap_or(url);
        if !url.is_empty() {
            out.push(url.to_owned());
        }
    }
    for url in dns_candidates(domain.unwrap_or("")) {
        if !out.contains(&url) {
            out.push(url);
        }
    }
    out
}

/// The DNS WPAD URLs for `domain` alone: `http://wpad.<d>/wpad.dat` for `domain` and each
/// parent that is not a public suffix by the module's heuristic.
pub fn dns_candidates(domain: &str) -> Vec<String> {
    let domain = domain.trim().trim_end_matches('.').to_ascii_lowercase();
    let labels: Vec<&str> = domain.split('.').collect();
    let valid = labels.iter().all(|l| {
        !l.is_empty()
            && l.len() <= 63
            && l.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    });
    if !valid || domain.len() > 253 {
        return Vec::new();
    }
    let n = labels.len();
    let min_labels = match labels[..] {
        [.., second, tld]
            if tld.len() == 2
                && tld.bytes().all(|b| b.is_ascii_alphabetic())
                && KNOWN_SECOND_LEVEL.contains(&second) =>
        {
            3
        }
        _ => 2,
    };
    (0..n)
        .take_while(|i| n - i >= min_labels)
        .map(|i| format!("http://wpad.{}/wpad.dat", labels[i..].join(".")))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn urls(hosts: &[&str]) -> Vec<String> {
        hosts
            .iter()
            .map(|h| format!("http://wpad.{h}/wpad.dat"))
            .collect()
    }

    #[test]
    fn walks_down_to_two_labels() {
        assert_eq!(
            wpad_candidates(None, Some("a.b.example.com")),
            urls(&["a.b.example.com", "b.example.com", "example.com"])
        );
        assert_eq!(
            wpad_candidates(None, Some("example.com")),
            urls(&["example.com"])
        );
        assert_eq!(
            wpad_candidates(None, Some("corp.example.de")),
            urls(&["corp.example.de", "example.de"])
        );
    }

    #[test]
    fn stops_before_known_second_level() {
        assert_eq!(
            wpad_candidates(None, Some("example.co.uk")),
            urls(&["example.co.uk"])
        );
        assert_eq!(
            wpad_candidates(None, Some("x.example.com.au")),
            urls(&["x.example.com.au", "example.com.au"])
        );
        assert!(wpad_candidates(None, Some("co.uk")).is_empty());
    }

    #[test]
    fn single_label_and_invalid() {
        assert!(wpad_candidates(None, Some("localdomain")).is_empty());
        assert!(wpad_candidates(None, Some("")).is_empty());
        assert!(wpad_candidates(None, None).is_empty());
        assert!(wpad_candidates(None, Some("a..com")).is_empty());
        assert!(wpad_candidates(None, Some("a b.com")).is_empty());
        assert!(wpad_candidates(None, Some("evil/x.example.com")).is_empty());
    }

    #[test]
    fn normalises_domain() {
        assert_eq!(
            wpad_candidates(None, Some(" Example.COM. ")),
            urls(&["example.com"])
        );
    }

    #[test]
    fn dhcp_first_as_given() {
        assert_eq!(
            wpad_candidates(Some("http://10.0.0.1/proxy.pac\0"), Some("example.com")),
            vec![
                "http://10.0.0.1/proxy.pac".to_owned(),
                "http://wpad.example.com/wpad.dat".into()
            ]
        );
        assert_eq!(
            wpad_candidates(
                Some("http://wpad.example.com/wpad.dat"),
                Some("example.com")
            ),
            urls(&["example.com"])
        );
        assert_eq!(
            wpad_candidates(Some(" \0"), Some("example.com")),
            urls(&["example.com"])
        );
        assert_eq!(
            wpad_candidates(Some("\"http://10.0.0.1/w.pac\"\0"), None),
            vec!["http://10.0.0.1/w.pac".to_owned()]
        );
        assert_eq!(
            wpad_candidates(Some("http://p/x.pac"), None),
            vec!["http://p/x.pac".to_owned()]
        );
    }
}
