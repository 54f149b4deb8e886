//! The profile: the parameters a cfg.xml sets, with the last duplicate winning, unknown names
//! kept verbatim, and effective values (defaults, aliases, fallbacks) for the subsystems.

use std::borrow::Cow;
use std::hash::BuildHasher;

use hashbrown::{DefaultHashBuilder, HashTable};

use crate::registry::{self, Kind, ParamDef, Ua};
use crate::validate;
use crate::xml::{self, EmitEntry, ParseError, RawEntry};

/// The mask written in place of a secret.
pub const MASK: &str = "*****";

/// One parameter the profile sets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The cfg.xml name, as written.
    pub name: String,
    /// The value, as written (after the cfg.xml value rules).
    pub value: String,
    /// The user access, when the profile gives one.
    pub ua: Option<Ua>,
    /// The source line of the winning element (0 when set by other means).
    pub line: u32,
    /// Write order: among aliases of one parameter, the highest wins.
    seq: u64,
}

/// A set of parameters, in the order they first appeared.
#[derive(Debug, Clone, Default)]
pub struct Profile {
    entries: Vec<Entry>,
    /// Indices into `entries`, hashed by name (no second copy of the names).
    index: HashTable<usize>,
    hasher: DefaultHashBuilder,
    seq: u64,
}

impl PartialEq for Profile {
    /// Two profiles are equal when they set the same names to the same values and ua, in the
    /// same order; source lines do not matter.
    fn eq(&self, other: &Self) -> bool {
        self.entries.len() == other.entries.len()
            && self
                .entries
                .iter()
                .zip(&other.entries)
                .all(|(a, b)| a.name == b.name && a.value == b.value && a.ua == b.ua)
    }
}

impl Profile {
    /// An empty profile: every parameter at its default.
    pub fn new() -> Self {
        Self::default()
    }

    /// The embedded default profile: every registry parameter at its default, per-line ones
    /// for lines 1..=`lines`, each with its default user access.
    pub fn defaults(lines: u8) -> Self {
        let mut p = Self::new();
        for def in registry::all() {
            match def.scope {
                registry::Scope::Global => p.set(def.name, &def.default_for(None), Some(def.ua), 0),
                registry::Scope::Line => {
                    for n in 1..=lines.min(registry::MAX_LINES) {
                        p.set(
                            &def.name_for(Some(n)),
                            &def.default_for(Some(n)),
                            Some(def.ua),
                            0,
                        );
                    }
                }
            }
        }
        p
    }

    /// Parses cfg.xml bytes.
    pub fn parse(bytes: &[u8]) -> Result<Self, ParseError> {
        Ok(Self::from_raw(xml::parse(bytes)?))
    }

    /// Builds a profile from raw elements: the last duplicate wins (value and ua), at the
    /// position of the first.
    pub fn from_raw(raw: Vec<RawEntry>) -> Self {
        let mut p = Self {
            entries: Vec::with_capacity(raw.len()),
            index: HashTable::with_capacity(raw.len()),
            hasher: DefaultHashBuilder::default(),
            seq: 0,
        };
        for r in raw {
            p.upsert(r.name, r.value, Some(r.ua), r.line);
        }
        p
    }

    /// Inserts or replaces an entry. `ua`: `Some(x)` sets the access to `x` (which may be
    /// `None`: no `ua`), `None` keeps the current one.
    fn upsert(&mut self, name: String, value: String, ua: Option<Option<Ua>>, line: u32) {
        self.seq += 1;
        let seq = self.seq;
        let Self {
            entries,
            index,
            hasher,
            ..
        } = self;
        let hash = hasher.hash_one(name.as_str());
        if let Some(&i) = index.find(hash, |&i| entries[i].name == name) {
            let e = &mut entries[i];
            e.value = value;
            if let Some(ua) = ua {
                e.ua = ua;
            }
            e.line = line;
            e.seq = seq;
            return;
        }
        index.insert_unique(hash, entries.len(), |&i| {
            hasher.hash_one(entries[i].name.as_str())
        });
        entries.push(Entry {
            name,
            value,
            ua: ua.flatten(),
            line,
            seq,
        });
    }

    /// The parameters set, in first-appearance order.
    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Whether the profile sets nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The entry for exactly this name, if the profile sets it.
    pub fn get(&self, name: &str) -> Option<&Entry> {
        let hash = self.hasher.hash_one(name);
        self.index
            .find(hash, |&i| self.entries[i].name == name)
            .map(|&i| &self.entries[i])
    }

    /// Sets a parameter. A `ua` of `None` keeps the access the parameter already has.
    pub fn set(&mut self, name: &str, value: &str, ua: Option<Ua>, line: u32) {
        let value = xml::normalize(value).into_owned();
        self.upsert(name.to_owned(), value, ua.map(Some), line);
    }

    /// Applies `other` on top of this profile, as a resync does: parameters `other` names are
    /// replaced (an absent `ua` keeps the current access); the others are left unchanged.
    pub fn merge(&mut self, other: &Self) {
        let mut order: Vec<&Entry> = other.entries.iter().collect();
        order.sort_by_key(|e| e.seq);
        for e in order {
            self.set(&e.name, &e.value, e.ua, e.line);
        }
    }

    /// The entry that sets the parameter `def` for `line`, among its name and its aliases
    /// (the one written last wins).
    pub fn entry_for(&self, def: &ParamDef, line: Option<u8>) -> Option<&Entry> {
        let mut best = self.get(&def.name_for(line));
        for alias in def.aliases {
            let name = match line {
                Some(n) => format!("{}{n}_", alias.strip_suffix("n_").unwrap_or(alias)),
                None => (*alias).to_owned(),
            };
            if let Some(e) = self.get(&name)
                && best.is_none_or(|b| e.seq > b.seq)
            {
                best = Some(e);
            }
        }
        best
    }

    /// The value the phone acts on for a known parameter (`SIP_Transport_2_`): the value set
    /// (through the name or an alias), else — when unset or empty — the fallback parameter's
    /// effective value or the default. Enumerations and booleans come back in their canonical
    /// spelling. `None` for a name the registry does not know.
    pub fn effective(&self, name: &str) -> Option<Cow<'_, str>> {
        let r = registry::lookup(name)?;
        Some(self.effective_def(r.def, r.line))
    }

    /// [`Profile::effective`] for a definition and line.
    pub fn effective_def(&self, def: &'static ParamDef, line: Option<u8>) -> Cow<'_, str> {
        let mut def = def;
        // Fallback chains are short (at most two links); the bound guards against a cycle.
        for _ in 0..4 {
            if let Some(e) = self.entry_for(def, line)
                && !e.value.is_empty()
            {
                return validate::canonical(def, &e.value);
            }
            match def.fallback.and_then(registry::def) {
                Some(next) => def = next,
                None => break,
            }
        }
        def.default_for(line)
    }

    /// The effective value of a boolean parameter.
    pub fn bool(&self, name: &str) -> bool {
        self.effective(name)
            .is_some_and(|v| v.eq_ignore_ascii_case("yes"))
    }

    /// Writes the profile as cfg.xml. With `mask_secrets`, secret values (registry secrets,
    /// unknown names that look like passwords, `--pwd`/`--key` arguments of rules, URL
    /// passwords) are replaced by [`MASK`].
    pub fn emit(&self, mask_secrets: bool) -> String {
        let values: Vec<Cow<'_, str>> = self
            .entries
            .iter()
            .map(|e| {
                if mask_secrets {
                    masked_value(&e.name, &e.value)
                } else {
                    Cow::Borrowed(e.value.as_str())
                }
            })
            .collect();
        xml::emit(self.entries.iter().zip(&values).map(|(e, v)| EmitEntry {
            name: &e.name,
            value: v,
            ua: e.ua,
        }))
    }

    /// The user access in force for a parameter name: the profile's `ua`, else the registry
    /// default, else `na`.
    pub fn ua(&self, name: &str) -> Ua {
        if let Some(ua) = self.get(name).and_then(|e| e.ua) {
            return ua;
        }
        registry::lookup(name).map_or(Ua::Na, |r| r.def.ua)
    }
}

/// Whether a parameter's value must never be shown: a registry secret, or an unknown name that
/// looks like one (`..._Password...`, `...Passwd...`, `..._Secret...`).
pub fn is_secret_name(name: &str) -> bool {
    if let Some(r) = registry::lookup(name) {
        return r.def.is_secret();
    }
    let lower = name.to_ascii_lowercase();
    ["password", "passwd", "secret", "psk"]
        .iter()
        .any(|w| lower.contains(w))
}

/// The value to show for a parameter when secrets must not be shown.
pub fn masked_value<'a>(name: &str, value: &'a str) -> Cow<'a, str> {
    if value.is_empty() {
        return Cow::Borrowed(value);
    }
    if is_secret_name(name) {
        return Cow::Borrowed(MASK);
    }
    let is_rule = registry::lookup(name).map_or(name.ends_with("_Rule"), |r| {
        matches!(r.def.kind, Kind::Rule | Kind::Url(_) | Kind::LdapUrl)
    });
    if is_rule || value.contains("--pwd") || value.contains("--key") || value.contains("://") {
        return mask_in_text(value);
    }
    Cow::Borrowed(value)
}

/// Masks `--pwd X` / `--key X` option arguments and `user:password@` URL credentials.
pub fn mask_in_text(value: &str) -> Cow<'_, str> {
    let mut out = String::with_capacity(value.len());
    let mut changed = false;
    let mut rest = value;
    while !rest.is_empty() {
        let opt = ["--pwd", "--key"]
            .iter()
            .filter_map(|o| rest.find(o).map(|i| (i, o.len())))
            .min();
        let cred = find_url_password(rest);
        match (opt, cred) {
            (Some((i, len)), c) if c.is_none_or(|(ci, _)| i < ci) => {
                out.push_str(&rest[..i + len]);
                let after = &rest[i + len..];
                let ws = after.len() - after.trim_start().len();
                if ws == 0 {
                    rest = after;
                    continue;
                }
                out.push_str(&after[..ws]);
                let arg = &after[ws..];
                let arg_len = if let Some(q) = arg.strip_prefix('"') {
                    q.find('"').map_or(arg.len(), |e| e + 2)
                } else {
                    arg.find(|c: char| c.is_whitespace() || c == ']')
                        .unwrap_or(arg.len())
                };
                if arg_len > 0 {
                    out.push_str(MASK);
                    changed = true;
                }
                rest = &arg[arg_len..];
            }
            (_, Some((start, end))) => {
                out.push_str(&rest[..start]);
                out.push_str(MASK);
                changed = true;
                rest = &rest[end..];
            }
            _ => {
                out.push_str(rest);
                rest = "";
            }
        }
    }
    if changed {
        Cow::Owned(out)
    } else {
        Cow::Borrowed(value)
    }
}

/// Finds the password of a `scheme://user:password@host` URL: its byte range.
fn find_url_password(s: &str) -> Option<(usize, usize)> {
    let mut from = 0;
    while let Some(i) = s[from..].find("://") {
        let auth_start = from + i + 3;
        let auth_end = s[auth_start..]
            .find(|c: char| c == '/' || c.is_whitespace() || c == '|' || c == ']')
            .map_or(s.len(), |e| auth_start + e);
        let authority = &s[auth_start..auth_end];
        if let Some(at) = authority.rfind('@')
            && let Some(colon) = authority[..at].find(':')
        {
            let start = auth_start + colon + 1;
            let end = auth_start + at;
            if end > start {
                return Some((start, end));
            }
        }
        from = auth_end.max(auth_start);
        if from >= s.len() {
            break;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn last_duplicate_wins_at_first_position() {
        let p = Profile::parse(b"<flat-profile><A ua=\"rw\">1</A><B>x</B><A>2</A></flat-profile>")
            .unwrap();
        assert_eq!(p.entries().len(), 2);
        assert_eq!(p.entries()[0].name, "A");
        assert_eq!(p.get("A").unwrap().value, "2");
        assert_eq!(p.get("A").unwrap().ua, None);
    }

    #[test]
    fn merge_keeps_ua_when_absent() {
        let mut cur = Profile::parse(b"<flat-profile><A ua=\"rw\">1</A></flat-profile>").unwrap();
        let new = Profile::parse(b"<flat-profile><A>2</A><C/></flat-profile>").unwrap();
        cur.merge(&new);
        assert_eq!(cur.get("A").unwrap().value, "2");
        assert_eq!(cur.get("A").unwrap().ua, Some(Ua::Rw));
        assert_eq!(cur.get("C").unwrap().value, "");
    }

    #[test]
    fn masking() {
        assert_eq!(
            mask_in_text("[--uid u --pwd \"a b\" --key k1]https://x:y@h/p"),
            "[--uid u --pwd ***** --key *****]https://x:*****@h/p"
        );
        assert_eq!(mask_in_text("https://h/p"), "https://h/p");
        assert_eq!(mask_in_text("--pwd"), "--pwd");
        assert_eq!(masked_value("Some_Unknown_Password_3_", "x"), MASK);
    }
}
