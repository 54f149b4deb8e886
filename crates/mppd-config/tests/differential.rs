//! Differential test of the cfg.xml scanner against quick-xml, the general XML parser it
//! replaced (the scanner is ~4x faster on real profiles; see `benches/parse.rs`): on every
//! shared profile and on thousands of mutations of one, whenever both parsers accept a
//! document they must find the same parameters (names, values, ua) in the same order.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mppd_config::Ua;
use mppd_config::xml::{normalize, parse};
use quick_xml::Reader;
use quick_xml::events::Event;

type Param = (String, String, Option<Ua>);

/// The parameters of a document as quick-xml sees them, with the same value rules.
fn reference(bytes: &[u8]) -> Option<Vec<Param>> {
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut r = Reader::from_str(text);
    r.config_mut().trim_text(false);
    let mut out = Vec::new();
    let mut depth = 0usize;
    let mut flat: Option<usize> = None;
    let mut open: Option<(String, Option<Ua>, String)> = None;
    loop {
        match r.read_event().ok()? {
            Event::Start(e) | Event::Empty(e) if open.is_some() => {
                let _ = e;
                return None;
            }
            ev @ (Event::Start(_) | Event::Empty(_)) => {
                let empty = matches!(ev, Event::Empty(_));
                let (Event::Start(e) | Event::Empty(e)) = ev else {
                    unreachable!()
                };
                let name = String::from_utf8(e.name().as_ref().to_vec()).ok()?;
                if flat == Some(depth) {
                    let mut ua = None;
                    for a in e.attributes() {
                        let a = a.ok()?;
                        if a.key.as_ref() == b"ua" {
                            ua = Some(Ua::parse(a.unescape_value().ok()?.trim())?);
                        }
                    }
                    if empty {
                        out.push((name, String::new(), ua));
                    } else {
                        open = Some((name, ua, String::new()));
                    }
                } else if flat.is_none() && name == "flat-profile" && !empty {
                    flat = Some(depth + 1);
                }
                if !empty {
                    depth += 1;
                }
            }
            Event::End(_) => {
                depth = depth.checked_sub(1)?;
                if let Some((n, ua, v)) = open.take() {
                    out.push((n, normalize(&v).into_owned(), ua));
                } else if flat == Some(depth + 1) {
                    flat = None;
                }
            }
            Event::Text(t) => {
                if let Some((_, _, v)) = &mut open {
                    v.push_str(&t.unescape().ok()?);
                }
            }
            Event::CData(c) => {
                if let Some((_, _, v)) = &mut open {
                    v.push_str(std::str::from_utf8(&c).ok()?);
                }
            }
            Event::Eof => break,
            _ => {}
        }
    }
    (depth == 0).then_some(out)
}

fn ours(bytes: &[u8]) -> Option<Vec<Param>> {
    parse(bytes)
        .ok()
        .map(|v| v.into_iter().map(|e| (e.name, e.value, e.ua)).collect())
}

fn shared() -> Vec<(String, Vec<u8>)> {
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/profiles");
    let mut v: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .map(|p| (p.display().to_string(), std::fs::read(&p).unwrap()))
        .collect();
    v.sort();
    assert!(v.len() >= 7, "shared profiles missing");
    v
}

#[test]
fn shared_profiles_parse_the_same() {
    for (name, bytes) in shared() {
        let want = reference(&bytes).unwrap_or_else(|| panic!("quick-xml rejects {name}"));
        assert_eq!(ours(&bytes).as_ref(), Some(&want), "{name}");
    }
}

#[test]
fn mutations_agree_whenever_both_accept() {
    let (_, base) = shared()
        .into_iter()
        .find(|(n, _)| n.ends_with("wazo-base.xml"))
        .unwrap();
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    let pieces: &[&[u8]] = &[
        b"<",
        b">",
        b"&",
        b"&amp;",
        b"&#60;",
        b"&#x3e;",
        b"&bogus;",
        b"/>",
        b"</",
        b"<!--",
        b"-->",
        b"<![CDATA[x<y]]>",
        b"\"",
        b" ua=\"rw\"",
        b"\n",
        b"<?pi x?>",
        b"<A>1</A>",
    ];
    let (mut both, mut agree_reject) = (0, 0);
    for _ in 0..3000 {
        let mut doc = base.clone();
        for _ in 0..1 + next() % 3 {
            let at = (next() as usize) % (doc.len() + 1);
            match next() % 3 {
                0 => {
                    let p = pieces[(next() as usize) % pieces.len()];
                    doc.splice(at..at, p.iter().copied());
                }
                1 => {
                    let end = (at + 1 + (next() as usize) % 8).min(doc.len());
                    doc.drain(at..end);
                }
                _ => {
                    if at < doc.len() {
                        doc[at] = (next() % 128) as u8;
                    }
                }
            }
        }
        match (ours(&doc), reference(&doc)) {
            (Some(a), Some(b)) => {
                both += 1;
                assert_eq!(a, b, "disagreement on:\n{}", String::from_utf8_lossy(&doc));
            }
            (None, None) => agree_reject += 1,
            _ => {}
        }
    }
    // The comparison must have had work to do.
    assert!(both > 300, "only {both} mutations accepted by both");
    assert!(agree_reject > 100, "only {agree_reject} rejected by both");
}
