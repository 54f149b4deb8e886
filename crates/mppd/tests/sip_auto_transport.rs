#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `SIP_Transport_1_` Auto (RFC 3263; issue 5 must-show): dnsmasq on 127.0.0.1 serves NAPTR
//! and SRV records for `mppd.test` pointing at a real kamailio; `mppd sip register
//! --nameserver` follows them: to TLS when the NAPTR records offer `SIPS+D2T` first, to UDP
//! when only `SIP+D2U` exists, and to the SRV records when there is no NAPTR at all.

mod common;

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use common::BIN;
use mppd_testkit::dnsmasq::Dnsmasq;
use mppd_testkit::kamailio::{DEFAULT_PASSWORD, DEFAULT_USER, DOMAIN, Kamailio};
use mppd_testkit::mppd::profile_xml;
use mppd_testkit::process::free_port;
use mppd_testkit::{TestCa, Validity};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Registers `alice@mppd.test` with Auto transport, resolving with `dns`; returns stdout.
fn register(ca: &TestCa, dns: &Dnsmasq) -> (i32, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    fs::create_dir_all(&state).unwrap();
    ca.install_into(&state, "test-ca.pem");
    let port = free_port(LOCALHOST).to_string();
    let profile = dir.path().join("p.xml");
    fs::write(
        &profile,
        profile_xml(&[
            ("User_ID_1_", DEFAULT_USER),
            ("Password_1_", DEFAULT_PASSWORD),
            ("Proxy_1_", DOMAIN),
            ("SIP_Transport_1_", "Auto"),
            ("SIP_Port_1_", &port),
        ]),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&state)
        .args(["sip", "register", "--once", "--format", "json", "--profile"])
        .arg(&profile)
        .args(["--nameserver", &dns.nameserver()])
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn line1(stdout: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(stdout).unwrap();
    v["lines"][0].clone()
}

#[test]
fn naptr_steers_the_line_to_tls_then_udp_and_srv_alone_works() {
    let ca = TestCa::new("mppd sip test CA");
    let (cert, key) = ca.issue_server(&[DOMAIN], &[], Some(DOMAIN), Validity::Valid);
    let k = Kamailio::builder().tls(&cert, &key).start();
    let (udp, tls) = (k.udp_port(), k.tls_port());
    let host = "--host-record=sip.mppd.test,127.0.0.1".to_owned();

    // NAPTR offers TLS (order 10) and UDP (order 20): TLS wins.
    let dns = Dnsmasq::start(&[
        host.clone(),
        format!("--naptr-record={DOMAIN},20,10,S,SIP+D2U,,_sip._udp.{DOMAIN}"),
        format!("--naptr-record={DOMAIN},10,10,S,SIPS+D2T,,_sips._tcp.{DOMAIN}"),
        format!("--srv-host=_sips._tcp.{DOMAIN},sip.mppd.test,{tls},0,0"),
        format!("--srv-host=_sip._udp.{DOMAIN},sip.mppd.test,{udp},0,0"),
    ]);
    let (code, stdout, stderr) = register(&ca, &dns);
    assert_eq!(code, 0, "{stdout}\n{stderr}\n{}", dns.log());
    let l = line1(&stdout);
    assert_eq!(l["transport"], "TLS", "{l}");
    assert_eq!(l["server"], format!("127.0.0.1:{tls}"), "{l}");
    assert_eq!(
        l["located_by"],
        format!("NAPTR {DOMAIN} -> SRV _sips._tcp.{DOMAIN}"),
        "{l}"
    );
    assert!(
        dns.log().contains(&format!("query[NAPTR] {DOMAIN}")),
        "{}",
        dns.log()
    );

    // Only UDP in NAPTR: UDP.
    let dns = Dnsmasq::start(&[
        host.clone(),
        format!("--naptr-record={DOMAIN},10,10,S,SIP+D2U,,_sip._udp.{DOMAIN}"),
        format!("--srv-host=_sip._udp.{DOMAIN},sip.mppd.test,{udp},0,0"),
    ]);
    let (code, stdout, stderr) = register(&ca, &dns);
    assert_eq!(code, 0, "{stdout}\n{stderr}\n{}", dns.log());
    let l = line1(&stdout);
    assert_eq!(l["transport"], "UDP", "{l}");
    assert_eq!(l["server"], format!("127.0.0.1:{udp}"), "{l}");

    // No NAPTR: SRV for TLS is tried first (RFC 3263 §4.1), and found.
    let dns = Dnsmasq::start(&[
        host,
        format!("--srv-host=_sips._tcp.{DOMAIN},sip.mppd.test,{tls},0,0"),
    ]);
    let (code, stdout, stderr) = register(&ca, &dns);
    assert_eq!(code, 0, "{stdout}\n{stderr}\n{}", dns.log());
    let l = line1(&stdout);
    assert_eq!(l["transport"], "TLS", "{l}");
    assert_eq!(l["located_by"], format!("SRV _sips._tcp.{DOMAIN}"), "{l}");
}
