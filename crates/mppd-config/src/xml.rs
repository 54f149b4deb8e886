//! cfg.xml, the raw layer: bytes to entries with their source lines, and entries back to bytes.
//!
//! Rules (SPEC §0, mpp-provisioning §1):
//! - parameters are the child elements of `<flat-profile>`, which may sit at any depth
//!   (`<device>`, `<top-level>` wrappers); everything outside it is ignored, as are the XML
//!   declaration, comments, processing instructions and attributes of `flat-profile`;
//! - a value is the element's text with the XML entities decoded, surrounding ASCII whitespace
//!   trimmed and inner newlines turned into spaces; `<X/>` and `<X></X>` give the empty value;
//! - the `ua` attribute (`na`, `ro`, `rw`) is kept; other attributes (`group=`) are ignored;
//! - duplicates are all returned here, in file order: the profile layer lets the last one win.
//!
//! Nothing here knows the registry: unknown names are returned like any other.

use std::borrow::Cow;
use std::fmt;

use crate::registry::Ua;

/// The largest profile accepted, in bytes. Real profiles are under 200 KB.
pub const MAX_PROFILE_BYTES: usize = 4 * 1024 * 1024;

/// The name that structural errors (malformed XML, no `<flat-profile>`) are reported under.
pub const STRUCTURE: &str = "flat-profile";

/// One parameter element as it appears in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEntry {
    /// The element name (case-sensitive, kept verbatim).
    pub name: String,
    /// The value after entity decoding, trimming and newline folding.
    pub value: String,
    /// The `ua` attribute, when the element has one.
    pub ua: Option<Ua>,
    /// The 1-based line of the element's start tag.
    pub line: u32,
}

/// Why a profile could not be read. Every variant carries the line it was found on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParseError {
    /// The file is larger than [`MAX_PROFILE_BYTES`].
    TooLarge {
        /// The file's size in bytes.
        size: usize,
    },
    /// The bytes are not UTF-8.
    NotUtf8 {
        /// Line of the first invalid byte.
        line: u32,
    },
    /// The XML is not well-formed.
    Malformed {
        /// Line where the parser stopped.
        line: u32,
        /// The XML parser's description.
        message: String,
    },
    /// The document has no `<flat-profile>` element.
    NotFlatProfile {
        /// The root element, when there is one.
        root: Option<String>,
    },
    /// A parameter element contains another element.
    NestedElement {
        /// Line of the inner element.
        line: u32,
        /// The parameter.
        name: String,
        /// The inner element.
        child: String,
    },
    /// A `ua` attribute with a value other than `na`, `ro`, `rw`, or an attribute that cannot
    /// be read (unquoted, typographic quotes).
    BadAttribute {
        /// Line of the element.
        line: u32,
        /// The parameter.
        name: String,
        /// What is wrong.
        message: String,
    },
}

impl ParseError {
    /// The line the error was found on (1 when the error concerns the whole file).
    pub fn line(&self) -> u32 {
        match self {
            Self::TooLarge { .. } | Self::NotFlatProfile { .. } => 1,
            Self::NotUtf8 { line }
            | Self::Malformed { line, .. }
            | Self::NestedElement { line, .. }
            | Self::BadAttribute { line, .. } => *line,
        }
    }

    /// The parameter the error concerns, or [`STRUCTURE`] for the document as a whole.
    pub fn name(&self) -> &str {
        match self {
            Self::NestedElement { name, .. } | Self::BadAttribute { name, .. } => name,
            _ => STRUCTURE,
        }
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::TooLarge { size } => write!(
                f,
                "profile is {size} bytes, more than the {MAX_PROFILE_BYTES} bytes accepted"
            ),
            Self::NotUtf8 { .. } => f.write_str("profile is not UTF-8 text"),
            Self::Malformed { message, .. } => write!(f, "malformed XML: {message}"),
            Self::NotFlatProfile { root: Some(root) } => write!(
                f,
                "not a flat-profile: no <flat-profile> element (the root element is <{root}>)"
            ),
            Self::NotFlatProfile { root: None } => {
                f.write_str("not a flat-profile: the document has no elements")
            }
            Self::NestedElement { child, .. } => write!(
                f,
                "element <{child}> inside a parameter; a parameter holds text only"
            ),
            Self::BadAttribute { message, .. } => f.write_str(message),
        }
    }
}

impl std::error::Error for ParseError {}

/// Counts lines incrementally as the scanner moves forward.
struct Lines<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: u32,
}

impl Lines<'_> {
    fn at(&mut self, pos: usize) -> u32 {
        let pos = pos.min(self.bytes.len());
        if pos < self.pos {
            self.pos = 0;
            self.line = 1;
        }
        let gap = &self.bytes[self.pos..pos];
        // Gaps between elements are short: a plain loop beats memchr's set-up there.
        let n = if gap.len() < 256 {
            // A fold over bytes compiles to vector code; `filter().count()` does not.
            gap.iter().fold(0usize, |n, &b| n + usize::from(b == b'\n'))
        } else {
            memchr::memchr_iter(b'\n', gap).count()
        };
        self.line = self
            .line
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        self.pos = pos;
        self.line
    }
}

/// The text of the parameter being read: untouched input while it is one plain piece, owned
/// once entities, CDATA or several pieces are involved.
enum Text {
    Empty,
    Slice(usize, usize),
    Owned(String),
}

/// The parameter being read.
struct Open<'t> {
    name: &'t str,
    ua: Option<Ua>,
    line: u32,
    text: Text,
}

/// The scanner: a single pass over the document with `memchr`, in the subset of XML 1.0 that
/// profiles use (elements, attributes, text, entity and character references, CDATA, comments,
/// processing instructions, a DOCTYPE that is skipped). Entities a DOCTYPE declares are not
/// expanded: using one is an error, as are unknown entities.
struct Scanner<'t> {
    text: &'t str,
    bytes: &'t [u8],
    pos: usize,
    lines: Lines<'t>,
}

impl<'t> Scanner<'t> {
    fn malformed(&mut self, at: usize, message: impl Into<String>) -> ParseError {
        ParseError::Malformed {
            line: self.lines.at(at),
            message: message.into(),
        }
    }

    /// Position of `pat` at or after `from`, or an error naming what is unterminated.
    fn find(&mut self, from: usize, pat: &[u8], what: &str) -> Result<usize, ParseError> {
        // The patterns are 2-3 bytes long: look for the first byte, then compare.
        let found = memchr::memchr_iter(pat[0], &self.bytes[from..])
            .find(|&i| self.bytes[from + i..].starts_with(pat));
        match found {
            Some(i) => Ok(from + i),
            None => Err(self.malformed(from, format!("unterminated {what}"))),
        }
    }

    fn skip_ws(&mut self) {
        while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    /// Reads a name at `pos` (up to white space, `/`, `>`, `=`, `<`).
    fn name(&mut self) -> Result<&'t str, ParseError> {
        let start = self.pos;
        let rest = &self.bytes[start..];
        let mut len = rest.len();
        let mut valid = rest
            .first()
            .is_some_and(|&b| NAME_CLASS[usize::from(b)] == START);
        for (i, &b) in rest.iter().enumerate() {
            let class = NAME_CLASS[usize::from(b)];
            if class == END {
                len = i;
                break;
            }
            valid &= class != INVALID;
        }
        self.pos = start + len;
        let name = &self.text[start..self.pos];
        if valid {
            Ok(name)
        } else {
            Err(self.malformed(start, format!("invalid name {name:?}")))
        }
    }

    /// Skips a DOCTYPE declaration, internal subset included.
    fn skip_doctype(&mut self, start: usize) -> Result<(), ParseError> {
        let mut depth = 0usize;
        let mut i = self.pos;
        while i < self.bytes.len() {
            match self.bytes[i] {
                b'[' => depth += 1,
                b']' => depth = depth.saturating_sub(1),
                b'>' if depth == 0 => {
                    self.pos = i + 1;
                    return Ok(());
                }
                q @ (b'"' | b'\'') => {
                    i = memchr::memchr(q, &self.bytes[i + 1..])
                        .map(|j| i + 1 + j)
                        .ok_or_else(|| self.malformed(i, "unterminated DOCTYPE"))?;
                }
                _ => {}
            }
            i += 1;
        }
        Err(self.malformed(start, "unterminated DOCTYPE"))
    }
}

/// Decodes entity and character references of `raw` into `out`. `at` is the byte offset of
/// `raw` in the document, for error lines.
fn decode_into(
    sc: &mut Scanner<'_>,
    raw: &str,
    at: usize,
    out: &mut String,
) -> Result<(), ParseError> {
    let mut rest = raw;
    let mut offset = at;
    while let Some(amp) = memchr::memchr(b'&', rest.as_bytes()) {
        out.push_str(&rest[..amp]);
        let after = &rest[amp + 1..];
        let Some(semi) = memchr::memchr(b';', after.as_bytes()).filter(|&s| s <= 12) else {
            return Err(sc.malformed(offset + amp, "'&' that starts no reference (write &amp;)"));
        };
        let name = &after[..semi];
        let c = match name {
            "amp" => '&',
            "lt" => '<',
            "gt" => '>',
            "apos" => '\'',
            "quot" => '"',
            _ => {
                let code = if let Some(hex) = name.strip_prefix("#x") {
                    u32::from_str_radix(hex, 16).ok()
                } else if let Some(dec) = name.strip_prefix('#') {
                    dec.parse::<u32>().ok()
                } else {
                    None
                };
                match code.filter(|&c| c != 0).and_then(char::from_u32) {
                    Some(c) => c,
                    None => {
                        return Err(sc.malformed(
                            offset + amp,
                            format!("unknown or invalid reference &{name};"),
                        ));
                    }
                }
            }
        };
        out.push(c);
        rest = &after[semi + 1..];
        offset += amp + 1 + semi + 1;
    }
    out.push_str(rest);
    Ok(())
}

/// Parses a cfg.xml document into its parameter elements, in file order, duplicates included.
pub fn parse(bytes: &[u8]) -> Result<Vec<RawEntry>, ParseError> {
    if bytes.len() > MAX_PROFILE_BYTES {
        return Err(ParseError::TooLarge { size: bytes.len() });
    }
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    let text = match std::str::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let line = 1 + memchr::memchr_iter(b'\n', &bytes[..e.valid_up_to()]).count();
            return Err(ParseError::NotUtf8 {
                line: u32::try_from(line).unwrap_or(u32::MAX),
            });
        }
    };
    let mut sc = Scanner {
        text,
        bytes,
        pos: 0,
        lines: Lines {
            bytes,
            pos: 0,
            line: 1,
        },
    };
    // Each parameter element has at least one '<' and usually two.
    let mut entries = Vec::with_capacity(memchr::memchr_iter(b'<', bytes).count() / 2 + 1);
    // Names of the open elements other than the parameter being read.
    let mut stack: Vec<&str> = Vec::new();
    // Stack depth at which <flat-profile> was opened.
    let mut flat_depth: Option<usize> = None;
    let mut found_flat = false;
    let mut root: Option<&str> = None;
    let mut open: Option<Open<'_>> = None;

    loop {
        let lt = memchr::memchr(b'<', &bytes[sc.pos..]).map(|i| sc.pos + i);
        let end = lt.unwrap_or(bytes.len());
        if let Some(p) = &mut open
            && end > sc.pos
        {
            let (start, seg) = (sc.pos, &text[sc.pos..end]);
            let plain = memchr::memchr(b'&', seg.as_bytes()).is_none();
            p.text = match std::mem::replace(&mut p.text, Text::Empty) {
                Text::Empty if plain => Text::Slice(start, end),
                Text::Empty => {
                    let mut s = String::with_capacity(seg.len());
                    decode_into(&mut sc, seg, start, &mut s)?;
                    Text::Owned(s)
                }
                Text::Slice(a, b) => {
                    let mut s = String::with_capacity(b - a + seg.len());
                    s.push_str(&text[a..b]);
                    decode_into(&mut sc, seg, start, &mut s)?;
                    Text::Owned(s)
                }
                Text::Owned(mut s) => {
                    decode_into(&mut sc, seg, start, &mut s)?;
                    Text::Owned(s)
                }
            };
        }
        let Some(lt) = lt else { break };
        let rest = &bytes[lt..];
        if rest.starts_with(b"<?") {
            sc.pos = sc.find(lt + 2, b"?>", "processing instruction")? + 2;
        } else if rest.starts_with(b"<!--") {
            sc.pos = sc.find(lt + 4, b"-->", "comment")? + 3;
        } else if rest.starts_with(b"<![CDATA[") {
            let close = sc.find(lt + 9, b"]]>", "CDATA section")?;
            if let Some(p) = &mut open {
                let mut s = match std::mem::replace(&mut p.text, Text::Empty) {
                    Text::Empty => String::new(),
                    Text::Slice(a, b) => text[a..b].to_owned(),
                    Text::Owned(s) => s,
                };
                s.push_str(&text[lt + 9..close]);
                p.text = Text::Owned(s);
            }
            sc.pos = close + 3;
        } else if rest.starts_with(b"<!") {
            sc.pos = lt + 2;
            sc.skip_doctype(lt)?;
        } else if rest.starts_with(b"</") {
            // Fast path: the end tag of the parameter being read, `</NAME>`.
            if let Some(p) = &open {
                let n = p.name.len();
                if rest.get(2..2 + n) == Some(p.name.as_bytes()) && rest.get(2 + n) == Some(&b'>') {
                    sc.pos = lt + 3 + n;
                    if let Some(p) = open.take() {
                        entries.push(finish(text, p));
                    }
                    continue;
                }
            }
            sc.pos = lt + 2;
            let name = sc.name()?;
            sc.skip_ws();
            if bytes.get(sc.pos) != Some(&b'>') {
                return Err(sc.malformed(sc.pos, format!("expected '>' to close </{name}")));
            }
            sc.pos += 1;
            if let Some(p) = open.take() {
                if p.name != name {
                    return Err(sc.malformed(
                        lt,
                        format!("expected </{}>, but </{name}> was found", p.name),
                    ));
                }
                entries.push(finish(text, p));
            } else {
                match stack.pop() {
                    Some(top) if top == name => {}
                    Some(top) => {
                        return Err(
                            sc.malformed(lt, format!("expected </{top}>, but </{name}> was found"))
                        );
                    }
                    None => {
                        return Err(sc.malformed(lt, format!("unexpected </{name}>")));
                    }
                }
                if flat_depth == Some(stack.len() + 1) {
                    flat_depth = None;
                }
            }
        } else {
            sc.pos = lt + 1;
            let name = sc.name()?;
            let (ua, is_empty) = read_attributes(&mut sc, name, lt)?;
            if root.is_none() {
                root = Some(name);
            }
            if let Some(p) = &open {
                return Err(ParseError::NestedElement {
                    line: sc.lines.at(lt),
                    name: p.name.to_owned(),
                    child: name.to_owned(),
                });
            }
            if flat_depth == Some(stack.len()) {
                // `line` holds the byte offset until the lines are counted below.
                let p = Open {
                    name,
                    ua,
                    line: u32::try_from(lt).unwrap_or(u32::MAX),
                    text: Text::Empty,
                };
                if is_empty {
                    entries.push(finish(text, p));
                } else {
                    open = Some(p);
                }
            } else {
                if flat_depth.is_none() && name == STRUCTURE {
                    found_flat = true;
                    if !is_empty {
                        flat_depth = Some(stack.len() + 1);
                    }
                }
                if !is_empty {
                    stack.push(name);
                }
            }
        }
    }
    if let Some(name) = open.as_ref().map(|p| p.name).or(stack.last().copied()) {
        return Err(sc.malformed(
            bytes.len(),
            format!("unexpected end of file: <{name}> is not closed"),
        ));
    }
    if !found_flat {
        return Err(ParseError::NotFlatProfile {
            root: root.map(str::to_owned),
        });
    }
    // Offsets to lines, in one pass over the newlines (the offsets are increasing).
    let mut newlines = memchr::memchr_iter(b'\n', bytes);
    let mut next = newlines.next();
    let mut line = 1u32;
    for e in &mut entries {
        let offset = e.line as usize;
        while next.is_some_and(|nl| nl < offset) {
            line = line.saturating_add(1);
            next = newlines.next();
        }
        e.line = line;
    }
    Ok(entries)
}

/// Reads the attributes of a start tag up to its `>` or `/>`: returns the `ua` value and
/// whether the element is empty. Other attributes are checked for syntax and ignored.
fn read_attributes(
    sc: &mut Scanner<'_>,
    element: &str,
    tag_at: usize,
) -> Result<(Option<Ua>, bool), ParseError> {
    // Fast path for the usual tails: `>`, `/>`, ` ua="xx">`, ` ua="xx"/>`.
    let rest = &sc.bytes[sc.pos..];
    for (tail, ua, empty) in FAST_TAILS {
        if rest.starts_with(tail) {
            sc.pos += tail.len();
            return Ok((*ua, *empty));
        }
    }
    let line = sc.lines.at(tag_at);
    let bad = |message: String| ParseError::BadAttribute {
        line,
        name: element.to_owned(),
        message,
    };
    let mut ua = None;
    let mut seen: Vec<&str> = Vec::new();
    loop {
        sc.skip_ws();
        match sc.bytes.get(sc.pos) {
            Some(b'>') => {
                sc.pos += 1;
                return Ok((ua, false));
            }
            Some(b'/') if sc.bytes.get(sc.pos + 1) == Some(&b'>') => {
                sc.pos += 2;
                return Ok((ua, true));
            }
            None => {
                return Err(sc.malformed(sc.pos, format!("unterminated tag <{element}")));
            }
            Some(_) => {}
        }
        let name_at = sc.pos;
        let attr = sc.name().map_err(|_| {
            bad(format!(
                "unreadable attribute at {:?}",
                snippet(sc, name_at)
            ))
        })?;
        if seen.contains(&attr) {
            return Err(bad(format!("duplicate attribute {attr}")));
        }
        seen.push(attr);
        sc.skip_ws();
        if sc.bytes.get(sc.pos) != Some(&b'=') {
            return Err(bad(format!("attribute {attr} has no value")));
        }
        sc.pos += 1;
        sc.skip_ws();
        let quote = match sc.bytes.get(sc.pos) {
            Some(q @ (b'"' | b'\'')) => *q,
            _ => {
                return Err(bad(format!(
                    "the value of attribute {attr} is not quoted (found {:?})",
                    snippet(sc, sc.pos)
                )));
            }
        };
        let start = sc.pos + 1;
        let Some(len) = memchr::memchr(quote, &sc.bytes[start..]) else {
            return Err(bad(format!("unterminated value of attribute {attr}")));
        };
        let raw = &sc.text[start..start + len];
        sc.pos = start + len + 1;
        if raw.contains('<') {
            return Err(bad(format!("'<' in the value of attribute {attr}")));
        }
        if attr == "ua" {
            let mut value = String::new();
            let value = if raw.contains('&') {
                decode_into(sc, raw, start, &mut value)?;
                value.as_str()
            } else {
                raw
            };
            ua = Some(
                Ua::parse(value.trim())
                    .ok_or_else(|| bad(format!("ua=\"{value}\" is not one of na, ro, rw")))?,
            );
        }
    }
}

/// Tag endings that need no attribute parsing: (bytes, ua, empty element).
const FAST_TAILS: &[(&[u8], Option<Ua>, bool)] = &[
    (b">", None, false),
    (b"/>", None, true),
    (b" ua=\"na\">", Some(Ua::Na), false),
    (b" ua=\"na\"/>", Some(Ua::Na), true),
    (b" ua=\"rw\">", Some(Ua::Rw), false),
    (b" ua=\"rw\"/>", Some(Ua::Rw), true),
    (b" ua=\"ro\">", Some(Ua::Ro), false),
    (b" ua=\"ro\"/>", Some(Ua::Ro), true),
];

/// A short excerpt of the document at `at`, for messages.
fn snippet(sc: &Scanner<'_>, at: usize) -> String {
    sc.text[at..].chars().take(12).collect()
}

/// Byte classes for names: [`END`] ends a name, [`START`] may start one, [`INNER`] may only
/// follow, anything else is invalid in a name.
const END: u8 = 0;
const START: u8 = 1;
const INNER: u8 = 2;
const INVALID: u8 = 3;

static NAME_CLASS: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        t[i] = match b {
            b' ' | b'\t' | b'\r' | b'\n' | b'/' | b'>' | b'=' | b'<' => END,
            b'a'..=b'z' | b'A'..=b'Z' | b'_' | b':' | 0x80..=0xff => START,
            b'0'..=b'9' | b'-' | b'.' => INNER,
            _ => INVALID,
        };
        i += 1;
    }
    t
};

fn finish(text: &str, p: Open<'_>) -> RawEntry {
    let value = match p.text {
        Text::Empty => String::new(),
        Text::Slice(a, b) => normalize(&text[a..b]).into_owned(),
        Text::Owned(s) => match normalize(&s) {
            Cow::Borrowed(b) if b.len() == s.len() => s,
            c => c.into_owned(),
        },
    };
    RawEntry {
        name: p.name.to_owned(),
        value,
        ua: p.ua,
        line: p.line,
    }
}

/// Applies the value rules: surrounding ASCII whitespace trimmed, inner line breaks (CR LF, LF,
/// CR) turned into one space each.
pub fn normalize(value: &str) -> Cow<'_, str> {
    let trimmed = value.trim_matches(|c: char| c.is_ascii_whitespace());
    if !trimmed.contains(['\n', '\r']) {
        return Cow::Borrowed(trimmed);
    }
    Cow::Owned(trimmed.replace("\r\n", " ").replace(['\n', '\r'], " "))
}

/// One parameter to write.
#[derive(Debug, Clone, Copy)]
pub struct EmitEntry<'a> {
    /// Element name.
    pub name: &'a str,
    /// Value (written escaped).
    pub value: &'a str,
    /// `ua` attribute, if any.
    pub ua: Option<Ua>,
}

/// Writes a flat-profile document. Names are written as given; values and attributes escaped.
pub fn emit<'a>(entries: impl IntoIterator<Item = EmitEntry<'a>>) -> String {
    let mut out = String::with_capacity(64 * 1024);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<flat-profile>\n");
    for e in entries {
        out.push_str("  <");
        out.push_str(e.name);
        if let Some(ua) = e.ua {
            out.push_str(" ua=\"");
            out.push_str(ua.as_str());
            out.push('"');
        }
        if e.value.is_empty() {
            out.push_str("/>\n");
        } else {
            out.push('>');
            escape_into(&mut out, e.value);
            out.push_str("</");
            out.push_str(e.name);
            out.push_str(">\n");
        }
    }
    out.push_str("</flat-profile>\n");
    out
}

fn escape_into(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            c => out.push(c),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(xml: &str) -> Vec<RawEntry> {
        parse(xml.as_bytes()).unwrap()
    }

    #[test]
    fn wrappers_comments_entities_trimming() {
        let e = one(
            "<?xml version=\"1.0\"?>\n<device><!-- c --><generator>x</generator>\n<flat-profile device=\"Linksys\">\n\
             <A ua=\"rw\">  a &amp; b &#40;&#x2e;)\n c  </A>\n<B/>\n<C ua=\"na\"></C>\n<D group=\"Phone/General\">d</D>\
             <!-- <E>no</E> --></flat-profile></device>",
        );
        assert_eq!(e.len(), 4);
        assert_eq!(e[0].name, "A");
        assert_eq!(e[0].value, "a & b (.)  c");
        assert_eq!(e[0].ua, Some(Ua::Rw));
        assert_eq!(e[0].line, 4);
        assert_eq!((e[1].value.as_str(), e[1].ua, e[1].line), ("", None, 6));
        assert_eq!((e[2].value.as_str(), e[2].ua), ("", Some(Ua::Na)));
        assert_eq!((e[3].value.as_str(), e[3].ua), ("d", None));
    }

    #[test]
    fn duplicates_are_all_returned() {
        let e = one("<flat-profile><A>1</A><A ua=\"ro\">2</A></flat-profile>");
        assert_eq!(e.len(), 2);
    }

    #[test]
    fn structural_errors_carry_lines() {
        let err = parse(b"<flat-profile>\n<A>1</B>\n</flat-profile>").unwrap_err();
        assert!(
            matches!(err, ParseError::Malformed { line: 2, .. }),
            "{err:?}"
        );
        let err = parse(b"<config>\n<A>1</A>\n</config>").unwrap_err();
        assert_eq!(
            err,
            ParseError::NotFlatProfile {
                root: Some("config".into())
            }
        );
        let err = parse(b"<flat-profile>\n<A>1</A>\n").unwrap_err();
        assert!(matches!(err, ParseError::Malformed { .. }), "{err:?}");
        let err = parse(b"<flat-profile>\n<A ua=\"xx\">1</A></flat-profile>").unwrap_err();
        assert!(
            matches!(err, ParseError::BadAttribute { line: 2, .. }),
            "{err:?}"
        );
        let err = parse("<flat-profile>\n<A ua=”na”>1</A></flat-profile>".as_bytes()).unwrap_err();
        assert_eq!(err.line(), 2);
        let err = parse(b"<flat-profile>\n<A><b/></A></flat-profile>").unwrap_err();
        assert_eq!(err.name(), "A");
        let err = parse(b"<flat-profile>\n\n<A>\xff</A></flat-profile>").unwrap_err();
        assert_eq!(err, ParseError::NotUtf8 { line: 3 });
        let err = parse(b"<flat-profile>\n<></></flat-profile>").unwrap_err();
        assert!(
            matches!(err, ParseError::Malformed { line: 2, .. }),
            "{err:?}"
        );
        let err = parse(b"<flat-profile><1A>x</1A></flat-profile>").unwrap_err();
        assert!(matches!(err, ParseError::Malformed { .. }), "{err:?}");
        let err = parse(b"<flat-profile><A>&foo;</A></flat-profile>").unwrap_err();
        assert!(matches!(err, ParseError::Malformed { .. }), "{err:?}");
        assert!(matches!(
            parse(b""),
            Err(ParseError::NotFlatProfile { root: None })
        ));
    }

    #[test]
    fn emit_round_trips() {
        let entries = [
            EmitEntry {
                name: "A",
                value: "a <&> \"b\" 'c'",
                ua: Some(Ua::Ro),
            },
            EmitEntry {
                name: "B",
                value: "",
                ua: None,
            },
        ];
        let text = emit(entries.iter().copied());
        let back = parse(text.as_bytes()).unwrap();
        assert_eq!(back[0].value, "a <&> \"b\" 'c'");
        assert_eq!(back[0].ua, Some(Ua::Ro));
        assert_eq!(back[1].value, "");
        assert_eq!(back[1].ua, None);
    }
}
