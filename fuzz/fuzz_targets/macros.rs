//! Macro expansion and value validation of `mppd-config` (SPEC §0, §1; mpp-provisioning §1.5,
//! §2.5), beyond what `profile` feeds them: whatever the bytes, nothing panics.
//!
//! The data is cut at `0xFF` bytes (never part of UTF-8) into text fields:
//!
//! - field 0 as a template (`macros::expand`, both scopes) in a context whose every value
//!   (GPPs, secret GPPs, request, `$ERR`, `$IP`, lines, extra macros) comes from the other
//!   fields: a text without `$` expands to itself, a text with every `$` doubled expands back
//!   to the text, and the secret GPPs never appear in the `Text` scope; field 1 as a name
//!   (`macros::lookup`);
//! - `mask_in_text`: the argument of a `--pwd` put between fields 0 and 2 (when they hold no
//!   option of their own) never shows; `masked_value`, `is_secret_name`;
//! - field 1 as the value of every registry parameter (`check_value`, `canonical`: the
//!   canonical spelling of a valid value is valid and canonical), and of the schedule
//!   parameters: a value validation accepts is one `ScheduleConfig::from_profile` accepts;
//! - the helpers `parse_int`, `parse_milli`, `check_host`, `split_host_port`,
//!   `check_cipher_list`, `FirewallOptions::parse`, `Ua::parse`, `Version::parse`;
//! - field 2 as a MAC (`Mac` parses back from its three spellings) and as `device.toml`
//!   (`DeviceIdentity::from_toml_str`, then used for the expansion).
//!
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run macros`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mppd_config::identity::{DeviceIdentity, Mac};
use mppd_config::macros::{self, LineIds, MacroContext, MacroScope, RequestParts};
use mppd_config::profile::{is_secret_name, mask_in_text, masked_value};
use mppd_config::rule::Version;
use mppd_config::validate::{
    FirewallOptions, canonical, check_cipher_list, check_host, check_value, parse_int, parse_milli,
    split_host_port,
};
use mppd_config::{Profile, Ua, registry};
use mppd_core::provision::schedule::ScheduleConfig;

fn field(parts: &[String], i: usize) -> &str {
    parts.get(i).map_or("", String::as_str)
}

/// Stands for a secret GPP value; a template holding it is not checked for leaks.
const SECRET: &str = "\u{2620}SA\u{2620}";

fuzz_target!(|data: &[u8]| {
    let parts: Vec<String> = data
        .split(|&b| b == 0xFF)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();
    let template = field(&parts, 0);

    // The identity: from device.toml when it parses, else the emulated one.
    let id = DeviceIdentity::from_toml_str(field(&parts, 2)).unwrap_or_else(|e| {
        let _ = e.to_string();
        DeviceIdentity::emulated()
    });
    if let Ok(mac) = field(&parts, 2).parse::<Mac>() {
        for s in [mac.colon(), mac.lower(), mac.upper(), mac.to_string()] {
            assert_eq!(
                s.parse::<Mac>().ok(),
                Some(mac),
                "{s:?} does not parse back"
            );
        }
    }

    // A context whose every value comes from the data.
    let f = |i: usize| field(&parts, i);
    let mut gpp = [""; 16];
    for (i, g) in gpp.iter_mut().enumerate() {
        *g = f(3 + i % 6);
    }
    let lines = [
        LineIds {
            user_id: f(3),
            display_name: f(4),
            auth_id: f(5),
        },
        LineIds {
            user_id: f(6),
            display_name: f(7),
            auth_id: "",
        },
    ];
    let extra = [(f(1), f(8)), ("PRVST", f(3)), (f(4), f(5))];
    let ctx = MacroContext {
        gpp,
        gpp_secret: [SECRET, SECRET, SECRET, SECRET],
        request: Some(RequestParts {
            scheme: f(3),
            host: f(4),
            ip: Some(f(5)),
            port: u16::from_le_bytes([*data.first().unwrap_or(&0), *data.get(1).unwrap_or(&0)]),
            path: f(6),
        }),
        error: Some(f(7)),
        ip: Some(f(8)),
        ext_ip: Some(f(4)),
        lines: &lines,
        extra: &extra,
        ..MacroContext::new(&id)
    };

    let text = macros::expand(template, &ctx, MacroScope::Text);
    let option = macros::expand(template, &ctx, MacroScope::RuleOption);
    if !data.contains(&0xE2) {
        // No U+2620 (its UTF-8 starts with 0xE2) anywhere: only `$SA`.. can bring SECRET.
        assert!(
            !text.contains(SECRET),
            "a secret GPP expanded in the Text scope of {template:?}: {text:?}"
        );
    }
    if !template.contains('$') {
        assert_eq!(text, template);
        assert_eq!(option, template);
    }
    let doubled = template.replace('$', "$$");
    assert_eq!(
        macros::expand(&doubled, &ctx, MacroScope::RuleOption),
        template,
        "$$ does not give back the text"
    );
    for scope in [MacroScope::Text, MacroScope::RuleOption] {
        let _ = macros::lookup(f(1), &ctx, scope);
    }

    // Masking: the argument of --pwd never shows.
    let _ = masked_value(f(1), template);
    let _ = is_secret_name(f(1));
    let secret: String = f(1).chars().filter(char::is_ascii_alphanumeric).collect();
    let line = format!("{template} --pwd {secret} {}", f(2));
    // Around it, text without options of its own: after `--pwd --pwd X` the password is
    // `--pwd` (as the rule grammar reads it) and X is no secret.
    let no_option = |t: &str| !t.contains("--pwd") && !t.contains("--key");
    if secret.len() >= 3
        && no_option(template)
        && no_option(f(2))
        && line.matches(secret.as_str()).count() == 1
    {
        let masked = mask_in_text(&line);
        assert!(
            !masked.contains(secret.as_str()),
            "--pwd argument {secret:?} shows in {masked:?}"
        );
    }

    // Value validation, for every parameter of the registry.
    let value = f(1);
    for def in registry::all() {
        if check_value(def, value).is_ok() {
            let c = canonical(def, value);
            assert!(
                check_value(def, &c).is_ok(),
                "{}: canonical {c:?} refused",
                def.name
            );
            assert_eq!(
                canonical(def, &c),
                c,
                "{}: canonical is not stable",
                def.name
            );
        }
    }
    for name in [
        "Resync_Periodic",
        "Resync_Error_Retry_Delay",
        "Resync_At__HHmm_",
        "Resync_At_Random_Delay",
        "Resync_Random_Delay",
        "Forced_Resync_Delay",
    ] {
        let mut p = Profile::new();
        p.set(name, value, None, 0);
        let set = p.get(name).map(|e| e.value.clone()).unwrap_or_default();
        let valid = registry::lookup(name).is_some_and(|r| check_value(r.def, &set).is_ok());
        if valid {
            if let Err(e) = ScheduleConfig::from_profile(&p) {
                panic!("{name}={set:?} passes validation but the schedule refuses it: {e}");
            }
        }
    }
    let _ = parse_int(value);
    let _ = parse_milli(value);
    let _ = check_host(value);
    let _ = split_host_port(value);
    let _ = check_cipher_list(value);
    let _ = FirewallOptions::parse(value);
    let _ = Ua::parse(value);
    let _ = Version::parse(value);
});
