//! The parameter registry: every cfg.xml parameter mppd knows, with its web UI place, type,
//! default, scope, default user access and validation.
//!
//! Per-line parameters are stored once, as a template whose name ends in `_n_`
//! (`SIP_Transport_n_`); [`lookup`] resolves `SIP_Transport_3_` to that template and line 3.
//! Names the registry does not know are not errors: the profile keeps them verbatim.

use hashbrown::HashMap;
use std::sync::OnceLock;

mod table;

/// The highest line number a profile may name (`SIP_Transport_16_`).
pub const MAX_LINES: u8 = 16;

/// The number of lines of a desk phone when nothing else is configured.
pub const DEFAULT_LINES: u8 = 2;

/// User access (`ua` attribute): what the *user* account may do with a parameter.
/// It never limits the admin account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Ua {
    /// `na`: the user does not see the parameter.
    Na,
    /// `ro`: the user sees it, read-only.
    Ro,
    /// `rw`: the user may change it.
    Rw,
}

impl Ua {
    /// Parses `na`, `ro` or `rw` (case-insensitive).
    pub fn parse(s: &str) -> Option<Self> {
        if s.eq_ignore_ascii_case("na") {
            Some(Self::Na)
        } else if s.eq_ignore_ascii_case("ro") {
            Some(Self::Ro)
        } else if s.eq_ignore_ascii_case("rw") {
            Some(Self::Rw)
        } else {
            None
        }
    }

    /// The attribute spelling: `na`, `ro` or `rw`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Na => "na",
            Self::Ro => "ro",
            Self::Rw => "rw",
        }
    }
}

impl std::fmt::Display for Ua {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether a parameter exists once or once per line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One value for the phone.
    Global,
    /// One value per line; the cfg.xml name ends in `_n_` with n = 1..=[`MAX_LINES`].
    Line,
}

/// The type of a parameter's value, which decides its validation.
///
/// The empty value is valid for every kind (SPEC §0): it means "behave as the default".
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Kind {
    /// `Yes`/`No`, case-insensitive.
    Bool,
    /// One of the listed spellings, case-insensitive on input, canonical (as listed) on output.
    Enum(&'static [&'static str]),
    /// Like [`Kind::Enum`], with extra accepted spellings mapped to a canonical one
    /// (`FIPS_Mode` accepts `Yes` for `Enabled`).
    EnumAlias {
        /// The canonical spellings.
        values: &'static [&'static str],
        /// `(accepted spelling, canonical spelling)` pairs.
        aliases: &'static [(&'static str, &'static str)],
    },
    /// A port number (decimal, or hex with `0x`) in `min..=max`.
    Port {
        /// Lowest allowed port.
        min: u16,
        /// Highest allowed port.
        max: u16,
    },
    /// A port range `x-y` (or `x:y`), 1-65535, x <= y.
    PortRange,
    /// An integer (decimal, or hex with `0x`) in `min..=max`.
    Int {
        /// Lowest allowed value.
        min: i64,
        /// Highest allowed value.
        max: i64,
    },
    /// A decimal number such as `.5` or `4` in `min..=max`, kept in thousandths.
    Decimal {
        /// Lowest allowed value, in thousandths.
        min_milli: i64,
        /// Highest allowed value, in thousandths.
        max_milli: i64,
    },
    /// A host name or an IP address, without scheme or port.
    Host,
    /// `host[:port]` (an IPv6 literal as `[addr]:port`).
    HostPort,
    /// A URL whose scheme is one of the listed ones (lowercase). A URL without scheme is
    /// accepted when the list contains `tftp` (the phone's default scheme).
    Url(&'static [&'static str]),
    /// `ldap://host[:port]` or `ldaps://host[:port]`.
    LdapUrl,
    /// A provisioning rule (`Profile_Rule`, `Upgrade_Rule`, ...): alternatives, options, URL.
    Rule,
    /// A SIP proxy: `host[:port]` or the MPP list `name:SRV=host:port:p=PRIO:w=W|...`.
    SipProxy,
    /// Comma-separated FQDNs (or IP literals); items trimmed.
    FqdnList,
    /// Comma-separated integers in `min..=max`; items trimmed.
    IntList {
        /// Lowest allowed item.
        min: i64,
        /// Highest allowed item.
        max: i64,
    },
    /// Free text.
    Text,
    /// Free text in which macros (`$MA`, `$PN`...) expand.
    MacroText,
    /// A secret (password, key): masked in exports, pages, logs and reports.
    Secret,
    /// A secret restricted to ASCII letters and digits (`VPN_Password`, SPEC §20).
    SecretAlnum,
    /// An OpenSSL cipher string with the words of SPEC §14. An invalid list is a *warning*,
    /// never an error (SPEC §0, §14).
    CipherList,
    /// `Firewall_Config`: `NO_ICMP_PING`, `NO_ICMP_UNREACHABLE`, `NO_CISCO_TFTP`, `UDP:x[:y]`,
    /// `TCP:x[:y]`; at most 5 UDP and 5 TCP entries.
    FirewallOptions,
    /// A time of day `HHmm`, 0000-2400.
    HhMm,
    /// `Resync_Periodic`: seconds, a comma list of seconds, or `base+random`.
    ResyncInterval,
    /// A resync condition expression (`Resync_Trigger_n`); checked when evaluated.
    Condition,
}

/// A parameter's default value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Default {
    /// The same default everywhere (the empty string for "empty").
    Fixed(&'static str),
    /// A per-line default of `base + n` for line n (`SIP_Port_n_`: 5059 + n).
    LineOffset(u32),
}

/// One parameter of the registry.
#[derive(Debug, Clone, Copy)]
pub struct ParamDef {
    /// The cfg.xml name; per-line parameters end in `_n_` (`SIP_Transport_n_`).
    pub name: &'static str,
    /// Other names accepted for the same parameter (`TLS_Client_Min_Version`).
    pub aliases: &'static [&'static str],
    /// Web UI tab (`System`, `SIP`, `Provisioning`, `Phone`, `Ext(n)`).
    pub tab: &'static str,
    /// Web UI section within the tab.
    pub section: &'static str,
    /// Web UI field label.
    pub label: &'static str,
    /// Value type and validation.
    pub kind: Kind,
    /// Default value.
    pub default: Default,
    /// Global or per line.
    pub scope: Scope,
    /// Default user access.
    pub ua: Ua,
    /// When the value is unset or empty, the effective value is that of this parameter
    /// (same line for per-line names), e.g. `Auth_ID_n_` falls back to `User_ID_n_`, and
    /// `Auth_Support_RFC8760_n_` to `Auth_Support_RFC8760`.
    pub fallback: Option<&'static str>,
    /// Where the parameter comes from (SPEC section, seed, reference).
    pub source: &'static str,
}

impl ParamDef {
    /// The default value for `line` (ignored for global parameters).
    pub fn default_for(&self, line: Option<u8>) -> std::borrow::Cow<'static, str> {
        match self.default {
            Default::Fixed(s) => std::borrow::Cow::Borrowed(s),
            Default::LineOffset(base) => {
                std::borrow::Cow::Owned((base + u32::from(line.unwrap_or(1))).to_string())
            }
        }
    }

    /// The cfg.xml name of this parameter for `line` (`SIP_Transport_2_`); the plain name for
    /// global parameters.
    pub fn name_for(&self, line: Option<u8>) -> String {
        match (self.scope, line) {
            (Scope::Line, Some(n)) => format!("{}{n}_", line_prefix(self.name)),
            _ => self.name.to_owned(),
        }
    }

    /// Whether the value is a secret.
    pub fn is_secret(&self) -> bool {
        matches!(self.kind, Kind::Secret | Kind::SecretAlnum)
    }
}

/// `SIP_Transport_n_` -> `SIP_Transport_`.
fn line_prefix(template: &'static str) -> &'static str {
    template.strip_suffix("n_").unwrap_or(template)
}

/// A registry look-up result: the definition and, for per-line names, the line.
#[derive(Debug, Clone, Copy)]
pub struct ParamRef {
    /// The definition.
    pub def: &'static ParamDef,
    /// The line (1..=[`MAX_LINES`]) for per-line parameters.
    pub line: Option<u8>,
}

struct Index {
    global: HashMap<&'static str, &'static ParamDef>,
    /// Keyed by the per-line prefix (`SIP_Transport_`).
    line: HashMap<&'static str, &'static ParamDef>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut global = HashMap::with_capacity(table::PARAMS.len() * 2);
        let mut line = HashMap::new();
        for def in table::PARAMS {
            match def.scope {
                Scope::Global => {
                    global.insert(def.name, def);
                    for a in def.aliases {
                        global.insert(*a, def);
                    }
                }
                Scope::Line => {
                    line.insert(line_prefix(def.name), def);
                    for a in def.aliases {
                        line.insert(line_prefix(a), def);
                    }
                }
            }
        }
        Index { global, line }
    })
}

/// Every parameter definition, in registry (web UI) order.
pub fn all() -> &'static [ParamDef] {
    table::PARAMS
}

/// Resolves a cfg.xml name (`TLS_Min_Version`, `TLS_Client_Min_Version`, `SIP_Transport_2_`).
/// Names are case-sensitive. Returns `None` for a name the registry does not know, including a
/// per-line name with a line outside 1..=[`MAX_LINES`].
pub fn lookup(name: &str) -> Option<ParamRef> {
    let idx = index();
    if let Some(def) = idx.global.get(name) {
        return Some(ParamRef { def, line: None });
    }
    // Per-line: PREFIX + digits + "_".
    let body = name.strip_suffix('_')?;
    // Byte arithmetic on ASCII digits only: `body` may hold any UTF-8 before them.
    let digits_at = body.len() - body.bytes().rev().take_while(u8::is_ascii_digit).count();
    let digits = &body[digits_at..];
    if digits.is_empty() || digits.len() > 2 || digits.starts_with('0') {
        return None;
    }
    let n: u8 = digits.parse().ok()?;
    if !(1..=MAX_LINES).contains(&n) {
        return None;
    }
    let prefix = &body[..digits_at];
    if !prefix.ends_with('_') {
        return None;
    }
    idx.line
        .get(prefix)
        .map(|def| ParamRef { def, line: Some(n) })
}

/// The definition of a parameter by its registry name (template name for per-line ones).
pub fn def(name: &str) -> Option<&'static ParamDef> {
    let idx = index();
    idx.global.get(name).copied().or_else(|| {
        name.strip_suffix("n_")
            .and_then(|p| idx.line.get(p).copied())
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for d in all() {
            assert!(seen.insert(d.name), "duplicate registry name {}", d.name);
            for a in d.aliases {
                assert!(seen.insert(a), "duplicate alias {a}");
            }
            assert_eq!(
                d.scope == Scope::Line,
                d.name.ends_with("_n_"),
                "{}",
                d.name
            );
        }
    }

    #[test]
    fn per_line_lookup() {
        let r = lookup("SIP_Transport_2_").unwrap();
        assert_eq!(r.def.name, "SIP_Transport_n_");
        assert_eq!(r.line, Some(2));
        assert!(lookup("SIP_Transport_17_").is_none());
        assert!(lookup("SIP_Transport_0_").is_none());
        assert!(lookup("SIP_Transport_01_").is_none());
        assert!(lookup("SIP_Transport_n_").is_none());
        // Found by the fuzzer: a non-ASCII character right before the line number.
        assert!(lookup("ULabel_\u{e9}37_").is_none());
        assert!(lookup("\u{e9}1_").is_none());
        assert!(lookup("12_").is_none());
        assert_eq!(
            lookup("SIP_Port_3_").unwrap().def.default_for(Some(3)),
            "5062"
        );
    }

    #[test]
    fn alias_lookup() {
        assert_eq!(
            lookup("TLS_Client_Min_Version").unwrap().def.name,
            "TLS_Min_Version"
        );
    }
}
