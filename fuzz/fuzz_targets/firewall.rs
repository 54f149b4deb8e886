//! The firewall compiler (SPEC §13; issue 6): whatever the profile says, neither
//! `Firewall_Config` parsing nor compiling panics.
//!
//! The data is cut at `0xFF` bytes (never part of UTF-8) into text fields:
//!
//! - field 0 as `Firewall_Config` (`FirewallOptions::parse`): the options written back in the
//!   documented syntax parse to the same options;
//! - fields 0-11 as the parameters the compiler reads (`Firewall`, `Firewall_Config`, the RTP,
//!   SIP, web server, TR-069 and peer firmware sharing ones) in a profile, the TR-069 port and
//!   the line count from the first bytes, through `Policy::from_profile`: a compiled policy
//!   lists its open ports sorted, each range once with at least one reason, opens every
//!   `UDP:`/`TCP:` entry and the RTP range when enabled; the ruleset and the `nft` script are
//!   built.
//!
//! Run: `cd fuzz && RUSTC_BOOTSTRAP=1 cargo fuzz run firewall`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mppd_config::Profile;
use mppd_config::validate::FirewallOptions;
use mppd_core::firewall::{Inputs, Policy, Proto, removal_script, tr069_enabled};

fn field(parts: &[String], i: usize) -> &str {
    parts.get(i).map_or("", String::as_str)
}

/// `o` in the syntax of `Firewall_Config`.
fn print(o: &FirewallOptions) -> String {
    let mut items = Vec::new();
    for (on, word) in [
        (o.no_icmp_ping, "NO_ICMP_PING"),
        (o.no_icmp_unreachable, "NO_ICMP_UNREACHABLE"),
        (o.no_cisco_tftp, "NO_CISCO_TFTP"),
    ] {
        if on {
            items.push(word.to_owned());
        }
    }
    for (proto, list) in [("UDP", &o.udp), ("TCP", &o.tcp)] {
        for (x, y) in list {
            items.push(format!("{proto}:{x}:{y}"));
        }
    }
    items.join(",")
}

fuzz_target!(|data: &[u8]| {
    let parts: Vec<String> = data
        .split(|&b| b == 0xFF)
        .map(|p| String::from_utf8_lossy(p).into_owned())
        .collect();

    if let Ok(o) = FirewallOptions::parse(field(&parts, 0)) {
        let printed = print(&o);
        assert_eq!(
            FirewallOptions::parse(&printed),
            Ok(o),
            "Firewall_Config written back as {printed:?} parses differently"
        );
    }

    let mut p = Profile::new();
    for (i, name) in [
        "Firewall_Config",
        "Firewall",
        "RTP_Port_Min",
        "RTP_Port_Max",
        "Line_Enable_1_",
        "SIP_Transport_1_",
        "SIP_Port_1_",
        "Enable_Web_Server",
        "Web_Server_Port",
        "Enable_TR-069",
        "FIPS_Mode",
        "Peer_Firmware_Sharing",
    ]
    .into_iter()
    .enumerate()
    {
        if let Some(v) = parts.get(i) {
            p.set(name, v, None, 0);
        }
    }
    let byte = |i: usize| *data.get(i).unwrap_or(&0);
    let inputs = Inputs {
        lines: byte(0) % 20,
        tr069_port: (byte(1) & 1 == 1).then(|| u16::from_le_bytes([byte(2), byte(3)])),
    };
    let _ = tr069_enabled(&p);
    match Policy::from_profile(&p, &inputs) {
        Ok(policy) => {
            for (i, o) in policy.open.iter().enumerate() {
                assert!(!o.reasons.is_empty(), "{o:?} has no reason");
                assert!(o.first <= o.last, "{o:?} is reversed");
                if let Some(prev) = i.checked_sub(1).and_then(|j| policy.open.get(j)) {
                    assert!(
                        (prev.proto, prev.first, prev.last) < (o.proto, o.first, o.last),
                        "open ports not sorted or repeated: {prev:?} then {o:?}"
                    );
                }
                let _ = (o.to_string(), o.ports(), o.reason());
            }
            if policy.enabled {
                for (proto, list) in [
                    (Proto::Udp, &policy.options.udp),
                    (Proto::Tcp, &policy.options.tcp),
                ] {
                    for &(x, y) in list {
                        assert!(policy.is_open(proto, x) && policy.is_open(proto, y));
                    }
                }
                assert!(policy.is_open(Proto::Udp, policy.rtp.0));
            } else {
                assert!(policy.open.is_empty());
            }
            let _ = policy.ruleset();
            let script = policy.script();
            assert!(script.contains(&removal_script()));
        }
        Err(e) => {
            let _ = e.to_string();
        }
    }
});
