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

use quick_xml::Reader;
use quick_xml::events::{BytesStart, Event};

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

/// Counts lines incrementally as the reader moves forward.
struct Lines<'a> {
    bytes: &'a [u8],
    pos: usize,
    line: u32,
}

impl Lines<'_> {
    fn at(&mut self, pos: u64) -> u32 {
        let pos = usize::try_from(pos)
            .unwrap_or(usize::MAX)
            .min(self.bytes.len());
        if pos < self.pos {
            self.pos = 0;
            self.line = 1;
        }
        let n = memchr::memchr_iter(b'\n', &self.bytes[self.pos..pos]).count();
        self.line = self
            .line
            .saturating_add(u32::try_from(n).unwrap_or(u32::MAX));
        self.pos = pos;
        self.line
    }
}

/// The parameter being read.
struct Open {
    name: String,
    ua: Option<Ua>,
    line: u32,
    value: String,
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
    let mut reader = Reader::from_str(text);
    let cfg = reader.config_mut();
    cfg.trim_text(false);
    cfg.check_end_names = true;
    cfg.expand_empty_elements = false;

    let mut lines = Lines {
        bytes,
        pos: 0,
        line: 1,
    };
    let mut entries = Vec::new();
    let mut depth = 0usize;
    // Depth of the <flat-profile> element we are inside, if any.
    let mut flat_depth: Option<usize> = None;
    let mut found_flat = false;
    let mut root: Option<String> = None;
    let mut open: Option<Open> = None;
    // Names of the open elements, to report an unclosed one at the end.
    let mut stack: Vec<String> = Vec::new();

    loop {
        let start = reader.buffer_position();
        let event = match reader.read_event() {
            Ok(ev) => ev,
            Err(e) => {
                return Err(ParseError::Malformed {
                    line: lines.at(reader.error_position()),
                    message: e.to_string(),
                });
            }
        };
        match event {
            Event::Start(ref e) | Event::Empty(ref e) => {
                let is_empty = matches!(event, Event::Empty(_));
                let name = element_name(e);
                if !is_xml_name(&name) {
                    return Err(ParseError::Malformed {
                        line: lines.at(start),
                        message: format!("invalid element name {name:?}"),
                    });
                }
                if root.is_none() {
                    root = Some(name.to_string());
                }
                let line = lines.at(start);
                if let Some(p) = &open {
                    return Err(ParseError::NestedElement {
                        line,
                        name: p.name.clone(),
                        child: name.into_owned(),
                    });
                }
                if flat_depth == Some(depth) {
                    let ua = read_ua(e, &name, line)?;
                    let p = Open {
                        name: name.into_owned(),
                        ua,
                        line,
                        value: String::new(),
                    };
                    if is_empty {
                        entries.push(finish(p));
                    } else {
                        open = Some(p);
                    }
                } else if flat_depth.is_none() && name == STRUCTURE {
                    found_flat = true;
                    if !is_empty {
                        flat_depth = Some(depth + 1);
                    }
                }
                if !is_empty {
                    depth += 1;
                    stack.push(name_string(e));
                }
            }
            Event::End(_) => {
                depth = depth.saturating_sub(1);
                stack.pop();
                if let Some(p) = open.take() {
                    entries.push(finish(p));
                } else if flat_depth == Some(depth + 1) {
                    flat_depth = None;
                }
            }
            Event::Text(t) => {
                if let Some(p) = &mut open {
                    match t.unescape() {
                        Ok(s) => p.value.push_str(&s),
                        Err(e) => {
                            return Err(ParseError::Malformed {
                                line: lines.at(start),
                                message: format!("in <{}>: {e}", p.name),
                            });
                        }
                    }
                }
            }
            Event::CData(c) => {
                if let Some(p) = &mut open {
                    p.value.push_str(&String::from_utf8_lossy(&c));
                }
            }
            Event::Eof => break,
            Event::Decl(_) | Event::PI(_) | Event::Comment(_) | Event::DocType(_) => {}
        }
    }
    if let Some(name) = stack.last() {
        return Err(ParseError::Malformed {
            line: lines.at(u64::try_from(bytes.len()).unwrap_or(u64::MAX)),
            message: format!("unexpected end of file: <{name}> is not closed"),
        });
    }
    if !found_flat {
        return Err(ParseError::NotFlatProfile { root });
    }
    Ok(entries)
}

fn element_name<'a>(e: &'a BytesStart<'_>) -> Cow<'a, str> {
    String::from_utf8_lossy(e.name().into_inner())
}

/// XML 1.0 `Name` (ASCII part exact; any non-ASCII character accepted).
fn is_xml_name(name: &str) -> bool {
    let mut chars = name.chars();
    let Some(first) = chars.next() else {
        return false;
    };
    let start = |c: char| c.is_ascii_alphabetic() || c == '_' || c == ':' || !c.is_ascii();
    start(first) && chars.all(|c| start(c) || c.is_ascii_digit() || c == '-' || c == '.')
}

fn name_string(e: &BytesStart<'_>) -> String {
    String::from_utf8_lossy(e.name().into_inner()).into_owned()
}

fn read_ua(e: &BytesStart<'_>, name: &str, line: u32) -> Result<Option<Ua>, ParseError> {
    let mut ua = None;
    for attr in e.attributes() {
        let attr = attr.map_err(|err| ParseError::BadAttribute {
            line,
            name: name.to_owned(),
            message: format!("unreadable attribute: {err}"),
        })?;
        if attr.key.as_ref() != b"ua" {
            continue;
        }
        let value = attr
            .unescape_value()
            .map_err(|err| ParseError::BadAttribute {
                line,
                name: name.to_owned(),
                message: format!("unreadable ua attribute: {err}"),
            })?;
        ua = Some(
            Ua::parse(value.trim()).ok_or_else(|| ParseError::BadAttribute {
                line,
                name: name.to_owned(),
                message: format!("ua=\"{value}\" is not one of na, ro, rw"),
            })?,
        );
    }
    Ok(ua)
}

fn finish(p: Open) -> RawEntry {
    RawEntry {
        value: normalize(&p.value).into_owned(),
        name: p.name,
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
