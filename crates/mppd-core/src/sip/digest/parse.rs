//! The `Digest` auth-param list of `WWW-Authenticate`, `Proxy-Authenticate`, `Authorization` and
//! `Proxy-Authorization` values (RFC 3261 §25.1 `challenge`/`credentials`, RFC 7235 §2.1).
//!
//! One header value holds one challenge or one set of credentials: SIP forbids combining them
//! with commas (RFC 3261 §7.3.1), so a value is `Digest` followed by comma-separated
//! `name=value` pairs. Names are case-insensitive; values are tokens or quoted strings with
//! backslash escapes. Empty list elements (`a=1,,b=2`) are allowed (RFC 7230 §7). The parser
//! never panics and names what it found wrong.

use std::fmt;

/// The longest header value the parser reads, in bytes.
pub const MAX_VALUE_LEN: usize = 8192;

/// The largest number of parameters in one value.
pub const MAX_PARAMS: usize = 32;

/// Why a challenge or credentials value could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The value is empty or only white space.
    Empty,
    /// The value is longer than [`MAX_VALUE_LEN`].
    TooLong {
        /// Its length in bytes.
        len: usize,
    },
    /// The scheme is not `Digest` (e.g. `Basic`, `Bearer`).
    NotDigest {
        /// The scheme found.
        scheme: String,
    },
    /// A character that cannot start or continue a parameter.
    UnexpectedChar {
        /// Its byte offset in the value.
        at: usize,
        /// The character.
        found: char,
    },
    /// A parameter name without `=value`.
    MissingValue {
        /// The parameter.
        param: String,
    },
    /// A quoted string without its closing quote (or ending in a lone backslash).
    UnterminatedQuote {
        /// The parameter.
        param: String,
    },
    /// A parameter given twice.
    Duplicate {
        /// The parameter.
        param: String,
    },
    /// More than [`MAX_PARAMS`] parameters.
    TooManyParams,
    /// A required parameter is absent.
    Missing {
        /// The parameter.
        param: &'static str,
    },
    /// A parameter whose value is not allowed.
    BadValue {
        /// The parameter.
        param: &'static str,
        /// The value.
        value: String,
    },
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty authentication header value"),
            Self::TooLong { len } => write!(
                f,
                "authentication header value of {len} bytes exceeds {MAX_VALUE_LEN}"
            ),
            Self::NotDigest { scheme } => write!(f, "scheme {scheme:?} is not Digest"),
            Self::UnexpectedChar { at, found } => {
                write!(f, "unexpected character {found:?} at byte {at}")
            }
            Self::MissingValue { param } => write!(f, "parameter {param:?} has no value"),
            Self::UnterminatedQuote { param } => {
                write!(f, "quoted value of parameter {param:?} is not terminated")
            }
            Self::Duplicate { param } => write!(f, "parameter {param:?} appears twice"),
            Self::TooManyParams => write!(f, "more than {MAX_PARAMS} parameters"),
            Self::Missing { param } => write!(f, "required parameter {param:?} is missing"),
            Self::BadValue { param, value } => {
                write!(f, "parameter {param:?} has invalid value {value:?}")
            }
        }
    }
}

impl std::error::Error for ParseError {}

/// One `name=value` pair, the name lower-cased and the value unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Param {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// The parameters of one `Digest` value, in order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub(crate) struct Params(Vec<Param>);

impl Params {
    /// The value of parameter `name` (lower case).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|p| p.name == name)
            .map(|p| p.value.as_str())
    }

    /// The value of a required parameter.
    pub(crate) fn require(&self, name: &'static str) -> Result<&str, ParseError> {
        self.get(name).ok_or(ParseError::Missing { param: name })
    }
}

/// RFC 7230 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Linear white space, including the CR/LF of an unfolded continuation line.
fn is_lws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// A cursor over the bytes of a header value.
struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn skip_lws(&mut self) {
        while self.peek().is_some_and(is_lws) {
            self.i += 1;
        }
    }

    fn token(&mut self) -> &str {
        let start = self.i;
        while self.peek().is_some_and(is_tchar) {
            self.i += 1;
        }
        // tchar is ASCII, so the slice is valid UTF-8.
        std::str::from_utf8(self.s.get(start..self.i).unwrap_or_default()).unwrap_or_default()
    }

    fn unexpected(&self) -> ParseError {
        let found = std::str::from_utf8(self.s.get(self.i..).unwrap_or_default())
            .ok()
            .and_then(|rest| rest.chars().next())
            .unwrap_or(char::REPLACEMENT_CHARACTER);
        ParseError::UnexpectedChar { at: self.i, found }
    }
}

/// Parses `Digest name=value, ...`. The value must be valid UTF-8 (it is a `&str`).
pub(crate) fn parse_digest_params(value: &str) -> Result<Params, ParseError> {
    if value.len() > MAX_VALUE_LEN {
        return Err(ParseError::TooLong { len: value.len() });
    }
    let mut c = Cursor {
        s: value.as_bytes(),
        i: 0,
    };
    c.skip_lws();
    if c.peek().is_none() {
        return Err(ParseError::Empty);
    }
    let scheme = c.token().to_owned();
    if scheme.is_empty() {
        return Err(c.unexpected());
    }
    if !scheme.eq_ignore_ascii_case("Digest") {
        return Err(ParseError::NotDigest { scheme });
    }
    // The scheme must be followed by white space or the end.
    if c.peek().is_some_and(|b| !is_lws(b)) {
        return Err(c.unexpected());
    }
    let mut params: Vec<Param> = Vec::new();
    loop {
        // Separators: white space and empty list elements.
        while c.peek().is_some_and(|b| is_lws(b) || b == b',') {
            c.i += 1;
        }
        if c.peek().is_none() {
            break;
        }
        let name = c.token().to_ascii_lowercase();
        if name.is_empty() {
            return Err(c.unexpected());
        }
        c.skip_lws();
        if c.peek() != Some(b'=') {
            return Err(ParseError::MissingValue { param: name });
        }
        c.i += 1;
        c.skip_lws();
        let value = if c.peek() == Some(b'"') {
            c.i += 1;
            quoted(&mut c, &name)?
        } else {
            // A token; be lenient and also take the characters of an unquoted base64 nonce.
            let start = c.i;
            while c
                .peek()
                .is_some_and(|b| is_tchar(b) || b == b'/' || b == b'=' || b == b':')
            {
                c.i += 1;
            }
            if c.i == start {
                return Err(ParseError::MissingValue { param: name });
            }
            String::from_utf8_lossy(value.as_bytes().get(start..c.i).unwrap_or_default())
                .into_owned()
        };
        if params.iter().any(|p| p.name == name) {
            return Err(ParseError::Duplicate { param: name });
        }
        if params.len() == MAX_PARAMS {
            return Err(ParseError::TooManyParams);
        }
        params.push(Param { name, value });
        c.skip_lws();
        match c.peek() {
            None | Some(b',') => {}
            Some(_) => return Err(c.unexpected()),
        }
    }
    Ok(Params(params))
}

/// The rest of a quoted string whose opening quote was consumed.
fn quoted(c: &mut Cursor<'_>, name: &str) -> Result<String, ParseError> {
    let mut out = Vec::new();
    loop {
        match c.peek() {
            None => {
                return Err(ParseError::UnterminatedQuote {
                    param: name.to_owned(),
                });
            }
            Some(b'"') => {
                c.i += 1;
                break;
            }
            Some(b'\\') => {
                c.i += 1;
                let Some(b) = c.peek() else {
                    return Err(ParseError::UnterminatedQuote {
                        param: name.to_owned(),
                    });
                };
                out.push(b);
                c.i += 1;
            }
            Some(b) => {
                out.push(b);
                c.i += 1;
            }
        }
    }
    // Escapes only drop ASCII backslashes, so valid UTF-8 in stays valid; lossy is a safety net.
    Ok(String::from_utf8_lossy(&out).into_owned())
}

/// Writes `value` as a quoted string, escaping `"` and `\` (RFC 3261 §25.1 `quoted-pair`).
/// Control characters (which a quoted string cannot carry) are dropped.
pub(crate) fn write_quoted(out: &mut String, value: &str) {
    out.push('"');
    for ch in value.chars() {
        match ch {
            '"' | '\\' => {
                out.push('\\');
                out.push(ch);
            }
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
}
