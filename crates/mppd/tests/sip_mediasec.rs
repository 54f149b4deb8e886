#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Media-plane security agreement for real (issue 5 item 7; SPEC §16): SIPp registrars check
//! what `mppd sip register` sends.
//! - `MediaSec_Request_1_` Yes over TLS (SIPp behind socat): the REGISTER carries
//!   `Security-Client: sdes-srtp;mediasec`, `Require: mediasec` and `Proxy-Require: mediasec`;
//!   the 200's `Security-Server` makes the line's calls use SRTP.
//! - `MediaSec_Over_TLS_Only_1_` Yes over UDP: none of those headers.
//! - `MediaSec_Request_1_` No, the registrar asks (494 with `Security-Server`): the phone
//!   registers again at once with `Security-Verify` echoing the server's list.

mod common;

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::Command;

use common::BIN;
use mppd_testkit::mppd::profile_xml;
use mppd_testkit::process::free_port;
use mppd_testkit::sipp::{Sipp, SocatTls};
use mppd_testkit::{TestCa, Validity};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sip")
        .join(name)
}

/// `mppd sip register --once` for line 1 through `outbound`; returns (exit code, stdout).
fn register(ca: &TestCa, transport: &str, outbound: &str, extra: &[(&str, &str)]) -> (i32, String) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    fs::create_dir_all(&state).unwrap();
    ca.install_into(&state, "test-ca.pem");
    let port = free_port(LOCALHOST).to_string();
    let mut params: Vec<(&str, &str)> = vec![
        ("User_ID_1_", "1001"),
        ("Password_1_", "mediasec-secret"),
        ("Proxy_1_", "mppd.test"),
        ("Outbound_Proxy_1_", outbound),
        ("SIP_Transport_1_", transport),
        ("SIP_Port_1_", &port),
    ];
    params.extend_from_slice(extra);
    let profile = dir.path().join("p.xml");
    fs::write(&profile, profile_xml(&params)).unwrap();
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&state)
        .args(["sip", "register", "--once", "--profile"])
        .arg(&profile)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

/// The REGISTER requests in a SIPp message log, each as its text.
fn registers(log: &str) -> Vec<String> {
    log.split("-----------------------------------------------")
        .filter(|m| m.contains("REGISTER sip:") && m.contains("message received"))
        .map(str::to_owned)
        .collect()
}

#[test]
fn requested_mediasec_over_tls_sends_security_client_and_agrees() {
    let ca = TestCa::new("mppd mediasec CA");
    let (cert, key) = ca.issue_server(&["sip.mppd.test"], &[LOCALHOST], None, Validity::Valid);
    let mut sipp = Sipp::uas(&scenario("uas_register_mediasec.xml"))
        .tcp()
        .start();
    let tls = SocatTls::start(&cert, &key, sipp.port(), "");
    let (code, out) = register(
        &ca,
        "TLS",
        &format!("127.0.0.1:{}", tls.port()),
        &[
            ("MediaSec_Request_1_", "Yes"),
            ("MediaSec_Over_TLS_Only_1_", "Yes"),
        ],
    );
    let run = sipp.wait();
    assert_eq!(code, 0, "{out}\n{}", run.describe());
    assert!(run.success(), "{}", run.describe());
    assert!(out.contains("mediasec (SRTP)"), "{out}");
    let regs = registers(&run.messages);
    let first = regs.first().unwrap_or_else(|| panic!("{}", run.messages));
    for h in [
        "Security-Client: sdes-srtp;mediasec",
        "Require: mediasec",
        "Proxy-Require: mediasec",
    ] {
        assert!(first.contains(h), "{h} missing:\n{first}");
    }
}

#[test]
fn tls_only_mediasec_sends_nothing_over_udp() {
    let ca = TestCa::new("mppd mediasec CA");
    let mut sipp = Sipp::uas(&scenario("uas_register_three_challenges.xml"))
        .key("alg1", "MD5")
        .key("alg2", "MD5")
        .key("alg3", "MD5")
        .start();
    let (code, out) = register(
        &ca,
        "UDP",
        &format!("127.0.0.1:{}", sipp.port()),
        &[
            ("MediaSec_Request_1_", "Yes"),
            ("MediaSec_Over_TLS_Only_1_", "Yes"),
        ],
    );
    let run = sipp.wait();
    assert_eq!(code, 0, "{out}\n{}", run.describe());
    let regs = registers(&run.messages);
    assert_eq!(regs.len(), 2, "{}", run.messages);
    for r in &regs {
        assert!(
            !r.contains("Security-Client")
                && !r.contains("mediasec")
                && !r.contains("Security-Verify"),
            "no mediasec header over UDP when MediaSec_Over_TLS_Only_1_ is Yes:\n{r}"
        );
    }
}

#[test]
fn server_initiated_mediasec_is_verified() {
    let ca = TestCa::new("mppd mediasec CA");
    let mut sipp = Sipp::uas(&scenario("uas_register_mediasec_494.xml")).start();
    let (code, out) = register(
        &ca,
        "UDP",
        &format!("127.0.0.1:{}", sipp.port()),
        &[("MediaSec_Request_1_", "No")],
    );
    let run = sipp.wait();
    assert_eq!(code, 0, "{out}\n{}", run.describe());
    assert!(run.success(), "{}", run.describe());
    let regs = registers(&run.messages);
    assert_eq!(regs.len(), 2, "{}", run.messages);
    assert!(!regs[0].contains("Security-Client"), "{}", regs[0]);
    assert!(
        regs[1].contains("Security-Verify: sdes-srtp;mediasec"),
        "{}",
        regs[1]
    );
    assert!(out.contains("mediasec (SRTP)"), "{out}");
}
