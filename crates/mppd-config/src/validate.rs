//! Value validation against the registry, canonical spellings, and typed parsers for the
//! structured values other layers need (`Firewall_Config`, cipher lists).
//!
//! The empty value is valid for every parameter (SPEC §0). An invalid `TLS_Cipher_List` is a
//! warning, never an error (SPEC §0, §14). Unknown names are reported apart, not as errors.

use std::borrow::Cow;
use std::fmt;
use std::net::{IpAddr, Ipv6Addr};

use crate::profile::Profile;
use crate::registry::{self, Kind, ParamDef};

/// What is wrong with a value.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ValueError {
    /// A control character (other than tab) in the value.
    ControlCharacter(char),
    /// Not `Yes` or `No`.
    NotBool,
    /// Not one of the allowed spellings.
    NotInEnum(&'static [&'static str]),
    /// Not an integer (decimal, or hex with `0x`).
    NotInteger,
    /// Not a decimal number.
    NotDecimal,
    /// A number outside its range.
    OutOfRange {
        /// Lowest allowed.
        min: i64,
        /// Highest allowed.
        max: i64,
    },
    /// Not a valid decimal outside its range (thousandths).
    DecimalOutOfRange {
        /// Lowest allowed, thousandths.
        min_milli: i64,
        /// Highest allowed, thousandths.
        max_milli: i64,
    },
    /// A port range that is not `x-y` with 1 <= x <= y <= 65535.
    BadPortRange,
    /// Not a host name or IP address.
    BadHost(String),
    /// Not `host[:port]`.
    BadHostPort(String),
    /// A URL that cannot be used.
    BadUrl(String),
    /// A URL scheme that is not allowed here.
    BadScheme {
        /// The scheme given.
        scheme: String,
        /// The schemes allowed.
        allowed: &'static [&'static str],
    },
    /// A provisioning rule that cannot be parsed.
    BadRule(String),
    /// A SIP proxy value that is neither `host[:port]` nor the MPP SRV list.
    BadProxy(String),
    /// An item of a comma-separated list is invalid.
    BadListItem {
        /// The item.
        item: String,
        /// Why.
        reason: Box<Self>,
    },
    /// An invalid `Firewall_Config`.
    Firewall(FirewallError),
    /// An invalid `TLS_Cipher_List` (a warning only).
    Cipher(CipherListError),
    /// A character outside ASCII letters and digits (the value is a secret: not shown).
    NotAlphanumeric,
    /// Not a time of day `HHmm` (0000-2400).
    BadHhMm,
    /// Not `seconds`, `base+random` or a comma list of seconds.
    BadInterval,
}

impl fmt::Display for ValueError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::ControlCharacter(c) => {
                write!(f, "contains the control character U+{:04X}", u32::from(*c))
            }
            Self::NotBool => f.write_str("allowed: Yes, No"),
            Self::NotInEnum(values) => write!(f, "allowed: {}", values.join(", ")),
            Self::NotInteger => f.write_str("not an integer"),
            Self::NotDecimal => f.write_str("not a decimal number"),
            Self::OutOfRange { min, max } => write!(f, "allowed: {min}-{max}"),
            Self::DecimalOutOfRange {
                min_milli,
                max_milli,
            } => write!(f, "allowed: {}-{}", milli(*min_milli), milli(*max_milli)),
            Self::BadPortRange => f.write_str("allowed: a port range x-y, 1 <= x <= y <= 65535"),
            Self::BadHost(why) => write!(f, "not a host name or IP address: {why}"),
            Self::BadHostPort(why) => write!(f, "allowed: host[:port] ({why})"),
            Self::BadUrl(why) => write!(f, "not a valid URL: {why}"),
            Self::BadScheme { scheme, allowed } => write!(
                f,
                "scheme {scheme:?} is not allowed; allowed: {}",
                allowed.join(", ")
            ),
            Self::BadRule(why) => write!(f, "not a valid rule: {why}"),
            Self::BadProxy(why) => write!(
                f,
                "allowed: host[:port] or name:SRV=host:port:p=PRIO:w=WEIGHT|... ({why})"
            ),
            Self::BadListItem { item, reason } => write!(f, "item {item:?}: {reason}"),
            Self::Firewall(e) => e.fmt(f),
            Self::Cipher(e) => e.fmt(f),
            Self::NotAlphanumeric => f.write_str("allowed: ASCII letters and digits only"),
            Self::BadHhMm => f.write_str("allowed: a time HHmm from 0000 to 2400"),
            Self::BadInterval => {
                f.write_str("allowed: seconds or base+random seconds, or a comma list of them")
            }
        }
    }
}

fn milli(v: i64) -> String {
    if v % 1000 == 0 {
        (v / 1000).to_string()
    } else {
        format!("{}.{:03}", v / 1000, (v % 1000).abs())
            .trim_end_matches('0')
            .to_owned()
    }
}

/// Errors of `Firewall_Config` (SPEC §13).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FirewallError {
    /// A keyword the phone does not know.
    UnknownKeyword(String),
    /// A port entry with a port outside 1-65535 or x > y.
    BadPort(String),
    /// More than 5 entries of one protocol.
    TooMany {
        /// `UDP` or `TCP`.
        proto: &'static str,
        /// The entry over the limit.
        entry: String,
    },
}

impl fmt::Display for FirewallError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnknownKeyword(k) => write!(
                f,
                "unknown keyword {k:?}; allowed: NO_ICMP_PING, NO_ICMP_UNREACHABLE, NO_CISCO_TFTP, UDP:x, UDP:x:y, TCP:x, TCP:x:y"
            ),
            Self::BadPort(e) => write!(f, "bad port entry {e:?}: ports must be 1-65535 and x <= y"),
            Self::TooMany { proto, entry } => write!(
                f,
                "too many {proto} entries at {entry:?}: at most {MAX_FIREWALL_ENTRIES} {proto} entries are allowed"
            ),
        }
    }
}

/// The most `UDP:` (and `TCP:`) entries `Firewall_Config` may hold.
pub const MAX_FIREWALL_ENTRIES: usize = 5;

/// `Firewall_Config` parsed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FirewallOptions {
    /// `NO_ICMP_PING`: drop incoming echo requests.
    pub no_icmp_ping: bool,
    /// `NO_ICMP_UNREACHABLE`: no destination-unreachable for UDP ports (except RTP).
    pub no_icmp_unreachable: bool,
    /// `NO_CISCO_TFTP`: do not open 53240-53245.
    pub no_cisco_tftp: bool,
    /// Extra UDP ports or ranges, inclusive.
    pub udp: Vec<(u16, u16)>,
    /// Extra TCP ports or ranges, inclusive.
    pub tcp: Vec<(u16, u16)>,
}

impl FirewallOptions {
    /// Parses the comma-separated list (items trimmed, keywords case-sensitive as documented).
    pub fn parse(value: &str) -> Result<Self, FirewallError> {
        let mut o = Self::default();
        for item in value.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            match item {
                "NO_ICMP_PING" => o.no_icmp_ping = true,
                "NO_ICMP_UNREACHABLE" => o.no_icmp_unreachable = true,
                "NO_CISCO_TFTP" => o.no_cisco_tftp = true,
                _ => {
                    let (proto, rest) = item
                        .split_once(':')
                        .ok_or_else(|| FirewallError::UnknownKeyword(item.to_owned()))?;
                    let (list, name) = match proto {
                        "UDP" => (&mut o.udp, "UDP"),
                        "TCP" => (&mut o.tcp, "TCP"),
                        _ => return Err(FirewallError::UnknownKeyword(item.to_owned())),
                    };
                    let bad = || FirewallError::BadPort(item.to_owned());
                    let (x, y) = match rest.split_once(':') {
                        Some((x, y)) => (x, y),
                        None => (rest, rest),
                    };
                    let x: u16 = x.trim().parse().map_err(|_| bad())?;
                    let y: u16 = y.trim().parse().map_err(|_| bad())?;
                    if x == 0 || x > y {
                        return Err(bad());
                    }
                    if list.len() == MAX_FIREWALL_ENTRIES {
                        return Err(FirewallError::TooMany {
                            proto: name,
                            entry: item.to_owned(),
                        });
                    }
                    list.push((x, y));
                }
            }
        }
        Ok(o)
    }
}

/// An invalid word in `TLS_Cipher_List`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CipherListError {
    /// The word that is not supported.
    pub word: String,
}

impl fmt::Display for CipherListError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "unsupported cipher word {:?} (SPEC §14 table 6); each application uses its default list",
            self.word
        )
    }
}

/// The cipher-string words of SPEC §14 (the seed's table 6, OpenSSL 1.1.1d).
pub const CIPHER_WORDS: &[&str] = &[
    "DEFAULT",
    "COMPLEMENTOFDEFAULT",
    "ALL",
    "COMPLEMENTOFALL",
    "HIGH",
    "MEDIUM",
    "eNULL",
    "NULL",
    "aNULL",
    "kRSA",
    "RSA",
    "kDHE",
    "kEDH",
    "DH",
    "DHE",
    "EDH",
    "ADH",
    "kECDHE",
    "kEECDH",
    "ECDHE",
    "EECDH",
    "ECDH",
    "AECDH",
    "aRSA",
    "aDSS",
    "DSS",
    "aECDSA",
    "ECDSA",
    "TLSv1.2",
    "TLSv1",
    "SSLv3",
    "AES128",
    "AES256",
    "AES",
    "AESGCM",
    "AESCCM",
    "AESCCM8",
    "ARIA128",
    "ARIA256",
    "ARIA",
    "CAMELLIA128",
    "CAMELLIA256",
    "CAMELLIA",
    "CHACHA20",
    "SEED",
    "MD5",
    "SHA1",
    "SHA",
    "SHA256",
    "SHA384",
    "SUITEB128",
    "SUITEB128ONLY",
    "SUITEB192",
];

/// Checks a cipher string: elements separated by `:` (or `,`/space as OpenSSL allows), each an
/// optional `!`, `-` or `+` followed by table words joined with `+`, or `@STRENGTH`. A single
/// suite name (`ECDHE-RSA-AES128-GCM-SHA256`: upper-case letters, digits and dashes) is
/// accepted too; OpenSSL itself has the last word when the list is applied.
pub fn check_cipher_list(value: &str) -> Result<(), CipherListError> {
    for element in value
        .split([':', ',', ' '])
        .map(str::trim)
        .filter(|s| !s.is_empty())
    {
        if element == "@STRENGTH" {
            continue;
        }
        let body = element.strip_prefix(['!', '-', '+']).unwrap_or(element);
        let ok = !body.is_empty()
            && (body.split('+').all(|w| CIPHER_WORDS.contains(&w)) || is_suite_name(body));
        if !ok {
            return Err(CipherListError {
                word: element.to_owned(),
            });
        }
    }
    Ok(())
}

fn is_suite_name(s: &str) -> bool {
    s.contains('-')
        && s.split('-').all(|p| {
            !p.is_empty()
                && p.bytes()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        })
}

/// Checks a value of a known parameter. The empty value is always valid.
pub fn check_value(def: &ParamDef, value: &str) -> Result<(), ValueError> {
    if value.is_empty() {
        return Ok(());
    }
    if let Some(c) = value.chars().find(|c| c.is_control() && *c != '\t') {
        return Err(ValueError::ControlCharacter(c));
    }
    match def.kind {
        Kind::Bool => canonical_bool(value).map(drop).ok_or(ValueError::NotBool),
        Kind::Enum(values) => canonical_enum(values, &[], value)
            .map(drop)
            .ok_or(ValueError::NotInEnum(values)),
        Kind::EnumAlias { values, aliases } => canonical_enum(values, aliases, value)
            .map(drop)
            .ok_or(ValueError::NotInEnum(values)),
        Kind::Port { min, max } => check_int(value, i64::from(min), i64::from(max)),
        Kind::Int { min, max } => check_int(value, min, max),
        Kind::PortRange => check_port_range(value),
        Kind::Decimal {
            min_milli,
            max_milli,
        } => {
            let v = parse_milli(value).ok_or(ValueError::NotDecimal)?;
            if (min_milli..=max_milli).contains(&v) {
                Ok(())
            } else {
                Err(ValueError::DecimalOutOfRange {
                    min_milli,
                    max_milli,
                })
            }
        }
        Kind::Host => check_host(value).map_err(ValueError::BadHost),
        Kind::HostPort => check_host_port(value).map_err(ValueError::BadHostPort),
        Kind::Url(schemes) => check_url(value, schemes),
        Kind::LdapUrl => check_url(value, &["ldap", "ldaps"]).and_then(|()| {
            if value.contains("://") {
                Ok(())
            } else {
                Err(ValueError::BadUrl(
                    "an LDAP server is ldap://host[:port] or ldaps://host[:port]".into(),
                ))
            }
        }),
        Kind::Rule => crate::rule::check(value).map_err(|e| ValueError::BadRule(e.to_string())),
        Kind::SipProxy => check_proxy(value).map_err(ValueError::BadProxy),
        Kind::FqdnList => check_list(value, |item| {
            check_host(item.trim_end_matches('.')).map_err(ValueError::BadHost)
        }),
        Kind::IntList { min, max } => check_list(value, |item| check_int(item, min, max)),
        Kind::CipherList => check_cipher_list(value).map_err(ValueError::Cipher),
        Kind::FirewallOptions => FirewallOptions::parse(value)
            .map(drop)
            .map_err(ValueError::Firewall),
        Kind::HhMm => check_hhmm(value),
        Kind::ResyncInterval => check_interval(value),
        Kind::SecretAlnum => {
            if value.bytes().all(|b| b.is_ascii_alphanumeric()) {
                Ok(())
            } else {
                Err(ValueError::NotAlphanumeric)
            }
        }
        Kind::Text | Kind::MacroText | Kind::Secret | Kind::Condition => Ok(()),
    }
}

/// The canonical spelling of a valid value (`yes` -> `Yes`, `tls` -> `TLS`); other values are
/// returned as they are.
pub fn canonical<'a>(def: &ParamDef, value: &'a str) -> Cow<'a, str> {
    let c = match def.kind {
        Kind::Bool => canonical_bool(value),
        Kind::Enum(values) => canonical_enum(values, &[], value),
        Kind::EnumAlias { values, aliases } => canonical_enum(values, aliases, value),
        _ => None,
    };
    match c {
        Some(c) => Cow::Borrowed(c),
        None => Cow::Borrowed(value),
    }
}

fn canonical_bool(value: &str) -> Option<&'static str> {
    if value.eq_ignore_ascii_case("yes") {
        Some("Yes")
    } else if value.eq_ignore_ascii_case("no") {
        Some("No")
    } else {
        None
    }
}

fn canonical_enum(
    values: &'static [&'static str],
    aliases: &'static [(&'static str, &'static str)],
    value: &str,
) -> Option<&'static str> {
    values
        .iter()
        .find(|v| v.eq_ignore_ascii_case(value))
        .copied()
        .or_else(|| {
            aliases
                .iter()
                .find(|(a, _)| a.eq_ignore_ascii_case(value))
                .map(|(_, c)| *c)
        })
}

/// Parses an integer: decimal, or hex with `0x` (mpp-provisioning §1.5).
pub fn parse_int(value: &str) -> Option<i64> {
    let v = value.trim();
    if let Some(h) = v.strip_prefix("0x").or_else(|| v.strip_prefix("0X")) {
        if h.is_empty() || !h.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        return i64::from_str_radix(h, 16).ok();
    }
    let digits = v.strip_prefix('-').unwrap_or(v);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    v.parse().ok()
}

fn check_int(value: &str, min: i64, max: i64) -> Result<(), ValueError> {
    let v = parse_int(value).ok_or(ValueError::NotInteger)?;
    if (min..=max).contains(&v) {
        Ok(())
    } else {
        Err(ValueError::OutOfRange { min, max })
    }
}

/// Parses a decimal (`.5`, `4`, `0.25`) into thousandths.
pub fn parse_milli(value: &str) -> Option<i64> {
    let (int, frac) = value.split_once('.').unwrap_or((value, ""));
    if (int.is_empty() && frac.is_empty())
        || !int.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || frac.len() > 3
        || int.len() > 12
    {
        return None;
    }
    let i: i64 = if int.is_empty() { 0 } else { int.parse().ok()? };
    let mut f: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().ok()?
    };
    for _ in frac.len()..3 {
        f *= 10;
    }
    Some(i * 1000 + f)
}

fn check_port_range(value: &str) -> Result<(), ValueError> {
    let (x, y) = value
        .split_once(['-', ':'])
        .ok_or(ValueError::BadPortRange)?;
    let x: u16 = x.trim().parse().map_err(|_| ValueError::BadPortRange)?;
    let y: u16 = y.trim().parse().map_err(|_| ValueError::BadPortRange)?;
    if x == 0 || x > y {
        return Err(ValueError::BadPortRange);
    }
    Ok(())
}

/// Checks a host name (RFC 1123 labels; `_` tolerated, as real deployments use it) or an IP
/// literal (IPv6 with or without brackets).
pub fn check_host(value: &str) -> Result<(), String> {
    if value.parse::<IpAddr>().is_ok() {
        return Ok(());
    }
    if let Some(inner) = value.strip_prefix('[').and_then(|v| v.strip_suffix(']')) {
        return inner
            .parse::<Ipv6Addr>()
            .map(drop)
            .map_err(|_| format!("{value:?} is not an IPv6 address"));
    }
    let name = value.strip_suffix('.').unwrap_or(value);
    if name.is_empty() || name.len() > 253 {
        return Err(format!("{value:?} has no valid length (1-253)"));
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err(format!("{value:?} has an empty or too long label"));
        }
        if label.starts_with('-') || label.ends_with('-') {
            return Err(format!("label {label:?} starts or ends with '-'"));
        }
        if let Some(c) = label
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
        {
            return Err(format!("{value:?} contains {c:?}"));
        }
    }
    Ok(())
}

/// Splits `host[:port]` (IPv6 as `[addr]:port`, or a bare IPv6 address without a port); an
/// IPv6 address, with or without brackets, must be valid.
pub fn split_host_port(value: &str) -> Result<(&str, Option<u16>), String> {
    let port_of = |p: &str| -> Result<u16, String> {
        match p.parse::<u16>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("port {p:?} is not 1-65535")),
        }
    };
    if let Some(rest) = value.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or_else(|| format!("{value:?} lacks ']'"))?;
        if addr.parse::<Ipv6Addr>().is_err() {
            return Err(format!("{value:?}: {addr:?} is not an IPv6 address"));
        }
        return match after {
            "" => Ok((addr, None)),
            _ => match after.strip_prefix(':') {
                Some(p) => Ok((addr, Some(port_of(p)?))),
                None => Err(format!("unexpected {after:?} after ']'")),
            },
        };
    }
    if value.matches(':').count() > 1 {
        // A bare IPv6 address (no port), else neither form.
        return match value.parse::<Ipv6Addr>() {
            Ok(_) => Ok((value, None)),
            Err(_) => Err(format!("{value:?} is neither host[:port] nor IPv6")),
        };
    }
    match value.split_once(':') {
        Some((h, p)) => Ok((h, Some(port_of(p)?))),
        None => Ok((value, None)),
    }
}

fn check_host_port(value: &str) -> Result<(), String> {
    let (host, _) = split_host_port(value)?;
    check_host(host)
}

fn check_url(value: &str, schemes: &'static [&'static str]) -> Result<(), ValueError> {
    if value.chars().any(char::is_whitespace) {
        return Err(ValueError::BadUrl("contains white space".into()));
    }
    match value.split_once("://") {
        Some((scheme, rest)) => {
            if !schemes.iter().any(|s| s.eq_ignore_ascii_case(scheme)) {
                return Err(ValueError::BadScheme {
                    scheme: scheme.to_owned(),
                    allowed: schemes,
                });
            }
            let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
            if authority.is_empty() && !scheme.eq_ignore_ascii_case("tftp") {
                return Err(ValueError::BadUrl(format!("no server after {scheme}://")));
            }
            Ok(())
        }
        None if schemes.contains(&"tftp") => Ok(()),
        None => Err(ValueError::BadUrl(format!(
            "no scheme; allowed: {}",
            schemes.join(", ")
        ))),
    }
}

fn check_proxy(value: &str) -> Result<(), String> {
    let Some((_, list)) = value.split_once(":SRV=") else {
        return check_host_port(value);
    };
    for item in list.split('|') {
        let mut parts = item.split(':');
        let host = parts.next().unwrap_or("");
        check_host(host)?;
        for p in parts {
            let ok = match p.split_once('=') {
                Some(("p" | "w", n)) => n.parse::<u32>().is_ok(),
                Some(_) => false,
                None => p.parse::<u16>().is_ok_and(|n| n > 0),
            };
            if !ok {
                return Err(format!("bad field {p:?} in {item:?}"));
            }
        }
    }
    Ok(())
}

fn check_list(
    value: &str,
    item_check: impl Fn(&str) -> Result<(), ValueError>,
) -> Result<(), ValueError> {
    for item in value.split(',').map(str::trim) {
        item_check(item).map_err(|reason| ValueError::BadListItem {
            item: item.to_owned(),
            reason: Box::new(reason),
        })?;
    }
    Ok(())
}

fn check_hhmm(value: &str) -> Result<(), ValueError> {
    if value.len() != 4 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ValueError::BadHhMm);
    }
    let hh: u32 = value[..2].parse().map_err(|_| ValueError::BadHhMm)?;
    let mm: u32 = value[2..].parse().map_err(|_| ValueError::BadHhMm)?;
    if hh > 24 || mm > 59 || (hh == 24 && mm != 0) {
        return Err(ValueError::BadHhMm);
    }
    Ok(())
}

/// `Resync_Periodic`: a comma list of items, each seconds or `base+random` seconds, digits
/// only (no sign) within `u32`: exactly what the provisioning schedule accepts.
fn check_interval(value: &str) -> Result<(), ValueError> {
    let num = |s: &str| {
        let s = s.trim();
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && s.parse::<u32>().is_ok()
    };
    let ok = value.split(',').all(|item| match item.split_once('+') {
        Some((base, random)) => num(base) && num(random),
        None => num(item),
    });
    if ok {
        Ok(())
    } else {
        Err(ValueError::BadInterval)
    }
}

/// How serious a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// The profile is refused.
    Error,
    /// The profile is accepted; the value falls back (`TLS_Cipher_List`).
    Warning,
}

/// One problem of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The parameter name as written.
    pub name: String,
    /// Its source line (0 when not from a file).
    pub line: u32,
    /// The value given (already masked for secrets).
    pub value: String,
    /// What is wrong.
    pub error: ValueError,
    /// Error or warning.
    pub severity: Severity,
}

impl fmt::Display for Problem {
    /// `NAME: invalid value "V": what is allowed`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}invalid value {:?}: {}",
            self.name,
            if self.severity == Severity::Warning {
                "warning: "
            } else {
                ""
            },
            self.value,
            self.error
        )
    }
}

/// The outcome of validating a profile.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Invalid values: the profile must not be applied.
    pub errors: Vec<Problem>,
    /// Accepted with a fallback (SPEC §14).
    pub warnings: Vec<Problem>,
    /// Entries (indices into [`Profile::entries`]) whose names the registry does not know:
    /// kept verbatim, not errors. [`Report::unknown_in`] gives their names and lines.
    pub unknown: Vec<usize>,
}

impl Report {
    /// Whether the profile may be applied.
    pub fn is_valid(&self) -> bool {
        self.errors.is_empty()
    }

    /// The unknown names of `profile` (the profile this report was made from) with their lines.
    pub fn unknown_in<'a>(&self, profile: &'a Profile) -> impl Iterator<Item = (&'a str, u32)> {
        self.unknown
            .iter()
            .filter_map(|&i| profile.entries().get(i).map(|e| (e.name.as_str(), e.line)))
    }
}

/// Validates every parameter a profile sets.
pub fn validate(profile: &Profile) -> Report {
    let mut report = Report::default();
    for (i, e) in profile.entries().iter().enumerate() {
        let Some(r) = registry::lookup(&e.name) else {
            report.unknown.push(i);
            continue;
        };
        if let Err(error) = check_value(r.def, &e.value) {
            let severity = if matches!(error, ValueError::Cipher(_)) {
                Severity::Warning
            } else {
                Severity::Error
            };
            let value = crate::profile::masked_value(&e.name, &e.value).into_owned();
            let p = Problem {
                name: e.name.clone(),
                line: e.line,
                value,
                error,
                severity,
            };
            match severity {
                Severity::Error => report.errors.push(p),
                Severity::Warning => report.warnings.push(p),
            }
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firewall_options() {
        let o = FirewallOptions::parse("NO_ICMP_PING, TCP:12000,UDP:8000:8010").unwrap();
        assert!(o.no_icmp_ping);
        assert_eq!(o.tcp, vec![(12000, 12000)]);
        assert_eq!(o.udp, vec![(8000, 8010)]);
        let six = "UDP:1,UDP:2,UDP:3,UDP:4,UDP:5,UDP:6";
        assert_eq!(
            FirewallOptions::parse(six),
            Err(FirewallError::TooMany {
                proto: "UDP",
                entry: "UDP:6".into()
            })
        );
        assert!(FirewallOptions::parse("UDP:1,UDP:2,UDP:3,UDP:4,UDP:5,TCP:6").is_ok());
        assert!(matches!(
            FirewallOptions::parse("NO_PING"),
            Err(FirewallError::UnknownKeyword(_))
        ));
        assert!(matches!(
            FirewallOptions::parse("UDP:10:5"),
            Err(FirewallError::BadPort(_))
        ));
        assert!(matches!(
            FirewallOptions::parse("TCP:0"),
            Err(FirewallError::BadPort(_))
        ));
        assert!(matches!(
            FirewallOptions::parse("TCP:70000"),
            Err(FirewallError::BadPort(_))
        ));
    }

    #[test]
    fn cipher_lists() {
        assert!(check_cipher_list("RSA:!aNULL:!eNULL").is_ok());
        assert!(check_cipher_list("HIGH:MEDIUM:AES:@STRENGTH").is_ok());
        assert!(check_cipher_list("ECDHE-RSA-AES256-GCM-SHA384:AES128-SHA").is_ok());
        assert!(check_cipher_list("kRSA+AES:-SHA1").is_ok());
        assert_eq!(check_cipher_list("FOO:BAR").unwrap_err().word, "FOO");
        assert!(check_cipher_list("RSA:!bogus").is_err());
    }

    #[test]
    fn hosts_and_ports() {
        assert!(check_host("pbx.example.net").is_ok());
        assert!(check_host("xivo_proxies1").is_ok());
        assert!(check_host("192.0.2.1").is_ok());
        assert!(check_host("[2001:db8::1]").is_ok());
        assert!(check_host("bad host").is_err());
        assert!(check_host("-bad.example").is_err());
        assert!(check_host_port("192.0.2.20:514").is_ok());
        assert!(check_host_port("h:0").is_err());
        assert!(check_host_port("[2001:db8::1]:5061").is_ok());
        assert!(check_proxy("xivo_proxies1:SRV=192.0.2.10:5060:p=0|192.0.2.11:5060:p=1").is_ok());
        assert!(check_proxy("n:SRV=h:5060:p=x").is_err());
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_int("0x18"), Some(24));
        assert_eq!(parse_int("12"), Some(12));
        assert_eq!(parse_int("1e3"), None);
        assert_eq!(parse_int("+5"), None);
        assert_eq!(parse_milli(".5"), Some(500));
        assert_eq!(parse_milli("4"), Some(4000));
        assert_eq!(parse_milli("."), None);
        assert_eq!(parse_milli("0.0001"), None);
        assert!(check_hhmm("2400").is_ok());
        assert!(check_hhmm("2401").is_err());
        assert!(check_interval("3600+600").is_ok());
        assert!(check_interval("60,120").is_ok());
        assert!(check_interval("x").is_err());
        // As the schedule reads it (found by fuzzing): no signs, `+` per list item.
        assert!(check_interval("1++6").is_err());
        assert!(check_interval("+6").is_err());
        assert!(check_interval("3600+60,7200").is_ok());
        assert!(check_interval("3600+60+1").is_err());
        assert!(check_interval("60,").is_err());
    }

    #[test]
    fn rules_use_the_rule_parser() {
        let def = registry::def("Profile_Rule").unwrap();
        let ok = |v: &str| check_value(def, v).is_ok();
        assert!(ok(
            "[--uid provision --pwd Pr0v-9dK2mQ7w]http://pbx.example.net/?mac=$MA"
        ));
        assert!(ok("/$PSN.xml"));
        assert!(ok("[--key \"my secret\"]tftp://h/x.cfg"));
        assert!(!ok("[--bogus x]http://h/"));
        assert!(!ok("[--key x http://h/"));
        assert!(!ok("ftp://h/x"));
        assert!(!ok("\u{1F600}ftp://h/"));
        let report = registry::def("Report_Rule").unwrap();
        assert!(check_value(report, "[--delta]http://a/d.xml [--status]http://a/s.xml").is_ok());
    }
}
