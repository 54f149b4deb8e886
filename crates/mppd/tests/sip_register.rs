#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `mppd sip register --once` against a real kamailio 5.6 (issue 5, must-show 1), started by the
//! test on 127.0.0.1 with one credential: over UDP, TCP and TLS, with kamailio's digest
//! algorithm set to MD5 and to SHA-256, the line registers and the registrar's own log shows the
//! algorithm the phone answered with; a wrong password fails naming the 403; over TLS a
//! certificate for another name fails with `name-mismatch` unless `TLS_Name_Validate_1_` is No;
//! a TLS 1.1-only kamailio fails with `TLS_Min_Version` TLS 1.2 (`protocol-alert`) and works
//! with TLS 1.1. The address of record is `sip:alice@mppd.test`; requests go to kamailio as the
//! line's outbound proxy.

mod common;

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;
use std::process::Command;

use common::BIN;
use mppd_testkit::kamailio::{DEFAULT_PASSWORD, DEFAULT_USER, DOMAIN, Kamailio};
use mppd_testkit::mppd::profile_xml;
use mppd_testkit::process::free_port;
use mppd_testkit::{TestCa, Validity};
use tempfile::TempDir;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

struct Phone {
    _dir: TempDir,
    state: PathBuf,
}

impl Phone {
    /// A phone trusting `ca` whose line 1 registers `alice@mppd.test` through `outbound` over
    /// `transport`, with `extra` settings.
    fn new(
        ca: &TestCa,
        transport: &str,
        outbound: &str,
        password: &str,
        extra: &[(&str, &str)],
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        fs::create_dir_all(&state).unwrap();
        ca.install_into(&state, "test-ca.pem");
        let port = free_port(LOCALHOST).to_string();
        let mut params: Vec<(&str, &str)> = vec![
            ("User_ID_1_", DEFAULT_USER),
            ("Password_1_", password),
            ("Proxy_1_", DOMAIN),
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
            .args(["config", "apply", "--replace"])
            .arg(&profile)
            .output()
            .unwrap();
        assert!(out.status.success(), "config apply: {out:?}");
        Self { _dir: dir, state }
    }

    fn register(&self) -> (i32, String, String) {
        let out = Command::new(BIN)
            .arg("--state-dir")
            .arg(&self.state)
            .args(["sip", "register", "--once"])
            .output()
            .unwrap();
        let r = (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        assert!(
            !r.1.contains(DEFAULT_PASSWORD) && !r.2.contains(DEFAULT_PASSWORD),
            "the password shows in the output:\n{}\n{}",
            r.1,
            r.2
        );
        r
    }
}

fn server_cert(ca: &TestCa, names: &[&str], ips: &[IpAddr]) -> (PathBuf, PathBuf) {
    ca.issue_server(names, ips, Some(names[0]), Validity::Valid)
}

#[test]
fn registers_over_udp_tcp_and_tls_with_md5_and_sha256() {
    let ca = TestCa::new("mppd sip test CA");
    let (cert, key) = server_cert(&ca, &["sip.mppd.test"], &[LOCALHOST]);
    for algorithm in ["MD5", "SHA-256"] {
        let k = Kamailio::builder()
            .algorithm(algorithm)
            .tcp()
            .tls(&cert, &key)
            .start();
        for (transport, port) in [
            ("UDP", k.udp_port()),
            ("TCP", k.tcp_port()),
            ("TLS", k.tls_port()),
        ] {
            let outbound = format!("127.0.0.1:{port}");
            let phone = Phone::new(
                &ca,
                transport,
                &outbound,
                DEFAULT_PASSWORD,
                &[("Auth_Support_RFC8760_1_", "Yes")],
            );
            let (code, stdout, stderr) = phone.register();
            assert_eq!(
                code,
                0,
                "{algorithm} {transport}:\n{stdout}\n{stderr}\n{}",
                k.log()
            );
            let want = format!(
                "line 1: registered sip:{DEFAULT_USER}@{DOMAIN} via {transport} {outbound}"
            );
            assert!(stdout.starts_with(&want), "{stdout}");
            assert!(
                stdout.contains(&format!("digest {algorithm},")),
                "{algorithm} {transport}: {stdout}"
            );
            if transport == "TLS" {
                assert!(stdout.contains("(TLSv1."), "{stdout}");
            }
            // kamailio saw the answer with that algorithm, over that transport.
            let log = k.wait_log(&format!("proto={}", transport.to_ascii_lowercase()));
            assert!(
                log.lines().any(|l| l.contains("MPPD-REGISTER")
                    && l.contains(&format!("proto={}", transport.to_ascii_lowercase()))
                    && l.contains(&format!("algorithm={algorithm}"))),
                "{algorithm} {transport}: no answered REGISTER in kamailio's log:\n{log}"
            );
        }
    }
}

#[test]
fn a_wrong_password_fails_naming_the_403() {
    let ca = TestCa::new("mppd sip test CA");
    let k = Kamailio::builder().start();
    let phone = Phone::new(
        &ca,
        "UDP",
        &format!("127.0.0.1:{}", k.udp_port()),
        "not-the-password",
        &[],
    );
    let (code, stdout, stderr) = phone.register();
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.starts_with("line 1: failed via UDP") && stdout.contains("403 Forbidden"),
        "{stdout}"
    );
    k.wait_log("MPPD-REJECT");
}

#[test]
fn tls_name_mismatch_fails_unless_validation_is_off() {
    let ca = TestCa::new("mppd sip test CA");
    let (cert, key) = server_cert(&ca, &["other.example"], &[]);
    let k = Kamailio::builder().tls(&cert, &key).start();
    let outbound = format!("127.0.0.1:{}", k.tls_port());
    let phone = Phone::new(&ca, "TLS", &outbound, DEFAULT_PASSWORD, &[]);
    let (code, stdout, stderr) = phone.register();
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("TLS: name-mismatch"), "{stdout}");
    assert!(
        !k.log().contains("MPPD-REGISTER"),
        "no REGISTER may be sent"
    );

    let lax = Phone::new(
        &ca,
        "TLS",
        &outbound,
        DEFAULT_PASSWORD,
        &[("TLS_Name_Validate_1_", "No")],
    );
    let (code, stdout, stderr) = lax.register();
    assert_eq!(code, 0, "{stdout}\n{stderr}\n{}", k.log());
    assert!(stdout.contains("registered"), "{stdout}");
}

#[test]
fn a_tls_1_1_only_registrar_needs_tls_min_version_1_1() {
    let ca = TestCa::new("mppd sip test CA");
    let (cert, key) = server_cert(&ca, &["sip.mppd.test"], &[LOCALHOST]);
    let k = Kamailio::builder()
        .tls(&cert, &key)
        .tls_method("TLSv1.1")
        .cipher_list("DEFAULT:@SECLEVEL=0")
        .start();
    let outbound = format!("127.0.0.1:{}", k.tls_port());
    let strict = Phone::new(
        &ca,
        "TLS",
        &outbound,
        DEFAULT_PASSWORD,
        &[("TLS_Min_Version", "TLS 1.2")],
    );
    let (code, stdout, stderr) = strict.register();
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(stdout.contains("TLS: protocol-alert"), "{stdout}");

    let old = Phone::new(
        &ca,
        "TLS",
        &outbound,
        DEFAULT_PASSWORD,
        &[("TLS_Min_Version", "TLS 1.1")],
    );
    let (code, stdout, stderr) = old.register();
    assert_eq!(code, 0, "{stdout}\n{stderr}\n{}", k.log());
    assert!(stdout.contains("(TLSv1.1 "), "{stdout}");
}

/// `mppd run` keeps the line registered over TLS and its status shows it (issue 5 item 8).
#[test]
fn the_daemon_registers_the_line_and_reports_it() {
    let ca = TestCa::new("mppd sip test CA");
    let (cert, key) = server_cert(&ca, &["sip.mppd.test"], &[LOCALHOST]);
    let k = Kamailio::builder()
        .algorithm("SHA-256")
        .tls(&cert, &key)
        .start();
    let outbound = format!("127.0.0.1:{}", k.tls_port());
    let phone = Phone::new(
        &ca,
        "TLS",
        &outbound,
        DEFAULT_PASSWORD,
        &[
            ("Auth_Support_RFC8760_1_", "Yes"),
            ("Register_Expires_1_", "60"),
        ],
    );
    let _daemon = Daemon(
        Command::new(BIN)
            .arg("--state-dir")
            .arg(&phone.state)
            .arg("run")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let line = loop {
        let out = Command::new(BIN)
            .arg("--state-dir")
            .arg(&phone.state)
            .args(["status", "--format", "json"])
            .output()
            .unwrap();
        if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            let l = v["sip"]["lines"][0].clone();
            if l["state"] == "registered" {
                break l;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the daemon did not register the line: {}\n{}",
            String::from_utf8_lossy(&out.stdout),
            k.log()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(line["line"], 1, "{line}");
    assert_eq!(line["detail"]["transport"], "TLS", "{line}");
    assert_eq!(line["detail"]["algorithm"], "SHA-256", "{line}");
    assert_eq!(line["detail"]["expires"], 60, "{line}");
    // The refresh is due at half the expiry.
    let next = line["next_in_seconds"].as_u64().unwrap();
    assert!((25..=30).contains(&next), "{line}");
    k.wait_log("MPPD-REGISTERED");
    // The text status says it too.
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&phone.state)
        .arg("status")
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("line 1:") && text.contains("registered sip:alice@mppd.test via TLS"),
        "{text}"
    );
}

/// The daemon, killed by its PID when the test ends (also on failure).
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `Restricted_Access_Domains` covers the line's proxies: a registrar outside is never
/// contacted.
#[test]
fn a_proxy_outside_the_restricted_domains_is_refused() {
    let ca = TestCa::new("mppd sip test CA");
    let k = Kamailio::builder().start();
    let phone = Phone::new(
        &ca,
        "UDP",
        &format!("127.0.0.1:{}", k.udp_port()),
        DEFAULT_PASSWORD,
        &[("Restricted_Access_Domains", "example.org")],
    );
    let (code, stdout, stderr) = phone.register();
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stdout.contains("Proxy_1_") && stdout.contains("mppd.test"),
        "the message must name the setting and the host: {stdout}"
    );
    assert!(!k.log().contains("MPPD-REGISTER"), "nothing may be sent");
}

/// A line agent that fails (a fault injected by `MPPD_FAULT_INJECT`) is logged, restarted after
/// its backoff and shown in the status, and the line registers (issue 7 item 6).
#[test]
fn a_failing_line_agent_is_restarted_and_reported() {
    let ca = TestCa::new("mppd sip test CA");
    let k = Kamailio::builder().start();
    let phone = Phone::new(
        &ca,
        "UDP",
        &format!("127.0.0.1:{}", k.udp_port()),
        DEFAULT_PASSWORD,
        &[],
    );
    let _daemon = Daemon(
        Command::new(BIN)
            .arg("--state-dir")
            .arg(&phone.state)
            .arg("run")
            .env("MPPD_FAULT_INJECT", "sip-agent-panic")
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap(),
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let v = loop {
        let out = Command::new(BIN)
            .arg("--state-dir")
            .arg(&phone.state)
            .args(["status", "--format", "json"])
            .output()
            .unwrap();
        if out.status.success() {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            if v["sip"]["lines"][0]["state"] == "registered" {
                break v;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the line never registered after the restart"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    let s = &v["sip"]["supervision"][0];
    assert_eq!(s["name"], "sip line 1", "{v}");
    assert_eq!(s["restarts"], 1, "{v}");
    assert_eq!(s["running"], true, "{v}");
    assert!(
        s["last_failure"]
            .as_str()
            .is_some_and(|f| f.contains("injected fault")),
        "{v}"
    );
    // The daemon itself ran on: its status socket answered throughout.
}
