//! The proxy auto-configuration parsers (SPEC §18; issue 8): whatever the bytes, none panics.
//!
//! The data is cut at `0xFF` bytes (never part of UTF-8) into text fields:
//!
//! - field 0 as a `FindProxyForURL` result (`parse_proxy_result`): the entries printed back
//!   (`; `-joined) parse to the same entries;
//! - fields 1 and 2 as DHCP option 252 and the DNS domain (`wpad_candidates`,
//!   `dns_candidates`): no duplicate, and no DNS candidate under a single label;
//! - the PAC helpers: `shExpMatch` (a text matches `*` and itself with every character
//!   escaped), `isInNet` and `isInNetEx` (they agree when the mask is a prefix),
//!   `dnsDomainIs`, `localHostOrDomainIs`, `dnsDomainLevels`, `isPlainHostName`, and
//!   `weekdayRange`, `dateRange`, `timeRange` with arguments from fields 6-13 (`#123` is the
//!   number 123, anything else a string) and a time from the first bytes (out-of-range fields
//!   included).
//!
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run proxy`.
#![no_main]

use std::net::{IpAddr, Ipv4Addr};

use libfuzzer_sys::fuzz_target;
use mppd_core::proxy::helpers::{
    PacArg, PacTime, date_range, dns_domain_is, dns_domain_levels, is_in_net, is_in_net_ex,
    is_plain_host_name, local_host_or_domain_is, sh_exp_match, time_range, uses_gmt, weekday_range,
};
use mppd_core::proxy::result::parse_proxy_result;
use mppd_core::proxy::wpad::{dns_candidates, wpad_candidates};

fn field(parts: &[String], i: usize) -> &str {
    parts.get(i).map_or("", String::as_str)
}

/// Every character of `s` preceded by `\`: a pattern matching exactly `s`.
fn escaped(s: &str) -> String {
    s.chars().flat_map(|c| ['\\', c]).collect()
}

fuzz_target!(|data: &[u8]| {
    let parts: Vec<String> = data
        .split(|&b| b == 0xFF)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();

    // FindProxyForURL's result.
    if let Ok(choices) = parse_proxy_result(field(&parts, 0)) {
        let printed: Vec<String> = choices.iter().map(ToString::to_string).collect();
        let text = printed.join("; ");
        let again = parse_proxy_result(&text)
            .unwrap_or_else(|e| panic!("printed result {text:?} does not parse: {e}"));
        assert_eq!(again, choices, "parse -> print -> parse changed {text:?}");
    } else if let Err(e) = parse_proxy_result(field(&parts, 0)) {
        let _ = e.to_string();
    }

    // WPAD.
    let option = parts.get(1).map(String::as_str);
    let domain = parts.get(2).map(String::as_str);
    let urls = wpad_candidates(option, domain);
    for (i, u) in urls.iter().enumerate() {
        assert!(!urls[..i].contains(u), "duplicate WPAD candidate {u:?}");
    }
    for u in dns_candidates(field(&parts, 2)) {
        let host = u
            .strip_prefix("http://wpad.")
            .and_then(|h| h.strip_suffix("/wpad.dat"))
            .unwrap_or_else(|| panic!("odd WPAD URL {u:?}"));
        assert!(
            host.contains('.'),
            "WPAD candidate under a single label: {u:?}"
        );
    }

    // String helpers.
    let (a, b) = (field(&parts, 3), field(&parts, 4));
    let _ = sh_exp_match(a, b);
    assert!(sh_exp_match(a, "*"), "{a:?} does not match *");
    assert!(
        sh_exp_match(a, &escaped(a)),
        "{a:?} does not match itself escaped"
    );
    assert!(sh_exp_match(a, &format!("*{}", escaped(a))));
    let _ = dns_domain_is(a, b);
    assert!(local_host_or_domain_is(a, a));
    let _ = local_host_or_domain_is(a, b);
    let _ = dns_domain_levels(a);
    let _ = is_plain_host_name(a);

    // isInNet against isInNetEx on the bytes of the data.
    let ip = IpAddr::V4(Ipv4Addr::new(
        *data.first().unwrap_or(&0),
        *data.get(1).unwrap_or(&0),
        *data.get(2).unwrap_or(&0),
        *data.get(3).unwrap_or(&0),
    ));
    let net = Ipv4Addr::new(
        *data.get(4).unwrap_or(&0),
        *data.get(5).unwrap_or(&0),
        *data.get(6).unwrap_or(&0),
        *data.get(7).unwrap_or(&0),
    );
    let len = u32::from(*data.get(8).unwrap_or(&0)) % 33;
    let mask = Ipv4Addr::from(u32::MAX.checked_shl(32 - len).unwrap_or(0));
    assert_eq!(
        is_in_net(ip, &net.to_string(), &mask.to_string()),
        is_in_net_ex(ip, &format!("{net}/{len}")),
        "isInNet({ip}, {net}, {mask}) and isInNetEx({ip}, {net}/{len}) disagree"
    );
    for ip in [ip, IpAddr::V6(std::net::Ipv6Addr::LOCALHOST)] {
        let _ = is_in_net(ip, a, b);
        let _ = is_in_net_ex(ip, a);
    }
    if let Ok(ip) = field(&parts, 5).parse::<IpAddr>() {
        let _ = is_in_net_ex(ip, b);
        let _ = is_in_net(ip, a, b);
    }

    // Time helpers.
    let byte = |i: usize| *data.get(i).unwrap_or(&0);
    let now = PacTime {
        year: i32::from(i16::from_le_bytes([byte(0), byte(1)])),
        month: byte(2),
        day: byte(3),
        weekday: byte(4),
        hour: byte(5),
        minute: byte(6),
        second: byte(7),
    };
    let args: Vec<PacArg> = parts
        .iter()
        .skip(6)
        .take(8)
        .map(
            |s| match s.strip_prefix('#').and_then(|n| n.parse::<i64>().ok()) {
                Some(n) => PacArg::Int(n),
                None => PacArg::Str(s.clone()),
            },
        )
        .collect();
    let _ = uses_gmt(&args);
    let _ = weekday_range(&args, &now);
    let _ = date_range(&args, &now);
    let _ = time_range(&args, &now);
});
