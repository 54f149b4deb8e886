//! Criterion benchmark of the profile layers on the largest shared profile,
//! `fusionpbx-9861.xml` (2,887 parameters, 197 KB): the XML layer alone, the profile parse, and
//! parse + validate (issue 2 asks for a median of at most 1 ms for the last).
//!
//! `scripts/bench-parse` runs this and Python's `xml.etree` on the same file in one go.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use mppd_config::{Profile, validate, xml};

const PROFILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../../shared/profiles/fusionpbx-9861.xml"
);

fn load() -> Vec<u8> {
    std::fs::read(PROFILE).unwrap_or_else(|e| panic!("reading {PROFILE}: {e}"))
}

fn bench_parse(c: &mut Criterion) {
    let bytes = load();

    // Check once, outside the timing, that the work measured is the real thing.
    let profile = Profile::parse(&bytes).expect("fusionpbx-9861.xml parses");
    let report = validate::validate(&profile);
    assert!(report.is_valid(), "fusionpbx-9861.xml is valid: {report:?}");
    assert!(
        profile.entries().len() > 2_000,
        "fusionpbx-9861.xml has {} parameters",
        profile.entries().len()
    );

    c.bench_function("xml_parse", |b| {
        b.iter(|| xml::parse(black_box(&bytes)).unwrap());
    });
    c.bench_function("profile_parse", |b| {
        b.iter(|| Profile::parse(black_box(&bytes)).unwrap());
    });
    c.bench_function("parse_validate", |b| {
        b.iter(|| {
            let p = Profile::parse(black_box(&bytes)).unwrap();
            let r = validate::validate(&p);
            black_box(r.is_valid())
        });
    });
}

criterion_group!(benches, bench_parse);
criterion_main!(benches);
