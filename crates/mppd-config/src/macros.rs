//! Macro expansion for profile rules, upgrade and report rules, resync triggers and syslog
//! messages (SPEC.md §0, mpp-provisioning §2.5).
//!
//! Syntax:
//! - `$NAME`: `NAME` is the longest known macro name that is a prefix of the run of `[A-Z0-9]`
//!   characters after the `$` (`$MAU.cfg` is `MAU`, `$MA.cfg` is `MA`, `$A1` is GPP_A then `1`).
//!   With no known prefix the text stays as written (`$STRANGE`).
//! - `$(NAME)`, `$(NAME:p)`, `$(NAME:p:q)`: the whole name must be known; `p` and `q` are decimal
//!   character counts (offset, length). Past the end gives what is there, possibly nothing.
//!   Anything else (unknown name, no `)`, a bad number) stays as written.
//! - `$$` is `$`.
//!
//! Expansion is a single pass: a macro's value is never expanded again (`$$MAU` gives `$MAU`).
//! A known macro whose value the context does not have (`$SERVIP` with no request) gives the
//! empty string. Which names are known, and their values, is decided in one place: [`lookup`].
//!
//! The secret general purpose parameters `$SA`..`$SD` (GPP_SA..GPP_SD) expand only in the
//! bracketed options of a rule (`[--key $SA]`, `--uid`, `--pwd`): [`MacroScope::RuleOption`].

use std::borrow::Cow;
use std::fmt;

use crate::identity::DeviceIdentity;

/// The request a resync, upgrade or report is making: the values of `$SCHEME` (`$METH`),
/// `$SERV`, `$SERVIP`, `$PORT` and `$PATH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestParts<'a> {
    /// `tftp`, `http` or `https`.
    pub scheme: &'a str,
    /// The server as named in the URL.
    pub host: &'a str,
    /// The server's address after name resolution; `$SERVIP` falls back to `host` without it.
    pub ip: Option<&'a str>,
    /// The port, explicit or the scheme's default.
    pub port: u16,
    /// The path, from its leading `/`, with any query.
    pub path: &'a str,
}

/// The identifiers of one line (`Ext n`): `$UIDn`, `$DISPLAYNAMEn`, `$AUTHIDn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct LineIds<'a> {
    /// `User_ID_n_`.
    pub user_id: &'a str,
    /// `Display_Name_n_`.
    pub display_name: &'a str,
    /// `Auth_ID_n_`; when empty, `$AUTHIDn` gives the user ID.
    pub auth_id: &'a str,
}

/// Where the text being expanded sits, which decides whether the secret macros expand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacroScope {
    /// Rule URLs and conditions, resync triggers, log messages, post bodies: `$SA`..`$SD` stay
    /// as written.
    Text,
    /// The arguments of a rule's bracketed options (`--key`, `--uid`, `--pwd`): `$SA`..`$SD`
    /// expand to GPP_SA..GPP_SD.
    RuleOption,
}

/// Everything the macros can expand to. Build it with [`MacroContext::new`] and set the fields
/// the caller knows; the rest expand to the empty string.
#[derive(Clone, Copy)]
pub struct MacroContext<'a> {
    /// The device: `$MA`, `$MAU`, `$MAC`, `$PN`, `$PSN`, `$SN`, `$CCERT`, `$SWVER`, `$HWVER`.
    pub identity: &'a DeviceIdentity,
    /// `GPP_A`..`GPP_P`: `$A`..`$P`.
    pub gpp: [&'a str; 16],
    /// `GPP_SA`..`GPP_SD`: `$SA`..`$SD`, in [`MacroScope::RuleOption`] only.
    pub gpp_secret: [&'a str; 4],
    /// The current request: `$SCHEME`, `$METH`, `$SERV`, `$SERVIP`, `$PORT`, `$PATH`.
    pub request: Option<RequestParts<'a>>,
    /// The result message of the operation: `$ERR`.
    pub error: Option<&'a str>,
    /// The phone's own address: `$IP`.
    pub ip: Option<&'a str>,
    /// The phone's external (NAT-mapped) address: `$EXTIP`.
    pub ext_ip: Option<&'a str>,
    /// The lines, index 0 being line 1: `$UIDn`, `$DISPLAYNAMEn`, `$AUTHIDn`.
    pub lines: &'a [LineIds<'a>],
    /// Other macros by name and value, e.g. `("PRVST", "1")`, `("UPGERR", "...")`. Names are
    /// matched exactly; a name the built-in table already defines is not overridden. The
    /// first entry of a name wins.
    pub extra: &'a [(&'a str, &'a str)],
}

impl<'a> MacroContext<'a> {
    /// A context with only the device identity: GPPs empty, no request, no lines, no extras.
    pub const fn new(identity: &'a DeviceIdentity) -> Self {
        Self {
            identity,
            gpp: [""; 16],
            gpp_secret: [""; 4],
            request: None,
            error: None,
            ip: None,
            ext_ip: None,
            lines: &[],
            extra: &[],
        }
    }
}

/// Masks the secret GPPs, so a context can be logged.
impl fmt::Debug for MacroContext<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let secrets = self
            .gpp_secret
            .map(|s| if s.is_empty() { "" } else { "***" });
        f.debug_struct("MacroContext")
            .field("identity", self.identity)
            .field("gpp", &self.gpp)
            .field("gpp_secret", &secrets)
            .field("request", &self.request)
            .field("error", &self.error)
            .field("ip", &self.ip)
            .field("ext_ip", &self.ext_ip)
            .field("lines", &self.lines)
            .field("extra", &self.extra)
            .finish()
    }
}

/// Names from the macro table whose values come from the provisioning and call state, which
/// the caller passes in [`MacroContext::extra`]. They are known (so they never stay as
/// written) and expand to the empty string when `extra` lacks them.
const STATE_NAMES: &[&str] = &[
    "PRVST",
    "UPGST",
    "UPGERR",
    "PRVTMR",
    "UPGTMR",
    "REGTMR1",
    "REGTMR2",
    "UPGCOND",
    "ISCUST",
    "INCOMINGNAME",
    "REMOTENUMBER",
];

/// The longest built-in name (`DISPLAYNAME16`, `INCOMINGNAME`, `REMOTENUMBER`).
const MAX_BUILTIN_NAME: usize = "DISPLAYNAME16".len();

/// The highest line number `$UIDn`, `$DISPLAYNAMEn` and `$AUTHIDn` accept.
const MAX_LINE: usize = 16;

/// The value of macro `name` in `ctx`, or `None` when `name` is not a macro in `scope` (then
/// the text stays as written).
///
/// This is the one place that decides which names are known: the macro table of
/// mpp-provisioning §2.5 (`$SA`..`$SD` only in [`MacroScope::RuleOption`]), then the names in
/// [`MacroContext::extra`]. A known name whose value the context lacks gives `Some("")`.
pub fn lookup<'c>(name: &str, ctx: &MacroContext<'c>, scope: MacroScope) -> Option<Cow<'c, str>> {
    if name.is_empty() {
        return None;
    }
    let id = ctx.identity;
    let req = ctx.request.as_ref();
    let opt = |v: Option<&'c str>| Some(Cow::Borrowed(v.unwrap_or("")));
    let owned = |v: Option<String>| Some(v.map_or(Cow::Borrowed(""), Cow::Owned));
    let builtin = match name {
        "MA" => owned(id.mac.map(|m| m.lower())),
        "MAU" => owned(id.mac.map(|m| m.upper())),
        "MAC" => owned(id.mac.map(|m| m.colon())),
        "PN" => opt(id.product_name.as_deref()),
        "PSN" => opt(id.psn()),
        "SN" => opt(id.serial.as_deref()),
        "CCERT" => Some(Cow::Borrowed(id.ccert())),
        "SWVER" => opt(id.firmware_version.as_deref()),
        "HWVER" => opt(id.hardware_version.as_deref()),
        "IP" => opt(ctx.ip),
        "EXTIP" => opt(ctx.ext_ip),
        "SCHEME" | "METH" => opt(req.map(|r| r.scheme)),
        "SERV" => opt(req.map(|r| r.host)),
        "SERVIP" => opt(req.map(|r| r.ip.unwrap_or(r.host))),
        "PORT" => owned(req.map(|r| r.port.to_string())),
        "PATH" => opt(req.map(|r| r.path)),
        "ERR" => opt(ctx.error),
        _ => gpp(name, ctx, scope).or_else(|| line_macro(name, ctx)),
    };
    builtin
        .or_else(|| {
            ctx.extra
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| Cow::Borrowed(*v))
        })
        .or_else(|| STATE_NAMES.contains(&name).then_some(Cow::Borrowed("")))
}

/// `$A`..`$P`, and `$SA`..`$SD` in rule options.
fn gpp<'c>(name: &str, ctx: &MacroContext<'c>, scope: MacroScope) -> Option<Cow<'c, str>> {
    let (secret, letter) = match name.as_bytes() {
        [l @ b'A'..=b'P'] => (false, *l),
        [b'S', l @ b'A'..=b'D'] if scope == MacroScope::RuleOption => (true, *l),
        _ => return None,
    };
    let i = usize::from(letter - b'A');
    let value = if secret {
        ctx.gpp_secret.get(i)
    } else {
        ctx.gpp.get(i)
    };
    value.map(|v| Cow::Borrowed(*v))
}

/// `$UIDn`, `$DISPLAYNAMEn`, `$AUTHIDn` for n in 1..=16 (no leading zero).
fn line_macro<'c>(name: &str, ctx: &MacroContext<'c>) -> Option<Cow<'c, str>> {
    let (kind, digits) = ["UID", "DISPLAYNAME", "AUTHID"]
        .into_iter()
        .find_map(|k| name.strip_prefix(k).map(|rest| (k, rest)))?;
    if digits.is_empty() || digits.starts_with('0') || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n: usize = digits.parse().ok().filter(|n| (1..=MAX_LINE).contains(n))?;
    let line = ctx.lines.get(n - 1).copied().unwrap_or_default();
    Some(Cow::Borrowed(match kind {
        "UID" => line.user_id,
        "DISPLAYNAME" => line.display_name,
        _ if line.auth_id.is_empty() => line.user_id,
        _ => line.auth_id,
    }))
}

/// Expands the macros of `template` in `ctx` (see the module documentation).
///
/// Never fails and never panics: what is not a macro is copied as written.
pub fn expand(template: &str, ctx: &MacroContext<'_>, scope: MacroScope) -> String {
    let max_name = ctx
        .extra
        .iter()
        .map(|(n, _)| n.len())
        .fold(MAX_BUILTIN_NAME, usize::max);
    let bytes = template.as_bytes();
    let mut out = String::with_capacity(template.len());
    // `copied` is the end of what is already in `out`; `at` is where to look for the next `$`.
    // Both only ever sit on ASCII bytes (`$`, `(`, `)`, `:`, `[A-Z0-9]`) or at the end, so
    // they are always char boundaries.
    let mut copied = 0;
    let mut at = 0;
    let mut closes = CloseFinder::default();
    while let Some(found) = memchr::memchr(b'$', &bytes[at..]) {
        let dollar = at + found;
        out.push_str(&template[copied..dollar]);
        let after = dollar + 1;
        let (value, end) = match bytes.get(after) {
            Some(b'$') => (Some(Cow::Borrowed("$")), after + 1),
            Some(b'(') => match parenthesized(template, after + 1, &mut closes, ctx, scope) {
                Some((value, end)) => (Some(value), end),
                None => (None, after),
            },
            _ => match bare(template, after, max_name, ctx, scope) {
                Some((value, end)) => (Some(value), end),
                None => (None, after),
            },
        };
        match value {
            Some(value) => {
                out.push_str(&value);
                copied = end;
            }
            // Not a macro: the `$` stays, and scanning resumes right after it, so a macro
            // inside an unknown `$(...)` still expands.
            None => copied = dollar,
        }
        at = end;
    }
    out.push_str(&template[copied..]);
    out
}

/// `$NAME` with `start` just after the `$`: the longest known prefix of the `[A-Z0-9]` run.
fn bare<'c>(
    template: &str,
    start: usize,
    max_name: usize,
    ctx: &MacroContext<'c>,
    scope: MacroScope,
) -> Option<(Cow<'c, str>, usize)> {
    let run = template
        .as_bytes()
        .get(start..)
        .unwrap_or_default()
        .iter()
        .take(max_name)
        .take_while(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
        .count();
    // The run is ASCII, so every prefix of it ends on a char boundary.
    (1..=run).rev().find_map(|len| {
        let name = &template[start..start + len];
        lookup(name, ctx, scope).map(|value| (value, start + len))
    })
}

/// Finds the first `)` at or after a position, for positions that only increase: it remembers
/// the last answer, so a template full of `$(` without `)` is scanned once, not once per `$(`.
#[derive(Default)]
struct CloseFinder {
    /// The last search: where it started and what it found.
    last: Option<(usize, Option<usize>)>,
}

impl CloseFinder {
    fn find(&mut self, haystack: &[u8], from: usize) -> Option<usize> {
        match self.last {
            // The answer for an earlier start still holds if it is not before `from`; "none
            // found" holds for every later start.
            Some((searched, found)) if searched <= from && found.is_none_or(|c| c >= from) => found,
            _ => {
                let found = haystack
                    .get(from..)
                    .and_then(|rest| memchr::memchr(b')', rest))
                    .map(|i| from + i);
                self.last = Some((from, found));
                found
            }
        }
    }
}

/// `$(NAME[:p[:q]])` with `start` just after the `(`; the end returned is after the `)`.
fn parenthesized<'c>(
    template: &str,
    start: usize,
    closes: &mut CloseFinder,
    ctx: &MacroContext<'c>,
    scope: MacroScope,
) -> Option<(Cow<'c, str>, usize)> {
    let close = closes.find(template.as_bytes(), start)?;
    let mut parts = template[start..close].split(':');
    let name = parts.next()?;
    let offset = match parts.next() {
        Some(p) => Some(count(p)?),
        None => None,
    };
    let length = match parts.next() {
        Some(q) => Some(count(q)?),
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    let value = lookup(name, ctx, scope)?;
    let value = match (offset, length) {
        (None, _) => value,
        (Some(p), None) => Cow::Owned(value.chars().skip(p).collect()),
        (Some(p), Some(q)) => Cow::Owned(value.chars().skip(p).take(q).collect()),
    };
    Some((value, close + 1))
}

/// A decimal count of `p` or `q`: digits only; too large saturates (and so selects nothing).
fn count(text: &str) -> Option<usize> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(text.parse().unwrap_or(usize::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::Mac;

    fn identity() -> DeviceIdentity {
        DeviceIdentity {
            mac: Some(Mac::new([0x00, 0x0e, 0x08, 0xaa, 0xbb, 0xcc])),
            serial: Some("88012BA01234".into()),
            product_name: Some("CP-8851-3PCC".into()),
            psn: None,
            firmware_version: Some("sip88xx.12-0-1MPP0001-609".into()),
            hardware_version: Some("V03".into()),
            lines: Some(2),
            cert_installed: true,
        }
    }

    const GPP: [&str; 16] = [
        "ABCDEF", "gb", "gc", "gd", "ge", "gf", "gg", "gh", "gi", "gj", "gk", "gl", "gm", "gn",
        "go", "gp",
    ];
    const LINES: [LineIds<'static>; 2] = [
        LineIds {
            user_id: "1001",
            display_name: "Alice",
            auth_id: "",
        },
        LineIds {
            user_id: "1002",
            display_name: "Bob",
            auth_id: "auth1002",
        },
    ];
    const EXTRA: [(&str, &str); 3] = [("PRVST", "1"), ("UPGERR", "bad image"), ("REGTMR1", "42")];

    fn full(id: &DeviceIdentity) -> MacroContext<'_> {
        MacroContext {
            gpp: GPP,
            gpp_secret: ["sa-secret", "sb", "sc", "sd"],
            request: Some(RequestParts {
                scheme: "https",
                host: "prov.example.net",
                ip: Some("192.0.2.10"),
                port: 8443,
                path: "/cfg/CP-8851-3PCC.xml",
            }),
            error: Some("HTTP 404"),
            ip: Some("192.0.2.55"),
            ext_ip: Some("198.51.100.7"),
            lines: &LINES,
            extra: &EXTRA,
            ..MacroContext::new(id)
        }
    }

    fn text(template: &str, ctx: &MacroContext<'_>) -> String {
        expand(template, ctx, MacroScope::Text)
    }

    #[test]
    fn every_macro_of_the_table() {
        let id = identity();
        let ctx = full(&id);
        for (template, want) in [
            ("$$", "$"),
            ("$MA", "000e08aabbcc"),
            ("$MAU", "000E08AABBCC"),
            ("$MAC", "00:0e:08:aa:bb:cc"),
            ("$PN", "CP-8851-3PCC"),
            ("$PSN", "8851-3PCC"),
            ("$SN", "88012BA01234"),
            ("$CCERT", "Installed"),
            ("$IP", "192.0.2.55"),
            ("$EXTIP", "198.51.100.7"),
            ("$SWVER", "sip88xx.12-0-1MPP0001-609"),
            ("$HWVER", "V03"),
            ("$SCHEME", "https"),
            ("$METH", "https"),
            ("$SERV", "prov.example.net"),
            ("$SERVIP", "192.0.2.10"),
            ("$PORT", "8443"),
            ("$PATH", "/cfg/CP-8851-3PCC.xml"),
            ("$ERR", "HTTP 404"),
            ("$A", "ABCDEF"),
            ("$B", "gb"),
            ("$H", "gh"),
            ("$P", "gp"),
            ("$UID1", "1001"),
            ("$UID2", "1002"),
            ("$UID3", ""),
            ("$UID16", ""),
            ("$DISPLAYNAME1", "Alice"),
            ("$DISPLAYNAME2", "Bob"),
            ("$AUTHID1", "1001"),
            ("$AUTHID2", "auth1002"),
            ("$PRVST", "1"),
            ("$UPGERR", "bad image"),
            ("$REGTMR1", "42"),
            ("$REGTMR2", ""),
            ("$UPGST", ""),
            ("$PRVTMR", ""),
            ("$UPGTMR", ""),
            ("$UPGCOND", ""),
            ("$ISCUST", ""),
        ] {
            assert_eq!(text(template, &ctx), want, "{template}");
            // The parenthesized form agrees (except `$$`, which has none).
            if let Some(name) = template.strip_prefix('$').filter(|n| *n != "$") {
                assert_eq!(text(&format!("$({name})"), &ctx), want, "$({name})");
            }
        }
        // All sixteen GPPs, in both forms.
        for (i, letter) in ('A'..='P').enumerate() {
            assert_eq!(text(&format!("${letter}"), &ctx), GPP[i]);
            assert_eq!(text(&format!("$({letter})"), &ctx), GPP[i]);
        }
    }

    #[test]
    fn doc_examples() {
        let id = identity();
        let ctx = full(&id);
        assert_eq!(text("$(A:2)", &ctx), "CDEF");
        assert_eq!(text("$(A:2:3)", &ctx), "CDE");
        assert_eq!(text("$STRANGE$MAU.cfg", &ctx), "$STRANGE000E08AABBCC.cfg");
        assert_eq!(text("$$MAU", &ctx), "$MAU");
        assert_eq!(text("/$PSN.xml", &ctx), "/8851-3PCC.xml");
        assert_eq!(
            text("/Cisco/$PN/$MA.cfg", &ctx),
            "/Cisco/CP-8851-3PCC/000e08aabbcc.cfg"
        );
        assert_eq!(
            text("tftp://prov.call.com/cpe/cisco$MA.cfg", &ctx),
            "tftp://prov.call.com/cpe/cisco000e08aabbcc.cfg"
        );
        assert_eq!(
            text("(\"$CCERT\" eq \"Installed\")?", &ctx),
            "(\"Installed\" eq \"Installed\")?"
        );
    }

    #[test]
    fn default_log_messages() {
        let id = DeviceIdentity {
            mac: Some("000e08abcdef".parse().unwrap()),
            product_name: Some("CP-8851-3PCC".into()),
            ..DeviceIdentity::default()
        };
        let ctx = MacroContext {
            request: Some(RequestParts {
                scheme: "tftp",
                host: "tftp.example.net",
                ip: Some("192.168.1.200"),
                port: 69,
                path: "/basic.txt",
            }),
            ..MacroContext::new(&id)
        };
        assert_eq!(
            text(
                "$PN $MAC -- Requesting resync $SCHEME://$SERVIP:$PORT$PATH",
                &ctx
            ),
            "CP-8851-3PCC 00:0e:08:ab:cd:ef -- Requesting resync tftp://192.168.1.200:69/basic.txt"
        );
        let ctx = MacroContext {
            error: Some("connection refused"),
            ..ctx
        };
        assert_eq!(
            text("$PN $MAC -- Resync failed: $ERR", &ctx),
            "CP-8851-3PCC 00:0e:08:ab:cd:ef -- Resync failed: connection refused"
        );
    }

    #[test]
    fn servip_falls_back_to_the_host() {
        let id = identity();
        let ctx = MacroContext {
            request: Some(RequestParts {
                scheme: "http",
                host: "prov.example.net",
                ip: None,
                port: 80,
                path: "/",
            }),
            ..MacroContext::new(&id)
        };
        assert_eq!(text("$SERVIP:$PORT", &ctx), "prov.example.net:80");
    }

    #[test]
    fn known_macros_without_a_value_are_empty() {
        let id = DeviceIdentity::default();
        let ctx = MacroContext::new(&id);
        for name in [
            "MA",
            "MAU",
            "MAC",
            "PN",
            "PSN",
            "SN",
            "SWVER",
            "HWVER",
            "IP",
            "EXTIP",
            "SCHEME",
            "METH",
            "SERV",
            "SERVIP",
            "PORT",
            "PATH",
            "ERR",
            "A",
            "P",
            "UID1",
            "DISPLAYNAME16",
            "AUTHID3",
            "PRVST",
            "INCOMINGNAME",
        ] {
            assert_eq!(text(&format!("<${name}>"), &ctx), "<>", "{name}");
            assert_eq!(text(&format!("<$({name})>"), &ctx), "<>", "{name}");
            assert_eq!(lookup(name, &ctx, MacroScope::Text).as_deref(), Some(""));
        }
        assert_eq!(text("$CCERT", &ctx), "Not Installed");
    }

    #[test]
    fn longest_known_prefix() {
        let id = identity();
        let ctx = full(&id);
        assert_eq!(text("$MAU.cfg", &ctx), "000E08AABBCC.cfg");
        assert_eq!(text("$MA.cfg", &ctx), "000e08aabbcc.cfg");
        assert_eq!(text("$MACX", &ctx), "00:0e:08:aa:bb:ccX");
        assert_eq!(text("$A1", &ctx), "ABCDEF1");
        assert_eq!(text("$ERROR", &ctx), "HTTP 404OR");
        assert_eq!(text("$PATHS", &ctx), "/cfg/CP-8851-3PCC.xmlS");
        assert_eq!(
            text("$UID17", &ctx),
            "10017",
            "UID17 is no line: UID1, then 7"
        );
        assert_eq!(text("$UID0", &ctx), "$UID0");
        assert_eq!(text("$UID01", &ctx), "$UID01");
        assert_eq!(text("$REGTMR12", &ctx), "422");
        // Lowercase letters end the run and are not names.
        assert_eq!(text("$ma", &ctx), "$ma");
        assert_eq!(text("$Ab", &ctx), "ABCDEFb");
        assert_eq!(text("$MAcfg", &ctx), "000e08aabbcccfg");
    }

    #[test]
    fn parenthesized_names_must_be_whole() {
        let id = identity();
        let ctx = full(&id);
        assert_eq!(text("$(MAUX)", &ctx), "$(MAUX)");
        assert_eq!(text("$(A1)", &ctx), "$(A1)");
        assert_eq!(text("$(ma)", &ctx), "$(ma)");
        assert_eq!(text("$()", &ctx), "$()");
        assert_eq!(text("$( A )", &ctx), "$( A )");
        assert_eq!(text("$(MA)X", &ctx), "000e08aabbccX");
        assert_eq!(text("x$(MAU).cfg", &ctx), "x000E08AABBCC.cfg");
        // A macro inside an unknown `$(...)` still expands.
        assert_eq!(text("$(X$MA)", &ctx), "$(X000e08aabbcc)");
    }

    #[test]
    fn substrings() {
        let id = identity();
        let ctx = full(&id);
        assert_eq!(text("$(A:0)", &ctx), "ABCDEF");
        assert_eq!(text("$(A:0:0)", &ctx), "");
        assert_eq!(text("$(A:5)", &ctx), "F");
        assert_eq!(text("$(A:6)", &ctx), "");
        assert_eq!(text("$(A:7:2)", &ctx), "");
        assert_eq!(text("$(A:4:99)", &ctx), "EF");
        assert_eq!(text("$(MA:0:6)", &ctx), "000e08");
        assert_eq!(text("$(MAC:9)", &ctx), "aa:bb:cc");
        // Malformed counts stay as written.
        for t in [
            "$(A:)",
            "$(A::2)",
            "$(A:x)",
            "$(A:-1)",
            "$(A:1:2:3)",
            "$(A: 1)",
            "$(A:1:)",
        ] {
            assert_eq!(text(t, &ctx), t);
        }
    }

    #[test]
    fn substrings_count_characters() {
        let id = identity();
        let ctx = MacroContext {
            gpp: [
                "añb€c😀d",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
                "",
            ],
            ..MacroContext::new(&id)
        };
        assert_eq!(text("$(A:1:3)", &ctx), "ñb€");
        assert_eq!(text("$(A:5)", &ctx), "😀d");
        assert_eq!(text("$(A:7)", &ctx), "");
    }

    #[test]
    fn secret_gpps_only_in_rule_options() {
        let id = identity();
        let ctx = full(&id);
        for (t, want) in [
            ("$SA", "sa-secret"),
            ("$SB", "sb"),
            ("$SC", "sc"),
            ("$SD", "sd"),
            ("$(SA)", "sa-secret"),
            ("$(SA:3)", "secret"),
        ] {
            assert_eq!(expand(t, &ctx, MacroScope::RuleOption), want);
            assert_eq!(expand(t, &ctx, MacroScope::Text), t);
        }
        assert_eq!(
            expand("--uid $SA --pwd $SB", &ctx, MacroScope::RuleOption),
            "--uid sa-secret --pwd sb"
        );
        assert_eq!(expand("$SE", &ctx, MacroScope::RuleOption), "$SE");
        assert_eq!(lookup("SA", &ctx, MacroScope::Text), None);
        // Other macros expand in both scopes.
        assert_eq!(expand("$MA", &ctx, MacroScope::RuleOption), "000e08aabbcc");
        // The Debug form does not show them.
        let debug = format!("{ctx:?}");
        assert!(!debug.contains("sa-secret"), "{debug}");
    }

    #[test]
    fn expansion_is_not_recursive() {
        let id = identity();
        let ctx = MacroContext {
            gpp: [
                "$MA", "$(B)", "$$", "", "", "", "", "", "", "", "", "", "", "", "", "",
            ],
            extra: &[("X", "$SN")],
            ..MacroContext::new(&id)
        };
        assert_eq!(text("$A $B $C $(X)", &ctx), "$MA $(B) $$ $SN");
        assert_eq!(text("$$$MA", &ctx), "$000e08aabbcc");
        assert_eq!(text("$$$$", &ctx), "$$");
    }

    #[test]
    fn extra_names() {
        let id = identity();
        let extra = [
            ("PROXY1", "sip.example.net"),
            ("MA", "ignored"),
            ("PROXY1", "second"),
        ];
        let ctx = MacroContext {
            extra: &extra,
            ..MacroContext::new(&id)
        };
        assert_eq!(text("$PROXY1", &ctx), "sip.example.net");
        assert_eq!(text("$MA", &ctx), "000e08aabbcc", "built-ins win");
        // PROXY2 is not known, but P (GPP_P, empty here) is a prefix of it.
        assert_eq!(text("$PROXY2", &ctx), "ROXY2");
        assert_eq!(text("$(PROXY2)", &ctx), "$(PROXY2)");
        // An extra name longer than any built-in one still matches whole.
        let long = [("AVERYLONGMACRONAME", "v")];
        let ctx = MacroContext {
            extra: &long,
            ..MacroContext::new(&id)
        };
        assert_eq!(text("$AVERYLONGMACRONAME!", &ctx), "v!");
        // An empty name is never a macro, even if `extra` carries one.
        let empty = [("", "v")];
        let ctx = MacroContext {
            extra: &empty,
            ..MacroContext::new(&id)
        };
        assert_eq!(text("$()", &ctx), "$()");
    }

    #[test]
    fn non_ascii_input() {
        let id = identity();
        let ctx = full(&id);
        assert_eq!(text("é$MA€", &ctx), "é000e08aabbcc€");
        assert_eq!(text("$é$MA", &ctx), "$é000e08aabbcc");
        assert_eq!(text("$(é)", &ctx), "$(é)");
        assert_eq!(text("$(A:1é)", &ctx), "$(A:1é)");
        assert_eq!(text("日本語$$😀", &ctx), "日本語$😀");
        assert_eq!(text("$(日本:1)", &ctx), "$(日本:1)");
    }

    #[test]
    fn hostile_inputs() {
        let id = identity();
        let ctx = full(&id);
        for (t, want) in [
            ("", ""),
            ("$", "$"),
            ("x$", "x$"),
            ("$(", "$("),
            ("$(A", "$(A"),
            ("$(A:", "$(A:"),
            ("$(A:2", "$(A:2"),
            ("$(A:2:", "$(A:2:"),
            ("$(A:99999999999999999999)", ""),
            ("$(A:1:99999999999999999999)", "BCDEF"),
            ("$(A:99999999999999999999:99999999999999999999)", ""),
            ("$((A))", "$((A))"),
            ("$)", "$)"),
            ("$ MA", "$ MA"),
            ("$$(", "$("),
            ("$(A:2)$", "CDEF$"),
            ("$$$", "$$"),
        ] {
            assert_eq!(text(t, &ctx), want, "{t:?}");
        }
        let long_run = "A".repeat(100_000);
        let expanded = text(&format!("${long_run}"), &ctx);
        assert_eq!(expanded, format!("ABCDEF{}", &long_run[1..]));
        let many_opens = "$(".repeat(200_000);
        assert_eq!(text(&many_opens, &ctx), many_opens);
    }

    /// A small deterministic fuzz: random mixes of macro syntax and multi-byte characters
    /// never panic, and text without `$` comes out unchanged.
    #[test]
    fn never_panics() {
        let id = identity();
        let ctx = full(&id);
        let pieces = [
            "$",
            "(",
            ")",
            ":",
            "1",
            "99999999999999999999999",
            "A",
            "SA",
            "MA",
            "U",
            "C",
            "é",
            "€",
            "😀",
            "UID",
            "16",
            "0",
            " ",
            "x",
            "$$",
            "$(",
            "DISPLAYNAME",
            "\0",
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            usize::try_from(state >> 33).unwrap_or(0)
        };
        for _ in 0..20_000 {
            let len = next() % 12;
            let s: String = (0..len).map(|_| pieces[next() % pieces.len()]).collect();
            for scope in [MacroScope::Text, MacroScope::RuleOption] {
                let out = expand(&s, &ctx, scope);
                if !s.contains('$') {
                    assert_eq!(out, s);
                }
            }
        }
    }
}
