//! `mppd_core::provision::rule` over the real profiles of `shared/profiles/`: every provisioning
//! rule they carry parses, and the non-empty ones expand to the expected requests.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mppd_config::identity::DeviceIdentity;
use mppd_config::macros::MacroContext;
use mppd_config::rule::{Rule, Scheme, check};
use mppd_config::{Kind, Profile, registry};

const PROFILES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/profiles/");

/// Names ending in `_Rule` that are not provisioning rules: a DST rule has its own syntax.
const NOT_PROVISIONING: &[&str] = &["Daylight_Saving_Time_Rule"];

fn is_rule_name(name: &str) -> bool {
    name.ends_with("_Rule")
        || name
            .strip_suffix(['B', 'C', 'D'])
            .is_some_and(|n| n.ends_with("_Rule_"))
}

/// Every `(file, name, value)` of a `*_Rule` parameter in the shared profiles.
fn rules() -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    let mut files: Vec<_> = std::fs::read_dir(PROFILES)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "xml"))
        .collect();
    files.sort();
    assert!(!files.is_empty(), "no profiles in {PROFILES}");
    for path in files {
        let profile = Profile::parse(&std::fs::read(&path).unwrap()).unwrap();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        for e in profile.entries() {
            if is_rule_name(&e.name) && !NOT_PROVISIONING.contains(&e.name.as_str()) {
                out.push((file.clone(), e.name.clone(), e.value.clone()));
            }
        }
    }
    out
}

#[test]
fn every_rule_in_the_shared_profiles_parses() {
    let rules = rules();
    assert!(
        rules.len() >= 10,
        "expected many rules, found {}",
        rules.len()
    );
    let mut non_empty = 0;
    for (file, name, value) in &rules {
        let rule = Rule::parse(value)
            .unwrap_or_else(|e| panic!("{file}: {name} = {value:?} does not parse: {e}"));
        assert_eq!(check(value), Ok(()));
        non_empty += usize::from(!rule.is_empty());
        // Every rule-kind parameter of the registry is among those checked here.
        if let Some(def) = registry::def(name) {
            assert!(
                def.kind == Kind::Rule || name == "PRT_Upload_Rule",
                "{name} is not a rule in the registry"
            );
        }
    }
    assert!(
        non_empty >= 4,
        "expected several non-empty rules, found {non_empty}"
    );
}

#[test]
fn the_fusionpbx_and_wazo_rules_expand_as_expected() {
    let id = DeviceIdentity::emulated();
    let ctx = MacroContext::new(&id);
    let rules = rules();
    let find = |file: &str, name: &str| {
        rules
            .iter()
            .find(|(f, n, _)| f == file && n == name)
            .map(|(_, _, v)| v.clone())
            .unwrap()
    };
    let rule = Rule::parse(&find("fusionpbx-8851.xml", "Profile_Rule")).unwrap();
    let alt = rule.select(&ctx).unwrap().unwrap();
    let reqs = alt.expand(&ctx).unwrap();
    assert_eq!(reqs.len(), 1);
    assert_eq!(reqs[0].url.scheme, Scheme::Http);
    assert_eq!(reqs[0].url.host.as_deref(), Some("pbx.example.net"));
    assert_eq!(reqs[0].url.path, "/app/provision/?mac=020000000001");
    assert_eq!(reqs[0].options.uid.as_deref(), Some("provision"));
    assert_eq!(reqs[0].options.pwd.as_deref(), Some("Pr0v-9dK2mQ7w"));

    let rule = Rule::parse(&find("wazo-model-cfg.xml", "Profile_Rule_C")).unwrap();
    let reqs = rule.select(&ctx).unwrap().unwrap().expand(&ctx).unwrap();
    assert_eq!(
        reqs[0].url.to_string(),
        "http://192.0.2.10:8667/020000000001.xml"
    );
    assert_eq!(reqs[0].url.effective_port(), 8667);
}
