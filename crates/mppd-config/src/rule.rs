//! The provisioning rule syntax (mpp-provisioning §2.1-§2.3, §2.6; SPEC §0) of `Profile_Rule`,
//! `_B`..`_D`, `Upgrade_Rule`, `Report_Rule`, `Custom_CA_Rule` and `Cisco_Headset_Upgrade_Rule`.
//!
//! ```text
//! rule        = [ alternative *( "|" alternative ) ]
//! alternative = [ "(" condition ")?" ] *( "(" assignments ")!" ) *target
//! target      = [ "[" *option "]" ] url
//! option      = "--key" arg / "--uid" arg / "--pwd" arg / "--post" letter / "--alias" letter
//!             / "--srv" / "--delta" / "--status"
//! arg         = DQUOTE *(not DQUOTE) DQUOTE / 1*(not space, "\ooo" octal escapes decoded)
//! url         = [ scheme "://" ] [ server [ ":" port ] ] "/" path      ; scheme tftp by default
//! ```
//!
//! - All but the last alternative must have a condition; evaluation ([`Rule::select`]) goes left
//!   to right until a condition is true or an alternative has none.
//! - An alternative normally has one target. `Report_Rule` carries two (`[--delta]URL
//!   [--status]URL`, separated by a space); the parser accepts any number and keeps the first in
//!   [`Alternative::url`], the others in [`Alternative::more`]. Which parameter may hold how many
//!   is the caller's decision.
//! - A URL with no server means the server DHCP supplied ([`RuleUrl::host`] is `None`).
//! - The `gds://` scheme (activation-code onboarding) is recognised so profiles that carry it
//!   parse, and refused by [`RuleUrl::expand`]: mppd contacts no vendor service.
//!
//! **Parse first, expand second.** [`Rule::parse`] works on the rule as written; macros are
//! expanded afterwards in each piece separately ([`RuleUrl::expand`], [`Options::expand`],
//! [`Condition::eval`], [`Assignment::expand`]), so a GPP value holding `|`, `]` or a space
//! cannot change the structure of the rule. Expanded hosts and paths are checked again.
//!
//! Octal escapes in unquoted option arguments: `\ooo` is the character with that octal code
//! (`\043` is `#`). The reference notes that Cisco's own example uses `\057` for a backslash,
//! but octal 057 is `/`; mppd decodes octal literally (`\134` is a backslash). Escapes are
//! decoded after expansion of the text around them, and never produce macros.

use std::fmt;
use std::net::IpAddr;

use crate::macros::{MacroContext, MacroScope, expand};

/// A parsed rule: its alternatives, in order. An empty rule has none (it is skipped).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rule {
    /// The `|`-separated alternatives.
    pub alternatives: Vec<Alternative>,
}

/// One alternative of a rule: `[ (condition)? ] [ (assignments)! ] [ [options] URL ]`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Alternative {
    /// The condition; `None` means the alternative is always taken when reached.
    pub condition: Option<Condition>,
    /// Parameter assignments to run when the alternative is taken.
    pub assignments: Vec<Assignment>,
    /// The options of the first target (all defaults when there is none).
    pub options: Options,
    /// The URL of the first target.
    pub url: Option<RuleUrl>,
    /// Further targets after the first, separated by white space (`Report_Rule`'s
    /// `[--delta]URL [--status]URL`).
    pub more: Vec<Target>,
}

/// A `[options] URL` pair beyond an alternative's first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    /// The bracketed options.
    pub options: Options,
    /// The URL.
    pub url: RuleUrl,
}

/// The URL schemes of a rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Scheme {
    /// `tftp`, the default when the URL names none (port 69/UDP).
    Tftp,
    /// `http` (port 80).
    Http,
    /// `https` (port 443).
    Https,
    /// `gds`, Cisco's activation-code onboarding. Recognised, not supported by mppd.
    Gds,
}

impl Scheme {
    /// Parses a scheme name, case-insensitively.
    pub fn parse(name: &str) -> Option<Self> {
        [Self::Tftp, Self::Http, Self::Https, Self::Gds]
            .into_iter()
            .find(|s| s.as_str().eq_ignore_ascii_case(name))
    }

    /// The lowercase name, as `$SCHEME` gives it.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Tftp => "tftp",
            Self::Http => "http",
            Self::Https => "https",
            Self::Gds => "gds",
        }
    }

    /// The port used when the URL names none; `None` for `gds`.
    pub const fn default_port(self) -> Option<u16> {
        match self {
            Self::Tftp => Some(69),
            Self::Http => Some(80),
            Self::Https => Some(443),
            Self::Gds => None,
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A rule URL as written, before macro expansion: `host` and `path` may hold macros.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleUrl {
    /// The scheme, `tftp` when none is written.
    pub scheme: Scheme,
    /// Whether the scheme was written.
    pub scheme_explicit: bool,
    /// The server (IPv6 without brackets); `None` means the DHCP-supplied server.
    pub host: Option<String>,
    /// The port when written.
    pub port: Option<u16>,
    /// The path from its leading `/`, with any query (`/` when a URL with a scheme has none).
    pub path: String,
    /// Byte offset of the URL in the rule.
    pub offset: usize,
}

/// The bracketed options of a target, as written.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Options {
    /// `--key`: the AES-256-CBC pass phrase (OpenSSL `enc -k`).
    pub key: Option<OptionArg>,
    /// `--uid`: the HTTP authentication user.
    pub uid: Option<OptionArg>,
    /// `--pwd`: the HTTP authentication password.
    pub pwd: Option<OptionArg>,
    /// `--post x`: POST the expanded GPP_x as the body.
    pub post: Option<GppLetter>,
    /// `--alias x`: map element names through the aliases in GPP_x.
    pub alias: Option<GppLetter>,
    /// `--srv`: resolve the host with DNS SRV.
    pub srv: bool,
    /// `--delta` (Report_Rule): report changed parameters only.
    pub delta: bool,
    /// `--status` (Report_Rule): report the status.
    pub status: bool,
}

/// Masks `--key` and `--pwd`.
impl fmt::Debug for Options {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mask = |a: &Option<OptionArg>| a.as_ref().map(|_| "***");
        f.debug_struct("Options")
            .field("key", &mask(&self.key))
            .field("uid", &self.uid)
            .field("pwd", &mask(&self.pwd))
            .field("post", &self.post)
            .field("alias", &self.alias)
            .field("srv", &self.srv)
            .field("delta", &self.delta)
            .field("status", &self.status)
            .finish()
    }
}

/// The argument of `--key`, `--uid` or `--pwd`, as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionArg {
    /// The text, without the quotes; octal escapes of an unquoted argument not yet decoded.
    pub text: String,
    /// Whether it was double-quoted (then `\ooo` is literal text).
    pub quoted: bool,
    /// Byte offset of the argument in the rule.
    pub offset: usize,
}

/// A general purpose parameter letter, `a`..`p` (GPP_A..GPP_P).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct GppLetter(u8);

impl GppLetter {
    /// `a`..`p` (lowercase, as the options take it).
    pub fn parse(s: &str) -> Option<Self> {
        match s.as_bytes() {
            [l @ b'a'..=b'p'] => Some(Self(*l)),
            _ => None,
        }
    }

    /// The lowercase letter.
    pub const fn letter(self) -> char {
        self.0 as char
    }

    /// 0 for GPP_A .. 15 for GPP_P (the index into [`MacroContext::gpp`]).
    pub const fn index(self) -> usize {
        (self.0 - b'a') as usize
    }
}

/// One `Name = "value";` of an assignment group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The parameter name.
    pub name: String,
    /// The value as written (without quotes; macros not expanded).
    pub value: String,
    /// Byte offset of the name in the rule.
    pub offset: usize,
}

impl Assignment {
    /// The name and the value with its macros expanded ([`MacroScope::Text`]).
    pub fn expand(&self, ctx: &MacroContext<'_>) -> (String, String) {
        (
            self.name.clone(),
            expand(&self.value, ctx, MacroScope::Text),
        )
    }
}

/// A condition: comparisons joined by `AND`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// The comparisons, all of which must hold.
    pub terms: Vec<Comparison>,
}

/// `left op right`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    /// Left operand.
    pub left: Operand,
    /// Operator.
    pub op: CmpOp,
    /// Right operand.
    pub right: Operand,
}

/// An operand as written: macros are expanded at evaluation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Operand {
    /// The text, without quotes.
    pub text: String,
    /// Whether it was double-quoted (a string: only `eq`/`ne`).
    pub quoted: bool,
}

/// Comparison operators: each has a symbol and a word form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CmpOp {
    /// `=`, `eq`.
    Eq,
    /// `!=`, `ne`.
    Ne,
    /// `<`, `lt`.
    Lt,
    /// `<=`, `le`.
    Le,
    /// `>`, `gt`.
    Gt,
    /// `>=`, `ge`.
    Ge,
}

impl CmpOp {
    const fn word(self) -> &'static str {
        match self {
            Self::Eq => "eq",
            Self::Ne => "ne",
            Self::Lt => "lt",
            Self::Le => "le",
            Self::Gt => "gt",
            Self::Ge => "ge",
        }
    }

    fn from_word(w: &str) -> Option<Self> {
        [Self::Eq, Self::Ne, Self::Lt, Self::Le, Self::Gt, Self::Ge]
            .into_iter()
            .find(|op| op.word().eq_ignore_ascii_case(w))
    }

    const fn holds(self, ord: std::cmp::Ordering) -> bool {
        use std::cmp::Ordering::{Equal, Greater, Less};
        match self {
            Self::Eq => matches!(ord, Equal),
            Self::Ne => !matches!(ord, Equal),
            Self::Lt => matches!(ord, Less),
            Self::Le => !matches!(ord, Greater),
            Self::Gt => matches!(ord, Greater),
            Self::Ge => !matches!(ord, Less),
        }
    }
}

impl fmt::Display for CmpOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.word())
    }
}

/// A firmware version as conditions compare it: `sip7832.11-3-2MPP0001-609` is 11.3.2 build
/// 609. An optional `name.` prefix, then major, minor, micro separated by `-` or `.`, then an
/// optional alphanumeric tag and an optional `-build`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Version {
    /// Major.
    pub major: u32,
    /// Minor.
    pub minor: u32,
    /// Micro.
    pub micro: u32,
    /// Build (0 when absent).
    pub build: u32,
}

impl Version {
    /// Parses a version literal; `None` when `s` is not one.
    pub fn parse(s: &str) -> Option<Self> {
        let rest = match s.split_once('.') {
            Some((prefix, rest))
                if prefix.starts_with(|c: char| c.is_ascii_alphabetic())
                    && prefix
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_') =>
            {
                rest
            }
            _ => s,
        };
        let (major, rest) = leading_number(rest)?;
        let rest = rest.strip_prefix(['-', '.'])?;
        let (minor, rest) = leading_number(rest)?;
        let rest = rest.strip_prefix(['-', '.'])?;
        let (micro, rest) = leading_number(rest)?;
        let (tag, build) = match rest.rsplit_once('-') {
            Some((tag, build)) => (tag, build.parse::<u32>().ok()?),
            None => (rest, 0),
        };
        if !tag.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        Some(Self {
            major,
            minor,
            micro,
            build,
        })
    }
}

fn leading_number(s: &str) -> Option<(u32, &str)> {
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let n = s.get(..digits)?.parse().ok()?;
    Some((n, s.get(digits..)?))
}

/// A rule that cannot be parsed. Offsets are byte offsets into the rule text.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleError {
    /// A `(`, `[` or `"` is never closed.
    Unclosed {
        /// The opening character.
        open: char,
        /// Where it is.
        offset: usize,
    },
    /// Something else was expected here.
    Expected {
        /// What was expected.
        expected: &'static str,
        /// What is there (`None` at the end of the text).
        found: Option<char>,
        /// Where.
        offset: usize,
    },
    /// An alternative before the last has no condition, so the later ones are unreachable.
    UnconditionalAlternative {
        /// The alternative's index (0 is the first).
        index: usize,
        /// Where it starts.
        offset: usize,
    },
    /// An alternative with nothing in it (`a || b`, a trailing `|`).
    EmptyAlternative {
        /// Where it would start.
        offset: usize,
    },
    /// A condition after an assignment, or a second condition.
    MisplacedCondition {
        /// Where the condition starts.
        offset: usize,
    },
    /// A quoted (string) operand compared with an ordering operator; strings compare only with
    /// `eq`/`ne`.
    StringOrdering {
        /// The operator.
        op: CmpOp,
        /// Where the operator is.
        offset: usize,
    },
    /// An option the syntax does not have.
    UnknownOption {
        /// The option as written.
        name: String,
        /// Where.
        offset: usize,
    },
    /// An option given twice in one bracket.
    DuplicateOption {
        /// The option.
        name: &'static str,
        /// Where the second one is.
        offset: usize,
    },
    /// An option that takes an argument has none.
    MissingArgument {
        /// The option.
        name: &'static str,
        /// Where the option is.
        offset: usize,
    },
    /// `--post`/`--alias` need a GPP letter `a`..`p`.
    BadGppLetter {
        /// The option.
        name: &'static str,
        /// The argument as written.
        found: String,
        /// Where the argument is.
        offset: usize,
    },
    /// An octal escape that is not a printable ASCII character (`\000`, `\200`..`\377`).
    BadEscape {
        /// Where the backslash is.
        offset: usize,
    },
    /// Bracketed options with no URL after them.
    MissingUrl {
        /// Where the URL should be.
        offset: usize,
    },
    /// A scheme other than tftp, http, https (and gds).
    UnknownScheme {
        /// The scheme as written.
        scheme: String,
        /// Where the URL is.
        offset: usize,
    },
    /// The URL's path is not absolute (`server/path` or `/path` is required).
    RelativePath {
        /// Where the URL is.
        offset: usize,
    },
    /// A port that is not a number in 1..=65535.
    BadPort {
        /// The port as written.
        port: String,
        /// Where the URL is.
        offset: usize,
    },
    /// A server name with characters a host name cannot have (`@`, `"`, ...), or empty
    /// before a port.
    BadHost {
        /// The host as written.
        host: String,
        /// Where the URL is.
        offset: usize,
    },
}

impl fmt::Display for RuleError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unclosed { open, offset } => write!(f, "at byte {offset}: unclosed {open:?}"),
            Self::Expected {
                expected,
                found: Some(c),
                offset,
            } => write!(f, "at byte {offset}: expected {expected}, found {c:?}"),
            Self::Expected {
                expected,
                found: None,
                offset,
            } => write!(f, "at byte {offset}: expected {expected}, found the end"),
            Self::UnconditionalAlternative { index, offset } => write!(
                f,
                "at byte {offset}: alternative {} has no condition but is not the last",
                index + 1
            ),
            Self::EmptyAlternative { offset } => write!(f, "at byte {offset}: empty alternative"),
            Self::MisplacedCondition { offset } => write!(
                f,
                "at byte {offset}: a condition must come first, once per alternative"
            ),
            Self::StringOrdering { op, offset } => write!(
                f,
                "at byte {offset}: quoted strings compare only with eq/ne, not {op}"
            ),
            Self::UnknownOption { name, offset } => write!(
                f,
                "at byte {offset}: unknown option {name}; known: --key --uid --pwd --post \
                 --alias --srv --delta --status"
            ),
            Self::DuplicateOption { name, offset } => {
                write!(f, "at byte {offset}: option {name} given twice")
            }
            Self::MissingArgument { name, offset } => {
                write!(f, "at byte {offset}: option {name} needs an argument")
            }
            Self::BadGppLetter {
                name,
                found,
                offset,
            } => write!(
                f,
                "at byte {offset}: option {name} takes a letter a..p, not {found:?}"
            ),
            Self::BadEscape { offset } => write!(
                f,
                "at byte {offset}: octal escape is not a printable ASCII character"
            ),
            Self::MissingUrl { offset } => {
                write!(f, "at byte {offset}: options must be followed by a URL")
            }
            Self::UnknownScheme { scheme, offset } => write!(
                f,
                "at byte {offset}: scheme {scheme:?} is not allowed; allowed: tftp, http, https"
            ),
            Self::RelativePath { offset } => {
                write!(f, "at byte {offset}: the URL's path must be absolute")
            }
            Self::BadPort { port, offset } => write!(f, "at byte {offset}: bad port {port:?}"),
            Self::BadHost { host, offset } => write!(f, "at byte {offset}: bad server {host:?}"),
        }
    }
}

impl std::error::Error for RuleError {}

/// A URL that macro expansion made unusable, or one mppd does not fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ExpandError {
    /// `gds://` (Cisco activation-code onboarding): mppd contacts no vendor service.
    UnsupportedScheme {
        /// The scheme.
        scheme: Scheme,
    },
    /// The expanded server is empty or not a host name or IP literal.
    BadHost {
        /// The expanded server.
        host: String,
    },
    /// The expanded path holds a space or a control character.
    BadPath {
        /// The expanded path.
        path: String,
    },
}

impl fmt::Display for ExpandError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::UnsupportedScheme { scheme } => write!(
                f,
                "scheme {scheme}:// (activation onboarding) is not supported by mppd"
            ),
            Self::BadHost { host } => write!(f, "expanded server {host:?} is not a host"),
            Self::BadPath { path } => write!(
                f,
                "expanded path {path:?} holds a space or a control character"
            ),
        }
    }
}

impl std::error::Error for ExpandError {}

/// A condition whose expanded operands cannot be compared.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EvalError {
    /// An ordering operator between operands that are not both integers or both versions.
    NotComparable {
        /// The expanded left operand.
        left: String,
        /// The operator.
        op: CmpOp,
        /// The expanded right operand.
        right: String,
    },
}

impl fmt::Display for EvalError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotComparable { left, op, right } => write!(
                f,
                "cannot compare {left:?} {op} {right:?}: not both numbers or both versions"
            ),
        }
    }
}

impl std::error::Error for EvalError {}

/// An expanded URL, ready to fetch (the server may still be missing: DHCP supplies it).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Url {
    /// The scheme (never `gds`).
    pub scheme: Scheme,
    /// The server (IPv6 without brackets); `None` means the DHCP-supplied server.
    pub host: Option<String>,
    /// The port when written.
    pub port: Option<u16>,
    /// The path from its leading `/`, with any query (empty only for a DHCP-supplied URL
    /// given without a path, `scheme://host[:port]`).
    pub path: String,
}

impl Url {
    /// The port to connect to: the written one, else the scheme's default.
    pub fn effective_port(&self) -> u16 {
        self.port
            .or_else(|| self.scheme.default_port())
            .unwrap_or(0)
    }
}

/// `scheme://host[:port]path` (IPv6 in brackets); with no server the authority is empty
/// (`tftp:///x`).
impl fmt::Display for Url {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}://", self.scheme)?;
        if let Some(host) = &self.host {
            if host.contains(':') {
                write!(f, "[{host}]")?;
            } else {
                f.write_str(host)?;
            }
        }
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(&self.path)
    }
}

/// The options of a target after macro expansion.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct ExpandedOptions {
    /// `--key`.
    pub key: Option<String>,
    /// `--uid`.
    pub uid: Option<String>,
    /// `--pwd`.
    pub pwd: Option<String>,
    /// `--post`.
    pub post: Option<GppLetter>,
    /// `--alias`.
    pub alias: Option<GppLetter>,
    /// `--srv`.
    pub srv: bool,
    /// `--delta`.
    pub delta: bool,
    /// `--status`.
    pub status: bool,
}

/// Masks `key` and `pwd`.
impl fmt::Debug for ExpandedOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mask = |a: &Option<String>| a.as_ref().map(|_| "***");
        f.debug_struct("ExpandedOptions")
            .field("key", &mask(&self.key))
            .field("uid", &self.uid)
            .field("pwd", &mask(&self.pwd))
            .field("post", &self.post)
            .field("alias", &self.alias)
            .field("srv", &self.srv)
            .field("delta", &self.delta)
            .field("status", &self.status)
            .finish()
    }
}

/// One request an alternative makes: the expanded URL and options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    /// The URL.
    pub url: Url,
    /// The options.
    pub options: ExpandedOptions,
}

/// Parses `rule` and drops the result: the full syntax check of a rule value, for
/// `config validate`.
pub fn check(rule: &str) -> Result<(), RuleError> {
    Rule::parse(rule).map(drop)
}

impl Rule {
    /// Parses a rule as written (see the module documentation). White space alone is the
    /// empty rule.
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        let mut p = Cursor::new(text, 0, text.len());
        let mut alternatives: Vec<Alternative> = Vec::new();
        p.skip_ws();
        if p.at_end() {
            return Ok(Self::default());
        }
        loop {
            p.skip_ws();
            let start = p.pos;
            let alt = p.alternative()?;
            if alt.condition.is_none() && alt.assignments.is_empty() && alt.url.is_none() {
                return Err(RuleError::EmptyAlternative { offset: start });
            }
            let unconditional = alt.condition.is_none();
            alternatives.push(alt);
            if p.eat(b'|') {
                if unconditional {
                    return Err(RuleError::UnconditionalAlternative {
                        index: alternatives.len() - 1,
                        offset: start,
                    });
                }
            } else {
                break;
            }
        }
        Ok(Self { alternatives })
    }

    /// Whether the rule has no alternative (it is skipped).
    pub fn is_empty(&self) -> bool {
        self.alternatives.is_empty()
    }

    /// The alternative evaluation takes: the first whose condition is true or that has none;
    /// `None` when no condition holds (the rule is skipped).
    pub fn select(&self, ctx: &MacroContext<'_>) -> Result<Option<&Alternative>, EvalError> {
        for alt in &self.alternatives {
            match &alt.condition {
                None => return Ok(Some(alt)),
                Some(c) if c.eval(ctx)? => return Ok(Some(alt)),
                Some(_) => {}
            }
        }
        Ok(None)
    }
}

impl Alternative {
    /// The targets, first ([`Self::options`], [`Self::url`]) then [`Self::more`].
    pub fn targets(&self) -> impl Iterator<Item = (&Options, &RuleUrl)> {
        self.url
            .iter()
            .map(|u| (&self.options, u))
            .chain(self.more.iter().map(|t| (&t.options, &t.url)))
    }

    /// The expanded assignments, in order.
    pub fn expand_assignments(&self, ctx: &MacroContext<'_>) -> Vec<(String, String)> {
        self.assignments.iter().map(|a| a.expand(ctx)).collect()
    }

    /// The requests of the alternative with macros expanded.
    pub fn expand(&self, ctx: &MacroContext<'_>) -> Result<Vec<Request>, ExpandError> {
        self.targets()
            .map(|(options, url)| {
                Ok(Request {
                    url: url.expand(ctx)?,
                    options: options.expand(ctx),
                })
            })
            .collect()
    }
}

impl RuleUrl {
    /// Expands the macros of the server and the path ([`MacroScope::Text`]) and checks the
    /// result: the server must be a host name or an IP literal, the path free of spaces and
    /// control characters. `gds://` is refused.
    pub fn expand(&self, ctx: &MacroContext<'_>) -> Result<Url, ExpandError> {
        if self.scheme == Scheme::Gds {
            return Err(ExpandError::UnsupportedScheme {
                scheme: self.scheme,
            });
        }
        let host = match &self.host {
            None => None,
            Some(h) => {
                let e = expand(h, ctx, MacroScope::Text);
                let bare = e
                    .strip_prefix('[')
                    .and_then(|r| r.strip_suffix(']'))
                    .unwrap_or(&e);
                if bare.parse::<IpAddr>().is_ok() {
                    Some(bare.to_owned())
                } else if !e.is_empty()
                    && e.bytes()
                        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_'))
                {
                    Some(e)
                } else {
                    return Err(ExpandError::BadHost { host: e });
                }
            }
        };
        let path = expand(&self.path, ctx, MacroScope::Text);
        if !path.starts_with('/') || path.chars().any(|c| c == ' ' || c.is_control()) {
            return Err(ExpandError::BadPath { path });
        }
        Ok(Url {
            scheme: self.scheme,
            host,
            port: self.port,
            path,
        })
    }
}

impl Options {
    /// Expands the arguments ([`MacroScope::RuleOption`]: `$SA`..`$SD` expand here) and
    /// decodes the octal escapes of unquoted ones.
    pub fn expand(&self, ctx: &MacroContext<'_>) -> ExpandedOptions {
        let arg = |a: &Option<OptionArg>| a.as_ref().map(|a| a.expand(ctx));
        ExpandedOptions {
            key: arg(&self.key),
            uid: arg(&self.uid),
            pwd: arg(&self.pwd),
            post: self.post,
            alias: self.alias,
            srv: self.srv,
            delta: self.delta,
            status: self.status,
        }
    }
}

impl OptionArg {
    /// The argument with macros expanded ([`MacroScope::RuleOption`]) and, when unquoted,
    /// `\ooo` escapes decoded (after expansion of the text around them).
    pub fn expand(&self, ctx: &MacroContext<'_>) -> String {
        if self.quoted {
            return expand(&self.text, ctx, MacroScope::RuleOption);
        }
        let mut out = String::with_capacity(self.text.len());
        let mut rest = self.text.as_str();
        while let Some((before, c, after)) = next_escape(rest) {
            out.push_str(&expand(before, ctx, MacroScope::RuleOption));
            out.push(c);
            rest = after;
        }
        out.push_str(&expand(rest, ctx, MacroScope::RuleOption));
        out
    }
}

/// The first `\ooo` escape of `s`: the text before it, its character (any value 0..=255 is
/// returned; the parser has already refused the ones that are not printable ASCII) and the
/// text after it.
fn next_escape(s: &str) -> Option<(&str, char, &str)> {
    let b = s.as_bytes();
    let mut from = 0;
    while let Some(i) = b.get(from..)?.iter().position(|&c| c == b'\\') {
        let at = from + i;
        if let Some(digits @ [d0, d1, d2]) = b.get(at + 1..at + 4)
            && digits.iter().all(|d| (b'0'..=b'7').contains(d))
        {
            let v = u32::from(d0 - b'0') * 64 + u32::from(d1 - b'0') * 8 + u32::from(d2 - b'0');
            let c = char::from_u32(v)?;
            return Some((s.get(..at)?, c, s.get(at + 4..)?));
        }
        from = at + 1;
    }
    None
}

impl Condition {
    /// Parses a bare condition expression (`$UPGTMR gt 300 and $PRVTMR ge 600`, the form of
    /// `Resync_Trigger_*`, or the inside of a rule's `( )?`). Offsets in errors are relative
    /// to `text`.
    pub fn parse(text: &str) -> Result<Self, RuleError> {
        let mut p = Cursor::new(text, 0, text.len());
        p.condition()
    }

    /// Evaluates the condition: each operand is expanded ([`MacroScope::Text`]), then
    /// compared. Two integers compare as numbers; two version literals as versions
    /// ([`Version`]); otherwise `eq`/`ne` compare the text exactly and the ordering operators
    /// fail. Quoted operands are always text.
    pub fn eval(&self, ctx: &MacroContext<'_>) -> Result<bool, EvalError> {
        for term in &self.terms {
            let left = expand(&term.left.text, ctx, MacroScope::Text);
            let right = expand(&term.right.text, ctx, MacroScope::Text);
            let quoted = term.left.quoted || term.right.quoted;
            let ord = if quoted {
                None
            } else if let (Ok(a), Ok(b)) = (left.trim().parse::<i64>(), right.trim().parse::<i64>())
            {
                Some(a.cmp(&b))
            } else if let (Some(a), Some(b)) = (Version::parse(&left), Version::parse(&right)) {
                Some(a.cmp(&b))
            } else {
                None
            };
            let holds = match (ord, term.op) {
                (Some(ord), op) => op.holds(ord),
                (None, CmpOp::Eq) => left == right,
                (None, CmpOp::Ne) => left != right,
                (None, op) => return Err(EvalError::NotComparable { left, op, right }),
            };
            if !holds {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// A cursor over `s[pos..end]`. Every position it stops at is either `end` or the position of
/// an ASCII byte, so every slice it takes is on char boundaries; slices go through
/// [`Cursor::slice`] anyway, which cannot panic.
struct Cursor<'a> {
    s: &'a str,
    pos: usize,
    end: usize,
}

/// A token of a condition.
enum Tok {
    Operand(Operand),
    Op(CmpOp),
    And,
}

impl<'a> Cursor<'a> {
    const fn new(s: &'a str, pos: usize, end: usize) -> Self {
        Self { s, pos, end }
    }

    fn peek(&self) -> Option<u8> {
        if self.pos < self.end {
            self.s.as_bytes().get(self.pos).copied()
        } else {
            None
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.end
    }

    fn eat(&mut self, b: u8) -> bool {
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(|b| b.is_ascii_whitespace()) {
            self.pos += 1;
        }
    }

    fn slice(&self, from: usize, to: usize) -> &'a str {
        self.s.get(from..to).unwrap_or_default()
    }

    fn found(&self) -> Option<char> {
        if self.at_end() {
            return None;
        }
        self.s.get(self.pos..).and_then(|r| r.chars().next())
    }

    fn expected(&self, expected: &'static str) -> RuleError {
        RuleError::Expected {
            expected,
            found: self.found(),
            offset: self.pos,
        }
    }

    /// Advances while `keep` holds for the byte; returns the slice passed. `keep` must be
    /// false for every byte of a char boundary concern: it is only ever given ASCII tests,
    /// and non-ASCII bytes are kept whole.
    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> (usize, &'a str) {
        let start = self.pos;
        while self.peek().is_some_and(|b| !b.is_ascii() || keep(b)) {
            self.pos += 1;
        }
        (start, self.slice(start, self.pos))
    }

    /// At `open`: finds the matching `close` (nesting `open`/`close` when `nest`), skipping
    /// double-quoted text. Returns the position of `close`; leaves the cursor unchanged.
    fn group_end(&self, open: u8, close: u8, nest: bool) -> Result<usize, RuleError> {
        let bytes = self.s.as_bytes();
        let mut depth = 0usize;
        let mut i = self.pos;
        let mut quote_at = None;
        while i < self.end {
            let b = bytes.get(i).copied().unwrap_or(0);
            if let Some(_q) = quote_at {
                if b == b'"' {
                    quote_at = None;
                }
            } else if b == b'"' {
                quote_at = Some(i);
            } else if b == open && (nest || depth == 0) {
                depth += 1;
            } else if b == close {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Ok(i);
                }
            }
            i += 1;
        }
        Err(match quote_at {
            Some(offset) => RuleError::Unclosed { open: '"', offset },
            None => RuleError::Unclosed {
                open: char::from(open),
                offset: self.pos,
            },
        })
    }

    fn alternative(&mut self) -> Result<Alternative, RuleError> {
        let mut alt = Alternative::default();
        self.skip_ws();
        while self.peek() == Some(b'(') {
            let open = self.pos;
            let close = self.group_end(b'(', b')', true)?;
            let mut inner = Cursor::new(self.s, open + 1, close);
            self.pos = close + 1;
            if self.eat(b'?') {
                if alt.condition.is_some() || !alt.assignments.is_empty() {
                    return Err(RuleError::MisplacedCondition { offset: open });
                }
                alt.condition = Some(inner.condition()?);
            } else if self.eat(b'!') {
                alt.assignments.extend(inner.assignments()?);
            } else {
                return Err(self.expected("'?' (condition) or '!' (assignment) after ')'"));
            }
            self.skip_ws();
        }
        let mut first = true;
        loop {
            self.skip_ws();
            if self.at_end() || self.peek() == Some(b'|') {
                break;
            }
            let (options, had_options) = if self.peek() == Some(b'[') {
                let close = self.group_end(b'[', b']', false)?;
                let mut inner = Cursor::new(self.s, self.pos + 1, close);
                self.pos = close + 1;
                (inner.options()?, true)
            } else {
                (Options::default(), false)
            };
            self.skip_ws();
            if self.at_end() || self.peek() == Some(b'|') {
                if had_options {
                    return Err(RuleError::MissingUrl { offset: self.pos });
                }
                break;
            }
            let (offset, token) = self.take_while(|b| !b.is_ascii_whitespace() && b != b'|');
            let url = parse_url(token, offset)?;
            if first {
                alt.options = options;
                alt.url = Some(url);
                first = false;
            } else {
                alt.more.push(Target { options, url });
            }
        }
        Ok(alt)
    }

    fn options(&mut self) -> Result<Options, RuleError> {
        let mut o = Options::default();
        loop {
            self.skip_ws();
            if self.at_end() {
                return Ok(o);
            }
            let (offset, word) = self.take_while(|b| !b.is_ascii_whitespace() && b != b'"');
            if word.is_empty() {
                return Err(self.expected("an option (--key, --uid, ...)"));
            }
            match word {
                "--key" | "--uid" | "--pwd" => {
                    let (name, slot) = match word {
                        "--key" => ("--key", &mut o.key),
                        "--uid" => ("--uid", &mut o.uid),
                        _ => ("--pwd", &mut o.pwd),
                    };
                    if slot.is_some() {
                        return Err(RuleError::DuplicateOption { name, offset });
                    }
                    *slot = Some(self.option_arg(name, offset)?);
                }
                "--post" | "--alias" => {
                    let (name, slot) = if word == "--post" {
                        ("--post", &mut o.post)
                    } else {
                        ("--alias", &mut o.alias)
                    };
                    if slot.is_some() {
                        return Err(RuleError::DuplicateOption { name, offset });
                    }
                    let arg = self.option_arg(name, offset)?;
                    *slot = Some(GppLetter::parse(&arg.text).ok_or(RuleError::BadGppLetter {
                        name,
                        found: arg.text,
                        offset: arg.offset,
                    })?);
                }
                "--srv" | "--delta" | "--status" => {
                    let (name, flag) = match word {
                        "--srv" => ("--srv", &mut o.srv),
                        "--delta" => ("--delta", &mut o.delta),
                        _ => ("--status", &mut o.status),
                    };
                    if *flag {
                        return Err(RuleError::DuplicateOption { name, offset });
                    }
                    *flag = true;
                }
                other if other.starts_with("--") => {
                    return Err(RuleError::UnknownOption {
                        name: other.to_owned(),
                        offset,
                    });
                }
                _ => {
                    self.pos = offset;
                    return Err(self.expected("an option (--key, --uid, ...)"));
                }
            }
        }
    }

    fn option_arg(&mut self, name: &'static str, at: usize) -> Result<OptionArg, RuleError> {
        self.skip_ws();
        let missing = RuleError::MissingArgument { name, offset: at };
        if self.at_end() {
            return Err(missing);
        }
        if self.peek() == Some(b'"') {
            let (offset, text) = self.quoted()?;
            return Ok(OptionArg {
                text: text.to_owned(),
                quoted: true,
                offset,
            });
        }
        let (offset, text) = self.take_while(|b| !b.is_ascii_whitespace());
        if text.starts_with("--") {
            return Err(missing);
        }
        check_escapes(text, offset)?;
        Ok(OptionArg {
            text: text.to_owned(),
            quoted: false,
            offset,
        })
    }

    /// At `"`: the text up to the closing quote (offset of the opening quote, text).
    fn quoted(&mut self) -> Result<(usize, &'a str), RuleError> {
        let open = self.pos;
        self.pos += 1;
        let (_, text) = self.take_while(|b| b != b'"');
        if !self.eat(b'"') {
            return Err(RuleError::Unclosed {
                open: '"',
                offset: open,
            });
        }
        Ok((open, text))
    }

    fn condition(&mut self) -> Result<Condition, RuleError> {
        let mut terms = Vec::new();
        loop {
            let left = self.operand()?;
            self.skip_ws();
            let op_at = self.pos;
            let Some(Tok::Op(op)) = self.token()? else {
                self.pos = op_at;
                return Err(self.expected("a comparison operator (eq, ne, lt, le, gt, ge)"));
            };
            let right = self.operand()?;
            if (left.quoted || right.quoted) && !matches!(op, CmpOp::Eq | CmpOp::Ne) {
                return Err(RuleError::StringOrdering { op, offset: op_at });
            }
            terms.push(Comparison { left, op, right });
            self.skip_ws();
            if self.at_end() {
                return Ok(Condition { terms });
            }
            let and_at = self.pos;
            if !matches!(self.token()?, Some(Tok::And)) {
                self.pos = and_at;
                return Err(self.expected("AND or the end of the condition"));
            }
        }
    }

    fn operand(&mut self) -> Result<Operand, RuleError> {
        self.skip_ws();
        let at = self.pos;
        match self.token()? {
            Some(Tok::Operand(o)) => Ok(o),
            _ => {
                self.pos = at;
                Err(self.expected("an operand"))
            }
        }
    }

    fn token(&mut self) -> Result<Option<Tok>, RuleError> {
        self.skip_ws();
        let Some(b) = self.peek() else {
            return Ok(None);
        };
        let two = |c: &mut Self, short: CmpOp, long: CmpOp| {
            c.pos += 1;
            if c.eat(b'=') { long } else { short }
        };
        Ok(Some(match b {
            b'"' => {
                let (_, text) = self.quoted()?;
                Tok::Operand(Operand {
                    text: text.to_owned(),
                    quoted: true,
                })
            }
            b'=' => Tok::Op(two(self, CmpOp::Eq, CmpOp::Eq)),
            b'<' => Tok::Op(two(self, CmpOp::Lt, CmpOp::Le)),
            b'>' => Tok::Op(two(self, CmpOp::Gt, CmpOp::Ge)),
            b'!' => {
                self.pos += 1;
                if !self.eat(b'=') {
                    return Err(self.expected("'=' after '!'"));
                }
                Tok::Op(CmpOp::Ne)
            }
            _ => {
                let (_, word) = self.take_while(|b| {
                    !b.is_ascii_whitespace() && !matches!(b, b'"' | b'=' | b'!' | b'<' | b'>')
                });
                if let Some(op) = CmpOp::from_word(word) {
                    Tok::Op(op)
                } else if word.eq_ignore_ascii_case("and") {
                    Tok::And
                } else {
                    Tok::Operand(Operand {
                        text: word.to_owned(),
                        quoted: false,
                    })
                }
            }
        }))
    }

    fn assignments(&mut self) -> Result<Vec<Assignment>, RuleError> {
        let mut out = Vec::new();
        loop {
            self.skip_ws();
            if self.at_end() {
                if out.is_empty() {
                    return Err(self.expected("a parameter name"));
                }
                return Ok(out);
            }
            let (offset, name) = self.take_while(|b| {
                b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.' | b'[' | b']')
            });
            if name.is_empty() {
                return Err(self.expected("a parameter name"));
            }
            self.skip_ws();
            if !self.eat(b'=') {
                return Err(self.expected("'='"));
            }
            self.skip_ws();
            let value = if self.peek() == Some(b'"') {
                self.quoted()?.1
            } else {
                self.take_while(|b| !b.is_ascii_whitespace() && b != b';').1
            };
            out.push(Assignment {
                name: name.to_owned(),
                value: value.to_owned(),
                offset,
            });
            self.skip_ws();
            if !self.eat(b';') && !self.at_end() {
                return Err(self.expected("';'"));
            }
        }
    }
}

/// Refuses `\ooo` escapes that are not printable ASCII.
fn check_escapes(text: &str, offset: usize) -> Result<(), RuleError> {
    let mut rest = text;
    let mut consumed = 0;
    while let Some((before, c, after)) = next_escape(rest) {
        if !(c.is_ascii_graphic() || c == ' ') {
            return Err(RuleError::BadEscape {
                offset: offset + consumed + before.len(),
            });
        }
        consumed += before.len() + 4;
        rest = after;
    }
    Ok(())
}

/// Parses one URL token (no white space, no `|`) found at `offset`.
fn parse_url(token: &str, offset: usize) -> Result<RuleUrl, RuleError> {
    let scheme_part = token.find("://").and_then(|i| {
        let name = token.get(..i)?;
        let is_scheme = !name.is_empty()
            && name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
        is_scheme.then(|| (name, token.get(i + 3..).unwrap_or_default()))
    });
    let (scheme, explicit, rest) = match scheme_part {
        Some((name, rest)) => match Scheme::parse(name) {
            Some(s) => (s, true, rest),
            None => {
                return Err(RuleError::UnknownScheme {
                    scheme: name.to_owned(),
                    offset,
                });
            }
        },
        None => (Scheme::Tftp, false, token),
    };
    let url = |host, port, path: &str| RuleUrl {
        scheme,
        scheme_explicit: explicit,
        host,
        port,
        path: path.to_owned(),
        offset,
    };
    if scheme == Scheme::Gds {
        return Ok(url(None, None, rest));
    }
    if rest.starts_with('/') {
        return Ok(url(None, None, rest));
    }
    let auth_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = rest.get(..auth_end).unwrap_or_default();
    let path = match rest.get(auth_end..).unwrap_or_default() {
        "" if explicit => "/".to_owned(),
        "" => return Err(RuleError::RelativePath { offset }),
        p if p.starts_with('?') => format!("/{p}"),
        p => p.to_owned(),
    };
    let bad_host = || RuleError::BadHost {
        host: authority.to_owned(),
        offset,
    };
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (addr, after) = v6.split_once(']').ok_or_else(bad_host)?;
        if addr.parse::<std::net::Ipv6Addr>().is_err() {
            return Err(bad_host());
        }
        let port = match after {
            "" => None,
            p => Some(p.strip_prefix(':').ok_or_else(bad_host)?),
        };
        (addr, port)
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) if !p.contains(')') => (h, Some(p)),
            _ => (authority, None),
        }
    };
    let port =
        match port {
            None => None,
            Some(p) => Some(p.parse::<u16>().ok().filter(|&n| n != 0).ok_or_else(|| {
                RuleError::BadPort {
                    port: p.to_owned(),
                    offset,
                }
            })?),
        };
    let host_ok = host.bytes().all(|b| {
        b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'$' | b'(' | b')' | b':')
    });
    if !host_ok || (host.is_empty() && port.is_some()) {
        return Err(bad_host());
    }
    let host = (!host.is_empty()).then(|| host.to_owned());
    Ok(url(host, port, &path))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::identity::{DeviceIdentity, Mac};

    fn identity() -> DeviceIdentity {
        DeviceIdentity {
            mac: Some(Mac::new([0x00, 0x12, 0x34, 0xab, 0x45, 0xde])),
            serial: Some("88012BA01234".into()),
            product_name: Some("CP-8851-3PCC".into()),
            firmware_version: Some("sip8851.11-3-2MPP0001-609".into()),
            ..DeviceIdentity::default()
        }
    }

    fn one(rule: &str) -> Alternative {
        let r = Rule::parse(rule).unwrap();
        assert_eq!(r.alternatives.len(), 1, "{rule}");
        r.alternatives.into_iter().next().unwrap()
    }

    fn arg(text: &str, quoted: bool, offset: usize) -> Option<OptionArg> {
        Some(OptionArg {
            text: text.into(),
            quoted,
            offset,
        })
    }

    #[test]
    fn empty_rule() {
        assert!(Rule::parse("").unwrap().is_empty());
        assert!(Rule::parse("  \t").unwrap().is_empty());
        assert_eq!(check(""), Ok(()));
    }

    #[test]
    fn factory_default() {
        let a = one("/$PSN.xml");
        let u = a.url.unwrap();
        assert_eq!(u.scheme, Scheme::Tftp);
        assert!(!u.scheme_explicit);
        assert_eq!(u.host, None);
        assert_eq!(u.path, "/$PSN.xml");
        assert_eq!(a.condition, None);
    }

    #[test]
    fn doc_urls() {
        type Case<'a> = (&'a str, Scheme, Option<&'a str>, Option<u16>, &'a str);
        let cases: &[Case<'_>] = &[
            ("/$MA.cfg", Scheme::Tftp, None, None, "/$MA.cfg"),
            ("/cisco/cfg.xml", Scheme::Tftp, None, None, "/cisco/cfg.xml"),
            (
                "192.168.1.130/profiles/init.cfg",
                Scheme::Tftp,
                Some("192.168.1.130"),
                None,
                "/profiles/init.cfg",
            ),
            (
                "tftp://prov.call.com/cpe/cisco$MA.cfg",
                Scheme::Tftp,
                Some("prov.call.com"),
                None,
                "/cpe/cisco$MA.cfg",
            ),
            (
                "http://neptune.speak.net:8080/prov/$D/$E.cfg",
                Scheme::Http,
                Some("neptune.speak.net"),
                Some(8080),
                "/prov/$D/$E.cfg",
            ),
            (
                "https://secure.me.com/profile?Linksys",
                Scheme::Https,
                Some("secure.me.com"),
                None,
                "/profile?Linksys",
            ),
            ("HTTP://h", Scheme::Http, Some("h"), None, "/"),
            (
                "http://[2001:db8::1]:8443/x",
                Scheme::Http,
                Some("2001:db8::1"),
                Some(8443),
                "/x",
            ),
            ("http:///x.xml", Scheme::Http, None, None, "/x.xml"),
        ];
        for &(text, scheme, host, port, path) in cases {
            let u = one(text).url.unwrap();
            assert_eq!(
                (u.scheme, u.host.as_deref(), u.port, u.path.as_str()),
                (scheme, host, port, path),
                "{text}"
            );
        }
        assert_eq!(Scheme::Tftp.default_port(), Some(69));
        assert_eq!(Scheme::Http.default_port(), Some(80));
        assert_eq!(Scheme::Https.default_port(), Some(443));
    }

    #[test]
    fn url_errors() {
        assert_eq!(
            Rule::parse("ftp://h/x"),
            Err(RuleError::UnknownScheme {
                scheme: "ftp".into(),
                offset: 0
            })
        );
        assert_eq!(
            Rule::parse("  $MA.cfg"),
            Err(RuleError::RelativePath { offset: 2 })
        );
        assert_eq!(
            Rule::parse("http://h:99999/x"),
            Err(RuleError::BadPort {
                port: "99999".into(),
                offset: 0
            })
        );
        assert!(matches!(
            Rule::parse("http://user@h/x"),
            Err(RuleError::BadHost { .. })
        ));
        assert!(matches!(
            Rule::parse("http://:80/x"),
            Err(RuleError::BadHost { .. })
        ));
        // A query holding "://" is not a scheme.
        let u = one("/a?u=http://x").url.unwrap();
        assert_eq!((u.host, u.path.as_str()), (None, "/a?u=http://x"));
    }

    #[test]
    fn key_options() {
        let a = one("[--key VerySecretValue] http://h/x.cfg");
        assert_eq!(a.options.key, arg("VerySecretValue", false, 7));
        let a = one("[--key \"my secret phrase\"]tftp://h/x.cfg");
        assert_eq!(a.options.key, arg("my secret phrase", true, 7));
        let a = one("[--key a37d2fb9055c1d04883a0745eb0917a4]/x");
        assert_eq!(
            a.options.key.unwrap().text,
            "a37d2fb9055c1d04883a0745eb0917a4"
        );
        // The masked Debug never shows the key.
        let a = one("[--key hunter2 --pwd p4ss --uid bob]/x");
        let dbg = format!("{:?}", a.options);
        assert!(!dbg.contains("hunter2") && !dbg.contains("p4ss") && dbg.contains("bob"));
    }

    #[test]
    fn uid_pwd_and_secret_macros() {
        let a = one("[--uid $SA --pwd $SB] https://prov.example/$MA.xml");
        let id = identity();
        let mut ctx = MacroContext::new(&id);
        ctx.gpp_secret = ["alice", "s3cr$t", "", ""];
        ctx.gpp[0] = "gpp-a";
        let reqs = a.expand(&ctx).unwrap();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].options.uid.as_deref(), Some("alice"));
        assert_eq!(reqs[0].options.pwd.as_deref(), Some("s3cr$t"));
        assert_eq!(
            reqs[0].url.to_string(),
            "https://prov.example/001234ab45de.xml"
        );
        // $SA stays as written outside options.
        let a = one("https://prov.example/$SA/$A.xml");
        assert_eq!(a.expand(&ctx).unwrap()[0].url.path, "/$SA/gpp-a.xml");
    }

    #[test]
    fn octal_escapes() {
        let a = one("[--uid TEST --pwd Test\\043\\057AbC123]tftp://prov.example/x.cfg");
        let id = identity();
        let ctx = MacroContext::new(&id);
        let e = a.options.expand(&ctx);
        assert_eq!(e.uid.as_deref(), Some("TEST"));
        assert_eq!(e.pwd.as_deref(), Some("Test#/AbC123"));
        assert_eq!(e.key, None);
        // Backslash is \134; quoted arguments are literal; escapes never make macros.
        let a = one("[--pwd a\\134b --key \"x\\043\" --uid \\044SA]/x");
        let mut ctx = MacroContext::new(&id);
        ctx.gpp_secret[0] = "SECRET";
        let e = a.options.expand(&ctx);
        assert_eq!(e.pwd.as_deref(), Some("a\\b"));
        assert_eq!(e.key.as_deref(), Some("x\\043"));
        assert_eq!(e.uid.as_deref(), Some("$SA"));
        assert_eq!(
            Rule::parse("[--pwd ab\\000]/x"),
            Err(RuleError::BadEscape { offset: 9 })
        );
        assert_eq!(
            Rule::parse("[--pwd \\377]/x"),
            Err(RuleError::BadEscape { offset: 7 })
        );
        // Not three octal digits: literal.
        let e = one("[--pwd a\\9b\\04]/x").options.expand(&ctx);
        assert_eq!(e.pwd.as_deref(), Some("a\\9b\\04"));
    }

    #[test]
    fn report_rule_two_targets() {
        let a = one("[--delta]http://a/d.xml [--status]http://a/s.xml");
        assert!(a.options.delta && !a.options.status);
        assert_eq!(a.url.as_ref().unwrap().path, "/d.xml");
        assert_eq!(a.more.len(), 1);
        assert!(a.more[0].options.status && !a.more[0].options.delta);
        assert_eq!(a.more[0].url.path, "/s.xml");
        assert_eq!(a.targets().count(), 2);
        let a = one("[--delta --key k]http://a/d.xml");
        assert!(a.options.delta);
        assert_eq!(a.options.key.unwrap().text, "k");
    }

    #[test]
    fn other_options() {
        let a = one("[--post a] http://p.tel.com/lost-reg?");
        assert_eq!(a.options.post.map(GppLetter::letter), Some('a'));
        assert_eq!(a.options.post.map(GppLetter::index), Some(0));
        let a = one("[--alias b] https://h/x");
        assert_eq!(a.options.alias.map(GppLetter::letter), Some('b'));
        let a = one("[--srv] https://example.com/$PSN.xml");
        assert!(a.options.srv);
        assert_eq!(
            Rule::parse("[--post q]/x"),
            Err(RuleError::BadGppLetter {
                name: "--post",
                found: "q".into(),
                offset: 8
            })
        );
        assert_eq!(
            Rule::parse("[--bogus x]http://h/"),
            Err(RuleError::UnknownOption {
                name: "--bogus".into(),
                offset: 1
            })
        );
        assert_eq!(
            Rule::parse("[--key]http://h/"),
            Err(RuleError::MissingArgument {
                name: "--key",
                offset: 1
            })
        );
        assert_eq!(
            Rule::parse("[--uid --pwd x]/x"),
            Err(RuleError::MissingArgument {
                name: "--uid",
                offset: 1
            })
        );
        assert_eq!(
            Rule::parse("[--srv --srv]/x"),
            Err(RuleError::DuplicateOption {
                name: "--srv",
                offset: 7
            })
        );
        assert_eq!(
            Rule::parse("[--key x http://h/"),
            Err(RuleError::Unclosed {
                open: '[',
                offset: 0
            })
        );
        assert_eq!(
            Rule::parse("[--key \"x]http://h/"),
            Err(RuleError::Unclosed {
                open: '"',
                offset: 7
            })
        );
        assert_eq!(
            Rule::parse("[--key x]"),
            Err(RuleError::MissingUrl { offset: 9 })
        );
        assert!(matches!(
            Rule::parse("[key x]/x"),
            Err(RuleError::Expected { offset: 1, .. })
        ));
    }

    #[test]
    fn alternatives_and_conditions() {
        let r = Rule::parse("(\"$CCERT\" eq \"Installed\")? https://a/x | http://b/y").unwrap();
        assert_eq!(r.alternatives.len(), 2);
        let c = r.alternatives[0].condition.as_ref().unwrap();
        assert_eq!(
            c.terms,
            [Comparison {
                left: Operand {
                    text: "$CCERT".into(),
                    quoted: true
                },
                op: CmpOp::Eq,
                right: Operand {
                    text: "Installed".into(),
                    quoted: true
                },
            }]
        );
        let mut id = identity();
        let ctx = MacroContext::new(&id);
        let chosen = r.select(&ctx).unwrap().unwrap();
        assert_eq!(chosen.url.as_ref().unwrap().host.as_deref(), Some("b"));
        id.cert_installed = true;
        let ctx = MacroContext::new(&id);
        let chosen = r.select(&ctx).unwrap().unwrap();
        assert_eq!(
            chosen.expand(&ctx).unwrap()[0].url.to_string(),
            "https://a/x"
        );
    }

    #[test]
    fn unconditional_alternative_must_be_last() {
        assert_eq!(
            Rule::parse("http://a/x | http://b/y"),
            Err(RuleError::UnconditionalAlternative {
                index: 0,
                offset: 0
            })
        );
        assert_eq!(
            Rule::parse("($A eq 1)? /x |"),
            Err(RuleError::EmptyAlternative { offset: 15 })
        );
        assert_eq!(
            Rule::parse("($A eq 1)? /x || /y"),
            Err(RuleError::EmptyAlternative { offset: 15 })
        );
        // No alternative matches: skipped.
        let r = Rule::parse("($A eq 1)? /x | ($A eq 2)? /y").unwrap();
        let id = identity();
        assert_eq!(r.select(&MacroContext::new(&id)), Ok(None));
    }

    #[test]
    fn condition_operators_and_versions() {
        let id = identity();
        let mut ctx = MacroContext::new(&id);
        ctx.extra = &[("UPGTMR", "400"), ("PRVTMR", "600")];
        let t = |s: &str| Condition::parse(s).unwrap().eval(&ctx).unwrap();
        assert!(t("$UPGTMR gt 300 and $PRVTMR ge 600"));
        assert!(t("$UPGTMR > 300 AND $PRVTMR >= 600"));
        assert!(!t("$UPGTMR gt 300 and $PRVTMR gt 600"));
        assert!(t("$UPGTMR!=300"));
        assert!(t("$UPGTMR=400"));
        assert!(t("$UPGTMR == 400"));
        assert!(t("9 < 10"));
        assert!(t("10 LE 10"));
        assert!(t("$SWVER lt sip8851.11-3-2MPP0001-610"));
        assert!(t("$SWVER ge sip7832.11-3-2MPP0001-609"));
        assert!(t("$SWVER gt sip8851.11-2-9MPP-999"));
        assert!(t("$SWVER lt sip8851.12-0-1MPP-1"));
        assert!(t("$SWVER eq sip8851.11-3-2MPP0001-609"));
        assert!(t("\"$SWVER\" ne \"sip8851.11-3-2\""));
        assert!(t("$(MA:0:6) eq 001234"));
        assert_eq!(
            Version::parse("sip7832.11-3-2MPP0001-609"),
            Some(Version {
                major: 11,
                minor: 3,
                micro: 2,
                build: 609
            })
        );
        assert_eq!(
            Version::parse("sip78xx.11-3-1MSR3-3").map(|v| (v.micro, v.build)),
            Some((1, 3))
        );
        assert_eq!(Version::parse("12.0.1").map(|v| v.major), Some(12));
        assert_eq!(Version::parse("abc"), None);
        assert_eq!(Version::parse("11"), None);
        let c = Condition::parse("abc lt def").unwrap();
        assert_eq!(
            c.eval(&ctx),
            Err(EvalError::NotComparable {
                left: "abc".into(),
                op: CmpOp::Lt,
                right: "def".into()
            })
        );
        assert_eq!(
            Condition::parse("\"a\" lt \"b\""),
            Err(RuleError::StringOrdering {
                op: CmpOp::Lt,
                offset: 4
            })
        );
        for bad in [
            "",
            "a",
            "a eq",
            "eq b",
            "a eq b c",
            "a eq b and",
            "a ! b",
            "\"a eq b",
        ] {
            assert!(Condition::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn condition_group_errors() {
        assert_eq!(
            Rule::parse("($A eq 1) /x"),
            Err(RuleError::Expected {
                expected: "'?' (condition) or '!' (assignment) after ')'",
                found: Some(' '),
                offset: 9
            })
        );
        assert_eq!(
            Rule::parse("($A eq 1 /x"),
            Err(RuleError::Unclosed {
                open: '(',
                offset: 0
            })
        );
        assert_eq!(
            Rule::parse("(A = 1;)! ($A eq 1)? /x"),
            Err(RuleError::MisplacedCondition { offset: 10 })
        );
        // Offsets inside the group are absolute.
        assert!(matches!(
            Rule::parse("/x.cfg | x"),
            Err(RuleError::UnconditionalAlternative { .. })
        ));
        assert_eq!(
            Rule::parse("(\"a\" gt \"b\")? /x"),
            Err(RuleError::StringOrdering {
                op: CmpOp::Gt,
                offset: 5
            })
        );
        // Parens and quotes nest inside the group.
        let a = one("(\"x)|\" eq $(A:0:1))? /y");
        assert_eq!(a.condition.unwrap().terms[0].right.text, "$(A:0:1)");
    }

    #[test]
    fn assignments() {
        let a = one("(Line_Enable_1_ = \"No\";)!");
        assert_eq!(
            a.assignments,
            [Assignment {
                name: "Line_Enable_1_".into(),
                value: "No".into(),
                offset: 1
            }]
        );
        assert_eq!(a.url, None);
        let a = one("($A eq 1)? (GPP_B = \"$MA x\"; Resync_Periodic=60)! http://h/$B.xml");
        let id = identity();
        let mut ctx = MacroContext::new(&id);
        ctx.gpp[0] = "1";
        assert_eq!(
            a.expand_assignments(&ctx),
            [
                ("GPP_B".into(), "001234ab45de x".into()),
                ("Resync_Periodic".into(), "60".into())
            ]
        );
        assert!(Rule::parse("()!").is_err());
        assert!(Rule::parse("(A \"x\";)!").is_err());
        assert!(Rule::parse("(A = x y)!").is_err());
    }

    #[test]
    fn gpp_values_cannot_change_structure() {
        let id = identity();
        let mut ctx = MacroContext::new(&id);
        ctx.gpp[0] = "x|http://evil.example/y [--key z]";
        ctx.gpp_secret[0] = "k] http://evil.example/";
        let r = Rule::parse("[--key $SA] http://prov.example/$A.xml").unwrap();
        assert_eq!(r.alternatives.len(), 1);
        let a = &r.alternatives[0];
        assert_eq!(a.targets().count(), 1);
        // The path holds the value whole, and a space in it is refused rather than split.
        assert_eq!(
            a.expand(&ctx),
            Err(ExpandError::BadPath {
                path: "/x|http://evil.example/y [--key z].xml".into()
            })
        );
        ctx.gpp[0] = "x|http:]";
        let reqs = a.expand(&ctx).unwrap();
        assert_eq!(reqs.len(), 1);
        assert_eq!(reqs[0].url.host.as_deref(), Some("prov.example"));
        assert_eq!(reqs[0].url.path, "/x|http:].xml");
        assert_eq!(
            reqs[0].options.key.as_deref(),
            Some("k] http://evil.example/")
        );
        // A macro in the server cannot smuggle a path, port or user.
        let r = one("http://$B/x");
        for bad in ["evil.example/y", "h:81", "u@h", ""] {
            ctx.gpp[1] = bad;
            assert_eq!(
                r.url.as_ref().unwrap().expand(&ctx),
                Err(ExpandError::BadHost { host: bad.into() })
            );
        }
        ctx.gpp[1] = "prov.example";
        assert_eq!(
            r.url.as_ref().unwrap().expand(&ctx).unwrap().to_string(),
            "http://prov.example/x"
        );
        // A condition operand holding an operator stays one operand.
        ctx.gpp[2] = "1 eq 1";
        let r = Rule::parse("($C eq 2)? /a | /b").unwrap();
        assert_eq!(
            r.select(&ctx).unwrap().unwrap().url.as_ref().unwrap().path,
            "/b"
        );
    }

    #[test]
    fn gds_is_recognised_then_refused() {
        let a = one("gds://");
        let u = a.url.unwrap();
        assert_eq!(u.scheme, Scheme::Gds);
        let id = identity();
        assert_eq!(
            u.expand(&MacroContext::new(&id)),
            Err(ExpandError::UnsupportedScheme {
                scheme: Scheme::Gds
            })
        );
    }

    #[test]
    fn url_display_and_ports() {
        let id = identity();
        let ctx = MacroContext::new(&id);
        let u = one("http://[::1]:8080/x")
            .url
            .unwrap()
            .expand(&ctx)
            .unwrap();
        assert_eq!(u.to_string(), "http://[::1]:8080/x");
        assert_eq!(u.effective_port(), 8080);
        let u = one("/$PSN.xml").url.unwrap().expand(&ctx).unwrap();
        assert_eq!(u.to_string(), "tftp:///8851-3PCC.xml");
        assert_eq!(u.effective_port(), 69);
    }

    #[test]
    fn errors_display() {
        let e = Rule::parse("[--bogus x]/x").unwrap_err();
        assert!(
            e.to_string()
                .starts_with("at byte 1: unknown option --bogus")
        );
        let e = Rule::parse("($A eq 1").unwrap_err();
        assert_eq!(e.to_string(), "at byte 0: unclosed '('");
    }

    /// A small deterministic generator (xorshift64*), so the test needs no dependency.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
        }
        fn below(&mut self, n: usize) -> usize {
            usize::try_from(self.next() % n as u64).unwrap_or(0)
        }
    }

    #[test]
    fn never_panics_on_random_input() {
        const PIECES: &[&str] = &[
            "[",
            "]",
            "(",
            ")",
            "\"",
            "|",
            "?",
            "!",
            "=",
            "<",
            ">",
            " ",
            "-",
            "--",
            "--key ",
            "--uid ",
            "--pwd ",
            "--post ",
            "--alias ",
            "--srv",
            "--delta",
            "--status",
            "$",
            "$(",
            "$SA",
            "$A",
            "\\",
            "\\04",
            "\\043",
            "\\377",
            "/",
            "://",
            "http",
            "https://",
            "tftp://",
            "gds://",
            ":",
            "8080",
            "h.example",
            "[::1]",
            "eq",
            "and",
            "AND",
            "gt",
            ";",
            "a",
            "0",
            "\u{e9}",
            "\u{1F600}",
            "\u{0}",
            "\t",
            "sip7832.11-3-2MPP0001-609",
        ];
        let id = identity();
        let mut ctx = MacroContext::new(&id);
        ctx.gpp = ["|] [(\"\u{1F600}"; 16];
        ctx.gpp_secret = ["\\043]"; 4];
        let mut rng = Rng(0x5EED_1234_ABCD_0001);
        let mut parsed = 0;
        for _ in 0..30_000 {
            let n = rng.below(24);
            let s: String = (0..n).map(|_| PIECES[rng.below(PIECES.len())]).collect();
            if let Ok(rule) = Rule::parse(&s) {
                parsed += 1;
                let _ = rule.select(&ctx);
                for alt in &rule.alternatives {
                    let _ = alt.expand(&ctx);
                    let _ = alt.expand_assignments(&ctx);
                    for (_, u) in alt.targets() {
                        if let Ok(u) = u.expand(&ctx) {
                            let _ = u.to_string();
                        }
                    }
                }
            } else if let Err(e) = Rule::parse(&s) {
                let _ = e.to_string();
            }
            let _ = Condition::parse(&s).map(|c| c.eval(&ctx));
            let _ = Version::parse(&s);
            // Every truncation at a char boundary, too.
            for (i, _) in s.char_indices().step_by(3) {
                let _ = Rule::parse(s.get(..i).unwrap_or_default());
            }
        }
        assert!(
            parsed > 100,
            "the generator should produce some valid rules: {parsed}"
        );
    }
}
