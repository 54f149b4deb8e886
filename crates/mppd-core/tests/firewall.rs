//! `mppd_core::firewall`: the open ports of SPEC §13 for each input, the `Firewall_Config`
//! errors, and insta snapshots of the compiled ruleset (the `nft -f` script and the JSON
//! `nft -j -f -` takes). The `.snap` files under `tests/snapshots/` are the reviewed spec.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use mppd_config::Profile;
use mppd_config::validate::{FirewallError, ValueError};
use mppd_core::firewall::{CompileError, Inputs, Policy, Proto, Reason, removal};

/// The embedded default profile (two lines) with `set` applied on top.
fn profile(set: &[(&str, &str)]) -> Profile {
    let mut p = Profile::defaults(2);
    for (n, v) in set {
        p.set(n, v, None, 0);
    }
    p
}

const TWO_LINES: Inputs = Inputs {
    lines: 2,
    tr069_port: None,
};

fn compile(set: &[(&str, &str)]) -> Policy {
    Policy::from_profile(&profile(set), &TWO_LINES).unwrap()
}

fn ports(p: &Policy) -> Vec<String> {
    p.open.iter().map(ToString::to_string).collect()
}

fn json(p: &Policy) -> String {
    serde_json::to_string_pretty(&p.ruleset()).unwrap()
}

/// A profile with two lines (UDP and Auto), TR-069 and peer firmware sharing on.
fn two_lines_tr069_pfs() -> (Profile, Inputs) {
    let p = profile(&[
        ("Line_Enable_1_", "Yes"),
        ("SIP_Transport_1_", "UDP"),
        ("SIP_Port_1_", "5060"),
        ("Line_Enable_2_", "Yes"),
        ("SIP_Transport_2_", "Auto"),
        ("SIP_Port_2_", "5062"),
        ("Enable_TR-069", "Yes"),
        ("Upgrade_Enable", "Yes"),
        ("Peer_Firmware_Sharing", "Yes"),
        ("RTP_Port_Min", "20000"),
        ("RTP_Port_Max", "20199"),
        ("Web_Server_Port", "8443"),
    ]);
    (
        p,
        Inputs {
            lines: 2,
            tr069_port: Some(8765),
        },
    )
}

#[test]
fn default_profile_opens_the_spec_ports() {
    let p = compile(&[]);
    assert!(p.enabled);
    assert_eq!(
        ports(&p),
        [
            "tcp 443 web server",
            "tcp 4051 peer firmware sharing",
            "tcp 6970 peer firmware sharing",
            "udp 68 DHCP",
            "udp 546 DHCPv6",
            "udp 4051 peer firmware sharing",
            "udp 5060 SIP line 1",
            "udp 5061 SIP line 2",
            "udp 16384-16483 RTP",
            "udp 53240-53245 TFTP client",
        ]
    );
    assert_eq!(p.rtp, (16384, 16483));
    assert_eq!(p.tr069_port, None);
    // An empty profile means the same: every parameter at its default.
    assert_eq!(
        Policy::from_profile(&Profile::new(), &TWO_LINES).unwrap(),
        p
    );
}

#[test]
fn sip_ports_only_for_enabled_udp_or_auto_lines() {
    let p = compile(&[
        ("SIP_Transport_1_", "TLS"),
        ("SIP_Transport_2_", "TCP"),
        ("Line_Enable_3_", "Yes"),
        ("SIP_Transport_3_", "auto"),
        ("SIP_Port_3_", "5070"),
    ]);
    // Only two lines on the device: line 3 is not considered; TLS and TCP open nothing.
    assert!(!ports(&p).iter().any(|l| l.contains("SIP")), "{p:?}");
    let four = Inputs {
        lines: 4,
        tr069_port: None,
    };
    let mut prof = profile(&[
        ("SIP_Transport_1_", "TLS"),
        ("SIP_Transport_2_", "TCP"),
        ("Line_Enable_3_", "Yes"),
        ("SIP_Transport_3_", "auto"),
        ("SIP_Port_3_", "5070"),
        ("Line_Enable_4_", "No"),
    ]);
    let p = Policy::from_profile(&prof, &four).unwrap();
    let sip: Vec<String> = ports(&p)
        .into_iter()
        .filter(|l| l.contains("SIP"))
        .collect();
    assert_eq!(sip, ["udp 5070 SIP line 3"]);
    // The empty value means the default: UDP on 5059 + n.
    prof.set("SIP_Transport_4_", "", None, 0);
    prof.set("Line_Enable_4_", "", None, 0);
    let p = Policy::from_profile(&prof, &four).unwrap();
    assert!(p.is_open(Proto::Udp, 5063), "{:?}", ports(&p));
    assert!(!p.is_open(Proto::Tcp, 5063));
}

#[test]
fn two_lines_on_one_port_are_one_rule_with_both_reasons() {
    let p = compile(&[("SIP_Port_2_", "5060")]);
    let sip: Vec<String> = ports(&p)
        .into_iter()
        .filter(|l| l.contains("SIP"))
        .collect();
    assert_eq!(sip, ["udp 5060 SIP line 1, SIP line 2"]);
    assert_eq!(
        p.script()
            .matches("udp dport 5060 accept comment \"SIP line 1, SIP line 2\"")
            .count(),
        1
    );
}

#[test]
fn web_server_peer_sharing_tftp_switches() {
    let p = compile(&[("Enable_Web_Server", "No")]);
    assert!(!p.is_open(Proto::Tcp, 443));
    let p = compile(&[("Web_Server_Port", "8080")]);
    assert!(p.is_open(Proto::Tcp, 8080) && !p.is_open(Proto::Tcp, 443));
    for (upgrade, pfs) in [("No", "Yes"), ("Yes", "No"), ("No", "No")] {
        let p = compile(&[("Upgrade_Enable", upgrade), ("Peer_Firmware_Sharing", pfs)]);
        assert!(
            !p.open
                .iter()
                .any(|o| o.reasons.contains(&Reason::PeerFirmwareSharing)),
            "Upgrade_Enable {upgrade}, Peer_Firmware_Sharing {pfs}: {:?}",
            ports(&p)
        );
    }
    let p = compile(&[("Firewall_Config", "NO_CISCO_TFTP")]);
    assert!(!p.is_open(Proto::Udp, 53240) && !p.is_open(Proto::Udp, 53245));
    assert!(p.options.no_cisco_tftp);
}

#[test]
fn rtp_range_is_min_to_max_plus_one() {
    let p = compile(&[("RTP_Port_Min", "10000"), ("RTP_Port_Max", "10000")]);
    assert_eq!(p.rtp, (10000, 10001));
    assert!(ports(&p).contains(&"udp 10000-10001 RTP".to_owned()));
    let p = compile(&[("RTP_Port_Max", "49151")]);
    assert_eq!(p.rtp, (16384, 49152));
    let e = Policy::from_profile(
        &profile(&[("RTP_Port_Min", "20000"), ("RTP_Port_Max", "19999")]),
        &TWO_LINES,
    )
    .unwrap_err();
    assert_eq!(
        e,
        CompileError::RtpRange {
            min: 20000,
            max: 19999
        }
    );
    assert!(e.to_string().contains("RTP_Port_Max (19999)"), "{e}");
}

#[test]
fn tr069_needs_its_port_and_is_off_under_fips() {
    let on = [("Enable_TR-069", "Yes")];
    assert_eq!(
        Policy::from_profile(&profile(&on), &TWO_LINES).unwrap_err(),
        CompileError::Tr069PortMissing
    );
    let with = |port| Inputs {
        lines: 2,
        tr069_port: Some(port),
    };
    assert_eq!(
        Policy::from_profile(&profile(&on), &with(7000)).unwrap_err(),
        CompileError::Tr069PortOutOfRange(7000)
    );
    let p = Policy::from_profile(&profile(&on), &with(9999)).unwrap();
    assert!(p.is_open(Proto::Udp, 7999) && p.is_open(Proto::Tcp, 9999));
    assert!(ports(&p).contains(&"tcp 9999 TR-069 connection request".to_owned()));
    assert!(ports(&p).contains(&"udp 7999 TR-069 STUN".to_owned()));
    // FIPS mode disables TR-069 (SPEC §19): no port, and none needed.
    let fips = profile(&[("Enable_TR-069", "Yes"), ("FIPS_Mode", "Yes")]);
    assert!(!mppd_core::firewall::tr069_enabled(&fips));
    let p = Policy::from_profile(&fips, &TWO_LINES).unwrap();
    assert!(!p.is_open(Proto::Udp, 7999), "{:?}", ports(&p));
    // Off: the port given is ignored.
    let p = Policy::from_profile(&profile(&[]), &with(8500)).unwrap();
    assert!(!p.is_open(Proto::Tcp, 8500) && p.tr069_port.is_none());
}

#[test]
fn firewall_config_entries_are_opened() {
    let p = compile(&[(
        "Firewall_Config",
        " NO_ICMP_PING , TCP:12000,UDP:8000:8010,TCP:5:6",
    )]);
    assert!(p.options.no_icmp_ping);
    let extra: Vec<String> = ports(&p)
        .into_iter()
        .filter(|l| l.ends_with("Firewall_Config"))
        .collect();
    assert_eq!(
        extra,
        [
            "tcp 5-6 Firewall_Config",
            "tcp 12000 Firewall_Config",
            "udp 8000-8010 Firewall_Config"
        ]
    );
    // An entry equal to a default port is merged into its rule.
    let p = compile(&[("Firewall_Config", "UDP:5060")]);
    assert!(ports(&p).contains(&"udp 5060 SIP line 1, Firewall_Config".to_owned()));
}

/// The `Firewall_Config` values the issue names: each refused, naming the bad item.
#[test]
fn invalid_firewall_config_names_the_bad_item() {
    let cases: [(&str, FirewallError, &str); 4] = [
        (
            "TCP:1,TCP:2,TCP:3,TCP:4,TCP:5,TCP:6",
            FirewallError::TooMany {
                proto: "TCP",
                entry: "TCP:6".into(),
            },
            "\"TCP:6\"",
        ),
        (
            "NO_ICMP_PING,TCP:70000",
            FirewallError::BadPort("TCP:70000".into()),
            "\"TCP:70000\"",
        ),
        (
            "UDP:9:3",
            FirewallError::BadPort("UDP:9:3".into()),
            "\"UDP:9:3\"",
        ),
        (
            "NO_ICMP_PING, FOO",
            FirewallError::UnknownKeyword("FOO".into()),
            "\"FOO\"",
        ),
    ];
    for (value, want, named) in cases {
        let e =
            Policy::from_profile(&profile(&[("Firewall_Config", value)]), &TWO_LINES).unwrap_err();
        assert_eq!(
            e,
            CompileError::InvalidValue {
                name: "Firewall_Config".into(),
                value: value.into(),
                error: ValueError::Firewall(want),
            },
            "{value}"
        );
        let msg = e.to_string();
        assert!(
            msg.starts_with("Firewall_Config: invalid value") && msg.contains(named),
            "{value}: {msg}"
        );
    }
    // Five of each is fine.
    compile(&[(
        "Firewall_Config",
        "TCP:1,TCP:2,TCP:3,TCP:4,TCP:5,UDP:1,UDP:2,UDP:3,UDP:4,UDP:5",
    )]);
}

#[test]
fn invalid_values_are_named_even_unvalidated() {
    for (name, value) in [
        ("SIP_Port_1_", "abc"),
        ("SIP_Port_2_", "70000"),
        ("Firewall", "Maybe"),
        ("RTP_Port_Min", "80"),
        ("Enable_Web_Server", "sure"),
        ("SIP_Transport_1_", "SCTP"),
    ] {
        let e = Policy::from_profile(&profile(&[(name, value)]), &TWO_LINES).unwrap_err();
        match &e {
            CompileError::InvalidValue {
                name: n, value: v, ..
            } => {
                assert_eq!((n.as_str(), v.as_str()), (name, value), "{e}");
            }
            other => panic!("{name}={value}: {other:?}"),
        }
        assert!(e.to_string().starts_with(&format!("{name}: invalid value")));
    }
}

#[test]
fn disabled_firewall_removes_the_table() {
    let p = compile(&[("Firewall", "disabled"), ("Firewall_Config", "TCP:12000")]);
    assert!(!p.enabled);
    assert!(p.open.is_empty());
    assert_eq!(p.ruleset(), removal());
    assert_eq!(
        p.script(),
        "# mppd firewall: Firewall is Disabled; the table is removed.\n\
         table inet mppd\ndelete table inet mppd\n"
    );
    assert_eq!(
        serde_json::to_value(removal()).unwrap(),
        serde_json::json!({"nftables": [
            {"add": {"table": {"family": "inet", "name": "mppd"}}},
            {"delete": {"table": {"family": "inet", "name": "mppd"}}},
        ]})
    );
    // Still validated: an invalid Firewall_Config is refused even when disabled.
    assert!(
        Policy::from_profile(
            &profile(&[("Firewall", "Disabled"), ("Firewall_Config", "FOO")]),
            &TWO_LINES
        )
        .is_err()
    );
}

#[test]
fn ruleset_replaces_the_table_in_one_transaction() {
    let v = serde_json::to_value(compile(&[]).ruleset()).unwrap();
    let objs = v["nftables"].as_array().unwrap();
    let table = serde_json::json!({"table": {"family": "inet", "name": "mppd"}});
    assert_eq!(objs[0]["add"], table);
    assert_eq!(objs[1]["delete"], table);
    assert_eq!(objs[2]["add"], table);
    // Nothing else is deleted or flushed, and everything after lives in table mppd.
    for o in &objs[3..] {
        let add = o.get("add").unwrap_or_else(|| panic!("not an add: {o}"));
        let (_, body) = add.as_object().unwrap().iter().next().unwrap();
        assert_eq!(body["table"], "mppd", "{o}");
        assert_eq!(body["family"], "inet", "{o}");
    }
}

#[test]
fn icmp_options_change_the_rules() {
    let plain = compile(&[]).script();
    assert!(plain.contains("icmp type echo-request accept"));
    assert!(plain.contains("icmpv6 type echo-request accept"));
    assert!(
        plain
            .contains("meta pkttype host meta l4proto udp reject with icmpx type port-unreachable")
    );
    assert!(!plain.contains("chain output"));

    let quiet = compile(&[("Firewall_Config", "NO_ICMP_PING,NO_ICMP_UNREACHABLE")]).script();
    assert!(!quiet.contains("icmp type echo-request accept"), "{quiet}");
    assert!(!quiet.contains("reject"), "{quiet}");
    // Multicast echo (Broadcast Echo) and neighbour discovery stay.
    assert!(quiet.contains("ip6 daddr ff00::/8 icmpv6 type echo-request accept"));
    assert!(quiet.contains("nd-neighbor-solicit"));
    assert!(quiet.contains(
        "icmp type destination-unreachable icmp code port-unreachable ct protocol udp \
         ct original proto-dst 16384-16483 accept"
    ));
    assert!(
        quiet.contains("icmpv6 type destination-unreachable icmpv6 code port-unreachable drop")
    );
}

#[test]
fn open_ports_serialize_for_status_and_json_output() {
    let p = compile(&[]);
    let v = serde_json::to_value(&p.open[3]).unwrap();
    assert_eq!(
        v,
        serde_json::json!({"proto": "udp", "first": 68, "last": 68, "reason": "DHCP"})
    );
}

// ---- snapshots: review the .snap files by eye, they are the spec ----

#[test]
fn snapshot_default_profile() {
    let p = compile(&[]);
    insta::assert_snapshot!("default_script", p.script());
    insta::assert_snapshot!("default_json", json(&p));
}

#[test]
fn snapshot_no_icmp_ping_tcp_12000_udp_8000_8010() {
    let p = compile(&[("Firewall_Config", "NO_ICMP_PING,TCP:12000,UDP:8000:8010")]);
    insta::assert_snapshot!("options_script", p.script());
    insta::assert_snapshot!("options_json", json(&p));
}

#[test]
fn snapshot_two_lines_tr069_peer_sharing() {
    let (prof, inputs) = two_lines_tr069_pfs();
    let p = Policy::from_profile(&prof, &inputs).unwrap();
    insta::assert_snapshot!("two_lines_tr069_pfs_script", p.script());
    insta::assert_snapshot!("two_lines_tr069_pfs_json", json(&p));
}

#[test]
fn snapshot_no_icmp_unreachable() {
    let p = compile(&[
        ("Firewall_Config", "NO_ICMP_UNREACHABLE,NO_CISCO_TFTP"),
        ("SIP_Transport_2_", "TLS"),
    ]);
    insta::assert_snapshot!("no_icmp_unreachable_script", p.script());
    insta::assert_snapshot!("no_icmp_unreachable_json", json(&p));
}
