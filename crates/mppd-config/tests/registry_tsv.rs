#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The registry against `shared/reference/parameters.tsv`: every row of the file is in the
//! registry with the same tab, section, label, scope, default, user access, source and a kind
//! that matches the file's type and allowed values.

use mppd_config::registry::{self, Default};
use mppd_config::{Kind, ParamDef, Scope, Ua};

const TSV: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/reference/parameters.tsv"
);

/// One row of the tsv, after expanding `GPP_A .. GPP_P` style ranges.
#[derive(Debug, Clone)]
struct Row {
    name: String,
    tab: String,
    section: String,
    label: String,
    ty: String,
    allowed: String,
    default: String,
    scope: String,
    source: String,
    ua: String,
}

fn rows() -> Vec<Row> {
    let text = std::fs::read_to_string(TSV).unwrap_or_else(|e| panic!("reading {TSV}: {e}"));
    let mut out = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert_eq!(cols.len(), 10, "line {}: {line:?}", i + 1);
        let row = Row {
            name: cols[0].to_owned(),
            tab: cols[1].to_owned(),
            section: cols[2].to_owned(),
            label: cols[3].to_owned(),
            ty: cols[4].to_owned(),
            allowed: cols[5].to_owned(),
            default: cols[6].to_owned(),
            scope: cols[7].to_owned(),
            source: cols[8].to_owned(),
            ua: cols[9].to_owned(),
        };
        out.extend(expand(row));
    }
    out
}

/// `GPP_A .. GPP_P` (label `GPP A .. GPP P`) becomes GPP_A, GPP_B, ... with labels GPP A, ...
fn expand(row: Row) -> Vec<Row> {
    let Some((first, last)) = row.name.split_once(" .. ") else {
        return vec![row];
    };
    let (prefix, from) = split_last_letter(first);
    let (prefix2, to) = split_last_letter(last);
    assert_eq!(prefix, prefix2, "range {}", row.name);
    let label_range = row.label.split_once(" .. ");
    (from..=to)
        .map(|c| {
            let mut r = row.clone();
            r.name = format!("{prefix}{c}");
            if let Some((label_first, _)) = label_range {
                let (label_prefix, _) = split_last_letter(label_first);
                r.label = format!("{label_prefix}{c}");
            }
            r
        })
        .collect()
}

fn split_last_letter(s: &str) -> (&str, char) {
    let c = s.chars().last().expect("empty range end");
    assert!(c.is_ascii_uppercase(), "range end {s:?}");
    (&s[..s.len() - 1], c)
}

fn expected_default(row: &Row) -> Default {
    if row.name == "SIP_Port_n_" {
        Default::LineOffset(5059)
    } else if row.default == "(empty)" || row.default.starts_with("(empty:") {
        Default::Fixed("")
    } else {
        Default::Fixed(Box::leak(row.default.clone().into_boxed_str()))
    }
}

fn range(allowed: &str) -> Option<(i64, i64)> {
    let (a, b) = allowed.split_once('-')?;
    Some((a.trim().parse().ok()?, b.trim().parse().ok()?))
}

/// Checks the registry kind against the tsv type and allowed values.
fn check_kind(row: &Row, kind: &Kind) -> Result<(), String> {
    let bad = || {
        Err(format!(
            "tsv {} {:?} but registry {kind:?}",
            row.ty, row.allowed
        ))
    };
    let ok = |cond: bool| if cond { Ok(()) } else { bad() };
    let list = |s: &str| {
        s.split('|')
            .map(str::trim)
            .map(str::to_owned)
            .collect::<Vec<_>>()
    };
    match row.ty.as_str() {
        "bool" => ok(matches!(kind, Kind::Bool)),
        "enum" => {
            let (values, also) = match row.allowed.split_once(" (also ") {
                Some((v, rest)) => (list(v), list(rest.trim_end_matches(')'))),
                None => (list(&row.allowed), Vec::new()),
            };
            match kind {
                Kind::Enum(v) if also.is_empty() => {
                    ok(v.iter().copied().eq(values.iter().map(String::as_str)))
                }
                Kind::EnumAlias { values: v, aliases } if !also.is_empty() => {
                    let expected: Vec<(&str, &str)> = also
                        .iter()
                        .map(String::as_str)
                        .zip(values.iter().map(String::as_str))
                        .collect();
                    ok(v.iter().copied().eq(values.iter().map(String::as_str))
                        && aliases.to_vec() == expected)
                }
                _ => bad(),
            }
        }
        "port" => {
            let (min, max) = range(&row.allowed).ok_or("port without range")?;
            ok(
                matches!(kind, Kind::Port { min: a, max: b } if i64::from(*a) == min && i64::from(*b) == max),
            )
        }
        "int" => {
            let (min, max) = range(&row.allowed).ok_or("int without range")?;
            ok(matches!(kind, Kind::Int { min: a, max: b } if *a == min && *b == max))
        }
        "decimal" => {
            let (min, max) = range(&row.allowed).ok_or("decimal without range")?;
            ok(matches!(kind, Kind::Decimal { min_milli: a, max_milli: b }
                if *a == min * 1000 && *b == max * 1000))
        }
        "int-list" => match (kind, range(&row.allowed)) {
            (Kind::IntList { min: a, max: b }, Some((min, max))) => ok(*a == min && *b == max),
            (Kind::IntList { .. }, None) => Ok(()),
            _ => bad(),
        },
        "url" => match kind {
            Kind::Url(schemes) => ok(schemes.iter().copied().eq(row.allowed.split('|'))),
            _ => bad(),
        },
        "host" => ok(matches!(kind, Kind::Host)),
        "host-port" => ok(matches!(kind, Kind::HostPort)),
        "ldap-url" => ok(matches!(kind, Kind::LdapUrl)),
        "rule" => ok(matches!(kind, Kind::Rule)),
        "proxy" => ok(matches!(kind, Kind::SipProxy)),
        "fqdn-list" => ok(matches!(kind, Kind::FqdnList)),
        "text" => ok(matches!(kind, Kind::Text)),
        "macro-text" => ok(matches!(kind, Kind::MacroText)),
        "secret" => ok(matches!(kind, Kind::Secret | Kind::SecretAlnum)),
        "cipher-string" => ok(matches!(kind, Kind::CipherList)),
        "firewall-options" => ok(matches!(kind, Kind::FirewallOptions)),
        "hhmm" => ok(matches!(kind, Kind::HhMm)),
        "resync-interval" => ok(matches!(kind, Kind::ResyncInterval)),
        "condition" => ok(matches!(kind, Kind::Condition)),
        other => Err(format!("unknown tsv type {other:?}")),
    }
}

/// Compares one tsv row with its registry definition; returns the differences.
fn compare(row: &Row, def: &ParamDef) -> Vec<String> {
    let mut errs = Vec::new();
    let mut field = |what: &str, got: &str, want: &str| {
        if got != want {
            errs.push(format!("{what}: registry {got:?}, tsv {want:?}"));
        }
    };
    field("name", def.name, &row.name);
    field("tab", def.tab, &row.tab);
    field("section", def.section, &row.section);
    field("label", def.label, &row.label);
    field("source", def.source, &format!("tsv: {}", row.source));
    let want_scope = match row.scope.as_str() {
        "global" => Scope::Global,
        "line" => Scope::Line,
        other => panic!("{}: unknown scope {other:?}", row.name),
    };
    if def.scope != want_scope {
        errs.push(format!(
            "scope: registry {:?}, tsv {want_scope:?}",
            def.scope
        ));
    }
    let want_ua = Ua::parse(&row.ua).unwrap_or_else(|| panic!("{}: bad ua {:?}", row.name, row.ua));
    if def.ua != want_ua {
        errs.push(format!("ua: registry {}, tsv {want_ua}", def.ua));
    }
    let want_default = expected_default(row);
    if def.default != want_default {
        errs.push(format!(
            "default: registry {:?}, tsv {want_default:?}",
            def.default
        ));
    }
    if let Err(e) = check_kind(row, &def.kind) {
        errs.push(format!("kind: {e}"));
    }
    errs
}

#[test]
fn every_tsv_row_is_in_the_registry() {
    let rows = rows();
    assert!(rows.len() > 100, "only {} rows read from {TSV}", rows.len());
    let mut failures = Vec::new();
    for row in &rows {
        let Some(def) = registry::def(&row.name) else {
            failures.push(format!("{}: not in the registry", row.name));
            continue;
        };
        for e in compare(row, def) {
            failures.push(format!("{}: {e}", row.name));
        }
        // The cfg.xml name resolves to the same definition.
        let cfg_name = match def.scope {
            Scope::Line => format!("{}1_", row.name.strip_suffix("n_").unwrap()),
            Scope::Global => row.name.clone(),
        };
        match registry::lookup(&cfg_name) {
            Some(r) if std::ptr::eq(r.def, def) => {}
            other => failures.push(format!(
                "{}: lookup({cfg_name}) gave {:?}",
                row.name,
                other.map(|r| r.def.name)
            )),
        }
    }
    assert!(
        failures.is_empty(),
        "{} mismatches:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn registry_order_keeps_tsv_order() {
    let rows = rows();
    let positions: Vec<usize> = rows
        .iter()
        .filter_map(|r| registry::all().iter().position(|d| d.name == r.name))
        .collect();
    assert_eq!(positions.len(), rows.len());
    for (w, pair) in positions.windows(2).enumerate() {
        assert!(
            pair[0] < pair[1],
            "{} comes after {} in the registry",
            rows[w].name,
            rows[w + 1].name
        );
    }
}

#[test]
fn tsv_rows_are_not_duplicated() {
    let rows = rows();
    let mut seen = std::collections::HashSet::new();
    for r in &rows {
        assert!(seen.insert(r.name.clone()), "tsv row {} twice", r.name);
    }
}

#[test]
fn extra_entries_of_the_spec() {
    // SPEC §4: per-line override of the global RFC 8760 switch.
    let d = registry::def("Auth_Support_RFC8760_n_").expect("Auth_Support_RFC8760_n_");
    assert_eq!(d.scope, Scope::Line);
    assert!(matches!(d.kind, Kind::Bool));
    assert_eq!(d.default, Default::Fixed(""));
    assert_eq!(d.fallback, Some("Auth_Support_RFC8760"));
    assert_eq!(
        (d.tab, d.section, d.label),
        ("Ext(n)", "SIP Settings", "Auth Support RFC8760")
    );
    let r = registry::lookup("Auth_Support_RFC8760_4_").unwrap();
    assert_eq!((r.def.name, r.line), ("Auth_Support_RFC8760_n_", Some(4)));
    let g = registry::lookup("Auth_Support_RFC8760").unwrap();
    assert_eq!((g.def.name, g.line), ("Auth_Support_RFC8760", None));

    // Auth ID falls back to User ID.
    let a = registry::def("Auth_ID_n_").unwrap();
    assert_eq!(a.fallback, Some("User_ID_n_"));
    assert_eq!(a.default, Default::Fixed(""));

    // SPEC §5: newer firmware's name.
    assert_eq!(
        registry::lookup("TLS_Client_Min_Version").unwrap().def.name,
        "TLS_Min_Version"
    );

    // SIP_Port_n_: 5059 + n.
    let p = registry::def("SIP_Port_n_").unwrap();
    assert_eq!(p.default_for(Some(1)), "5060");
    assert_eq!(p.default_for(Some(2)), "5061");
}

#[test]
fn every_fallback_names_a_registry_parameter_of_a_compatible_scope() {
    for d in registry::all() {
        if let Some(f) = d.fallback {
            let target =
                registry::def(f).unwrap_or_else(|| panic!("{}: fallback {f} unknown", d.name));
            if d.scope == Scope::Global {
                assert_eq!(
                    target.scope,
                    Scope::Global,
                    "{}: global falls back to per-line {f}",
                    d.name
                );
            }
        }
    }
}

#[test]
fn every_default_is_consistent_with_its_kind() {
    // A cheap structural check (the validator proper lives in `validate`): booleans default to
    // Yes/No or empty, enumerations to one of their spellings.
    for d in registry::all() {
        let Default::Fixed(v) = d.default else {
            continue;
        };
        if v.is_empty() {
            continue;
        }
        match d.kind {
            Kind::Bool => assert!(v == "Yes" || v == "No", "{}: default {v:?}", d.name),
            Kind::Enum(values) | Kind::EnumAlias { values, .. } => {
                assert!(
                    values.contains(&v),
                    "{}: default {v:?} not in {values:?}",
                    d.name
                );
            }
            Kind::Port { min, max } => {
                let n: u16 = v
                    .parse()
                    .unwrap_or_else(|_| panic!("{}: default {v:?}", d.name));
                assert!((min..=max).contains(&n), "{}: default {v:?}", d.name);
            }
            Kind::Int { min, max } => {
                let n: i64 = v
                    .parse()
                    .unwrap_or_else(|_| panic!("{}: default {v:?}", d.name));
                assert!((min..=max).contains(&n), "{}: default {v:?}", d.name);
            }
            Kind::IntList { min, max } => {
                for item in v.split(',') {
                    let n: i64 = item
                        .trim()
                        .parse()
                        .unwrap_or_else(|_| panic!("{}: default {v:?}", d.name));
                    assert!((min..=max).contains(&n), "{}: default {v:?}", d.name);
                }
            }
            Kind::Secret | Kind::SecretAlnum => {
                panic!("{}: a secret has a non-empty default", d.name)
            }
            _ => {}
        }
    }
}
