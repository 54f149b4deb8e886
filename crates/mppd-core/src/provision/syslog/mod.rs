//! Syslog messages of resyncs and upgrades (SPEC §12; mpp-provisioning §3.2): the target from
//! `Syslog_Server`, the text from the `Log_*_Msg` templates, and the RFC 3164 datagram. Pure:
//! the shell resolves the host, reads the clock for the timestamp and sends the bytes.
//!
//! # Decisions
//! - **Datagram**: RFC 3164 §4.1, `<PRI>TIMESTAMP HOSTNAME TAG: MSG`, at most 1024 bytes (longer
//!   text is cut at a character boundary). TIMESTAMP is the caller's string (local time,
//!   `Mmm dd hh:mm:ss`; [`rfc3164_timestamp`] formats one).
//! - **Facility `local0` (16)**: RFC 3164 §4.1.1 leaves local0-7 to site use; the sources give no
//!   facility for the phone, and local0 is the usual choice for devices without one of their
//!   own. **Severity**: failures are `err` (3), requests and successes `info` (6). So PRI is 131
//!   for failures and 134 otherwise.
//! - **`Syslog_Identifier`** (None | `$MA` | `$MAU` | `$MAC` | `$SN`, default None; the sources
//!   give the values and nothing more): our reading is that it names the phone to the log
//!   server, which is what RFC 3164's HOSTNAME field is for. So a value other than None puts
//!   that identity macro's expansion (`000e08aabbcc`, `000E08AABBCC`,
//!   `00:0e:08:aa:bb:cc`, the serial) in HOSTNAME; with None (or an identity value the device
//!   lacks) HOSTNAME is what the shell passes in [`Header::hostname`], which RFC 3164 §4.1.2
//!   says is the host name or else the IP address the phone sends from. The TAG is always
//!   [`TAG`]; the MSG is the expanded template, untouched by the identifier.
//! - **Templates**: a `Log_*_Msg` parameter set to the empty value means "send nothing" (SPEC
//!   §12: "An empty message parameter means that message is not sent"); an unset one is its
//!   default. Expansion is [`MacroScope::Text`], so `$SA`..`$SD` never expand, and a rule's
//!   options (`--uid`, `--pwd`, `--key`) are not part of
//!   [`RequestParts`](mppd_config::macros::RequestParts). As a second guard, the
//!   expanded text goes through [`mask_in_text`], so a `--pwd`/`--key` argument or a URL
//!   password that reaches `$ERR` is masked.
//! - Control characters (CR, LF, TAB, ...) in the text become spaces: one message is one line,
//!   and a peer-supplied `$ERR` cannot forge a second log line.
//! - **`Syslog_Server`** is `host[:port]` (default port 514; IPv6 as `[addr]:port` or a bare
//!   address without port). Empty means no syslog. Resolution is the shell's job.

use std::fmt;

use mppd_config::Profile;
use mppd_config::identity::DeviceIdentity;
use mppd_config::macros::{MacroContext, MacroScope, expand};
use mppd_config::profile::mask_in_text;
use mppd_config::registry;
use mppd_config::validate::check_host;

/// The UDP port of syslog when `Syslog_Server` names none (RFC 3164 §2).
pub const DEFAULT_PORT: u16 = 514;

/// The facility: `local0`.
pub const FACILITY_LOCAL0: u8 = 16;

/// The TAG of every message.
pub const TAG: &str = "mppd";

/// The largest datagram (RFC 3164 §4.1).
pub const MAX_DATAGRAM: usize = 1024;

/// Where to send syslog messages: `Syslog_Server`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogTarget {
    /// A host name or an IP address (IPv6 without brackets).
    pub host: String,
    /// The UDP port.
    pub port: u16,
}

impl SyslogTarget {
    /// Parses `host[:port]`; empty (or blank) is `None`.
    pub fn parse(value: &str) -> Result<Option<Self>, SyslogError> {
        let value = value.trim();
        if value.is_empty() {
            return Ok(None);
        }
        let bad = |problem| SyslogError::BadServer {
            value: value.to_owned(),
            problem,
        };
        let port_of = |p: &str| match p.parse::<u16>() {
            Ok(n) if n > 0 && p.bytes().all(|b| b.is_ascii_digit()) => Ok(n),
            _ => Err(bad(ServerProblem::BadPort)),
        };
        let (host, port) = if let Some(rest) = value.strip_prefix('[') {
            let (addr, after) = rest
                .split_once(']')
                .ok_or_else(|| bad(ServerProblem::BadBrackets))?;
            if addr.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad(ServerProblem::BadHost));
            }
            match after {
                "" => (addr, DEFAULT_PORT),
                _ => match after.strip_prefix(':') {
                    Some(p) => (addr, port_of(p)?),
                    None => return Err(bad(ServerProblem::BadBrackets)),
                },
            }
        } else if value.matches(':').count() > 1 {
            // A bare IPv6 address: no port can be told apart from it.
            if value.parse::<std::net::Ipv6Addr>().is_err() {
                return Err(bad(ServerProblem::BadHost));
            }
            (value, DEFAULT_PORT)
        } else {
            match value.split_once(':') {
                Some((h, p)) => (h, port_of(p)?),
                None => (value, DEFAULT_PORT),
            }
        };
        if check_host(host).is_err() {
            return Err(bad(ServerProblem::BadHost));
        }
        Ok(Some(Self {
            host: host.to_owned(),
            port,
        }))
    }
}

impl fmt::Display for SyslogTarget {
    /// `host:port`, with brackets around an IPv6 address.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(f, "[{}]:{}", self.host, self.port)
        } else {
            write!(f, "{}:{}", self.host, self.port)
        }
    }
}

/// `Syslog_Identifier`: which identity value names the phone in HOSTNAME.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Identifier {
    /// The shell's host name or address.
    #[default]
    None,
    /// `$MA`: the MAC, lowercase hex.
    Ma,
    /// `$MAU`: the MAC, uppercase hex.
    Mau,
    /// `$MAC`: the MAC, lowercase with colons.
    Mac,
    /// `$SN`: the serial number.
    Sn,
}

impl Identifier {
    /// Parses the profile value (case-insensitive).
    pub fn parse(value: &str) -> Option<Self> {
        match value.trim().to_ascii_uppercase().as_str() {
            "NONE" => Some(Self::None),
            "$MA" => Some(Self::Ma),
            "$MAU" => Some(Self::Mau),
            "$MAC" => Some(Self::Mac),
            "$SN" => Some(Self::Sn),
            _ => None,
        }
    }

    /// The identifier's value for `identity`; `None` for [`Identifier::None`] or when the
    /// device lacks the value.
    pub fn value(self, identity: &DeviceIdentity) -> Option<String> {
        let v = match self {
            Self::None => None,
            Self::Ma => identity.mac.map(|m| m.lower()),
            Self::Mau => identity.mac.map(|m| m.upper()),
            Self::Mac => identity.mac.map(|m| m.colon()),
            Self::Sn => identity.serial.clone(),
        };
        v.filter(|v| !v.trim().is_empty())
    }
}

/// Which message: resync or upgrade, request, success or failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Message {
    /// `Log_Request_Msg`: a resync starts.
    ResyncRequest,
    /// `Log_Success_Msg`: a resync succeeded.
    ResyncSuccess,
    /// `Log_Failure_Msg`: a resync failed.
    ResyncFailure,
    /// `Log_Upgrade_Request_Msg`: an upgrade starts.
    UpgradeRequest,
    /// `Log_Upgrade_Success_Msg`: an upgrade succeeded.
    UpgradeSuccess,
    /// `Log_Upgrade_Failure_Msg`: an upgrade failed.
    UpgradeFailure,
}

impl Message {
    /// Every message, in the order of [`SyslogConfig`]'s templates.
    pub const ALL: [Self; 6] = [
        Self::ResyncRequest,
        Self::ResyncSuccess,
        Self::ResyncFailure,
        Self::UpgradeRequest,
        Self::UpgradeSuccess,
        Self::UpgradeFailure,
    ];

    /// The parameter holding the template.
    pub const fn param(self) -> &'static str {
        match self {
            Self::ResyncRequest => "Log_Request_Msg",
            Self::ResyncSuccess => "Log_Success_Msg",
            Self::ResyncFailure => "Log_Failure_Msg",
            Self::UpgradeRequest => "Log_Upgrade_Request_Msg",
            Self::UpgradeSuccess => "Log_Upgrade_Success_Msg",
            Self::UpgradeFailure => "Log_Upgrade_Failure_Msg",
        }
    }

    /// The default template (SPEC §12; mpp-provisioning §3.2, \[METH\] and \[WEB78\]).
    pub const fn default_template(self) -> &'static str {
        match self {
            Self::ResyncRequest => "$PN $MAC -- Requesting resync $SCHEME://$SERVIP:$PORT$PATH",
            Self::ResyncSuccess => "$PN $MAC -- Successful resync $SCHEME://$SERVIP:$PORT$PATH",
            Self::ResyncFailure => "$PN $MAC -- Resync failed: $ERR",
            Self::UpgradeRequest => "$PN $MAC -- Requesting upgrade $SCHEME://$SERVIP:$PORT$PATH",
            Self::UpgradeSuccess => {
                "$PN $MAC -- Successful upgrade $SCHEME://$SERVIP:$PORT$PATH -- $ERR"
            }
            Self::UpgradeFailure => "$PN $MAC -- Upgrade failed: $ERR",
        }
    }

    /// The syslog severity: `err` for failures, `info` otherwise.
    pub const fn severity(self) -> Severity {
        match self {
            Self::ResyncFailure | Self::UpgradeFailure => Severity::Error,
            _ => Severity::Info,
        }
    }

    const fn index(self) -> usize {
        self as usize
    }
}

/// The syslog severities used (RFC 3164 §4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Severity {
    /// `err` (3).
    Error,
    /// `info` (6).
    Info,
}

impl Severity {
    /// The numeric code.
    pub const fn code(self) -> u8 {
        match self {
            Self::Error => 3,
            Self::Info => 6,
        }
    }
}

/// The syslog parameters of a profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogConfig {
    /// `Syslog_Server`; `None` sends nothing.
    pub server: Option<SyslogTarget>,
    /// `Syslog_Identifier`.
    pub identifier: Identifier,
    /// The templates, in [`Message::ALL`] order; an empty one sends nothing.
    templates: [String; 6],
}

impl Default for SyslogConfig {
    /// No server, no identifier, the default templates (SPEC §12).
    fn default() -> Self {
        Self {
            server: None,
            identifier: Identifier::None,
            templates: Message::ALL.map(|m| m.default_template().to_owned()),
        }
    }
}

/// A syslog parameter whose value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SyslogError {
    /// `Syslog_Server` is not `host[:port]`.
    BadServer {
        /// The value.
        value: String,
        /// What is wrong.
        problem: ServerProblem,
    },
    /// `Syslog_Identifier` is not None, `$MA`, `$MAU`, `$MAC` or `$SN`.
    BadIdentifier {
        /// The value.
        value: String,
    },
}

/// What is wrong with a `Syslog_Server` value.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ServerProblem {
    /// The port is not 1..=65535.
    BadPort,
    /// The host is neither a host name nor an IP address.
    BadHost,
    /// `[` without `]`, or text after `]` other than `:port`.
    BadBrackets,
}

impl fmt::Display for SyslogError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::BadServer { value, problem } => {
                let why = match problem {
                    ServerProblem::BadPort => "the port is not 1-65535",
                    ServerProblem::BadHost => "not a host name or IP address",
                    ServerProblem::BadBrackets => "unbalanced [ ] around an IPv6 address",
                };
                write!(
                    f,
                    "Syslog_Server: invalid value {value:?}: allowed: host[:port] ({why})"
                )
            }
            Self::BadIdentifier { value } => write!(
                f,
                "Syslog_Identifier: invalid value {value:?}: allowed: None, $MA, $MAU, $MAC, $SN"
            ),
        }
    }
}

impl std::error::Error for SyslogError {}

/// The header fields the shell supplies.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header<'a> {
    /// RFC 3164 TIMESTAMP, `Mmm dd hh:mm:ss` in local time ([`rfc3164_timestamp`]).
    pub timestamp: &'a str,
    /// HOSTNAME when `Syslog_Identifier` is None: the phone's host name, or the IP address it
    /// sends from.
    pub hostname: &'a str,
}

impl SyslogConfig {
    /// Reads `Syslog_Server`, `Syslog_Identifier` and the six `Log_*_Msg` templates. Never
    /// panics.
    pub fn from_profile(profile: &Profile) -> Result<Self, SyslogError> {
        let server_value = profile
            .effective("Syslog_Server")
            .map(|v| v.into_owned())
            .unwrap_or_default();
        let server = SyslogTarget::parse(&server_value)?;
        let id_value = profile
            .effective("Syslog_Identifier")
            .map(|v| v.into_owned())
            .unwrap_or_default();
        let identifier =
            Identifier::parse(&id_value).ok_or(SyslogError::BadIdentifier { value: id_value })?;
        let templates = Message::ALL.map(|m| template_of(profile, m));
        Ok(Self {
            server,
            identifier,
            templates,
        })
    }

    /// A configuration with `template` for `message` (empty: never sent).
    #[must_use]
    pub fn with_template(mut self, message: Message, template: &str) -> Self {
        template.clone_into(&mut self.templates[message.index()]);
        self
    }

    /// The template of `message`.
    pub fn template(&self, message: Message) -> &str {
        &self.templates[message.index()]
    }

    /// The MSG part: the template expanded in `ctx` (set `ctx.request` for the request and
    /// success messages, `ctx.error` for `$ERR`), secrets masked, control characters turned
    /// into spaces. `None` when the template is empty.
    pub fn text(&self, message: Message, ctx: &MacroContext<'_>) -> Option<String> {
        let template = self.template(message);
        if template.is_empty() {
            return None;
        }
        let expanded = expand(template, ctx, MacroScope::Text);
        let masked = mask_in_text(&expanded);
        Some(
            masked
                .chars()
                .map(|c| if c.is_control() { ' ' } else { c })
                .collect(),
        )
    }

    /// The whole datagram for `message`, or `None` when its template is empty. Whether to send
    /// it (a server is set) is the caller's question: [`SyslogConfig::server`].
    pub fn datagram(
        &self,
        message: Message,
        ctx: &MacroContext<'_>,
        header: &Header<'_>,
    ) -> Option<Vec<u8>> {
        let msg = self.text(message, ctx)?;
        let pri = FACILITY_LOCAL0 * 8 + message.severity().code();
        let hostname = self
            .identifier
            .value(ctx.identity)
            .unwrap_or_else(|| header.hostname.to_owned());
        let mut out = format!(
            "<{pri}>{} {} {TAG}: {msg}",
            one_word(header.timestamp, ' '),
            one_word(&hostname, '-'),
        );
        truncate_at_char(&mut out, MAX_DATAGRAM);
        Some(out.into_bytes())
    }
}

/// The template of `message` in `profile`: as set (empty included), else the default.
fn template_of(profile: &Profile, message: Message) -> String {
    let set = registry::lookup(message.param())
        .and_then(|r| profile.entry_for(r.def, r.line))
        .or_else(|| profile.get(message.param()));
    match set {
        Some(e) => e.value.clone(),
        None => message.default_template().to_owned(),
    }
}

/// A header field without control characters, and without spaces when `space` is not one
/// (HOSTNAME is one word; an empty one becomes `-`).
fn one_word(text: &str, space: char) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_control() || (c.is_whitespace() && space != ' ') {
                space
            } else {
                c
            }
        })
        .collect();
    if s.is_empty() { "-".to_owned() } else { s }
}

fn truncate_at_char(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

/// The RFC 3164 TIMESTAMP `Mmm dd hh:mm:ss` (day padded with a space: `Jan  2 03:04:05`), or
/// `None` for an impossible field (month 1..=12, day 1..=31, hour 0..=23, minute 0..=59,
/// second 0..=60).
pub fn rfc3164_timestamp(month: u8, day: u8, hour: u8, minute: u8, second: u8) -> Option<String> {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let name = MONTHS.get(usize::from(month).checked_sub(1)?)?;
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    Some(format!("{name} {day:>2} {hour:02}:{minute:02}:{second:02}"))
}

#[cfg(test)]
mod tests;
