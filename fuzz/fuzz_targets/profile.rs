//! Round-trip target for the cfg.xml profile parser (STYLE.md lesson 10).
//!
//! Whatever the bytes: parsing, validating and expanding macros never panic, and a profile that
//! parses emits cfg.xml that parses back to the same profile (names, values, ua, order); the
//! emit with secrets masked parses too. `crates/mppd-config/tests/roundtrip.rs` runs the same
//! property over seeded mutations in CI.
//!
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run profile` (seed `corpus/profile` with
//! `../shared/profiles/*.xml`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use mppd_config::Profile;
use mppd_config::identity::DeviceIdentity;
use mppd_config::macros::{self, MacroContext, MacroScope};
use mppd_config::validate::validate;

fuzz_target!(|data: &[u8]| {
    // The data as a macro template, in both scopes.
    if let Ok(template) = std::str::from_utf8(data) {
        let id = DeviceIdentity::emulated();
        let ctx = MacroContext::new(&id);
        let _ = macros::expand(template, &ctx, MacroScope::Text);
        let _ = macros::expand(template, &ctx, MacroScope::RuleOption);
    }

    let Ok(p) = Profile::parse(data) else {
        return;
    };
    let _ = validate(&p);

    let text = p.emit(false);
    let q = Profile::parse(text.as_bytes()).expect("emitted profile parses");
    assert_eq!(p, q, "parse -> emit -> parse changed the profile");
    assert_eq!(q.emit(false), text, "emit is not stable");

    let masked = p.emit(true);
    let m = Profile::parse(masked.as_bytes()).expect("masked profile parses");
    assert_eq!(m.entries().len(), p.entries().len());
});
