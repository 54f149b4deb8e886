#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The `mppd config` commands on the real-world profiles of `../shared/profiles` and on the
//! defaults of SPEC.md and `reference/parameters.tsv` (issue 2, "Must show": every shared profile
//! validates, `config get` returns every value of `expected.json`, absent parameters return the
//! SPEC default, and profiles round-trip through the store with their unknown parameters).

mod common;

use std::collections::BTreeSet;

use common::{Sandbox, entries, expected, parse_file, s, shared_profile, shared_profiles};
use mppd_config::{Profile, registry, validate};

/// `<flat-profile/>`: a profile that names nothing.
const EMPTY_PROFILE: &str = "<flat-profile/>\n";

/// The `--pwd` argument of the fusionpbx profile rules.
const RULE_PASSWORD: &str = "Pr0v-9dK2mQ7w";

/// Every default SPEC.md states, by hand from the text, with its section.
const SPEC_DEFAULTS: &[(&str, &str)] = &[
    // §1 Restricted access domains: "default empty (no restriction)".
    ("Restricted_Access_Domains", ""),
    // §2 DHCP options.
    ("DHCP_Option_To_Use", "66,160,159,150,60,43,125"),
    ("DHCPv6_Option_To_Use", "17,160,159"),
    // §2: "while Profile_Rule starts with / (the factory default /$PSN.xml)".
    ("Profile_Rule", "/$PSN.xml"),
    // §3 Auth INVITE: "Yes/No, default No" (per line).
    ("Auth_INVITE_1_", "No"),
    ("Auth_INVITE_2_", "No"),
    // §4 RFC 8760: "Yes/No, default No".
    ("Auth_Support_RFC8760", "No"),
    // §4b NOTIFY triggers: "Resync_From_SIP Yes/No, default Yes".
    ("Resync_From_SIP", "Yes"),
    // §4b: "Auth_Resync-Reboot_n_ Yes/No, default Yes".
    ("Auth_Resync-Reboot_1_", "Yes"),
    ("Auth_Resync-Reboot_2_", "Yes"),
    // §5 TLS minimum version: "default TLS 1.1"; `TLS_Client_Min_Version` is an alias.
    ("TLS_Min_Version", "TLS 1.1"),
    ("TLS_Client_Min_Version", "TLS 1.1"),
    // §5: "TLS_Server_Min_Version (default TLS 1.2)".
    ("TLS_Server_Min_Version", "TLS 1.2"),
    // §6 Webex metrics: "Yes/No, default No".
    ("Webex_Metrics_Enable", "No"),
    // §7 PRT upload at crash: "Yes/No, default No"; "PRT_Upload_Method (POST or PUT, default POST)".
    ("PRT_Upload_at_Crash", "No"),
    ("PRT_Upload_Method", "POST"),
    // §8 SIP over TLS: "SIP_Transport_n_ ... default UDP" (lines 1..16 may be named).
    ("SIP_Transport_1_", "UDP"),
    ("SIP_Transport_2_", "UDP"),
    ("SIP_Transport_16_", "UDP"),
    // §8: "SIP_Port_n_ default 5060 for line 1, 5061 for line 2 (5059+n)".
    ("SIP_Port_1_", "5060"),
    ("SIP_Port_2_", "5061"),
    ("SIP_Port_3_", "5062"),
    ("SIP_Port_16_", "5075"),
    // §9 LDAP: "LDAP_StartTLS_Enable Yes/No ..., default No"; "LDAP_Auth_Method: None (recommended)".
    ("LDAP_StartTLS_Enable", "No"),
    ("LDAP_Auth_Method", "None"),
    // §12 Syslog messages.
    (
        "Log_Request_Msg",
        "$PN $MAC -- Requesting resync $SCHEME://$SERVIP:$PORT$PATH",
    ),
    (
        "Log_Success_Msg",
        "$PN $MAC -- Successful resync $SCHEME://$SERVIP:$PORT$PATH",
    ),
    ("Log_Failure_Msg", "$PN $MAC -- Resync failed: $ERR"),
    // §13 Firewall: "Enabled/Disabled, default Enabled"; RTP range "defaults: 16384-16483"
    // (RTP_Port_Max + 1); "Firewall_Config ... default empty (defaults only)".
    ("Firewall", "Enabled"),
    ("RTP_Port_Min", "16384"),
    ("RTP_Port_Max", "16482"),
    ("Firewall_Config", ""),
    // §14 TLS cipher list: "default empty".
    ("TLS_Cipher_List", ""),
    // §15 Host name validation: "TLS_Name_Validate_n_ Yes/No, default Yes".
    ("TLS_Name_Validate_1_", "Yes"),
    ("TLS_Name_Validate_2_", "Yes"),
    // §16 mediasec: "MediaSec_Request_n_ Yes/No, default No"; "MediaSec_Over_TLS_Only_n_ ...
    // default No".
    ("MediaSec_Request_1_", "No"),
    ("MediaSec_Request_2_", "No"),
    ("MediaSec_Over_TLS_Only_1_", "No"),
    ("MediaSec_Over_TLS_Only_2_", "No"),
    // §17 802.1X: "Yes/No, default No (ua=\"rw\")".
    ("Enable_802.1X_Authentication", "No"),
    // §18 HTTP proxy: "Proxy_Mode: Auto, Manual, Off; default Off"; WPAD "default Yes";
    // "PAC_URL ... default empty"; "Proxy_Port default 3128"; "Proxy_Server_Requires_
    // Authentication Yes/No default No".
    ("Proxy_Mode", "Off"),
    ("Use_Auto_Discovery__WPAD_", "Yes"),
    ("PAC_URL", ""),
    ("Proxy_Port", "3128"),
    ("Proxy_Server_Requires_Authentication", "No"),
    // §19 FIPS mode: "default Disabled".
    ("FIPS_Mode", "Disabled"),
    // §20 VPN: "VPN_Server, VPN_User_Name, VPN_Password, VPN_Tunnel_Group (empty: none),
    // Connect_on_Bootup Yes/No default No. All default empty, ua=\"rw\"".
    ("VPN_Server", ""),
    ("VPN_User_Name", ""),
    ("VPN_Password", ""),
    ("VPN_Tunnel_Group", ""),
    ("Connect_on_Bootup", "No"),
];

/// The parameters SPEC.md gives `ua="rw"` by default (§17, §20).
const SPEC_UA_RW: &[&str] = &[
    "Enable_802.1X_Authentication",
    "VPN_Server",
    "VPN_User_Name",
    "VPN_Password",
    "VPN_Tunnel_Group",
    "Connect_on_Bootup",
];

/// `mppd config get FILE NAME` must print exactly `want` and a newline, exit 0.
#[track_caller]
fn assert_get(sb: &Sandbox, file: &str, name: &str, want: &str) {
    let r = sb.mppd(&["config", "get", file, name]);
    r.expect_code(0, &format!("config get {file} {name}"));
    assert_eq!(
        r.stdout,
        format!("{want}\n"),
        "config get {file} {name}: stderr: {}",
        r.stderr
    );
}

#[test]
fn every_shared_profile_validates() {
    let sb = Sandbox::new();
    let files = shared_profiles();
    for f in &files {
        let r = sb.mppd(&["config", "validate", s(f)]);
        r.expect_code(0, &format!("config validate {}", f.display()));
        assert!(
            !r.stdout.contains(": invalid value"),
            "{}: {}",
            f.display(),
            r.stdout
        );
    }
    // All at once, as the command takes several files.
    let mut args = vec!["config", "validate"];
    args.extend(files.iter().map(|f| s(f)));
    sb.mppd(&args)
        .expect_code(0, "config validate (all shared profiles)");
}

#[test]
fn validate_json_of_a_valid_profile() {
    let sb = Sandbox::new();
    let f = shared_profile("wazo-base.xml");
    let r = sb.mppd(&["config", "validate", "--format", "json", s(&f)]);
    r.expect_code(0, "config validate --format json wazo-base.xml");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("validate JSON");
    let files = v["files"].as_array().expect("files array");
    assert_eq!(files.len(), 1, "{v}");
    assert_eq!(files[0]["file"], s(&f), "{v}");
    assert_eq!(files[0]["valid"], true, "{v}");
    assert_eq!(files[0]["errors"], serde_json::json!([]), "{v}");
    assert_eq!(files[0]["warnings"], serde_json::json!([]), "{v}");
    // Unknown names are reported, with their lines, exactly as the library finds them.
    let parsed = parse_file(&f);
    let report = validate::validate(&parsed);
    let want: BTreeSet<(String, u64)> = report
        .unknown_in(&parsed)
        .map(|(n, l)| (n.to_owned(), u64::from(l)))
        .collect();
    let got: BTreeSet<(String, u64)> = files[0]["unknown"]
        .as_array()
        .expect("unknown array")
        .iter()
        .map(|u| {
            (
                u["name"].as_str().expect("name").to_owned(),
                u["line"].as_u64().expect("line"),
            )
        })
        .collect();
    assert_eq!(got, want);
    assert_eq!(
        want.len(),
        60,
        "wazo-base.xml has 60 names the registry does not know"
    );
}

#[test]
fn validate_unknown_lists_unknown_names() {
    let sb = Sandbox::new();
    let f = shared_profile("wazo-base.xml");
    let r = sb.mppd(&["config", "validate", "--unknown", s(&f)]);
    r.expect_code(0, "config validate --unknown wazo-base.xml");
    let parsed = parse_file(&f);
    let report = validate::validate(&parsed);
    let want: BTreeSet<String> = report
        .unknown_in(&parsed)
        .map(|(n, l)| format!("{}:{l}: {n}: unknown parameter (kept verbatim)", s(&f)))
        .collect();
    let got: BTreeSet<String> = r
        .stdout
        .lines()
        .filter(|l| l.ends_with("unknown parameter (kept verbatim)"))
        .map(str::to_owned)
        .collect();
    assert_eq!(got, want, "stdout:\n{}", r.stdout);
    // A profile of known names only lists nothing.
    let known = shared_profile("wazo-model-cfg.xml");
    let r = sb.mppd(&["config", "validate", "--unknown", s(&known)]);
    r.expect_code(0, "config validate --unknown wazo-model-cfg.xml");
    assert!(
        !r.stdout.contains("unknown parameter"),
        "stdout:\n{}",
        r.stdout
    );
}

#[test]
fn expected_values_counts_and_ua() {
    let sb = Sandbox::new();
    let exp = expected();
    let files = exp.as_object().expect("expected.json object");
    let mut checked = 0;
    for (file, want) in files {
        if file == "_about" {
            continue;
        }
        let path = shared_profile(file);
        let bytes = std::fs::read(&path).unwrap_or_else(|e| panic!("{file}: {e}"));
        let raw = mppd_config::xml::parse(&bytes).unwrap_or_else(|e| panic!("{file}: {e}"));
        let profile = Profile::parse(&bytes).unwrap();
        assert_eq!(
            raw.len() as u64,
            want["param_elements"].as_u64().unwrap(),
            "{file}: parameter elements"
        );
        assert_eq!(
            profile.entries().len() as u64,
            want["unique_params"].as_u64().unwrap(),
            "{file}: unique parameters"
        );
        for (name, n) in want["duplicates"].as_object().unwrap() {
            assert_eq!(
                raw.iter().filter(|e| &e.name == name).count() as u64,
                n.as_u64().unwrap(),
                "{file}: occurrences of {name}"
            );
        }
        for (name, p) in want["params"].as_object().unwrap() {
            let value = p["value"].as_str().unwrap();
            assert_get(&sb, s(&path), name, value);
            let entry = profile
                .get(name)
                .unwrap_or_else(|| panic!("{file}: {name} not in the profile"));
            assert_eq!(entry.value, value, "{file}: {name} (library)");
            assert_eq!(
                entry.ua.map(|u| u.as_str()),
                p.get("ua").map(|u| u.as_str().unwrap()),
                "{file}: ua of {name}"
            );
            checked += 1;
        }
    }
    assert_eq!(checked, 182, "every parameter of expected.json is checked");
}

#[test]
fn commented_out_parameters_are_absent() {
    let sb = Sandbox::new();
    let exp = expected();
    let mut checked = 0;
    for (file, want) in exp.as_object().unwrap() {
        if file == "_about" {
            continue;
        }
        let path = shared_profile(file);
        let profile = parse_file(&path);
        for name in want["absent_commented_out"].as_array().unwrap() {
            let name = name.as_str().unwrap();
            assert!(
                profile.get(name).is_none(),
                "{file}: {name} is only in a comment"
            );
            let r = sb.mppd(&["config", "get", s(&path), name]);
            match registry::lookup(name) {
                Some(known) => {
                    r.expect_code(0, &format!("config get {file} {name} (registry name)"));
                    assert_eq!(
                        r.stdout,
                        format!("{}\n", known.def.default_for(known.line)),
                        "{file}: {name} prints its default"
                    );
                }
                None => {
                    r.expect_code(2, &format!("config get {file} {name} (unknown name)"));
                    assert_eq!(r.stdout, "", "{file}: {name}");
                }
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 24);
}

#[test]
fn spec_defaults_on_an_empty_profile() {
    let sb = Sandbox::new();
    let empty = sb.write("empty.xml", EMPTY_PROFILE);
    sb.mppd(&["config", "validate", s(&empty)])
        .expect_code(0, "config validate <flat-profile/>");
    for (name, want) in SPEC_DEFAULTS {
        assert_get(&sb, s(&empty), name, want);
    }
}

#[test]
fn spec_defaults_in_config_show() {
    let sb = Sandbox::new();
    let empty = sb.write("empty.xml", EMPTY_PROFILE);
    let r = sb.mppd(&["config", "show", s(&empty), "--format", "json"]);
    r.expect_code(0, "config show --format json <flat-profile/>");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("show JSON");
    let params = v["parameters"].as_array().expect("parameters array");
    let find = |name: &str| params.iter().find(|p| p["name"] == name);
    for (name, want) in SPEC_DEFAULTS {
        let Some(known) = registry::lookup(name) else {
            panic!("{name} is not in the registry");
        };
        // `show` lists canonical names (not aliases) of lines 1..2 (the default line count).
        if known.def.name_for(known.line) != *name || known.line.is_some_and(|l| l > 2) {
            assert!(find(name).is_none(), "{name} is not a shown name");
            continue;
        }
        let p = find(name).unwrap_or_else(|| panic!("config show lacks {name}"));
        assert_eq!(p["value"], *want, "{name}: {p}");
        assert_eq!(p["default"], *want, "{name}: {p}");
        assert_eq!(p["source"], "default", "{name}: {p}");
        assert_eq!(p["line"], serde_json::Value::Null, "{name}: {p}");
    }
    for name in SPEC_UA_RW {
        let p = find(name).unwrap_or_else(|| panic!("config show lacks {name}"));
        assert_eq!(p["ua"], "rw", "{name}: SPEC default ua: {p}");
    }
    assert_eq!(find("TLS_Min_Version").unwrap()["ua"], "na");
    // Lines 3.. are not shown on a two-line phone.
    assert!(find("SIP_Transport_3_").is_none());
    assert!(find("SIP_Transport_2_").is_some());
}

/// The parameters.tsv rows (name, default, scope), with `GPP_A .. GPP_P` ranges expanded.
fn tsv_rows() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(common::PARAMETERS_TSV).unwrap();
    let mut rows = Vec::new();
    for line in text.lines() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let cols: Vec<&str> = line.split('\t').collect();
        assert!(cols.len() >= 8, "{line:?}");
        let (name, default, scope) = (cols[0], cols[6], cols[7]);
        if let Some((first, last)) = name.split_once(" .. ") {
            // GPP_A .. GPP_P, GPP_SA .. GPP_SD: the last letter varies.
            let (p1, a) = first.split_at(first.len() - 1);
            let (p2, b) = last.split_at(last.len() - 1);
            assert_eq!(p1, p2, "{name}");
            let (a, b) = (a.as_bytes()[0], b.as_bytes()[0]);
            for c in a..=b {
                rows.push((format!("{p1}{}", c as char), default.into(), scope.into()));
            }
        } else {
            rows.push((name.into(), default.into(), scope.into()));
        }
    }
    rows
}

#[test]
fn tsv_defaults_on_an_empty_profile() {
    let sb = Sandbox::new();
    let empty = sb.write("empty.xml", EMPTY_PROFILE);
    let rows = tsv_rows();
    assert_eq!(rows.len(), 116 - 2 + 16 + 4, "rows, GPP ranges expanded");
    for (name, default, scope) in &rows {
        let want = if default.starts_with("(empty") {
            ""
        } else {
            default.as_str()
        };
        match scope.as_str() {
            "global" => assert_get(&sb, s(&empty), name, want),
            "line" => {
                let prefix = name.strip_suffix("n_").expect("per-line name ends in n_");
                for n in [1u32, 2] {
                    let line_name = format!("{prefix}{n}_");
                    if name == "SIP_Port_n_" {
                        // "5060 for line 1; ours: 5059+n for line n".
                        assert_get(&sb, s(&empty), &line_name, &(5059 + n).to_string());
                    } else {
                        assert_get(&sb, s(&empty), &line_name, want);
                    }
                }
            }
            other => panic!("{name}: scope {other:?}"),
        }
    }
}

#[test]
fn get_semantics() {
    let sb = Sandbox::new();
    let f = sb.write(
        "p.xml",
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n\
         <device>\n\
         <flat-profile>\n\
         <!-- <Firewall>Disabled</Firewall> -->\n\
         <SIP_Transport_1_></SIP_Transport_1_>\n\
         <Profile_Rule/>\n\
         <TLS_Client_Min_Version ua=\"ro\">TLS 1.2</TLS_Client_Min_Version>\n\
         <Vendor_Thing_7_ group=\"x\">  keep &amp; this </Vendor_Thing_7_>\n\
         <Display_Name_1_>Zo&#233; &lt;O'Brien&gt;\nSales</Display_Name_1_>\n\
         <Admin_Password>s3cr3t-Adm1n</Admin_Password>\n\
         <Proxy_1_>pbx.example.net</Proxy_1_>\n\
         <Proxy_1_ ua=\"rw\">pbx2.example.net:5070</Proxy_1_>\n\
         </flat-profile>\n\
         </device>\n",
    );
    let f = s(&f);
    sb.mppd(&["config", "validate", f])
        .expect_code(0, "validate p.xml");
    // Set empty: the empty string, not the default.
    assert_get(&sb, f, "SIP_Transport_1_", "");
    assert_get(&sb, f, "Profile_Rule", "");
    // Not named (only in a comment): the default.
    assert_get(&sb, f, "Firewall", "Enabled");
    assert_get(&sb, f, "SIP_Transport_2_", "UDP");
    // The alias set in the file is what the canonical name returns, and the alias itself.
    assert_get(&sb, f, "TLS_Min_Version", "TLS 1.2");
    assert_get(&sb, f, "TLS_Client_Min_Version", "TLS 1.2");
    // A name the registry does not know, carried by the file: as given (trimmed, decoded).
    assert_get(&sb, f, "Vendor_Thing_7_", "keep & this");
    // Entities decoded, inner newline folded into a space.
    assert_get(&sb, f, "Display_Name_1_", "Zoé <O'Brien> Sales");
    // Secrets are printed raw by `get`.
    assert_get(&sb, f, "Admin_Password", "s3cr3t-Adm1n");
    // The last duplicate wins.
    assert_get(&sb, f, "Proxy_1_", "pbx2.example.net:5070");
    // Neither in the registry nor in the file: exit 2, nothing on stdout.
    for name in [
        "No_Such_Param",
        "SIP_Transport_17_",
        "sip_transport_1_",
        "Vendor_Thing_8_",
    ] {
        let r = sb.mppd(&["config", "get", f, name]);
        r.expect_code(2, &format!("config get {name}"));
        assert_eq!(r.stdout, "", "config get {name}");
    }
}

#[test]
fn wrapped_and_empty_profiles() {
    let sb = Sandbox::new();
    let top = sb.write(
        "top.xml",
        "<top-level><flat-profile><Firewall>Disabled</Firewall></flat-profile></top-level>",
    );
    assert_get(&sb, s(&top), "Firewall", "Disabled");
    let empty2 = sb.write("e2.xml", "<flat-profile>\n</flat-profile>\n");
    sb.mppd(&["config", "validate", s(&empty2)])
        .expect_code(0, "validate empty flat-profile");
    assert_get(&sb, s(&empty2), "SIP_Port_2_", "5061");
}

/// The registry secrets a profile holds with a non-empty value, plus the rule password.
fn secret_values(p: &Profile) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = p
        .entries()
        .iter()
        .filter(|e| !e.value.is_empty())
        .filter(|e| registry::lookup(&e.name).is_some_and(|r| r.def.is_secret()))
        .map(|e| (e.name.clone(), e.value.clone()))
        .collect();
    if p.entries().iter().any(|e| e.value.contains(RULE_PASSWORD)) {
        v.push(("Profile_Rule --pwd".into(), RULE_PASSWORD.into()));
    }
    v
}

#[test]
fn round_trip_through_the_store() {
    let exp = expected();
    for f in shared_profiles() {
        let file = f.file_name().unwrap().to_str().unwrap().to_owned();
        let sb = Sandbox::new();
        sb.mppd(&["config", "apply", "--replace", s(&f)])
            .expect_code(0, &format!("config apply --replace {file}"));
        let original = parse_file(&f);

        // With secrets: the same parameters, unknown ones included.
        let r = sb.mppd(&["config", "export", "--with-secrets"]);
        r.expect_code(0, &format!("{file}: config export --with-secrets"));
        let back = Profile::parse(r.stdout.as_bytes())
            .unwrap_or_else(|e| panic!("{file}: export does not parse: {e}"));
        let (want, got) = (entries(&original), entries(&back));
        assert!(
            want == got,
            "{file}: export --with-secrets differs:\n{}",
            common::diff(&want, &got)
        );
        // The stored file itself holds the same parameters.
        let stored = Profile::parse(&sb.stored_bytes().expect("profile.xml")).unwrap();
        assert!(
            entries(&stored) == want,
            "{file}: STATE/profile.xml differs"
        );

        // Without secrets: none of the secret values, `*****` in their place.
        let r = sb.mppd(&["config", "export"]);
        r.expect_code(0, &format!("{file}: config export"));
        let masked = Profile::parse(r.stdout.as_bytes())
            .unwrap_or_else(|e| panic!("{file}: masked export does not parse: {e}"));
        let secrets = secret_values(&original);
        // The secrets expected.json names are among them.
        for name in ["Admin_Password", "User_Password", "Password_1_"] {
            if let Some(v) = exp[file.as_str()]["params"][name]["value"].as_str()
                && !v.is_empty()
            {
                assert!(
                    secrets.iter().any(|(n, sv)| n == name && sv == v),
                    "{file}: {name} is a secret"
                );
            }
        }
        if file.starts_with("fusionpbx") {
            assert!(secrets.iter().any(|(_, v)| v == RULE_PASSWORD), "{file}");
        }
        if !secrets.is_empty() {
            assert!(r.stdout.contains("*****"), "{file}: no ***** in export");
        }
        for (name, value) in &secrets {
            assert!(
                !r.stdout.contains(value.as_str()),
                "{file}: export shows the secret of {name}"
            );
            assert!(
                !masked
                    .entries()
                    .iter()
                    .any(|e| e.value.contains(value.as_str())),
                "{file}: export shows the secret of {name} (escaped)"
            );
            if registry::lookup(name).is_some() {
                assert_eq!(masked.get(name).unwrap().value, "*****", "{file}: {name}");
            }
        }
        // The masked export keeps every name.
        let names = |p: &Profile| -> BTreeSet<String> {
            p.entries().iter().map(|e| e.name.clone()).collect()
        };
        assert_eq!(
            names(&masked),
            names(&original),
            "{file}: masked export names"
        );
    }
}

#[test]
fn export_without_profile_is_the_embedded_default() {
    let sb = Sandbox::new();
    for (lines, args) in [
        (2u8, vec!["config", "export"]),
        (3u8, vec!["--lines", "3", "config", "export"]),
    ] {
        let r = sb.mppd(&args);
        r.expect_code(0, &format!("{args:?} with no profile"));
        let p = Profile::parse(r.stdout.as_bytes()).expect("export parses");
        let mut want = Vec::new();
        for def in registry::all() {
            match def.scope {
                mppd_config::Scope::Global => {
                    want.push((def.name.to_owned(), def.default_for(None)))
                }
                mppd_config::Scope::Line => {
                    for n in 1..=lines {
                        want.push((def.name_for(Some(n)), def.default_for(Some(n))));
                    }
                }
            }
        }
        for (name, default) in &want {
            let e = p
                .get(name)
                .unwrap_or_else(|| panic!("{args:?}: embedded default lacks {name}"));
            assert_eq!(e.value, *default, "{args:?}: {name}");
        }
        assert_eq!(p.entries().len(), want.len(), "{args:?}: parameter count");
        assert!(p.get(&format!("SIP_Transport_{}_", lines + 1)).is_none());
        assert!(sb.stored_bytes().is_none(), "export writes nothing");
    }
}
