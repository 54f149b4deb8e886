//! Search filters: RFC 4515 escaping of the user's input, the MPP `attr:(filter)` templates of
//! `LDAP_Last_Name_Filter` & co. with `$VALUE`, and an RFC 4515 parser into [`Filter`].
//!
//! The user's input is escaped *before* it is put into the template, and the result is parsed
//! by a strict RFC 4515 parser: the input can never add a component to the filter, and an
//! escaped `*` stays a literal asterisk (it is sent as part of an assertion value, never as a
//! wildcard).

use std::fmt;

/// The placeholder the phone replaces by the user's input.
pub const VALUE_MACRO: &str = "$VALUE";

/// Deepest nesting of `&`, `|`, `!` accepted in a filter.
pub const MAX_DEPTH: usize = 16;

/// Longest filter string accepted (after substitution), in bytes.
pub const MAX_FILTER_LEN: usize = 4096;

/// A parsed search filter (RFC 4511 §4.5.1.7), values unescaped.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Filter {
    /// `(&...)`.
    And(Vec<Self>),
    /// `(|...)`.
    Or(Vec<Self>),
    /// `(!...)`.
    Not(Box<Self>),
    /// `(attr=value)`.
    Equality(String, String),
    /// `(attr=initial*any*final)`.
    Substrings {
        /// The attribute.
        attr: String,
        /// The part before the first `*`.
        initial: Option<String>,
        /// The parts between `*`s (empty parts dropped).
        any: Vec<String>,
        /// The part after the last `*`.
        last: Option<String>,
    },
    /// `(attr>=value)`.
    GreaterOrEqual(String, String),
    /// `(attr<=value)`.
    LessOrEqual(String, String),
    /// `(attr=*)`.
    Present(String),
    /// `(attr~=value)`.
    Approx(String, String),
    /// `(attr:dn:rule:=value)`.
    Extensible {
        /// The matching rule.
        rule: Option<String>,
        /// The attribute.
        attr: Option<String>,
        /// The value.
        value: String,
        /// `:dn`.
        dn: bool,
    },
}

/// Why a filter string is not an RFC 4515 filter.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FilterError {
    /// Empty filter.
    Empty,
    /// Longer than [`MAX_FILTER_LEN`].
    TooLong(usize),
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// A syntax error at a byte offset.
    Syntax {
        /// Byte offset in the filter string.
        at: usize,
        /// What was expected.
        expected: &'static str,
    },
    /// A `\XX` escape that is not two hex digits, at a byte offset.
    BadEscape(usize),
    /// An escaped value that is not UTF-8.
    NotUtf8(usize),
    /// The MPP form `attr:(filter)` names an invalid attribute.
    BadPrefix(String),
}

impl fmt::Display for FilterError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Empty => f.write_str("empty filter"),
            Self::TooLong(n) => write!(f, "filter of {n} bytes (at most {MAX_FILTER_LEN})"),
            Self::TooDeep => write!(f, "filter nested deeper than {MAX_DEPTH}"),
            Self::Syntax { at, expected } => {
                write!(f, "not an RFC 4515 filter: {expected} at offset {at}")
            }
            Self::BadEscape(at) => write!(f, "bad \\XX escape at offset {at}"),
            Self::NotUtf8(at) => write!(f, "escaped value at offset {at} is not UTF-8"),
            Self::BadPrefix(p) => write!(
                f,
                "{p:?} before ':(' is not an attribute name (MPP form attr:(filter))"
            ),
        }
    }
}

impl std::error::Error for FilterError {}

/// Escapes a value for an RFC 4515 filter: `*`, `(`, `)`, `\` and NUL become `\2a`, `\28`,
/// `\29`, `\5c`, `\00`; everything else (UTF-8 included) stays.
pub fn escape_value(input: &str) -> String {
    let mut out = String::with_capacity(input.len());
    for c in input.chars() {
        match c {
            '*' => out.push_str("\\2a"),
            '(' => out.push_str("\\28"),
            ')' => out.push_str("\\29"),
            '\\' => out.push_str("\\5c"),
            '\0' => out.push_str("\\00"),
            c => out.push(c),
        }
    }
    out
}

/// A filter parameter of the profile: the MPP form `attr:(filter)` (`sn:(sn=*$VALUE*)`) or a
/// plain RFC 4515 filter, with `$VALUE` where the user's input goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FilterTemplate {
    /// The attribute before `:(`, when the MPP form is used.
    pub attr: Option<String>,
    /// The RFC 4515 filter, `$VALUE` not yet replaced.
    pub filter: String,
}

impl FilterTemplate {
    /// Parses a filter parameter and checks that it gives a valid filter for any input (whose
    /// filter is not longer than [`MAX_FILTER_LEN`]).
    pub fn parse(value: &str) -> Result<Self, FilterError> {
        let value = value.trim();
        if value.is_empty() {
            return Err(FilterError::Empty);
        }
        let (attr, filter) = if value.starts_with('(') {
            (None, value)
        } else {
            match value.find(":(") {
                Some(i) => {
                    let attr = value[..i].trim();
                    if !is_attr_desc(attr) {
                        return Err(FilterError::BadPrefix(attr.to_owned()));
                    }
                    (Some(attr.to_owned()), &value[i + 1..])
                }
                None => (None, value),
            }
        };
        let filter = filter.trim();
        let t = Self {
            attr,
            filter: filter.to_owned(),
        };
        // These inputs prove the template for every input (short enough for
        // `MAX_FILTER_LEN`). `$VALUE` becomes plain characters (never `*`, `(`, `)`, `\`,
        // NUL) and whole `\XX` escapes. Where the parser reads an assertion value (and is not
        // inside a `\XX` of the template), all of it is value bytes that leave the parser in
        // the same state, and the value is valid UTF-8 for one non-empty input exactly when it
        // is for all of them (and then for the empty one too). Anywhere else the escape of `*`
        // (`\2a`) is a syntax error; inside a `\XX` of the template (`\4$VALUE`), a non-hex
        // character is. An earlier sample ("a*()\b") continued such an escape with "a".
        for sample in ["", "g", "*"] {
            t.build(sample)?;
        }
        Ok(t)
    }

    /// The filter for the user's input: `$VALUE` replaced by the escaped input, then parsed.
    pub fn build(&self, input: &str) -> Result<Filter, FilterError> {
        let text = self.filter.replace(VALUE_MACRO, &escape_value(input));
        parse(&text)
    }

    /// The filter string for the user's input (for logs): `$VALUE` replaced by the escaped
    /// input.
    pub fn render(&self, input: &str) -> String {
        self.filter.replace(VALUE_MACRO, &escape_value(input))
    }
}

/// `descr` (ALPHA *(ALPHA / DIGIT / "-")) or a numeric OID, with `;options`.
fn is_attr_desc(s: &str) -> bool {
    let mut parts = s.split(';');
    let base = parts.next().unwrap_or("");
    let base_ok = if base.starts_with(|c: char| c.is_ascii_digit()) {
        base.split('.')
            .all(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    } else {
        base.starts_with(|c: char| c.is_ascii_alphabetic())
            && base.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    base_ok
        && parts.all(|o| !o.is_empty() && o.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-'))
}

/// Parses an RFC 4515 filter string (surrounding white space allowed).
pub fn parse(text: &str) -> Result<Filter, FilterError> {
    if text.len() > MAX_FILTER_LEN {
        return Err(FilterError::TooLong(text.len()));
    }
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return Err(FilterError::Empty);
    }
    let offset = text.len() - text.trim_start().len();
    let mut p = Parser {
        s: trimmed.as_bytes(),
        pos: 0,
        base: offset,
    };
    let f = p.filter(0)?;
    if p.pos != p.s.len() {
        return Err(p.err("end of filter"));
    }
    Ok(f)
}

struct Parser<'a> {
    s: &'a [u8],
    pos: usize,
    base: usize,
}

impl Parser<'_> {
    fn err(&self, expected: &'static str) -> FilterError {
        FilterError::Syntax {
            at: self.base + self.pos,
            expected,
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8, expected: &'static str) -> Result<(), FilterError> {
        if self.peek() == Some(b) {
            self.pos += 1;
            Ok(())
        } else {
            Err(self.err(expected))
        }
    }

    fn filter(&mut self, depth: usize) -> Result<Filter, FilterError> {
        if depth > MAX_DEPTH {
            return Err(FilterError::TooDeep);
        }
        self.eat(b'(', "'('")?;
        let f = match self.peek() {
            Some(b'&') => {
                self.pos += 1;
                Filter::And(self.list(depth)?)
            }
            Some(b'|') => {
                self.pos += 1;
                Filter::Or(self.list(depth)?)
            }
            Some(b'!') => {
                self.pos += 1;
                Filter::Not(Box::new(self.filter(depth + 1)?))
            }
            _ => self.item()?,
        };
        self.eat(b')', "')'")?;
        Ok(f)
    }

    fn list(&mut self, depth: usize) -> Result<Vec<Filter>, FilterError> {
        let mut v = vec![self.filter(depth + 1)?];
        while self.peek() == Some(b'(') {
            v.push(self.filter(depth + 1)?);
        }
        Ok(v)
    }

    /// An attribute description, a matching rule or `dn` up to the next `:`, `=`, `~`, `<`, `>`.
    fn word(&mut self) -> String {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if b.is_ascii_alphanumeric() || b == b'-' || b == b'.' || b == b';' {
                self.pos += 1;
            } else {
                break;
            }
        }
        String::from_utf8_lossy(&self.s[start..self.pos]).into_owned()
    }

    fn item(&mut self) -> Result<Filter, FilterError> {
        let attr_at = self.pos;
        let attr = self.word();
        if self.peek() == Some(b':') {
            return self.extensible(attr, attr_at);
        }
        if !is_attr_desc(&attr) {
            self.pos = attr_at;
            return Err(self.err("an attribute description"));
        }
        match self.peek() {
            Some(b'~') => {
                self.pos += 1;
                self.eat(b'=', "'=' after '~'")?;
                Ok(Filter::Approx(attr, self.value()?))
            }
            Some(b'>') => {
                self.pos += 1;
                self.eat(b'=', "'=' after '>'")?;
                Ok(Filter::GreaterOrEqual(attr, self.value()?))
            }
            Some(b'<') => {
                self.pos += 1;
                self.eat(b'=', "'=' after '<'")?;
                Ok(Filter::LessOrEqual(attr, self.value()?))
            }
            Some(b'=') => {
                self.pos += 1;
                self.equality_or_substrings(attr)
            }
            _ => Err(self.err("'=', '~=', '>=', '<=' or ':'")),
        }
    }

    fn extensible(&mut self, attr: String, attr_at: usize) -> Result<Filter, FilterError> {
        let attr = if attr.is_empty() {
            None
        } else if is_attr_desc(&attr) {
            Some(attr)
        } else {
            self.pos = attr_at;
            return Err(self.err("an attribute description"));
        };
        let mut dn = false;
        let mut rule = None;
        loop {
            self.eat(b':', "':'")?;
            if self.peek() == Some(b'=') {
                self.pos += 1;
                break;
            }
            let at = self.pos;
            let w = self.word();
            if w.eq_ignore_ascii_case("dn") && !dn && rule.is_none() {
                dn = true;
            } else if rule.is_none() && is_attr_desc(&w) {
                rule = Some(w);
            } else {
                self.pos = at;
                return Err(self.err("'dn' or a matching rule"));
            }
        }
        if attr.is_none() && rule.is_none() {
            return Err(self.err("an attribute or a matching rule"));
        }
        Ok(Filter::Extensible {
            rule,
            attr,
            value: self.value()?,
            dn,
        })
    }

    fn equality_or_substrings(&mut self, attr: String) -> Result<Filter, FilterError> {
        let mut parts = vec![self.value()?];
        while self.peek() == Some(b'*') {
            self.pos += 1;
            parts.push(self.value()?);
        }
        if parts.len() == 1 {
            return Ok(Filter::Equality(attr, parts.remove(0)));
        }
        let last = parts.pop().filter(|s| !s.is_empty());
        let first = parts.remove(0);
        let initial = Some(first).filter(|s| !s.is_empty());
        let any: Vec<String> = parts.into_iter().filter(|s| !s.is_empty()).collect();
        if initial.is_none() && any.is_empty() && last.is_none() {
            return Ok(Filter::Present(attr));
        }
        Ok(Filter::Substrings {
            attr,
            initial,
            any,
            last,
        })
    }

    /// An assertion value up to `*` or `)`, `\XX` escapes decoded.
    fn value(&mut self) -> Result<String, FilterError> {
        let start = self.pos;
        let mut bytes = Vec::new();
        while let Some(b) = self.peek() {
            match b {
                b'*' | b')' => break,
                b'(' | 0 => return Err(self.err("an escaped '(' or NUL in a value")),
                b'\\' => {
                    let at = self.pos;
                    let hex = self
                        .s
                        .get(self.pos + 1..self.pos + 3)
                        .ok_or(FilterError::BadEscape(self.base + at))?;
                    let h = std::str::from_utf8(hex)
                        .ok()
                        .and_then(|h| u8::from_str_radix(h, 16).ok())
                        .ok_or(FilterError::BadEscape(self.base + at))?;
                    bytes.push(h);
                    self.pos += 3;
                }
                b => {
                    bytes.push(b);
                    self.pos += 1;
                }
            }
        }
        String::from_utf8(bytes).map_err(|_| FilterError::NotUtf8(self.base + start))
    }
}

/// Writes a filter back as an RFC 4515 string (values escaped): for logs and tests.
impl fmt::Display for Filter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::And(v) | Self::Or(v) => {
                f.write_str(if matches!(self, Self::And(_)) {
                    "(&"
                } else {
                    "(|"
                })?;
                for x in v {
                    write!(f, "{x}")?;
                }
                f.write_str(")")
            }
            Self::Not(x) => write!(f, "(!{x})"),
            Self::Equality(a, v) => write!(f, "({a}={})", escape_value(v)),
            Self::Substrings {
                attr,
                initial,
                any,
                last,
            } => {
                write!(f, "({attr}=")?;
                if let Some(i) = initial {
                    f.write_str(&escape_value(i))?;
                }
                f.write_str("*")?;
                for a in any {
                    write!(f, "{}*", escape_value(a))?;
                }
                if let Some(l) = last {
                    f.write_str(&escape_value(l))?;
                }
                f.write_str(")")
            }
            Self::GreaterOrEqual(a, v) => write!(f, "({a}>={})", escape_value(v)),
            Self::LessOrEqual(a, v) => write!(f, "({a}<={})", escape_value(v)),
            Self::Present(a) => write!(f, "({a}=*)"),
            Self::Approx(a, v) => write!(f, "({a}~={})", escape_value(v)),
            Self::Extensible {
                rule,
                attr,
                value,
                dn,
            } => {
                f.write_str("(")?;
                if let Some(a) = attr {
                    f.write_str(a)?;
                }
                if *dn {
                    f.write_str(":dn")?;
                }
                if let Some(r) = rule {
                    write!(f, ":{r}")?;
                }
                write!(f, ":={})", escape_value(value))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sub(attr: &str, initial: Option<&str>, any: &[&str], last: Option<&str>) -> Filter {
        Filter::Substrings {
            attr: attr.to_owned(),
            initial: initial.map(str::to_owned),
            any: any.iter().map(|s| (*s).to_owned()).collect(),
            last: last.map(str::to_owned),
        }
    }

    #[test]
    fn escape_covers_the_rfc_4515_specials() {
        assert_eq!(escape_value("*)(uid=*"), "\\2a\\29\\28uid=\\2a");
        assert_eq!(escape_value("a\\b\0"), "a\\5cb\\00");
        assert_eq!(escape_value("Müller"), "Müller");
    }

    #[test]
    fn rfc_4515_examples_parse() {
        assert_eq!(
            parse("(cn=Babs Jensen)").unwrap(),
            Filter::Equality("cn".into(), "Babs Jensen".into())
        );
        assert_eq!(
            parse("(!(cn=Tim Howes))").unwrap(),
            Filter::Not(Box::new(Filter::Equality("cn".into(), "Tim Howes".into())))
        );
        let f = parse("(&(objectClass=Person)(|(sn=Jensen)(cn=Babs J*)))").unwrap();
        assert_eq!(
            f.to_string(),
            "(&(objectClass=Person)(|(sn=Jensen)(cn=Babs J*)))"
        );
        assert_eq!(
            parse("(o=univ*of*mich*)").unwrap(),
            sub("o", Some("univ"), &["of", "mich"], None)
        );
        assert_eq!(
            parse("(seeAlso=)").unwrap(),
            Filter::Equality("seeAlso".into(), String::new())
        );
        assert_eq!(
            parse("(o=Parens R Us \\28for all your parenthetical needs\\29)").unwrap(),
            Filter::Equality(
                "o".into(),
                "Parens R Us (for all your parenthetical needs)".into()
            )
        );
        assert_eq!(parse("(cn=*\\2A*)").unwrap(), sub("cn", None, &["*"], None));
        assert_eq!(
            parse("(filename=C:\\5cMyFile)").unwrap(),
            Filter::Equality("filename".into(), "C:\\MyFile".into())
        );
        assert_eq!(
            parse("(sn=Lu\\c4\\8di\\c4\\87)").unwrap(),
            Filter::Equality("sn".into(), "Lučić".into())
        );
        assert!(matches!(
            parse("(cn:caseExactMatch:=Fred Flintstone)").unwrap(),
            Filter::Extensible { dn: false, .. }
        ));
        assert!(matches!(
            parse("(:DN:2.4.6.8.10:=Dino)").unwrap(),
            Filter::Extensible {
                dn: true,
                attr: None,
                ..
            }
        ));
        assert_eq!(parse("(cn=*)").unwrap(), Filter::Present("cn".into()));
    }

    #[test]
    fn malformed_filters_are_errors() {
        for bad in [
            "",
            "cn=x",
            "(cn=x",
            "(cn=x))",
            "(=x)",
            "(cn=a(b)",
            "(cn=\\2)",
            "(cn=\\zz)",
            "(&)",
            "(cn=\\ff)",
            "(1abc=x)",
            "(cn~x)",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} parsed");
        }
        let deep = format!("{}(cn=x){}", "(!".repeat(40), ")".repeat(40));
        assert_eq!(parse(&deep), Err(FilterError::TooDeep));
        assert!(matches!(
            parse(&format!("(cn={})", "a".repeat(5000))),
            Err(FilterError::TooLong(_))
        ));
    }

    #[test]
    fn templates_take_the_mpp_form_and_plain_filters() {
        let t = FilterTemplate::parse("sn:(sn=*$VALUE*)").unwrap();
        assert_eq!(t.attr.as_deref(), Some("sn"));
        assert_eq!(t.filter, "(sn=*$VALUE*)");
        assert_eq!(t.build("Smi").unwrap(), sub("sn", None, &["Smi"], None));
        let t = FilterTemplate::parse("(|(cn=$VALUE*)(mail=$VALUE*))").unwrap();
        assert_eq!(t.attr, None);
        assert_eq!(t.build("al").unwrap().to_string(), "(|(cn=al*)(mail=al*))");
        assert!(FilterTemplate::parse("sn:(sn=$VALUE").is_err());
        assert!(matches!(
            FilterTemplate::parse("s n:(sn=$VALUE)"),
            Err(FilterError::BadPrefix(_))
        ));
        // No $VALUE: a fixed filter (the guide's `sn:(sn=L*)`).
        assert_eq!(
            FilterTemplate::parse("sn:(sn=L*)")
                .unwrap()
                .build("x")
                .unwrap(),
            sub("sn", Some("L"), &[], None)
        );
    }

    #[test]
    fn user_input_never_changes_the_filter_structure() {
        let t = FilterTemplate::parse("sn:(sn=*$VALUE*)").unwrap();
        let f = t.build("*)(uid=*").unwrap();
        assert_eq!(f, sub("sn", None, &["*)(uid=*"], None));
        assert_eq!(t.render("*)(uid=*"), "(sn=*\\2a\\29\\28uid=\\2a*)");
        let t = FilterTemplate::parse("cn:(cn=$VALUE)").unwrap();
        assert_eq!(
            t.build("x)(|(objectClass=*)").unwrap(),
            Filter::Equality("cn".into(), "x)(|(objectClass=*)".into())
        );
        // An empty input with `*$VALUE*` lists everything: a presence filter.
        assert_eq!(
            FilterTemplate::parse("sn:(sn=*$VALUE*)")
                .unwrap()
                .build("")
                .unwrap(),
            Filter::Present("sn".into())
        );
    }

    /// A small deterministic generator (xorshift64*) for the property tests.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 >> 12;
            self.0 ^= self.0 << 25;
            self.0 ^= self.0 >> 27;
            self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
        }

        fn below(&mut self, n: usize) -> usize {
            (self.next() % n as u64) as usize
        }

        fn pick<'a, T: ?Sized>(&mut self, items: &[&'a T]) -> &'a T {
            items[self.below(items.len())]
        }
    }

    /// The empty input, then inputs of up to 12 characters mixing filter specials, hex digits,
    /// white space and non-ASCII characters.
    fn inputs(seed: u64, n: usize) -> Vec<String> {
        const CHARS: &[&str] = &[
            "a", "g", "4", "F", "0", " ", "\t", "*", "(", ")", "\\", "\0", "=", "&", "|", "!", ":",
            "~", "<", ">", "$", "$VALUE", "\\2a", "é", "€", "😀", "\u{8d}",
        ];
        let mut rng = Rng(seed);
        let mut v = vec![String::new()];
        for _ in 0..n {
            let len = rng.below(13);
            v.push((0..len).map(|_| rng.pick(CHARS)).collect());
        }
        v
    }

    #[test]
    fn templates_that_only_work_for_some_inputs_are_refused() {
        // Found by fuzzing: `\4` was continued by the old sample input ("a*()\b" → `\4a`).
        let t = "(cn=\\4$VALUE)";
        assert_eq!(
            FilterTemplate::parse(t),
            Err(FilterError::BadEscape(4)),
            "{t} accepted"
        );
        for bad in [
            "cn:(cn=\\$VALUE)",
            "(cn=\\$VALUE*)",
            "(cn=\\4$VALUE\\29)",
            "(cn=\\c4$VALUE\\8d)",
            "(cn=$VALUE\\8d)",
            "(cn=\\c4$VALUE)",
            "($VALUE=x)",
            "(cn$VALUE=x)",
            "(cn:$VALUE:=x)",
            "(cn=x)$VALUE",
            "$VALUE(cn=x)",
            "(&(cn=x)$VALUE)",
            "(cn$VALUE)",
        ] {
            assert!(FilterTemplate::parse(bad).is_err(), "{bad} accepted");
        }
        // Complete escapes and UTF-8 sequences next to `$VALUE` are fine.
        for good in [
            "(cn=\\4a$VALUE)",
            "(cn=\\c4\\8d$VALUE\\29*)",
            "(cn=$VALUE\\5c)",
        ] {
            let t = FilterTemplate::parse(good).unwrap();
            for input in inputs(7, 200) {
                assert!(t.build(&input).is_ok(), "{good} with {input:?}");
            }
        }
    }

    #[test]
    fn valid_templates_build_for_any_input() {
        let templates = [
            "sn:(sn=*$VALUE*)",
            "cn:(cn=$VALUE)",
            "(|(cn=$VALUE*)(mail=$VALUE*))",
            "(&(objectClass=person)(|(sn=$VALUE)(givenName=*$VALUE*)(!(mail=$VALUE))))",
            "(cn:dn:caseExactMatch:=$VALUE)",
            "(telephoneNumber~=$VALUE)",
            "(uid>=$VALUE)",
            "(cn=\\4a$VALUE\\29)",
            "(sn=Lu\\c4\\8d$VALUE$VALUE*x*)",
        ];
        for (i, template) in templates.iter().enumerate() {
            let t = FilterTemplate::parse(template).unwrap();
            for input in inputs(i as u64 + 1, 1000) {
                let f = t
                    .build(&input)
                    .unwrap_or_else(|e| panic!("{template} with {input:?}: {e}"));
                // The input is one value, whatever it holds.
                if *template == "cn:(cn=$VALUE)" {
                    assert_eq!(f, Filter::Equality("cn".into(), input.clone()));
                }
            }
        }
    }

    #[test]
    fn any_template_that_parses_builds_for_any_input() {
        // Random templates; whenever one parses, it must build. Items are `(ATTR OP VALUE)`
        // with `$VALUE`, escapes, parts of escapes and UTF-8 sequences in every place.
        const ATTRS: &[&str] = &[
            "cn",
            "cn",
            "sn",
            "cn:dn",
            "cn:dn:1.2",
            "",
            "$VALUE",
            "cn$VALUE",
        ];
        const OPS: &[&str] = &["=", "=", "=", "~=", ">=", ":=", "$VALUE=", "=$VALUE"];
        const VALUES: &[&str] = &[
            "$VALUE", "$VALUE", "$VALUE", "a", "g", "4", "8d", "\\2a", "*", " ", "é", "\\c4\\8d",
            "\\", "\\4", "\\c4", "\\8d",
        ];
        const AROUND: &[&str] = &["", "", "", "", "", " ", "$VALUE", "(cn=x)", "\\"];
        let mut rng = Rng(0x5eed);
        let item = |rng: &mut Rng| {
            let value: String = (0..rng.below(6)).map(|_| rng.pick(VALUES)).collect();
            format!("({}{}{value})", rng.pick(ATTRS), rng.pick(OPS))
        };
        let probes = inputs(99, 60);
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..10_000 {
            let inner = match rng.below(4) {
                0 => format!("(&{}{})", item(&mut rng), item(&mut rng)),
                1 => format!("(!{})", item(&mut rng)),
                _ => item(&mut rng),
            };
            let template = format!("{}{inner}{}", rng.pick(AROUND), rng.pick(AROUND));
            let Ok(t) = FilterTemplate::parse(&template) else {
                refused += 1;
                continue;
            };
            if template.contains(VALUE_MACRO) {
                accepted += 1;
            }
            for input in &probes {
                assert!(t.build(input).is_ok(), "{template:?} with {input:?}");
            }
        }
        assert!(
            accepted > 200 && refused > 200,
            "{accepted} templates with $VALUE parsed, {refused} refused"
        );
    }
}
