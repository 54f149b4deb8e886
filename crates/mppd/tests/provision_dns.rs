#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Redundant provisioning servers (SPEC §11, issue 4 item 5): `mppd provision --once
//! --nameserver` resolves the server's name with dnsmasq, which serves three A records for it,
//! two of them dead (nothing listens on 127.0.0.2/.3, so those connections are refused). The
//! phone reaches the live one whatever order dnsmasq answers in (it rotates the records).
//! When all the addresses are dead, the resync fails, the stored profile is unchanged and the
//! syslog sink receives `Resync failed` naming the host and every address tried.

use std::fs;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mppd_testkit::dnsmasq::Dnsmasq;
use mppd_testkit::mppd::profile_xml;
use mppd_testkit::{Nginx, TestCa, Validity};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_mppd");
const MAC: &str = "00:11:22:33:44:ab";

/// For each A query dnsmasq answered so far (`--log-queries`), the addresses in the order
/// sent.
fn answered(dns: &Dnsmasq) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = Vec::new();
    for line in dns.log().lines() {
        if line.contains(": query[A] ") {
            out.push(Vec::new());
        } else if let (Some(last), Some((_, ip))) = (out.last_mut(), line.split_once(" is ")) {
            last.push(ip.trim().to_owned());
        }
    }
    out
}

struct Phone {
    _dir: TempDir,
    state: PathBuf,
    sink: UdpSocket,
}

impl Phone {
    /// A phone trusting `ca`, with a device certificate from `device_ca`, logging to a UDP sink.
    fn new(ca: &TestCa, device_ca: &TestCa) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        fs::create_dir_all(&state).unwrap();
        ca.install_into(&state, "test-ca.pem");
        mppd_testkit::mppd::create_identity(
            std::path::Path::new(BIN),
            &state,
            device_ca,
            MAC,
            "FCH1234ABCD",
            "CP-8851-3PCC",
        );
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        sink.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let syslog = format!("127.0.0.1:{}", sink.local_addr().unwrap().port());
        let profile = dir.path().join("initial.xml");
        fs::write(&profile, profile_xml(&[("Syslog_Server", &syslog)])).unwrap();
        let out = Command::new(BIN)
            .arg("--state-dir")
            .arg(&state)
            .args(["config", "apply", "--replace"])
            .arg(&profile)
            .output()
            .unwrap();
        assert!(out.status.success(), "config apply: {out:?}");
        Self {
            _dir: dir,
            state,
            sink,
        }
    }

    fn value(&self, name: &str) -> Option<String> {
        mppd_config::Profile::parse(&self.stored())
            .unwrap()
            .get(name)
            .map(|e| e.value.clone())
    }

    fn stored(&self) -> Vec<u8> {
        fs::read(self.state.join("profile.xml")).unwrap()
    }

    fn provision(&self, dns: &Dnsmasq, rule: &str) -> (i32, String, String) {
        let out = Command::new(BIN)
            .arg("--state-dir")
            .arg(&self.state)
            .args(["provision", "--once", "--nameserver", &dns.nameserver()])
            .args(["--rule", rule])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// The MSG parts of the syslog datagrams received so far.
    fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match self.sink.recv(&mut buf) {
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    out.push(
                        text.split_once(" mppd: ")
                            .map_or(text.clone(), |(_, m)| m.to_owned()),
                    );
                }
                Err(_) if !out.is_empty() => break,
                Err(_) => {}
            }
        }
        out
    }
}

/// nginx on 127.0.0.1 with a certificate for `prov.test` and `dead.test`, requiring a client
/// certificate from `device_ca`, serving `/prov/x.xml`.
fn server(ca: &TestCa, device_ca: &TestCa) -> Nginx {
    let (cert, key) = ca.issue_server(
        &["prov.test", "dead.test"],
        &[],
        Some("prov.test"),
        Validity::Valid,
    );
    let nginx = Nginx::builder(&cert, &key)
        .require_client_cert(&device_ca.cert_path())
        .locations("location /prov/ { }\n")
        .start();
    let dir = nginx.html_dir().join("prov");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("x.xml"),
        profile_xml(&[("Station_Name", "lobby")]).as_bytes(),
    )
    .unwrap();
    nginx
}

fn records() -> Vec<(&'static str, &'static str)> {
    vec![
        ("prov.test", "127.0.0.2"),
        ("prov.test", "127.0.0.3"),
        ("prov.test", "127.0.0.1"),
        ("dead.test", "127.0.0.2"),
        ("dead.test", "127.0.0.3"),
        ("dead.test", "127.0.0.4"),
    ]
}

fn assert_not_in_hosts(name: &str) {
    let hosts = fs::read_to_string(Path::new("/etc/hosts")).unwrap_or_default();
    assert!(
        !hosts.contains(name),
        "/etc/hosts names {name}: this test needs DNS to answer"
    );
}

#[test]
fn the_phone_reaches_the_live_address_among_dead_ones() {
    assert_not_in_hosts("prov.test");
    let dns = Dnsmasq::with_hosts(&records());
    let ca = TestCa::new("prov ca");
    let devices = TestCa::new("device ca");
    let nginx = server(&ca, &devices);
    let phone = Phone::new(&ca, &devices);
    let url = format!("https://prov.test:{}/prov/x.xml", nginx.port());
    // dnsmasq rotates the three records from one answer to the next: resync until the answer
    // to a resync's first query (the fetch's; the certificate-IP check asks again) put a dead
    // address first. Every resync must reach 127.0.0.1.
    let mut dead_first = false;
    for round in 0..6 {
        if dead_first {
            break;
        }
        let queries_before = answered(&dns).len();
        let (code, stdout, stderr) = phone.provision(&dns, &url);
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut answers = answered(&dns);
        while answers.len() <= queries_before && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
            answers = answered(&dns);
        }
        let first = answers.get(queries_before).cloned().unwrap_or_default();
        assert_eq!(
            first.len(),
            3,
            "round {round}: dnsmasq answered {answers:?}"
        );
        dead_first |= first[0] != "127.0.0.1";
        assert_eq!(
            code, 0,
            "round {round}\nstdout:\n{stdout}\nstderr:\n{stderr}"
        );
        assert!(
            stdout.contains(&format!("fetched {url}")) && stdout.contains("from 127.0.0.1"),
            "round {round}: {stdout}"
        );
        assert_eq!(phone.value("Station_Name").as_deref(), Some("lobby"));
    }
    assert!(
        dead_first,
        "dnsmasq never put a dead address first: {:?}",
        answered(&dns)
    );
    assert!(
        nginx.access_log().contains("/prov/x.xml"),
        "{}",
        nginx.access_log()
    );
    assert!(
        !phone.messages().iter().any(|m| m.contains("Resync failed")),
        "a resync failed"
    );
}

#[test]
fn all_addresses_dead_fails_with_the_syslog_message() {
    assert_not_in_hosts("dead.test");
    let dns = Dnsmasq::with_hosts(&records());
    let ca = TestCa::new("prov ca");
    let devices = TestCa::new("device ca");
    let nginx = server(&ca, &devices);
    let phone = Phone::new(&ca, &devices);
    let before = phone.stored();
    let port = nginx.port();
    let url = format!("https://dead.test:{port}/prov/x.xml");
    let (code, stdout, stderr) = phone.provision(&dns, &url);
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("result: failed"), "{stdout}");
    assert_eq!(phone.stored(), before, "the profile changed");
    let failure: Vec<String> = phone
        .messages()
        .into_iter()
        .filter(|m| m.contains("-- Resync failed: "))
        .collect();
    assert_eq!(failure.len(), 1, "{failure:?}");
    let msg = &failure[0];
    assert!(
        msg.starts_with(&format!("CP-8851-3PCC {MAC} -- Resync failed: ")),
        "{msg}"
    );
    assert!(msg.contains("no server of dead.test answered"), "{msg}");
    for ip in ["127.0.0.2", "127.0.0.3", "127.0.0.4"] {
        assert!(
            msg.contains(&format!("{ip}:{port}")),
            "{ip} not tried: {msg}"
        );
    }
    assert!(!nginx.access_log().contains("/prov/x.xml"));
}

#[test]
fn a_name_without_a_record_fails_with_the_syslog_message() {
    assert_not_in_hosts("missing.test");
    let dns = Dnsmasq::with_hosts(&records());
    let ca = TestCa::new("prov ca");
    let devices = TestCa::new("device ca");
    let phone = Phone::new(&ca, &devices);
    let before = phone.stored();
    let (code, stdout, stderr) = phone.provision(&dns, "https://missing.test/prov/x.xml");
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert_eq!(phone.stored(), before, "the profile changed");
    let failure: Vec<String> = phone
        .messages()
        .into_iter()
        .filter(|m| m.contains("-- Resync failed: "))
        .collect();
    assert_eq!(failure.len(), 1, "{failure:?}");
    assert!(
        failure[0].contains("cannot resolve missing.test"),
        "{}",
        failure[0]
    );
    assert!(failure[0].contains(&dns.nameserver()), "{}", failure[0]);
}
