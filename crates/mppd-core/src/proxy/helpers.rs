//! The standard PAC helper functions (Netscape's spec, as Mozilla's and Chromium's
//! `ascii_pac_utils`/pacparser implement them), in pure Rust. The JS glue resolves host names
//! (`dnsResolve`, `myIpAddress`) and reads the clock; these functions only compute.
//!
//! Where the browsers' JavaScript is quirky, these follow the spec's intent and say so in the
//! function's documentation. Invalid argument lists give `false`, never a panic.

use std::net::{IpAddr, Ipv4Addr};

/// `isPlainHostName(host)`: true when `host` has no dot (Mozilla's and pacparser's rule; newer
/// Chromium also says false for anything with a `:`, i.e. IPv6 literals: the JS glue can add
/// that test if wanted).
pub fn is_plain_host_name(host: &str) -> bool {
    !host.contains('.')
}

/// `dnsDomainIs(host, domain)`: true when `host` ends with `domain` (case-sensitive, plain
/// suffix test, as in every browser: `dnsDomainIs("www.mozilla.org", "zilla.org")` is true).
pub fn dns_domain_is(host: &str, domain: &str) -> bool {
    host.ends_with(domain)
}

/// `localHostOrDomainIs(host, hostdom)`: true when `host` equals `hostdom`, or `hostdom` starts
/// with `host` followed by a dot (so an unqualified `www` matches `www.mozilla.org`).
pub fn local_host_or_domain_is(host: &str, hostdom: &str) -> bool {
    host == hostdom
        || hostdom
            .strip_prefix(host)
            .is_some_and(|rest| rest.starts_with('.'))
}

/// `isInNet(host, pattern, mask)` with `host` already resolved by the caller: true when `ip`
/// is IPv4 and `ip & mask == pattern & mask`. `pattern` and `mask` must be dotted IPv4
/// addresses (strictly; pacparser masks each part with 0xff instead); otherwise, or when `ip` is
/// IPv6, false.
pub fn is_in_net(ip: IpAddr, pattern: &str, mask: &str) -> bool {
    let IpAddr::V4(ip) = ip else {
        return false;
    };
    let (Ok(pattern), Ok(mask)) = (pattern.parse::<Ipv4Addr>(), mask.parse::<Ipv4Addr>()) else {
        return false;
    };
    let m = u32::from(mask);
    u32::from(ip) & m == u32::from(pattern) & m
}

/// `isInNetEx(host, "prefix/len")` (Microsoft's IPv6 extension, as Chromium implements it):
/// true when `ip` lies in the CIDR block. IPv4 and IPv6 both work; when the families differ,
/// the IPv4 side is compared as its IPv4-mapped IPv6 form (`::ffff:a.b.c.d`), as Chromium's
/// `IPAddressMatchesPrefix` does. A malformed prefix, or a length missing or longer than the
/// prefix's family allows: false.
pub fn is_in_net_ex(ip: IpAddr, prefix: &str) -> bool {
    let Some((addr, len)) = prefix.split_once('/') else {
        return false;
    };
    if len.is_empty() || !len.bytes().all(|b| b.is_ascii_digit()) {
        return false;
    }
    let (Ok(addr), Ok(len)) = (addr.parse::<IpAddr>(), len.parse::<u32>()) else {
        return false;
    };
    let (addr, bits) = match addr {
        IpAddr::V4(a) if len <= 32 => (a.to_ipv6_mapped(), len + 96),
        IpAddr::V6(a) if len <= 128 => (a, len),
        _ => return false,
    };
    let ip = match ip {
        IpAddr::V4(a) => a.to_ipv6_mapped(),
        IpAddr::V6(a) => a,
    };
    if bits == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - bits);
    u128::from(ip) & mask == u128::from(addr) & mask
}

/// `dnsDomainLevels(host)`: the number of dots in `host`.
pub fn dns_domain_levels(host: &str) -> usize {
    host.matches('.').count()
}

/// One token of a compiled shell pattern.
enum Tok {
    Lit(char),
    Any,
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
}

impl Tok {
    fn matches(&self, c: char) -> bool {
        match self {
            Self::Lit(l) => *l == c,
            Self::Any => true,
            Self::Star => false,
            Self::Class { negated, ranges } => {
                ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi) != *negated
            }
        }
    }
}

fn compile(pattern: &[char]) -> Vec<Tok> {
    let mut toks = Vec::new();
    let mut i = 0;
    while i < pattern.len() {
        let c = pattern[i];
        i += 1;
        match c {
            '*' => {
                if !matches!(toks.last(), Some(Tok::Star)) {
                    toks.push(Tok::Star);
                }
            }
            '?' => toks.push(Tok::Any),
            '\\' if i < pattern.len() => {
                toks.push(Tok::Lit(pattern[i]));
                i += 1;
            }
            '[' => match compile_class(pattern, i) {
                Some((tok, next)) => {
                    toks.push(tok);
                    i = next;
                }
                None => toks.push(Tok::Lit('[')),
            },
            _ => toks.push(Tok::Lit(c)),
        }
    }
    toks
}

/// Parses a class whose body starts at `start` (just after `[`); `None` when unterminated.
fn compile_class(pattern: &[char], start: usize) -> Option<(Tok, usize)> {
    let mut i = start;
    let negated = matches!(pattern.get(i), Some('!' | '^'));
    if negated {
        i += 1;
    }
    let mut ranges = Vec::new();
    let mut first = true;
    loop {
        let c = *pattern.get(i)?;
        if c == ']' && !first {
            return Some((Tok::Class { negated, ranges }, i + 1));
        }
        first = false;
        if pattern.get(i + 1) == Some(&'-') && pattern.get(i + 2).is_some_and(|&e| e != ']') {
            let hi = pattern[i + 2];
            // A reversed range (`z-a`) matches nothing.
            ranges.push((c, hi));
            i += 3;
        } else {
            ranges.push((c, c));
            i += 1;
        }
    }
}

/// `shExpMatch(str, pattern)`: shell glob match of the whole `text`, case-sensitive. `*`
/// matches any run (also empty), `?` one character, `[abc]`, `[a-z]` and `[!a-z]` (or `[^a-z]`)
/// one character of (not of) the class, `]` first in a class is literal, `\x` is a literal
/// `x`, and an unterminated `[` is literal.
///
/// The browsers' and pacparser's `shExpMatch` rewrite the pattern into a regular expression
/// escaping only `.`: so `[!a]` there is a class of `!` and `a`, and `+`, `(`, `^`, `$`, `|`,
/// `{` in a pattern act as regex operators (and an unbalanced `[` or `(` throws). This is the
/// glob the spec describes; for ordinary patterns (`*`, `?`, `.`, plain text, `[a-z]`) both
/// agree.
///
/// Matching is iterative with a single backtrack point for the last `*` seen, so it takes at
/// most O(len(text) × len(pattern)) steps: no exponential blow-up on patterns such as
/// `*a*a*a*a*b`.
pub fn sh_exp_match(text: &str, pattern: &str) -> bool {
    let pattern: Vec<char> = pattern.chars().collect();
    let toks = compile(&pattern);
    let text: Vec<char> = text.chars().collect();
    let (mut p, mut s) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while s < text.len() {
        match toks.get(p) {
            Some(Tok::Star) => {
                star = Some((p, s));
                p += 1;
            }
            Some(tok) if tok.matches(text[s]) => {
                p += 1;
                s += 1;
            }
            _ => match star {
                Some((sp, ss)) => {
                    p = sp + 1;
                    s = ss + 1;
                    star = Some((sp, ss + 1));
                }
                None => return false,
            },
        }
    }
    toks[p..].iter().all(|t| matches!(t, Tok::Star))
}

/// A broken-down time, local or GMT as the caller chose (see [`uses_gmt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PacTime {
    /// Full year, e.g. 1995.
    pub year: i32,
    /// Month, 1 (January) to 12.
    pub month: u8,
    /// Day of the month, 1 to 31.
    pub day: u8,
    /// Day of the week, 0 (Sunday) to 6 (Saturday).
    pub weekday: u8,
    /// Hour, 0 to 23.
    pub hour: u8,
    /// Minute, 0 to 59.
    pub minute: u8,
    /// Second, 0 to 59 (60 for a leap second).
    pub second: u8,
}

/// One argument of a PAC time helper as the JS glue passes it through: a number or a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PacArg {
    /// A JS number (integral).
    Int(i64),
    /// A JS string.
    Str(String),
}

impl PacArg {
    /// The argument as a number: an `Int`, or a `Str` holding a decimal integer (the browsers'
    /// `parseInt`/comparison coercions accept `"15"` too).
    fn as_int(&self) -> Option<i64> {
        match self {
            Self::Int(n) => Some(*n),
            Self::Str(s) => {
                let t = s.trim();
                let digits = t.strip_prefix('-').unwrap_or(t);
                if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                t.parse().ok()
            }
        }
    }
}

const WEEKDAYS: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
const MONTHS: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];

/// True when the last argument is the string `"GMT"` (case-sensitive, as in the browsers): the
/// caller then passes the GMT time to [`weekday_range`], [`date_range`] or [`time_range`],
/// else the local time. Those functions ignore that trailing `"GMT"` themselves.
pub fn uses_gmt(args: &[PacArg]) -> bool {
    matches!(args.last(), Some(PacArg::Str(s)) if s == "GMT")
}

fn strip_gmt(args: &[PacArg]) -> &[PacArg] {
    if uses_gmt(args) {
        &args[..args.len() - 1]
    } else {
        args
    }
}

/// Inclusive range test with wrap-around when `lo > hi`.
fn in_range<T: PartialOrd>(lo: T, cur: T, hi: T) -> bool {
    if lo <= hi {
        lo <= cur && cur <= hi
    } else {
        cur >= lo || cur <= hi
    }
}

fn weekday_of(arg: &PacArg) -> Option<u8> {
    let PacArg::Str(s) = arg else {
        return None;
    };
    WEEKDAYS
        .iter()
        .position(|w| w == s)
        .and_then(|i| u8::try_from(i).ok())
}

/// `weekdayRange(wd1 [, wd2] [, "GMT"])`: true on `wd1`, or from `wd1` to `wd2` inclusive,
/// wrapping over the week end when `wd1` comes after `wd2` (`("FRI", "MON")` is Friday to
/// Monday). Days are `SUN`…`SAT`, upper case. More than two days: false (Mozilla's script
/// silently ignores the second then).
pub fn weekday_range(args: &[PacArg], now: &PacTime) -> bool {
    let (w1, w2) = match strip_gmt(args) {
        [a] => (weekday_of(a), weekday_of(a)),
        [a, b] => (weekday_of(a), weekday_of(b)),
        _ => return false,
    };
    match (w1, w2) {
        (Some(w1), Some(w2)) => in_range(w1, now.weekday, w2),
        _ => false,
    }
}

/// A classified `dateRange` argument.
#[derive(Clone, Copy, PartialEq, Eq)]
enum DateArg {
    Day(u8),
    Month(u8),
    Year(i64),
}

fn date_arg(arg: &PacArg) -> Option<DateArg> {
    if let Some(n) = arg.as_int() {
        // Mozilla's rule: a number below 32 is a day, otherwise a year.
        return match n {
            1..=31 => u8::try_from(n).ok().map(DateArg::Day),
            32.. => Some(DateArg::Year(n)),
            _ => None,
        };
    }
    let PacArg::Str(s) = arg else {
        return None;
    };
    MONTHS
        .iter()
        .position(|m| m == s)
        .and_then(|i| u8::try_from(i + 1).ok())
        .map(DateArg::Month)
}

/// `dateRange(...)` with every form of the spec, optionally followed by `"GMT"`:
/// `(day)`, `(month)`, `(year)`, the single dates `(day, month)`, `(month, year)` and
/// `(day, month, year)` (the spec's `dateRange(24, "DEC")` and `dateRange(24, "DEC", 1995)`
/// examples; Mozilla's script gets these wrong), `(day1, day2)`, `(month1, month2)`,
/// `(year1, year2)`,
/// `(day1, month1, day2, month2)`, `(month1, year1, month2, year2)` and
/// `(day1, month1, year1, day2, month2, year2)`. Days are 1–31, months `JAN`…`DEC` (upper
/// case), years four digits (Mozilla: any number from 32 up). Ranges are inclusive and wrap
/// when the first bound comes after the second (`("DEC", "JAN")`). Any other list: false.
///
/// Mozilla's script builds JS `Date`s for the bounds, which overflow (`("JAN", "APR")` also
/// matches May 1st, since April 31st rolls over); this compares the fields instead.
pub fn date_range(args: &[PacArg], now: &PacTime) -> bool {
    use DateArg::{Day, Month, Year};
    let args = strip_gmt(args);
    let mut parsed = Vec::with_capacity(args.len());
    for a in args {
        match date_arg(a) {
            Some(d) => parsed.push(d),
            None => return false,
        }
    }
    let (y, m, d) = (i64::from(now.year), now.month, now.day);
    match parsed[..] {
        [Day(a)] => d == a,
        [Month(a)] => m == a,
        [Year(a)] => y == a,
        [Day(a), Month(b)] => (d, m) == (a, b),
        [Month(a), Year(b)] => (m, y) == (a, b),
        [Day(a), Month(b), Year(c)] => (d, m, y) == (a, b, c),
        [Day(a), Day(b)] => in_range(a, d, b),
        [Month(a), Month(b)] => in_range(a, m, b),
        [Year(a), Year(b)] => in_range(a, y, b),
        [Day(d1), Month(m1), Day(d2), Month(m2)] => in_range((m1, d1), (m, d), (m2, d2)),
        [Month(m1), Year(y1), Month(m2), Year(y2)] => in_range((y1, m1), (y, m), (y2, m2)),
        [Day(d1), Month(m1), Year(y1), Day(d2), Month(m2), Year(y2)] => {
            in_range((y1, m1, d1), (y, m, d), (y2, m2, d2))
        }
        _ => false,
    }
}

fn time_field(arg: &PacArg, max: i64) -> Option<u8> {
    arg.as_int()
        .filter(|n| (0..=max).contains(n))
        .and_then(|n| u8::try_from(n).ok())
}

/// `timeRange(...)`, optionally followed by `"GMT"`: `(hour)` is that whole hour;
/// `(hour1, hour2)` is from `hour1`:00:00 to `hour2`:59:59 (as Mozilla, Chromium and pacparser
/// do; Netscape's text says up to `hour2`:00), without wrap-around (again as they do:
/// `(22, 2)` is never true); `(h1, m1, h2, m2)` is from h1:m1:00 to h2:m2:59 and
/// `(h1, m1, s1, h2, m2, s2)` from h1:m1:s1 to h2:m2:s2, both inclusive and wrapping over
/// midnight when the start comes after the end. Hours 0–23, minutes and seconds 0–59; anything
/// else, or another number of arguments: false.
pub fn time_range(args: &[PacArg], now: &PacTime) -> bool {
    let args = strip_gmt(args);
    let h = |a: &PacArg| time_field(a, 23);
    let ms = |a: &PacArg| time_field(a, 59);
    let cur = (now.hour, now.minute, now.second);
    let opt = || -> Option<bool> {
        Some(match args {
            [a] => now.hour == h(a)?,
            [a, b] => h(a)? <= now.hour && now.hour <= h(b)?,
            [h1, m1, h2, m2] => in_range((h(h1)?, ms(m1)?), (cur.0, cur.1), (h(h2)?, ms(m2)?)),
            [h1, m1, s1, h2, m2, s2] => {
                in_range((h(h1)?, ms(m1)?, ms(s1)?), cur, (h(h2)?, ms(m2)?, ms(s2)?))
            }
            _ => return None,
        })
    };
    opt().unwrap_or(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;
    use std::time::Instant;

    fn s(x: &str) -> PacArg {
        PacArg::Str(x.into())
    }
    fn i(x: i64) -> PacArg {
        PacArg::Int(x)
    }
    fn ip(x: &str) -> IpAddr {
        x.parse().unwrap()
    }
    /// Wednesday 1995-06-14 13:45:30.
    fn t(year: i32, month: u8, day: u8, weekday: u8, hour: u8, minute: u8, second: u8) -> PacTime {
        PacTime {
            year,
            month,
            day,
            weekday,
            hour,
            minute,
            second,
        }
    }
    fn wed() -> PacTime {
        t(1995, 6, 14, 3, 13, 45, 30)
    }
    fn at(hour: u8, minute: u8, second: u8) -> PacTime {
        PacTime {
            hour,
            minute,
            second,
            ..wed()
        }
    }
    fn on(year: i32, month: u8, day: u8) -> PacTime {
        PacTime {
            year,
            month,
            day,
            ..wed()
        }
    }
    fn wd(weekday: u8) -> PacTime {
        PacTime { weekday, ..wed() }
    }

    #[test]
    fn plain_host_name() {
        assert!(is_plain_host_name("www"));
        assert!(!is_plain_host_name("www.mozilla.org"));
        assert!(is_plain_host_name(""));
    }

    #[test]
    fn domain_is() {
        assert!(dns_domain_is("www.mozilla.org", ".mozilla.org"));
        assert!(!dns_domain_is("www", ".mozilla.org"));
        assert!(dns_domain_is("www.mozilla.org", "zilla.org"));
        assert!(!dns_domain_is("www.MOZILLA.org", ".mozilla.org"));
    }

    #[test]
    fn local_host_or_domain() {
        assert!(local_host_or_domain_is(
            "www.mozilla.org",
            "www.mozilla.org"
        ));
        assert!(local_host_or_domain_is("www", "www.mozilla.org"));
        assert!(!local_host_or_domain_is(
            "www.google.com",
            "www.mozilla.org"
        ));
        assert!(!local_host_or_domain_is(
            "home.mozilla.org",
            "www.mozilla.org"
        ));
        assert!(!local_host_or_domain_is("ww", "www.mozilla.org"));
    }

    #[test]
    fn in_net() {
        assert!(is_in_net(
            ip("198.95.249.79"),
            "198.95.249.79",
            "255.255.255.255"
        ));
        assert!(!is_in_net(
            ip("198.95.249.80"),
            "198.95.249.79",
            "255.255.255.255"
        ));
        assert!(is_in_net(ip("198.95.1.2"), "198.95.0.0", "255.255.0.0"));
        assert!(!is_in_net(ip("198.96.1.2"), "198.95.0.0", "255.255.0.0"));
        assert!(is_in_net(ip("1.2.3.4"), "0.0.0.0", "0.0.0.0"));
        assert!(!is_in_net(ip("::1"), "0.0.0.0", "0.0.0.0"));
        assert!(!is_in_net(ip("1.2.3.4"), "1.2.3", "255.0.0.0"));
        assert!(!is_in_net(ip("1.2.3.4"), "1.2.3.4", "bogus"));
    }

    #[test]
    fn in_net_ex() {
        assert!(is_in_net_ex(ip("198.95.249.79"), "198.95.249.79/32"));
        assert!(is_in_net_ex(ip("198.95.1.2"), "198.95.0.0/16"));
        assert!(!is_in_net_ex(ip("198.96.1.2"), "198.95.0.0/16"));
        assert!(is_in_net_ex(ip("10.1.2.3"), "0.0.0.0/0"));
        assert!(is_in_net_ex(ip("3ffe:8311:ffff::1"), "3ffe:8311:ffff::/48"));
        assert!(!is_in_net_ex(
            ip("3ffe:8311:fffe::1"),
            "3ffe:8311:ffff::/48"
        ));
        assert!(is_in_net_ex(ip("::1"), "::/0"));
        assert!(is_in_net_ex(ip("::1"), "::1/128"));
        // Mixed families via IPv4-mapped addresses.
        assert!(is_in_net_ex(ip("10.0.0.1"), "::ffff:10.0.0.0/104"));
        assert!(is_in_net_ex(
            IpAddr::V6(Ipv6Addr::from(0xffff_0a00_0001_u128)),
            "10.0.0.0/8"
        ));
        assert!(!is_in_net_ex(ip("2001:db8::1"), "0.0.0.0/0"));
        // Malformed.
        for bad in [
            "10.0.0.0",
            "10.0.0.0/",
            "10.0.0.0/33",
            "::/129",
            "10.0.0/8",
            "10.0.0.0/+8",
            "x/8",
        ] {
            assert!(!is_in_net_ex(ip("10.0.0.1"), bad), "{bad}");
        }
    }

    #[test]
    fn domain_levels() {
        assert_eq!(dns_domain_levels("www"), 0);
        assert_eq!(dns_domain_levels("mozilla.org"), 1);
        assert_eq!(dns_domain_levels("www.mozilla.org"), 2);
    }

    #[test]
    fn sh_exp_spec_examples() {
        assert!(sh_exp_match(
            "http://home.netscape.com/people/ari/index.html",
            "*/ari/*"
        ));
        assert!(!sh_exp_match(
            "http://home.netscape.com/people/montulli/index.html",
            "*/ari/*"
        ));
        assert!(sh_exp_match("www.mozilla.org", "*.mozilla.org"));
        assert!(!sh_exp_match("wwwxmozilla.org", "www.mozilla.org"));
        assert!(sh_exp_match("10.1.2.3", "10.*"));
    }

    #[test]
    fn sh_exp_wildcards() {
        assert!(sh_exp_match("", ""));
        assert!(sh_exp_match("", "*"));
        assert!(sh_exp_match("", "***"));
        assert!(!sh_exp_match("", "?"));
        assert!(sh_exp_match("abc", "a?c"));
        assert!(!sh_exp_match("ac", "a?c"));
        assert!(sh_exp_match("abc", "*c"));
        assert!(sh_exp_match("abcbc", "a*bc"));
        assert!(!sh_exp_match("abcb", "a*bc"));
        assert!(sh_exp_match("aXbYc", "a*b*c"));
        assert!(!sh_exp_match("ABC", "abc"));
        assert!(sh_exp_match("héllo", "h?llo"));
        assert!(sh_exp_match("a+b", "a+b"));
        assert!(sh_exp_match("(x)$^|{", "(x)$^|{"));
        assert!(sh_exp_match("a*b", "a\\*b"));
        assert!(!sh_exp_match("axb", "a\\*b"));
        assert!(sh_exp_match("a\\", "a\\"));
    }

    #[test]
    fn sh_exp_classes() {
        assert!(sh_exp_match("host3.example.com", "host[0-9].example.com"));
        assert!(!sh_exp_match("hostx.example.com", "host[0-9].example.com"));
        assert!(sh_exp_match("b", "[abc]"));
        assert!(!sh_exp_match("d", "[abc]"));
        assert!(sh_exp_match("d", "[!abc]"));
        assert!(!sh_exp_match("a", "[!abc]"));
        assert!(sh_exp_match("d", "[^abc]"));
        // Negation, not a member `!` (where the regex-based versions differ).
        assert!(sh_exp_match("!", "[!abc]"));
        assert!(sh_exp_match("]", "[]]"));
        assert!(sh_exp_match("x", "[!]]"));
        assert!(!sh_exp_match("]", "[!]]"));
        assert!(sh_exp_match("-", "[a-]"));
        assert!(sh_exp_match("-", "[-a]"));
        assert!(sh_exp_match("q", "[a-cx-z0-9q]"));
        assert!(!sh_exp_match("m", "[a-cx-z]"));
        assert!(!sh_exp_match("m", "[z-a]"));
        // An unterminated class is a literal `[`.
        assert!(sh_exp_match("[ab", "[ab"));
        assert!(!sh_exp_match("a", "[ab"));
        assert!(sh_exp_match("x[y", "*[*"));
        assert!(sh_exp_match("ab1", "*[0-9]"));
        assert!(sh_exp_match("a.b", "a[.]b"));
    }

    #[test]
    fn sh_exp_hostile_is_fast() {
        let text = "a".repeat(20_000);
        let start = Instant::now();
        assert!(!sh_exp_match(&text, "*a*a*a*a*a*a*a*a*a*a*a*a*b"));
        assert!(!sh_exp_match(&text, &format!("{}b", "*a".repeat(200))));
        assert!(sh_exp_match(&text, &"*a".repeat(200)));
        assert!(!sh_exp_match(&text, "*[!a]*"));
        assert!(start.elapsed().as_secs() < 2, "took {:?}", start.elapsed());
    }

    #[test]
    fn gmt_flag() {
        assert!(uses_gmt(&[s("SAT"), s("GMT")]));
        assert!(uses_gmt(&[i(12), s("GMT")]));
        assert!(!uses_gmt(&[s("SAT")]));
        assert!(!uses_gmt(&[s("SAT"), s("gmt")]));
        assert!(!uses_gmt(&[]));
        // The functions ignore the trailing GMT themselves.
        assert!(weekday_range(&[s("WED"), s("GMT")], &wed()));
        assert!(date_range(&[i(14), s("GMT")], &wed()));
        assert!(time_range(&[i(13), s("GMT")], &wed()));
    }

    #[test]
    fn weekday_spec_examples() {
        // weekdayRange("MON", "FRI"): Monday through Friday.
        for d in 0..7 {
            assert_eq!(
                weekday_range(&[s("MON"), s("FRI")], &wd(d)),
                (1..=5).contains(&d),
                "{d}"
            );
            assert_eq!(
                weekday_range(&[s("MON"), s("FRI"), s("GMT")], &wd(d)),
                (1..=5).contains(&d)
            );
            // weekdayRange("SAT") / ("SAT", "GMT"): Saturdays.
            assert_eq!(weekday_range(&[s("SAT")], &wd(d)), d == 6);
            assert_eq!(weekday_range(&[s("SAT"), s("GMT")], &wd(d)), d == 6);
            // weekdayRange("FRI", "MON"): Friday through Monday, wrapping.
            assert_eq!(
                weekday_range(&[s("FRI"), s("MON")], &wd(d)),
                matches!(d, 5 | 6 | 0 | 1)
            );
        }
    }

    #[test]
    fn weekday_invalid() {
        assert!(!weekday_range(&[], &wed()));
        assert!(!weekday_range(&[s("GMT")], &wed()));
        assert!(!weekday_range(&[s("wed")], &wed()));
        assert!(!weekday_range(&[s("WEDNESDAY")], &wed()));
        assert!(!weekday_range(&[i(3)], &wed()));
        assert!(!weekday_range(&[s("MON"), s("WED"), s("FRI")], &wed()));
        assert!(!weekday_range(&[s("MON"), s("XXX")], &wed()));
    }

    #[test]
    fn date_spec_examples() {
        // dateRange(1): first day of each month.
        assert!(date_range(&[i(1)], &on(1995, 6, 1)));
        assert!(!date_range(&[i(1)], &on(1995, 6, 2)));
        assert!(date_range(&[i(1), s("GMT")], &on(2001, 2, 1)));
        // dateRange(1, 15): first half of each month.
        assert!(date_range(&[i(1), i(15)], &on(1995, 6, 15)));
        assert!(!date_range(&[i(1), i(15)], &on(1995, 6, 16)));
        // dateRange(24, "DEC"): Christmas Eve every year.
        assert!(date_range(&[i(24), s("DEC")], &on(2020, 12, 24)));
        assert!(!date_range(&[i(24), s("DEC")], &on(2020, 11, 24)));
        assert!(!date_range(&[i(24), s("DEC")], &on(2020, 12, 25)));
        // dateRange(24, "DEC", 1995).
        assert!(date_range(&[i(24), s("DEC"), i(1995)], &on(1995, 12, 24)));
        assert!(!date_range(&[i(24), s("DEC"), i(1995)], &on(1996, 12, 24)));
        // dateRange("JAN", "MAR"): first quarter.
        assert!(date_range(&[s("JAN"), s("MAR")], &on(1995, 3, 31)));
        assert!(!date_range(&[s("JAN"), s("MAR")], &on(1995, 4, 1)));
        // dateRange("JAN", "APR") does not leak into May 1st (Mozilla's Date overflow).
        assert!(!date_range(&[s("JAN"), s("APR")], &on(1995, 5, 1)));
        // dateRange(1, "JUN", 15, "AUG"): June 1st to August 15th, inclusive.
        let jun_aug = [i(1), s("JUN"), i(15), s("AUG")];
        assert!(date_range(&jun_aug, &on(1999, 6, 1)));
        assert!(date_range(&jun_aug, &on(1999, 7, 31)));
        assert!(date_range(&jun_aug, &on(1999, 8, 15)));
        assert!(!date_range(&jun_aug, &on(1999, 8, 16)));
        assert!(!date_range(&jun_aug, &on(1999, 5, 31)));
        // dateRange(1, "JUN", 1995, 15, "AUG", 1995).
        let full = [i(1), s("JUN"), i(1995), i(15), s("AUG"), i(1995)];
        assert!(date_range(&full, &on(1995, 6, 1)));
        assert!(date_range(&full, &on(1995, 8, 15)));
        assert!(!date_range(&full, &on(1996, 7, 1)));
        assert!(!date_range(&full, &on(1995, 8, 16)));
        // dateRange("OCT", 1995, "MAR", 1996): whole October 1995 to whole March 1996.
        let oct_mar = [s("OCT"), i(1995), s("MAR"), i(1996)];
        assert!(date_range(&oct_mar, &on(1995, 10, 1)));
        assert!(date_range(&oct_mar, &on(1996, 1, 20)));
        assert!(date_range(&oct_mar, &on(1996, 3, 31)));
        assert!(!date_range(&oct_mar, &on(1996, 4, 1)));
        assert!(!date_range(&oct_mar, &on(1995, 9, 30)));
        // dateRange(1995), dateRange(1995, 1997).
        assert!(date_range(&[i(1995)], &on(1995, 1, 1)));
        assert!(!date_range(&[i(1995)], &on(1996, 1, 1)));
        assert!(date_range(&[i(1995), i(1997)], &on(1997, 12, 31)));
        assert!(!date_range(&[i(1995), i(1997)], &on(1998, 1, 1)));
        // Month alone, and strings holding numbers.
        assert!(date_range(&[s("JUN")], &wed()));
        assert!(date_range(&[s("14")], &wed()));
    }

    #[test]
    fn date_wraps() {
        assert!(date_range(&[s("DEC"), s("JAN")], &on(1995, 12, 5)));
        assert!(date_range(&[s("DEC"), s("JAN")], &on(1995, 1, 5)));
        assert!(!date_range(&[s("DEC"), s("JAN")], &on(1995, 2, 5)));
        assert!(date_range(&[i(25), i(5)], &on(1995, 2, 28)));
        assert!(date_range(&[i(25), i(5)], &on(1995, 2, 3)));
        assert!(!date_range(&[i(25), i(5)], &on(1995, 2, 10)));
        assert!(date_range(
            &[i(20), s("DEC"), i(6), s("JAN")],
            &on(1995, 1, 6)
        ));
        assert!(!date_range(
            &[i(20), s("DEC"), i(6), s("JAN")],
            &on(1995, 1, 7)
        ));
    }

    #[test]
    fn date_invalid() {
        for args in [
            vec![],
            vec![s("GMT")],
            vec![i(0)],
            vec![i(-3)],
            vec![s("jan")],
            vec![s("JANUARY")],
            vec![i(1), s("JUN"), i(15)],
            vec![s("JUN"), i(1)],
            vec![i(1), i(1995)],
            vec![i(1), s("JUN"), i(1995), i(15), s("AUG")],
            vec![
                s("JAN"),
                s("FEB"),
                s("MAR"),
                s("APR"),
                s("MAY"),
                s("JUN"),
                s("JUL"),
            ],
            vec![i(1), s("JUN"), s("JUL"), s("AUG")],
            vec![i(i64::MIN)],
        ] {
            assert!(!date_range(&args, &wed()), "{args:?}");
        }
        // Bigger numbers are years, not a panic.
        assert!(!date_range(&[i(i64::MAX)], &on(1995, 1, 1)));
    }

    #[test]
    fn time_spec_examples() {
        // timeRange(12): noon to 1pm.
        assert!(time_range(&[i(12)], &at(12, 0, 0)));
        assert!(time_range(&[i(12)], &at(12, 59, 59)));
        assert!(!time_range(&[i(12)], &at(13, 0, 0)));
        assert!(time_range(&[i(12), s("GMT")], &at(12, 30, 0)));
        // timeRange(12, 13) / timeRange(9, 17): inclusive of the whole last hour, as browsers.
        assert!(time_range(&[i(12), i(13)], &at(13, 30, 0)));
        assert!(!time_range(&[i(12), i(13)], &at(14, 0, 0)));
        assert!(time_range(&[i(9), i(17)], &at(9, 0, 0)));
        assert!(time_range(&[i(9), i(17)], &at(17, 59, 59)));
        assert!(!time_range(&[i(9), i(17)], &at(8, 59, 59)));
        // No wrap for the two-hour form, as browsers.
        assert!(!time_range(&[i(22), i(2)], &at(23, 0, 0)));
        // timeRange(8, 30, 17, 00): 8:30:00 to 17:00:59.
        let work = [i(8), i(30), i(17), i(0)];
        assert!(!time_range(&work, &at(8, 29, 59)));
        assert!(time_range(&work, &at(8, 30, 0)));
        assert!(time_range(&work, &at(17, 0, 59)));
        assert!(!time_range(&work, &at(17, 1, 0)));
        // timeRange(0, 0, 0, 0, 0, 30): midnight to 30 seconds past.
        let mid = [i(0), i(0), i(0), i(0), i(0), i(30)];
        assert!(time_range(&mid, &at(0, 0, 0)));
        assert!(time_range(&mid, &at(0, 0, 30)));
        assert!(!time_range(&mid, &at(0, 0, 31)));
        // Wrap over midnight for the longer forms.
        let night = [i(22), i(0), i(6), i(0)];
        assert!(time_range(&night, &at(23, 0, 0)));
        assert!(time_range(&night, &at(3, 0, 0)));
        assert!(!time_range(&night, &at(12, 0, 0)));
        assert!(time_range(
            &[i(23), i(59), i(50), i(0), i(0), i(10)],
            &at(0, 0, 5)
        ));
        // Numeric strings are numbers.
        assert!(time_range(&[s("13")], &wed()));
    }

    #[test]
    fn time_invalid() {
        for args in [
            vec![],
            vec![s("GMT")],
            vec![i(24)],
            vec![i(-1)],
            vec![s("noon")],
            vec![i(1), i(2), i(3)],
            vec![i(1), i(2), i(3), i(4), i(5)],
            vec![i(8), i(60), i(17), i(0)],
            vec![i(0), i(0), i(60), i(0), i(0), i(0)],
            vec![i(1); 7],
            vec![i(i64::MAX)],
        ] {
            assert!(!time_range(&args, &wed()), "{args:?}");
        }
    }
}
