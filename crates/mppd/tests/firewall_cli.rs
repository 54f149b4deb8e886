#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `mppd firewall rules|ports|apply|flush` as a user runs them, without root: which profile is
//! used (`--profile`, else the stored one, else the embedded default), the output formats, the
//! TR-069 port kept in the state directory, and the errors (invalid `Firewall_Config` named,
//! exit codes). Applying rules for real is in `firewall_netns.rs`.

mod common;

use common::{Sandbox, s};
use serde_json::Value;

const DEFAULT_PORTS: &str = "\
tcp 443 web server
tcp 4051 peer firmware sharing
tcp 6970 peer firmware sharing
udp 68 DHCP
udp 546 DHCPv6
udp 4051 peer firmware sharing
udp 5060 SIP line 1
udp 5061 SIP line 2
udp 16384-16483 RTP
udp 53240-53245 TFTP client
";

fn profile(sb: &Sandbox, name: &str, params: &[(&str, &str)]) -> std::path::PathBuf {
    let mut xml = String::from("<flat-profile>\n");
    for (n, v) in params {
        xml.push_str(&format!("  <{n}>{v}</{n}>\n"));
    }
    xml.push_str("</flat-profile>\n");
    sb.write(name, xml)
}

#[test]
fn ports_of_the_embedded_default_change_nothing_on_disk() {
    let sb = Sandbox::new();
    let r = sb.mppd(&["firewall", "ports"]);
    r.expect_code(0, "firewall ports");
    assert_eq!(r.stdout, DEFAULT_PORTS);
    // Reading the firewall of a profile without TR-069 writes nothing.
    assert!(!sb.state().exists(), "the state directory was created");

    let r = sb.mppd(&["firewall", "ports", "--format", "json"]);
    r.expect_code(0, "firewall ports --format json");
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["enabled"], true);
    assert_eq!(v["rtp"], serde_json::json!({"first": 16384, "last": 16483}));
    assert_eq!(v["tr069_port"], Value::Null);
    let ports = v["ports"].as_array().unwrap();
    assert_eq!(ports.len(), 10);
    assert_eq!(
        ports[6],
        serde_json::json!({"proto": "udp", "first": 5060, "last": 5060, "reason": "SIP line 1"})
    );
    // --lines 1: one SIP port.
    let r = sb.mppd(&["--lines", "1", "firewall", "ports"]);
    assert!(!r.stdout.contains("5061"), "{}", r.stdout);
}

#[test]
fn rules_print_the_script_and_the_json_transaction() {
    let sb = Sandbox::new();
    let r = sb.mppd(&["firewall", "rules"]);
    r.expect_code(0, "firewall rules");
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert_eq!(
        lines[1..4],
        [
            "table inet mppd",
            "delete table inet mppd",
            "table inet mppd {"
        ]
    );
    assert!(
        r.stdout
            .contains("\t\ttype filter hook input priority filter; policy drop;\n")
    );
    assert!(
        r.stdout
            .contains("\t\tudp dport 16384-16483 accept comment \"RTP\"\n")
    );

    let r = sb.mppd(&["firewall", "rules", "--format", "json"]);
    r.expect_code(0, "firewall rules --format json");
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let objs = v["nftables"].as_array().unwrap();
    assert!(objs[0]["add"]["table"].is_object() && objs[1]["delete"]["table"].is_object());
    let rules = objs.iter().filter(|o| o["add"]["rule"].is_object()).count();
    assert_eq!(
        rules,
        lines.iter().filter(|l| l.contains(" comment ")).count()
    );
}

#[test]
fn profile_flag_else_stored_profile_else_default() {
    let sb = Sandbox::new();
    sb.mppd(&[
        "config",
        "set",
        "Firewall_Config=TCP:12000",
        "Enable_Web_Server=No",
    ])
    .expect_code(0, "config set");
    let r = sb.mppd(&["firewall", "ports"]);
    r.expect_code(0, "ports of the stored profile");
    assert!(
        r.stdout.contains("tcp 12000 Firewall_Config\n"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("tcp 443 "), "{}", r.stdout);

    let other = profile(&sb, "other.xml", &[("Firewall_Config", "UDP:9000:9001")]);
    let r = sb.mppd(&["firewall", "ports", "--profile", s(&other)]);
    r.expect_code(0, "ports of --profile");
    assert!(
        r.stdout.contains("udp 9000-9001 Firewall_Config\n"),
        "{}",
        r.stdout
    );
    assert!(!r.stdout.contains("12000"), "{}", r.stdout);
    assert!(r.stdout.contains("tcp 443 web server\n"), "{}", r.stdout);
}

#[test]
fn tr069_port_is_chosen_once_and_kept() {
    let sb = Sandbox::new();
    let tr = profile(&sb, "tr.xml", &[("Enable_TR-069", "Yes")]);
    let r = sb.mppd(&["firewall", "ports", "--profile", s(&tr)]);
    r.expect_code(0, "ports with TR-069");
    let kept = std::fs::read_to_string(sb.state().join("tr069-port")).unwrap();
    let port: u16 = kept.trim().parse().unwrap();
    assert!((8000..=9999).contains(&port), "{port}");
    assert!(
        r.stdout
            .contains(&format!("tcp {port} TR-069 connection request\n"))
    );
    assert!(r.stdout.contains("udp 7999 TR-069 STUN\n"));
    for _ in 0..3 {
        let again = sb.mppd(&["firewall", "rules", "--profile", s(&tr)]);
        assert!(again.stdout.contains(&format!("tcp dport {port} accept")));
    }
    assert_eq!(
        std::fs::read_to_string(sb.state().join("tr069-port")).unwrap(),
        kept
    );
    // FIPS mode disables TR-069: no port.
    let fips = profile(
        &sb,
        "fips.xml",
        &[("Enable_TR-069", "Yes"), ("FIPS_Mode", "Enabled")],
    );
    let r = sb.mppd(&["firewall", "ports", "--profile", s(&fips)]);
    assert!(!r.stdout.contains("TR-069"), "{}", r.stdout);
    // A damaged port file is an error naming it, not a silent new port.
    std::fs::write(sb.state().join("tr069-port"), "80\n").unwrap();
    let r = sb.mppd(&["firewall", "ports", "--profile", s(&tr)]);
    r.expect_code(1, "damaged tr069-port");
    assert!(
        r.stderr.contains("tr069-port") && r.stderr.contains("8000-9999"),
        "{}",
        r.stderr
    );
}

/// The four invalid values of the issue: exit 1, nothing on stdout, the bad item named.
#[test]
fn invalid_firewall_config_is_named() {
    let sb = Sandbox::new();
    for (value, item) in [
        ("TCP:1,TCP:2,TCP:3,TCP:4,TCP:5,TCP:6", "TCP:6"),
        ("TCP:70000", "TCP:70000"),
        ("UDP:9:3", "UDP:9:3"),
        ("NO_ICMP_PING,FOO", "FOO"),
    ] {
        let bad = profile(&sb, "bad.xml", &[("Firewall_Config", value)]);
        for cmd in ["rules", "ports"] {
            let r = sb.mppd(&["firewall", cmd, "--profile", s(&bad)]);
            r.expect_code(1, &format!("firewall {cmd} {value}"));
            assert_eq!(r.stdout, "", "{cmd} {value}");
            let want = format!("{}:2: Firewall_Config: invalid value {value:?}: ", s(&bad));
            assert!(
                r.stderr.contains(&want) && r.stderr.contains(&format!("\"{item}\"")),
                "{cmd} {value}: expected {want:?} naming {item}: {}",
                r.stderr
            );
        }
    }
}

#[test]
fn other_errors_and_disabled_firewall() {
    let sb = Sandbox::new();
    let inverted = profile(
        &sb,
        "rtp.xml",
        &[("RTP_Port_Min", "20000"), ("RTP_Port_Max", "19000")],
    );
    let r = sb.mppd(&["firewall", "rules", "--profile", s(&inverted)]);
    r.expect_code(1, "inverted RTP range");
    assert!(
        r.stderr
            .contains("RTP_Port_Max (19000) is below RTP_Port_Min (20000)"),
        "{}",
        r.stderr
    );

    let r = sb.mppd(&["firewall", "ports", "--profile", "/nonexistent/x.xml"]);
    r.expect_code(2, "unreadable profile");
    let malformed = sb.write("m.xml", "<flat-profile><Firewall>");
    sb.mppd(&["firewall", "ports", "--profile", s(&malformed)])
        .expect_code(1, "malformed profile");

    let off = profile(
        &sb,
        "off.xml",
        &[("Firewall", "Disabled"), ("Firewall_Config", "TCP:12000")],
    );
    let r = sb.mppd(&["firewall", "ports", "--profile", s(&off)]);
    r.expect_code(0, "ports, disabled");
    assert_eq!(r.stdout, "");
    assert!(r.stderr.contains("Firewall is Disabled"), "{}", r.stderr);
    let r = sb.mppd(&["firewall", "rules", "--profile", s(&off)]);
    assert_eq!(
        r.stdout,
        "# mppd firewall: Firewall is Disabled; the table is removed.\n\
         table inet mppd\ndelete table inet mppd\n"
    );
}

/// Without nft on PATH, apply and flush fail clearly (and, having no nft, touch nothing).
#[test]
fn apply_and_flush_without_nft() {
    let sb = Sandbox::new();
    for args in [&["firewall", "apply"][..], &["firewall", "flush"][..]] {
        let out = common::command(&sb.state())
            .args(args)
            .env("PATH", "/nonexistent")
            .output()
            .unwrap();
        let r = common::Run::from(out);
        r.expect_code(1, &format!("{args:?} without nft"));
        assert!(
            r.stderr.contains("nft not found") && r.stderr.contains("nftables"),
            "{}",
            r.stderr
        );
    }
}
