//! What the phone shows of a directory entry: `LDAP_Display_Attrs`
//! (`a=cn,n=Name;a=telephoneNumber,n=Work,t=p`) and `LDAP_Number_Mapping` (a dial-plan rule
//! such as `<:9>xx.` applied to the dialable number).

use std::fmt;

use serde::Serialize;

/// At most this many `;`-separated items in `LDAP_Display_Attrs`.
pub const MAX_DISPLAY_ATTRS: usize = 32;

/// Used when `LDAP_Display_Attrs` is empty.
pub const DEFAULT_DISPLAY_ATTRS: &str =
    "a=cn,n=Name;a=telephoneNumber,n=Phone,t=p;a=mobile,n=Mobile,t=p";

/// One item of `LDAP_Display_Attrs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DisplayAttr {
    /// `a=`: the LDAP attribute.
    pub attr: String,
    /// `n=`: the label shown (default: the attribute name).
    pub label: String,
    /// `t=p`: a phone number.
    pub phone: bool,
}

/// Why `LDAP_Display_Attrs` or `LDAP_Number_Mapping` is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum DisplayError {
    /// An item has no `a=`.
    NoAttribute(String),
    /// An item has a key other than `a`, `n`, `t`, or `t=` other than `p`.
    BadKey(String),
    /// An attribute name that is not an LDAP attribute description.
    BadAttribute(String),
    /// More than [`MAX_DISPLAY_ATTRS`] items.
    TooMany(usize),
    /// `LDAP_Number_Mapping` is not a dial-plan rule this phone understands.
    BadMapping(String),
}

impl fmt::Display for DisplayError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NoAttribute(i) => write!(f, "item {i:?} has no a=ATTRIBUTE"),
            Self::BadKey(k) => write!(f, "{k:?}: the keys are a=, n= and t=p"),
            Self::BadAttribute(a) => write!(f, "{a:?} is not an attribute name"),
            Self::TooMany(n) => write!(f, "{n} items (at most {MAX_DISPLAY_ATTRS})"),
            Self::BadMapping(why) => write!(f, "number mapping: {why}"),
        }
    }
}

impl std::error::Error for DisplayError {}

/// Parses `LDAP_Display_Attrs` (empty: [`DEFAULT_DISPLAY_ATTRS`]). Items are `;`-separated,
/// keys `,`-separated, white space around both trimmed; empty items are skipped.
pub fn parse_display_attrs(value: &str) -> Result<Vec<DisplayAttr>, DisplayError> {
    let value = if value.trim().is_empty() {
        DEFAULT_DISPLAY_ATTRS
    } else {
        value
    };
    let mut out = Vec::new();
    for item in value.split(';').map(str::trim).filter(|i| !i.is_empty()) {
        let (mut attr, mut label, mut phone) = (None, None, false);
        for kv in item.split(',').map(str::trim).filter(|k| !k.is_empty()) {
            match kv.split_once('=').map(|(k, v)| (k.trim(), v.trim())) {
                Some(("a", v)) => attr = Some(v.to_owned()),
                Some(("n", v)) => label = Some(v.to_owned()),
                Some(("t", "p")) => phone = true,
                _ => return Err(DisplayError::BadKey(kv.to_owned())),
            }
        }
        let attr = attr.ok_or_else(|| DisplayError::NoAttribute(item.to_owned()))?;
        let ok = attr.starts_with(|c: char| c.is_ascii_alphabetic())
            && attr
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b';');
        if !ok {
            return Err(DisplayError::BadAttribute(attr));
        }
        out.push(DisplayAttr {
            label: label
                .filter(|l| !l.is_empty())
                .unwrap_or_else(|| attr.clone()),
            attr,
            phone,
        });
    }
    if out.len() > MAX_DISPLAY_ATTRS {
        return Err(DisplayError::TooMany(out.len()));
    }
    Ok(out)
}

/// One element of a number-mapping rule.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Elem {
    /// A literal digit or `*`, `#`, `+`.
    Lit(u8),
    /// `x`: any digit.
    AnyDigit,
    /// `[...]`: one of these characters.
    Set(Vec<u8>),
    /// `.`: the previous element zero or more times.
    Repeat,
    /// `<from:to>`: matches `from`, outputs `to`.
    Sub(Vec<u8>, Vec<u8>),
}

/// `LDAP_Number_Mapping`: a dial-plan rule (`<:9>xx.`, `(<0:+33>x.|<:9>xxxx)`) applied to the
/// dialable number of an entry. Supported: digits, `*`, `#`, `+`, `x`, `[0-9...]`, `.`,
/// `<from:to>` and `|` alternatives in optional parentheses; the first alternative that
/// matches the whole number applies; a number no alternative matches is left unchanged.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NumberMapping {
    alternatives: Vec<Vec<Elem>>,
}

/// Longest mapping rule accepted.
const MAX_MAPPING_LEN: usize = 512;

impl NumberMapping {
    /// Parses the parameter (empty: no mapping).
    pub fn parse(value: &str) -> Result<Self, DisplayError> {
        let bad = |why: &str| DisplayError::BadMapping(why.to_owned());
        let v: String = value.chars().filter(|c| !c.is_whitespace()).collect();
        if v.len() > MAX_MAPPING_LEN {
            return Err(bad("too long"));
        }
        let v = v
            .strip_prefix('(')
            .and_then(|x| x.strip_suffix(')'))
            .unwrap_or(&v);
        if v.is_empty() {
            return Ok(Self::default());
        }
        let mut alternatives = Vec::new();
        for alt in v.split('|') {
            let b = alt.as_bytes();
            let mut elems = Vec::new();
            let mut i = 0;
            while i < b.len() {
                match b[i] {
                    c @ (b'0'..=b'9' | b'*' | b'#' | b'+') => elems.push(Elem::Lit(c)),
                    b'x' | b'X' => elems.push(Elem::AnyDigit),
                    b'.' => {
                        if elems.is_empty() || matches!(elems.last(), Some(Elem::Repeat)) {
                            return Err(bad("'.' must follow a digit, x or [set]"));
                        }
                        elems.push(Elem::Repeat);
                    }
                    b'[' => {
                        let end = alt[i..].find(']').ok_or_else(|| bad("'[' without ']'"))? + i;
                        let mut set = Vec::new();
                        let inner = &b[i + 1..end];
                        let mut j = 0;
                        while j < inner.len() {
                            if j + 2 < inner.len() && inner[j + 1] == b'-' {
                                set.extend(inner[j]..=inner[j + 2]);
                                j += 3;
                            } else {
                                set.push(inner[j]);
                                j += 1;
                            }
                        }
                        elems.push(Elem::Set(set));
                        i = end;
                    }
                    b'<' => {
                        let end = alt[i..].find('>').ok_or_else(|| bad("'<' without '>'"))? + i;
                        let (from, to) = alt[i + 1..end]
                            .split_once(':')
                            .ok_or_else(|| bad("<from:to> without ':'"))?;
                        elems.push(Elem::Sub(from.as_bytes().to_vec(), to.as_bytes().to_vec()));
                        i = end;
                    }
                    c => {
                        return Err(DisplayError::BadMapping(format!(
                            "unexpected {:?}",
                            char::from(c)
                        )));
                    }
                }
                i += 1;
            }
            alternatives.push(elems);
        }
        Ok(Self { alternatives })
    }

    /// Whether the mapping changes nothing.
    pub fn is_empty(&self) -> bool {
        self.alternatives.is_empty()
    }

    /// The number after the mapping. The number is first reduced to its dialable characters
    /// (digits, `*`, `#`, a leading `+`): `555 1212` and `555-1212` both become `5551212`.
    ///
    /// A number longer than [`MAX_MAPPED_NUMBER`] dialable characters (no phone number is; the
    /// directory server may send anything) is returned reduced but not mapped, so matching
    /// stays small.
    pub fn apply(&self, number: &str) -> String {
        let digits: String = number
            .chars()
            .enumerate()
            .filter(|&(i, c)| c.is_ascii_digit() || c == '*' || c == '#' || (c == '+' && i == 0))
            .map(|(_, c)| c)
            .collect();
        if digits.len() > MAX_MAPPED_NUMBER {
            return digits;
        }
        for alt in &self.alternatives {
            let mut out = Vec::new();
            if matches(alt, digits.as_bytes(), &mut out) {
                return String::from_utf8_lossy(&out).into_owned();
            }
        }
        digits
    }
}

/// The longest number (dialable characters) that [`NumberMapping::apply`] maps.
pub const MAX_MAPPED_NUMBER: usize = 128;

/// Whether `elems` match all of `input`, writing the output (with substitutions) to `out`.
///
/// The match is the one a backtracking matcher finds first: elements from left to right, an
/// element followed by `.` taking as many characters as it can (longest first). It is found in
/// O(elements × input) steps (the input comes from the directory server): a table says, for
/// each element and input position, whether the rest of the rule matches the rest of the input;
/// the output is then read off the table, taking the first choice that can still succeed.
fn matches(elems: &[Elem], input: &[u8], out: &mut Vec<u8>) -> bool {
    let one = |e: &Elem, c: u8| match e {
        Elem::Lit(l) => *l == c,
        Elem::AnyDigit => c.is_ascii_digit(),
        Elem::Set(s) => s.contains(&c),
        Elem::Repeat | Elem::Sub(..) => false,
    };
    // An element (not `<from:to>`) followed by `.`: zero or more of it.
    let repeated = |i: usize| {
        !matches!(elems[i], Elem::Sub(..) | Elem::Repeat)
            && matches!(elems.get(i + 1), Some(Elem::Repeat))
    };
    let (m, n) = (elems.len(), input.len());
    // `ok[i][j]`: `elems[i..]` match `input[j..]`, one bit each.
    let width = n + 1;
    let mut ok = vec![0u64; ((m + 1) * width).div_ceil(64)];
    let get = |ok: &[u64], i: usize, j: usize| {
        let b = i * width + j;
        ok[b / 64] >> (b % 64) & 1 == 1
    };
    let set = |ok: &mut [u64], i: usize, j: usize| {
        let b = i * width + j;
        ok[b / 64] |= 1 << (b % 64);
    };
    set(&mut ok, m, n);
    for i in (0..m).rev() {
        // Right to left, so that a repeated element sees `ok[i][j + 1]`.
        for j in (0..=n).rev() {
            let yes = match &elems[i] {
                Elem::Sub(from, _) => {
                    input[j..].starts_with(from) && get(&ok, i + 1, j + from.len())
                }
                Elem::Repeat => get(&ok, i + 1, j),
                e if repeated(i) => {
                    get(&ok, i + 2, j) || (j < n && one(e, input[j]) && get(&ok, i, j + 1))
                }
                e => j < n && one(e, input[j]) && get(&ok, i + 1, j + 1),
            };
            if yes {
                set(&mut ok, i, j);
            }
        }
    }
    if !get(&ok, 0, 0) {
        return false;
    }
    let (mut i, mut j) = (0, 0);
    while i < m {
        match &elems[i] {
            Elem::Sub(from, to) => {
                out.extend_from_slice(to);
                j += from.len();
                i += 1;
            }
            Elem::Repeat => i += 1,
            // One more of a repeated element when the rest can still match, else none.
            e if repeated(i) => {
                if j < n && one(e, input[j]) && get(&ok, i, j + 1) {
                    out.push(input[j]);
                    j += 1;
                } else {
                    i += 2;
                }
            }
            _ => {
                out.push(input[j]);
                i += 1;
                j += 1;
            }
        }
    }
    true
}

/// One field of a row: a display attribute's value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Field {
    /// The label (`n=`).
    pub label: String,
    /// The LDAP attribute.
    pub attr: String,
    /// The value as the server sent it.
    pub value: String,
    /// Whether it is a phone number (`t=p`).
    pub phone: bool,
}

/// A directory entry as the phone shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Row {
    /// The entry's DN.
    pub dn: String,
    /// The name shown: `cn`, else `givenName sn`, else the first non-phone field, else the DN.
    pub name: String,
    /// The display attributes the entry has, in `LDAP_Display_Attrs` order (each value of a
    /// multi-valued attribute is a field).
    pub fields: Vec<Field>,
    /// The number dialled: the first phone field, after `LDAP_Number_Mapping`.
    pub dial: Option<String>,
}

/// The attributes to request: the display attributes plus `cn`, `sn`, `givenName` (the name).
pub fn requested_attributes(display: &[DisplayAttr]) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    for a in display
        .iter()
        .map(|d| d.attr.as_str())
        .chain(["cn", "sn", "givenName"])
    {
        if !v.iter().any(|x| x.eq_ignore_ascii_case(a)) {
            v.push(a.to_owned());
        }
    }
    v
}

/// Maps an entry (`dn`, attributes with their values) to a row.
pub fn to_row(
    dn: &str,
    attrs: &[(String, Vec<String>)],
    display: &[DisplayAttr],
    mapping: &NumberMapping,
) -> Row {
    let values = |name: &str| -> Vec<&str> {
        attrs
            .iter()
            .filter(|(a, _)| a.eq_ignore_ascii_case(name))
            .flat_map(|(_, v)| v.iter().map(String::as_str))
            .collect()
    };
    let mut fields = Vec::new();
    for d in display {
        for v in values(&d.attr) {
            fields.push(Field {
                label: d.label.clone(),
                attr: d.attr.clone(),
                value: v.to_owned(),
                phone: d.phone,
            });
        }
    }
    let given_sn = [values("givenName").first(), values("sn").first()]
        .into_iter()
        .flatten()
        .copied()
        .collect::<Vec<_>>()
        .join(" ");
    let name = values("cn")
        .first()
        .map(|s| (*s).to_owned())
        .or_else(|| (!given_sn.is_empty()).then_some(given_sn))
        .or_else(|| fields.iter().find(|f| !f.phone).map(|f| f.value.clone()))
        .unwrap_or_else(|| dn.to_owned());
    let dial = fields
        .iter()
        .find(|f| f.phone)
        .map(|f| mapping.apply(&f.value));
    Row {
        dn: dn.to_owned(),
        name,
        fields,
        dial,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_attrs_parse_the_guides_examples() {
        let d = parse_display_attrs(
            "a=givenName,n=firstname;a=sn,n=lastname;a=telephoneNumber,n=tele,t=p",
        )
        .unwrap();
        assert_eq!(d.len(), 3);
        assert_eq!(
            d[2],
            DisplayAttr {
                attr: "telephoneNumber".into(),
                label: "tele".into(),
                phone: true
            }
        );
        let d = parse_display_attrs("a=ipPhone, t=p; a=mobile, t=p;").unwrap();
        assert_eq!(d[0].label, "ipPhone");
        assert!(d[1].phone);
        // The fusionpbx template's form: attributes only, trailing ';'.
        assert_eq!(
            parse_display_attrs("a=cn;a=telephoneNumber;")
                .unwrap()
                .len(),
            2
        );
        assert_eq!(parse_display_attrs("").unwrap().len(), 3);
        assert!(matches!(
            parse_display_attrs("n=Name"),
            Err(DisplayError::NoAttribute(_))
        ));
        assert!(matches!(
            parse_display_attrs("a=cn,x=1"),
            Err(DisplayError::BadKey(_))
        ));
        assert!(matches!(
            parse_display_attrs("a=c n"),
            Err(DisplayError::BadAttribute(_))
        ));
    }

    #[test]
    fn number_mapping_prefixes_and_rewrites() {
        let m = NumberMapping::parse("<:9>xx.").unwrap();
        assert_eq!(m.apply("555 1212"), "95551212");
        let m = NumberMapping::parse("(<+33:0>x.|<:9>xxxx)").unwrap();
        assert_eq!(m.apply("+33 1 23 45 67 89"), "0123456789");
        assert_eq!(m.apply("1234"), "91234");
        // No alternative matches: unchanged (dialable characters only).
        assert_eq!(m.apply("12-345"), "12345");
        assert!(NumberMapping::parse("").unwrap().is_empty());
        assert_eq!(
            NumberMapping::parse("").unwrap().apply("(555) 1212"),
            "5551212"
        );
        assert!(NumberMapping::parse("<:9xx.").is_err());
        assert!(NumberMapping::parse(".x").is_err());
        assert!(NumberMapping::parse("a").is_err());
        assert_eq!(NumberMapping::parse("[2-4]xx").unwrap().apply("355"), "355");
    }

    #[test]
    fn number_mapping_does_not_backtrack_exponentially() {
        // Found by fuzzing: this ran for over a minute on a 40-digit number (no `#`, so every
        // way of splitting the digits among the `x.` was tried).
        let m = NumberMapping::parse("x.x.x.x.x.x.x.x.#").unwrap();
        let number = "1234567890".repeat(7)[..64].to_owned();
        assert_eq!(m.apply(&number), number);
        assert_eq!(m.apply(&format!("{number}#")), format!("{number}#"));
        let m =
            NumberMapping::parse("(<00:+>x.x.x.x.x.x.x.x.<#:>|<:9>x.x.x.x.x.x.x.x.x.*)").unwrap();
        assert_eq!(m.apply(&format!("00{number}#")), format!("+{number}"));
        assert_eq!(m.apply(&format!("{number}*")), format!("9{number}*"));
        assert_eq!(m.apply(&number), number);
        // A long number from a hostile server: reduced, not mapped.
        let long = "5".repeat(10_000);
        assert_eq!(m.apply(&long), long);
        assert_eq!(m.apply(&format!("00{long}#")), format!("00{long}#"));
        // Up to MAX_MAPPED_NUMBER characters are mapped.
        let longest = "5".repeat(MAX_MAPPED_NUMBER - 3);
        assert_eq!(m.apply(&format!("00{longest}#")), format!("+{longest}"));
    }

    /// The backtracking matcher the table-driven one replaced: exponential, but obviously the
    /// rule's meaning; the two must agree.
    fn reference(elems: &[Elem], input: &[u8], out: &mut Vec<u8>) -> bool {
        let Some((first, rest)) = elems.split_first() else {
            return input.is_empty();
        };
        let one = |e: &Elem, c: u8| match e {
            Elem::Lit(l) => *l == c,
            Elem::AnyDigit => c.is_ascii_digit(),
            Elem::Set(s) => s.contains(&c),
            Elem::Repeat | Elem::Sub(..) => false,
        };
        let repeated = matches!(rest.first(), Some(Elem::Repeat));
        match first {
            Elem::Sub(from, to) => {
                if input.starts_with(from) {
                    let mark = out.len();
                    out.extend_from_slice(to);
                    if reference(rest, &input[from.len()..], out) {
                        return true;
                    }
                    out.truncate(mark);
                }
                false
            }
            Elem::Repeat => reference(rest, input, out),
            e if repeated => {
                let after = &rest[1..];
                let n = input.iter().take_while(|&&c| one(e, c)).count();
                for k in (0..=n).rev() {
                    let mark = out.len();
                    out.extend_from_slice(&input[..k]);
                    if reference(after, &input[k..], out) {
                        return true;
                    }
                    out.truncate(mark);
                }
                false
            }
            e => match input.split_first() {
                Some((&c, tail)) if one(e, c) => {
                    out.push(c);
                    if reference(rest, tail, out) {
                        return true;
                    }
                    out.pop();
                    false
                }
                _ => false,
            },
        }
    }

    #[test]
    fn number_mapping_agrees_with_backtracking() {
        // xorshift64*: random short rules and numbers, compared with the old matcher.
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        let mut below = |n: usize| {
            state ^= state >> 12;
            state ^= state << 25;
            state ^= state >> 27;
            (state.wrapping_mul(0x2545_f491_4f6c_dd1d) % n as u64) as usize
        };
        const PARTS: &[&str] = &[
            "x", "x.", "1", "1.", "2", "0.", "*", "#", "+", "[12]", "[1-3].", "<1:>", "<:9>",
            "<12:4>", "<#:>", "<0:+33>", ".", "<:>",
        ];
        const DIGITS: &[u8] = b"0112233*#+";
        let mut compared = 0;
        for _ in 0..5000 {
            let rule: String = (0..1 + below(6))
                .map(|_| PARTS[below(PARTS.len())])
                .collect();
            let Ok(m) = NumberMapping::parse(&rule) else {
                continue;
            };
            for _ in 0..20 {
                let len = below(9);
                let number: Vec<u8> = (0..len).map(|_| DIGITS[below(DIGITS.len())]).collect();
                for alt in &m.alternatives {
                    let (mut a, mut b) = (Vec::new(), Vec::new());
                    let found = matches(alt, &number, &mut a);
                    assert_eq!(
                        found,
                        reference(alt, &number, &mut b),
                        "{rule} on {number:?}"
                    );
                    if found {
                        assert_eq!(a, b, "{rule} on {number:?}");
                        compared += 1;
                    }
                }
            }
        }
        assert!(compared > 1000, "only {compared} matches compared");
    }

    #[test]
    fn rows_take_name_fields_and_the_first_dialable_number() {
        let display =
            parse_display_attrs("a=cn,n=Name;a=telephoneNumber,n=Work,t=p;a=mobile,n=Mobile,t=p")
                .unwrap();
        let attrs = vec![
            ("cn".to_owned(), vec!["Alice Smith".to_owned()]),
            ("MOBILE".to_owned(), vec!["555 9999".to_owned()]),
            ("telephoneNumber".to_owned(), vec!["555 1212".to_owned()]),
        ];
        let row = to_row(
            "uid=alice,dc=x",
            &attrs,
            &display,
            &NumberMapping::parse("<:9>x.").unwrap(),
        );
        assert_eq!(row.name, "Alice Smith");
        assert_eq!(row.fields.len(), 3);
        assert_eq!(row.fields[1].label, "Work");
        assert_eq!(row.dial.as_deref(), Some("95551212"));
        let row = to_row(
            "uid=bob,dc=x",
            &[
                ("sn".to_owned(), vec!["Jones".to_owned()]),
                ("givenName".to_owned(), vec!["Bob".to_owned()]),
            ],
            &display,
            &NumberMapping::default(),
        );
        assert_eq!(row.name, "Bob Jones");
        assert_eq!(row.dial, None);
        assert_eq!(
            requested_attributes(&display),
            ["cn", "telephoneNumber", "mobile", "sn", "givenName"]
        );
    }
}
