#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Invalid profiles (issue 2, "Must show"): invalid values, unknown enum spellings, a sixth
//! `UDP:` entry in `Firewall_Config`, malformed XML and a document that is not a flat-profile
//! give `FILE:LINE: NAME: message` and exit 1, and applying them leaves `STATE/profile.xml`
//! byte-identical. An invalid `TLS_Cipher_List` is the one exception: a warning (SPEC §0, §14).

mod common;

use common::{Sandbox, s};
use mppd_config::Profile;

/// Lines 1-3 of every test profile; the line under test is line 4.
const HEAD: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<flat-profile>\n<Station_Name>desk</Station_Name>\n";
const TAIL: &str = "<Firewall>Enabled</Firewall>\n</flat-profile>\n";

/// A profile whose line 4 is `line`.
fn profile_with(line: &str) -> String {
    format!("{HEAD}{line}\n{TAIL}")
}

/// The valid profile a state directory holds before an invalid one is applied.
const BASELINE: &str = "<flat-profile>\n\
    <SIP_Transport_1_ ua=\"na\">TLS</SIP_Transport_1_>\n\
    <Firewall_Config>NO_ICMP_PING</Firewall_Config>\n\
    <Vendor_Unknown>kept</Vendor_Unknown>\n\
    <Admin_Password>Adm1n-base</Admin_Password>\n\
    </flat-profile>\n";

/// Applies [`BASELINE`] and returns the stored bytes.
fn apply_baseline(sb: &Sandbox) -> Vec<u8> {
    let base = sb.write("baseline.xml", BASELINE);
    sb.mppd(&["config", "apply", "--replace", s(&base)])
        .expect_code(0, "config apply baseline.xml");
    sb.stored_bytes().expect("profile.xml after apply")
}

/// The stored profile, parsed.
fn stored(sb: &Sandbox) -> Profile {
    Profile::parse(&sb.stored_bytes().expect("profile.xml")).expect("stored profile parses")
}

/// `content` is refused with exactly one problem line `FILE:LINE: NAME: ...` that contains
/// each of `contains` (and equals `FILE:LINE: NAME: exact` when given), by `validate` (stdout),
/// `get` (stderr) and `apply` (merge and replace), and `apply` leaves `STATE/profile.xml`
/// byte-identical. Returns the problem line.
#[track_caller]
fn assert_refused(
    content: &[u8],
    line: u32,
    name: &str,
    contains: &[&str],
    exact: Option<&str>,
) -> String {
    let sb = Sandbox::new();
    let bad = sb.write("bad.xml", content);
    let bad = s(&bad);
    let prefix = format!("{bad}:{line}: {name}: ");

    let r = sb.mppd(&["config", "validate", bad]);
    r.expect_code(1, "config validate");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines.len(),
        1,
        "one problem, one line; stdout:\n{}",
        r.stdout
    );
    let problem = lines[0].to_owned();
    assert!(
        problem.starts_with(&prefix),
        "problem line {problem:?} does not start with {prefix:?}"
    );
    for c in contains {
        assert!(problem.contains(c), "problem line {problem:?} lacks {c:?}");
    }
    if let Some(m) = exact {
        assert_eq!(problem, format!("{prefix}{m}"));
    }

    // `get` on an invalid or malformed profile: exit 1, the problem on stderr.
    let r = sb.mppd(&["config", "get", bad, "Firewall"]);
    r.expect_code(1, "config get on an invalid profile");
    assert_eq!(r.stdout, "", "config get prints no value");
    assert!(
        r.stderr.lines().any(|l| l == problem),
        "config get stderr lacks {problem:?}:\n{}",
        r.stderr
    );

    // `apply`, merged and replacing: refused, the stored profile byte-identical.
    let before = apply_baseline(&sb);
    for args in [
        vec!["config", "apply", bad],
        vec!["config", "apply", "--replace", bad],
    ] {
        let r = sb.mppd(&args);
        r.expect_code(1, &format!("{args:?}"));
        assert!(
            r.all_output().lines().any(|l| l == problem),
            "{args:?} does not report {problem:?}:\n{}",
            r.all_output()
        );
        assert!(
            sb.stored_bytes().expect("profile.xml still there") == before,
            "{args:?} changed STATE/profile.xml"
        );
    }
    problem
}

#[test]
fn invalid_bool() {
    assert_refused(
        profile_with("<Auth_INVITE_1_>Maybe</Auth_INVITE_1_>").as_bytes(),
        4,
        "Auth_INVITE_1_",
        &["invalid value \"Maybe\"", "Yes", "No"],
        None,
    );
}

#[test]
fn unknown_transport_spelling() {
    assert_refused(
        profile_with("<SIP_Transport_1_ ua=\"na\">SCTP</SIP_Transport_1_>").as_bytes(),
        4,
        "SIP_Transport_1_",
        &[],
        // docs/cli.md gives this line verbatim.
        Some("invalid value \"SCTP\": allowed: UDP, TCP, TLS, Auto"),
    );
}

#[test]
fn unknown_tls_version_spelling() {
    assert_refused(
        profile_with("<TLS_Min_Version>TLS 1.5</TLS_Min_Version>").as_bytes(),
        4,
        "TLS_Min_Version",
        &[
            "invalid value \"TLS 1.5\"",
            "TLS 1.0",
            "TLS 1.1",
            "TLS 1.2",
            "TLS 1.3",
        ],
        None,
    );
    // Through the alias, the name as written is reported.
    assert_refused(
        profile_with("<TLS_Client_Min_Version>1.2</TLS_Client_Min_Version>").as_bytes(),
        4,
        "TLS_Client_Min_Version",
        &["invalid value \"1.2\"", "TLS 1.2"],
        None,
    );
}

#[test]
fn port_out_of_range() {
    assert_refused(
        profile_with("<SIP_Port_1_>70000</SIP_Port_1_>").as_bytes(),
        4,
        "SIP_Port_1_",
        &["invalid value \"70000\"", "65535"],
        None,
    );
    assert_refused(
        profile_with("<Web_Server_Port>0</Web_Server_Port>").as_bytes(),
        4,
        "Web_Server_Port",
        &["invalid value \"0\"", "65535"],
        None,
    );
    // parameters.tsv: RTP ports 2048-49151.
    assert_refused(
        profile_with("<RTP_Port_Min>80</RTP_Port_Min>").as_bytes(),
        4,
        "RTP_Port_Min",
        &["invalid value \"80\"", "2048", "49151"],
        None,
    );
}

#[test]
fn sixth_udp_entry_in_firewall_config() {
    let value = "UDP:5001,UDP:5002,UDP:5003,UDP:5004,UDP:5005,UDP:5006";
    assert_refused(
        profile_with(&format!("<Firewall_Config>{value}</Firewall_Config>")).as_bytes(),
        4,
        "Firewall_Config",
        &[&format!("invalid value \"{value}\"")],
        None,
    );
    // A sixth TCP entry likewise.
    let value = "TCP:1,TCP:2,TCP:3,TCP:4,TCP:5,TCP:6";
    assert_refused(
        profile_with(&format!("<Firewall_Config>{value}</Firewall_Config>")).as_bytes(),
        4,
        "Firewall_Config",
        &[&format!("invalid value \"{value}\"")],
        None,
    );
}

#[test]
fn five_udp_and_five_tcp_entries_are_fine() {
    let sb = Sandbox::new();
    let value = "NO_ICMP_PING, UDP:5001,UDP:5002, UDP:5003,UDP:5004,UDP:5005:5010,\
                 TCP:1,TCP:2,TCP:3,TCP:4,TCP:12000:12010,NO_CISCO_TFTP,NO_ICMP_UNREACHABLE";
    let f = sb.write(
        "fw.xml",
        profile_with(&format!("<Firewall_Config>{value}</Firewall_Config>")),
    );
    let r = sb.mppd(&["config", "validate", s(&f)]);
    r.expect_code(0, "validate 5 UDP + 5 TCP");
    assert!(!r.stdout.contains("Firewall_Config"), "{}", r.stdout);
    let r = sb.mppd(&["config", "get", s(&f), "Firewall_Config"]);
    r.expect_code(0, "get Firewall_Config");
    assert_eq!(r.stdout, format!("{value}\n"));
    sb.mppd(&["config", "apply", s(&f)])
        .expect_code(0, "apply 5 UDP + 5 TCP");
    assert_eq!(stored(&sb).get("Firewall_Config").unwrap().value, value);
}

#[test]
fn unknown_firewall_keyword() {
    assert_refused(
        profile_with("<Firewall_Config>NO_ICMP_PING,NO_PING</Firewall_Config>").as_bytes(),
        4,
        "Firewall_Config",
        &["invalid value \"NO_ICMP_PING,NO_PING\"", "NO_PING\""],
        None,
    );
}

#[test]
fn malformed_xml_mismatched_tag() {
    assert_refused(
        profile_with("<Syslog_Server>192.0.2.20</Syslog>").as_bytes(),
        4,
        "flat-profile",
        &["malformed XML"],
        None,
    );
}

#[test]
fn malformed_xml_undefined_entity() {
    assert_refused(
        profile_with("<Syslog_Server>a&bogus;b</Syslog_Server>").as_bytes(),
        4,
        "flat-profile",
        &["malformed XML"],
        None,
    );
}

#[test]
fn not_a_flat_profile() {
    assert_refused(
        b"<config>\n<Firewall>Disabled</Firewall>\n</config>\n",
        1,
        "flat-profile",
        &[],
        // docs/cli.md gives this line verbatim.
        Some("not a flat-profile: no <flat-profile> element (the root element is <config>)"),
    );
}

#[test]
fn not_utf8() {
    let mut bytes = HEAD.as_bytes().to_vec();
    bytes.extend_from_slice(b"<Syslog_Server>h\xffst</Syslog_Server>\n");
    bytes.extend_from_slice(TAIL.as_bytes());
    assert_refused(&bytes, 4, "flat-profile", &["UTF-8"], None);
}

#[test]
fn bad_ua_attribute() {
    assert_refused(
        profile_with("<Firewall ua=\"xx\">Enabled</Firewall>").as_bytes(),
        4,
        "Firewall",
        &["xx", "na", "ro", "rw"],
        None,
    );
}

#[test]
fn several_problems_one_line_each() {
    let sb = Sandbox::new();
    let f = sb.write(
        "multi.xml",
        format!(
            "{HEAD}<Auth_INVITE_1_>Maybe</Auth_INVITE_1_>\n\
             <Unknown_Thing>whatever</Unknown_Thing>\n\
             <SIP_Transport_2_>SCTP</SIP_Transport_2_>\n\
             <Proxy_Mode>Sometimes</Proxy_Mode>\n{TAIL}"
        ),
    );
    let r = sb.mppd(&["config", "validate", s(&f)]);
    r.expect_code(1, "validate multi.xml");
    let mut lines: Vec<&str> = r.stdout.lines().collect();
    lines.sort_unstable();
    let p = s(&f);
    assert_eq!(lines.len(), 3, "stdout:\n{}", r.stdout);
    assert!(
        lines[0].starts_with(&format!("{p}:4: Auth_INVITE_1_: ")),
        "{lines:?}"
    );
    assert_eq!(
        lines[1],
        format!("{p}:6: SIP_Transport_2_: invalid value \"SCTP\": allowed: UDP, TCP, TLS, Auto")
    );
    assert!(
        lines[2].starts_with(&format!("{p}:7: Proxy_Mode: ")),
        "{lines:?}"
    );
    for v in ["Auto", "Manual", "Off", "\"Sometimes\""] {
        assert!(lines[2].contains(v), "{lines:?}");
    }
}

#[test]
fn validate_json_of_an_invalid_profile() {
    let sb = Sandbox::new();
    let f = sb.write(
        "bad.xml",
        profile_with("<SIP_Transport_1_>SCTP</SIP_Transport_1_>"),
    );
    let r = sb.mppd(&["config", "validate", "--format", "json", s(&f)]);
    r.expect_code(1, "validate --format json bad.xml");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    let files = v["files"].as_array().expect("files");
    assert_eq!(files.len(), 1, "{v}");
    let file = &files[0];
    assert_eq!(file["file"], s(&f), "{v}");
    assert_eq!(file["valid"], false, "{v}");
    let errors = file["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), 1, "{v}");
    assert_eq!(errors[0]["line"], 4, "{v}");
    assert_eq!(errors[0]["name"], "SIP_Transport_1_", "{v}");
    let msg = errors[0]["message"].as_str().expect("message");
    assert!(msg.contains("\"SCTP\""), "{msg}");
    assert!(msg.contains("UDP, TCP, TLS, Auto"), "{msg}");
    assert_eq!(file["warnings"], serde_json::json!([]), "{v}");
    // Station_Name is not a registry parameter.
    assert_eq!(
        file["unknown"],
        serde_json::json!([{"line": 3, "name": "Station_Name"}]),
        "{v}"
    );

    // A malformed file in JSON: invalid, its error under the name flat-profile.
    let m = sb.write("m.xml", profile_with("<A>1</B>"));
    let r = sb.mppd(&["config", "validate", "--format", "json", s(&f), s(&m)]);
    r.expect_code(1, "validate --format json bad.xml m.xml");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON on stdout");
    let files = v["files"].as_array().expect("files");
    assert_eq!(files.len(), 2, "{v}");
    assert_eq!(files[1]["file"], s(&m), "{v}");
    assert_eq!(files[1]["valid"], false, "{v}");
    assert_eq!(files[1]["errors"][0]["line"], 4, "{v}");
    assert_eq!(files[1]["errors"][0]["name"], "flat-profile", "{v}");
}

#[test]
fn invalid_cipher_list_is_a_warning() {
    let sb = Sandbox::new();
    let f = sb.write(
        "cipher.xml",
        profile_with("<TLS_Cipher_List>FOO:BAR</TLS_Cipher_List>"),
    );
    let p = s(&f);
    let r = sb.mppd(&["config", "validate", p]);
    r.expect_code(0, "validate with an invalid cipher list");
    assert!(
        !r.stdout.contains("TLS_Cipher_List"),
        "not an error on stdout:\n{}",
        r.stdout
    );
    let prefix = format!("{p}:4: TLS_Cipher_List: warning: invalid value \"FOO:BAR\": ");
    let warning = r
        .stderr
        .lines()
        .find(|l| l.starts_with(&prefix))
        .unwrap_or_else(|| panic!("no warning line {prefix:?} on stderr:\n{}", r.stderr));
    assert!(
        warning[prefix.len()..].contains("FOO"),
        "the warning names the bad word: {warning:?}"
    );

    // JSON: valid, with the warning.
    let r = sb.mppd(&["config", "validate", "--format", "json", p]);
    r.expect_code(0, "validate --format json with an invalid cipher list");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).expect("JSON");
    assert_eq!(v["files"][0]["valid"], true, "{v}");
    assert_eq!(v["files"][0]["errors"], serde_json::json!([]), "{v}");
    let w = &v["files"][0]["warnings"];
    assert_eq!(w.as_array().map(Vec::len), Some(1), "{v}");
    assert_eq!(w[0]["line"], 4, "{v}");
    assert_eq!(w[0]["name"], "TLS_Cipher_List", "{v}");
    assert!(w[0]["message"].as_str().unwrap().contains("FOO"), "{v}");

    // get prints it; apply accepts it (with the warning) and stores it.
    let r = sb.mppd(&["config", "get", p, "TLS_Cipher_List"]);
    r.expect_code(0, "get TLS_Cipher_List");
    assert_eq!(r.stdout, "FOO:BAR\n");
    apply_baseline(&sb);
    let r = sb.mppd(&["config", "apply", p]);
    r.expect_code(0, "apply with an invalid cipher list");
    assert!(
        r.stderr.contains("TLS_Cipher_List") && r.stderr.contains("FOO"),
        "apply warns:\n{}",
        r.stderr
    );
    let st = stored(&sb);
    assert_eq!(st.get("TLS_Cipher_List").unwrap().value, "FOO:BAR");
    assert_eq!(st.get("Vendor_Unknown").unwrap().value, "kept", "merged");
}

#[test]
fn enums_and_bools_are_case_insensitive() {
    let sb = Sandbox::new();
    let f = sb.write(
        "case.xml",
        format!(
            "{HEAD}<SIP_Transport_1_>tls</SIP_Transport_1_>\n\
             <Auth_INVITE_1_>yes</Auth_INVITE_1_>\n\
             <TLS_Min_Version>tls 1.2</TLS_Min_Version>\n\
             <Proxy_Mode>MANUAL</Proxy_Mode>\n\
             <FIPS_Mode>yes</FIPS_Mode>\n\
             <Enable_Protocol>HTTPS</Enable_Protocol>\n{TAIL}"
        ),
    );
    let r = sb.mppd(&["config", "validate", s(&f)]);
    r.expect_code(0, "validate lower/upper case spellings");
    sb.mppd(&["config", "apply", s(&f)])
        .expect_code(0, "apply lower/upper case spellings");
    // The phone acts on the canonical values.
    let st = stored(&sb);
    for (name, want) in [
        ("SIP_Transport_1_", "TLS"),
        ("Auth_INVITE_1_", "Yes"),
        ("TLS_Min_Version", "TLS 1.2"),
        ("Proxy_Mode", "Manual"),
        ("FIPS_Mode", "Enabled"),
        ("Enable_Protocol", "Https"),
    ] {
        assert_eq!(st.effective(name).unwrap(), want, "{name}");
    }
}

#[test]
fn secret_values_are_masked_in_messages() {
    // A control character in a password: refused, the value not shown.
    let problem = assert_refused(
        profile_with("<Admin_Password>s3cr&#1;etPw</Admin_Password>").as_bytes(),
        4,
        "Admin_Password",
        &["*****"],
        None,
    );
    assert!(
        !problem.contains("s3cr") && !problem.contains("etPw"),
        "{problem}"
    );
}

#[test]
fn vpn_password_is_letters_and_digits_only() {
    // SPEC §20: "VPN_Password: ASCII letters and digits only".
    let problem = assert_refused(
        profile_with("<VPN_Password>p@ss w0rd!</VPN_Password>").as_bytes(),
        4,
        "VPN_Password",
        &["*****"],
        None,
    );
    assert!(
        !problem.contains("p@ss") && !problem.contains("w0rd"),
        "{problem}"
    );
    let sb = Sandbox::new();
    let ok = sb.write(
        "vpn.xml",
        profile_with("<VPN_Password>Abc123xyz</VPN_Password>"),
    );
    sb.mppd(&["config", "validate", s(&ok)])
        .expect_code(0, "letters and digits");
}

#[test]
fn apply_stops_at_the_first_invalid_file() {
    let sb = Sandbox::new();
    apply_baseline(&sb);
    let g2 = sb.write("g2.xml", profile_with("<Proxy_Mode>Manual</Proxy_Mode>"));
    let bad = sb.write("bad.xml", profile_with("<Proxy_Mode>Never</Proxy_Mode>"));
    let g3 = sb.write(
        "g3.xml",
        profile_with("<Webex_Metrics_Enable>Yes</Webex_Metrics_Enable>"),
    );
    let r = sb.mppd(&["config", "apply", s(&g2), s(&bad), s(&g3)]);
    r.expect_code(1, "apply good bad good");
    assert!(
        r.all_output()
            .lines()
            .any(|l| l.starts_with(&format!("{}:4: Proxy_Mode: ", s(&bad)))),
        "{}",
        r.all_output()
    );
    let st = stored(&sb);
    assert_eq!(st.get("Proxy_Mode").unwrap().value, "Manual", "g2 applied");
    assert!(st.get("Webex_Metrics_Enable").is_none(), "g3 not applied");
    assert_eq!(st.get("Vendor_Unknown").unwrap().value, "kept", "merged");
    // A merge keeps the stored ua when the file gives none.
    assert_eq!(
        st.get("SIP_Transport_1_").unwrap().ua.map(|u| u.as_str()),
        Some("na")
    );
}

#[test]
fn config_set() {
    let sb = Sandbox::new();
    let before = apply_baseline(&sb);
    let unchanged = |what: &str| {
        assert!(
            sb.stored_bytes().unwrap() == before,
            "{what} changed STATE/profile.xml"
        );
    };
    let r = sb.mppd(&["config", "set", "SIP_Transport_1_=SCTP"]);
    r.expect_code(1, "set SIP_Transport_1_=SCTP");
    let out = r.all_output();
    assert!(
        out.contains("SIP_Transport_1_")
            && out.contains("SCTP")
            && out.contains("UDP, TCP, TLS, Auto"),
        "{out}"
    );
    unchanged("set SIP_Transport_1_=SCTP");

    let r = sb.mppd(&["config", "set", "No_Such_Param=1"]);
    r.expect_code(2, "set No_Such_Param=1");
    assert!(
        r.all_output().contains("No_Such_Param"),
        "{}",
        r.all_output()
    );
    unchanged("set No_Such_Param=1");

    // All or none.
    let r = sb.mppd(&["config", "set", "Proxy_Mode=Manual", "Auth_INVITE_1_=Maybe"]);
    r.expect_code(1, "set valid + invalid");
    unchanged("set valid + invalid");
    let r = sb.mppd(&["config", "set", "Proxy_Mode=Manual", "No_Such_Param=1"]);
    r.expect_code(2, "set valid + unknown");
    unchanged("set valid + unknown");

    // Valid: applied, the rest kept.
    sb.mppd(&["config", "set", "SIP_Transport_2_=tcp", "Firewall_Config="])
        .expect_code(0, "set SIP_Transport_2_=tcp Firewall_Config=");
    let st = stored(&sb);
    assert_eq!(st.effective("SIP_Transport_2_").unwrap(), "TCP");
    assert_eq!(st.get("Firewall_Config").unwrap().value, "");
    assert_eq!(st.get("SIP_Transport_1_").unwrap().value, "TLS");
    assert_eq!(st.get("Vendor_Unknown").unwrap().value, "kept");
}

#[test]
fn nonexistent_file_is_exit_2() {
    let sb = Sandbox::new();
    let before = apply_baseline(&sb);
    let missing = sb.dir.path().join("no-such-profile.xml");
    let m = s(&missing);
    sb.mppd(&["config", "validate", m])
        .expect_code(2, "validate a missing file");
    let r = sb.mppd(&["config", "get", m, "Firewall"]);
    r.expect_code(2, "get from a missing file");
    assert_eq!(r.stdout, "");
    sb.mppd(&["config", "apply", m])
        .expect_code(2, "apply a missing file");
    assert!(
        sb.stored_bytes().unwrap() == before,
        "apply of a missing file changed the store"
    );
}

#[test]
fn a_corrupt_store_is_reported_and_replace_recovers_it() {
    let sb = Sandbox::new();
    std::fs::create_dir_all(sb.state()).unwrap();
    let corrupt = b"<flat-profile>\n<Firewall>Disabled</Firewall>\n<A>1</B>\n</flat-profile>\n";
    std::fs::write(sb.profile_xml(), corrupt).unwrap();
    let good = sb.write("good.xml", profile_with("<Proxy_Mode>Manual</Proxy_Mode>"));
    let stored_path = sb.profile_xml();
    let where_ = format!("{}:3: flat-profile: ", s(&stored_path));
    // A merge needs the stored profile: refused, naming the stored file, nothing changed.
    let r = sb.mppd(&["config", "apply", s(&good)]);
    r.expect_code(1, "apply (merge) over a corrupt store");
    assert!(r.all_output().contains(&where_), "{}", r.all_output());
    assert!(
        sb.stored_bytes().unwrap() == corrupt,
        "merge changed the corrupt store"
    );
    let r = sb.mppd(&["config", "set", "Proxy_Mode=Auto"]);
    r.expect_code(1, "set over a corrupt store");
    assert!(
        sb.stored_bytes().unwrap() == corrupt,
        "set changed the corrupt store"
    );
    // `--replace` does not read the stored profile: it replaces it.
    sb.mppd(&["config", "apply", "--replace", s(&good)])
        .expect_code(0, "apply --replace over a corrupt store");
    let st = stored(&sb);
    assert_eq!(st.get("Proxy_Mode").unwrap().value, "Manual");
    assert!(st.get("Firewall").is_some_and(|e| e.value == "Enabled"));
}
