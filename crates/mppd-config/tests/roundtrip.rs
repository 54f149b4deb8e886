//! Round trip of the cfg.xml layer: parse -> emit -> parse gives the same profile (names,
//! values, ua and order, unknown names included), and the masked emit still parses.
//!
//! The same property runs over every shared profile and over a few thousand seeded mutations of
//! them (byte flips, truncations, inserted markup and entity references), which is the CI smoke
//! run of the cargo-fuzz target `fuzz/fuzz_targets/profile.rs` (STYLE.md lesson 10): CI does not
//! build cargo-fuzz, so the property lives here too.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use mppd_config::identity::DeviceIdentity;
use mppd_config::macros::{self, MacroContext, MacroScope};
use mppd_config::profile::{MASK, is_secret_name};
use mppd_config::{Profile, validate};

fn profiles_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/profiles")
}

/// Every `*.xml` of `../shared/profiles`, sorted by name.
fn shared_profiles() -> Vec<(String, Vec<u8>)> {
    let dir = profiles_dir();
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("reading {}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "xml"))
        .map(|p| {
            let name = p.file_name().unwrap().to_string_lossy().into_owned();
            (name, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    assert!(
        out.len() >= 7,
        "expected the shared profiles in {}",
        dir.display()
    );
    out
}

/// The round-trip property for one input. Returns whether the input parsed.
///
/// Must never panic except on a broken property; `what` names the input in the message.
fn check(what: &str, data: &[u8]) -> bool {
    let Ok(p) = Profile::parse(data) else {
        return false;
    };
    // Validation and macro expansion of every value must not panic either.
    let _ = validate::validate(&p);
    let id = DeviceIdentity::emulated();
    let ctx = MacroContext::new(&id);
    for e in p.entries() {
        let _ = macros::expand(&e.value, &ctx, MacroScope::Text);
    }

    let text = p.emit(false);
    let q = Profile::parse(text.as_bytes())
        .unwrap_or_else(|e| panic!("{what}: emitted profile does not parse: {e}\n{text}"));
    assert_eq!(p, q, "{what}: parse -> emit -> parse changed the profile");
    // Equality ignores nothing but source lines; check the parts once more for a clear message.
    for (a, b) in p.entries().iter().zip(q.entries()) {
        assert_eq!(
            (&a.name, &a.value, a.ua),
            (&b.name, &b.value, b.ua),
            "{what}"
        );
    }
    // Emitting is stable: a second round writes the same text.
    assert_eq!(q.emit(false), text, "{what}: emit is not stable");

    let masked = p.emit(true);
    let m = Profile::parse(masked.as_bytes())
        .unwrap_or_else(|e| panic!("{what}: masked profile does not parse: {e}\n{masked}"));
    assert_eq!(m.entries().len(), p.entries().len(), "{what}: masked");
    for (a, b) in p.entries().iter().zip(m.entries()) {
        assert_eq!((&a.name, a.ua), (&b.name, b.ua), "{what}: masked");
        if is_secret_name(&a.name) && !a.value.is_empty() {
            assert_eq!(b.value, MASK, "{what}: {} not masked", a.name);
        }
    }
    true
}

#[test]
fn shared_profiles_round_trip() {
    for (name, bytes) in shared_profiles() {
        let p = Profile::parse(&bytes).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert!(!p.is_empty(), "{name}: no parameters");
        assert!(check(&name, &bytes), "{name} parses");
    }
}

#[test]
fn unknown_names_survive_the_round_trip() {
    let mut seen_unknown = 0;
    for (name, bytes) in shared_profiles() {
        let p = Profile::parse(&bytes).unwrap();
        let q = Profile::parse(p.emit(false).as_bytes()).unwrap();
        let report = validate::validate(&p);
        let unknown: Vec<(&str, u32)> = report.unknown_in(&p).collect();
        for &(u, _) in &unknown {
            assert_eq!(
                p.get(u).map(|e| (&e.value, e.ua)),
                q.get(u).map(|e| (&e.value, e.ua)),
                "{name}: {u}"
            );
        }
        seen_unknown += unknown.len();
    }
    assert!(
        seen_unknown > 0,
        "the shared profiles carry parameters the registry does not know"
    );
}

#[test]
fn hand_written_edge_cases_round_trip() {
    let cases: &[&str] = &[
        "<flat-profile/>",
        "<flat-profile></flat-profile>",
        "<device><x>y</x><flat-profile><A>1</A></flat-profile></device>",
        "<flat-profile><A ua=\"rw\">  a &amp; b &lt;c&gt; &quot;d&quot; &apos;e&apos;  </A></flat-profile>",
        "<flat-profile><A>&#60;&#x3C;&#38;</A><B/><C ua=\"na\"></C></flat-profile>",
        "<flat-profile><A>line1\r\nline2\rline3\nline4</A></flat-profile>",
        "<flat-profile><A>x</A><A ua=\"ro\">y</A><B>z</B><A/></flat-profile>",
        "<flat-profile><A><![CDATA[<not> & markup]]></A></flat-profile>",
        "<flat-profile><A>\u{e9}\u{4e2d}\u{1f600}</A></flat-profile>",
        "<flat-profile><Admin_Password>s3cret</Admin_Password><Profile_Rule>[--key abc]http://u:p@h/x</Profile_Rule></flat-profile>",
        "<flat-profile><A>\t tab \t</A><B>$MA $(PN) $$</B></flat-profile>",
        "<flat-profile group=\"x\"><A group=\"G\" ua=\"rw\" other='1'>v</A></flat-profile>",
        // Found by the fuzzer: an element with an empty name parsed, then emitted as `</>`.
        "<flat-profile><>x</></flat-profile>",
        "<flat-profile><\nable_80=\"na\"/><A>1</A></flat-profile>",
        "<flat-profile>< ua=\"na\">v</ ></flat-profile>",
        // Scheme scan in rule validation sliced inside a multi-byte character.
        "<flat-profile><Profile_Rule>\u{1f600}http://192.0.2.10:8667/cp-phone.xml</Profile_Rule></flat-profile>",
        "<flat-profile><Upgrade_Rule>\u{e9}://x</Upgrade_Rule></flat-profile>",
    ];
    for (i, c) in cases.iter().enumerate() {
        check(&format!("case {i}: {c}"), c.as_bytes());
    }
}

/// Marsaglia's xorshift64: deterministic, no dependency.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }

    fn below(&mut self, n: usize) -> usize {
        usize::try_from(self.next() % (n.max(1) as u64)).unwrap()
    }
}

/// Snippets that stress the tokenizer, entity decoder and value rules.
const INSERTS: &[&[u8]] = &[
    b"<",
    b">",
    b"&",
    b"&amp;",
    b"&lt;",
    b"&gt;",
    b"&quot;",
    b"&apos;",
    b"&#38;",
    b"&#x3c;",
    b"&#0;",
    b"&#x1;",
    b"&#xD800;",
    b"&#1114112;",
    b"&#32;",
    b"&#10;",
    b"&#13;",
    b"&nbsp;",
    b"&unknown;",
    b"&#;",
    b"</",
    b"/>",
    b"<!--",
    b"-->",
    b"<![CDATA[",
    b"]]>",
    b"<?pi x?>",
    b"<!DOCTYPE x>",
    b"\"",
    b"'",
    b" ua=\"rw\"",
    b" ua=\"bogus\"",
    b" ua=",
    b"\r\n",
    b"\r",
    b"\t",
    b"\x00",
    b"\x01",
    b"\xff",
    b"\xc3\xa9",
    b"\xe2\x80\xa8",
    b"\xf0\x9f\x98\x80",
    b"</flat-profile>",
    b"<flat-profile>",
    b"<A>",
    b"</A>",
    b"$MA",
    b"$(",
    b"--pwd x ",
    b"://u:p@",
];

fn mutate(rng: &mut XorShift, base: &[u8]) -> Vec<u8> {
    let mut d = base.to_vec();
    // Mostly one mutation: most inputs with several are no longer well-formed, and the round
    // trip only runs on those that parse.
    let rounds = 1 + usize::from(rng.below(4) == 0);
    for _ in 0..rounds {
        let at = rng.below(d.len() + 1);
        match rng.below(12) {
            0 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] = u8::try_from(rng.next() & 0xff).unwrap();
            }
            1 if !d.is_empty() => {
                let i = rng.below(d.len());
                d[i] ^= 1 << rng.below(8);
            }
            2 => d.truncate(at),
            3 if at < d.len() => {
                let end = (at + 1 + rng.below(32)).min(d.len());
                d.drain(at..end);
            }
            4 if at < d.len() => {
                // Duplicate a slice somewhere else (duplicate elements, nested tags).
                let end = (at + 1 + rng.below(64)).min(d.len());
                let chunk = d[at..end].to_vec();
                let to = rng.below(d.len() + 1);
                d.splice(to..to, chunk);
            }
            5..=7 => {
                let s = INSERTS[rng.below(INSERTS.len())];
                d.splice(at..at, s.iter().copied());
            }
            _ => {
                // Into an element's text, right after a `>`, where values are decoded.
                let gts: Vec<usize> = memchr_all(b'>', &d);
                if !gts.is_empty() {
                    let to = gts[rng.below(gts.len())] + 1;
                    let s = INSERTS[rng.below(INSERTS.len())];
                    d.splice(to..to, s.iter().copied());
                }
            }
        }
    }
    d
}

fn memchr_all(needle: u8, hay: &[u8]) -> Vec<usize> {
    hay.iter()
        .enumerate()
        .filter(|&(_, &b)| b == needle)
        .map(|(i, _)| i)
        .collect()
}

/// Seeds for mutation: the small shared profiles whole, and the head of the larger ones (whole,
/// they would make a debug-build run too slow).
fn mutation_seeds() -> Vec<(String, Vec<u8>)> {
    const MAX: usize = 6 * 1024;
    let mut seeds = Vec::new();
    for (name, bytes) in shared_profiles() {
        if bytes.len() <= MAX {
            seeds.push((name, bytes));
        } else if name == "fusionpbx-8811.xml" || name == "wazo-cp-phone.xml" {
            // Declaration, comments and the first parameters, closed again.
            let text = String::from_utf8(bytes).unwrap();
            let cut = text[..MAX].rfind('\n').unwrap();
            let window = format!("{}\n</flat-profile>\n", &text[..cut]);
            seeds.push((format!("{name} (head)"), window.into_bytes()));
        }
    }
    seeds
}

#[test]
fn mutated_profiles_never_panic_and_round_trip() {
    const RUNS: usize = 3_000;
    let seeds = mutation_seeds();
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let mut parsed = 0;
    for run in 0..RUNS {
        let (name, base) = &seeds[run % seeds.len()];
        let data = mutate(&mut rng, base);
        let what = format!("mutation {run} of {name}");
        match std::panic::catch_unwind(|| check(&what, &data)) {
            Ok(true) => parsed += 1,
            Ok(false) => {}
            Err(panic) => {
                eprintln!("{what}: input {:?}", String::from_utf8_lossy(&data));
                std::panic::resume_unwind(panic);
            }
        }
    }
    eprintln!("{parsed} of {RUNS} mutated inputs parsed and round-tripped");
    // The mutations must leave enough inputs parseable for the round trip to be exercised.
    assert!(
        parsed > RUNS / 10,
        "only {parsed} of {RUNS} mutated inputs parsed"
    );
}
