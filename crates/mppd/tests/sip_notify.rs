#![allow(clippy::unwrap_used, clippy::expect_used)]
//! SIP NOTIFY triggers for real (issue 10): `mppd run` keeps line 1 registered at a kamailio
//! started by the test and provisions from an HTTPS nginx (no resync at power-up, so every
//! request nginx sees comes from a trigger). A SIPp UAC plays the provider:
//! - `Event: resync` with the line's credentials (MD5): 401, the signed NOTIFY, 200, and nginx
//!   sees the resync; wrong credentials: 403 and no resync; `Resync_From_SIP` No: 200 and no
//!   resync. Each NOTIFY is a security event in the status.
//! - With `Auth_Support_RFC8760_1_` Yes a test client (digest computed here with OpenSSL, not
//!   with mppd's code) sees three challenges, SHA-512-256, SHA-256, MD5 in that order; answers
//!   with SHA-256 and with SHA-512-256 are accepted, a nonce the phone never gave is refused.
//! - `Event: reboot_now` restarts the subsystems: a new start time in the status, the same
//!   profile.

mod common;

use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::BIN;
use mppd_testkit::kamailio::{DEFAULT_PASSWORD, DEFAULT_USER, DOMAIN, Kamailio};
use mppd_testkit::mppd::profile_xml;
use mppd_testkit::process::free_port;
use mppd_testkit::sipp::Sipp;
use mppd_testkit::{Nginx, TestCa, Validity};
use openssl::hash::{MessageDigest, hash};
use serde_json::Value;
use tempfile::TempDir;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sip")
        .join(name)
}

struct Lab {
    _ca: TestCa,
    kamailio: Kamailio,
    nginx: Nginx,
}

impl Lab {
    fn new() -> Self {
        let ca = TestCa::new("mppd notify CA");
        let (cert, key) = ca.issue_server(&["localhost"], &[], Some("localhost"), Validity::Valid);
        let nginx = Nginx::builder(&cert, &key)
            .locations("location /prov/ { }\n")
            .start();
        let prov = nginx.html_dir().join("prov");
        fs::create_dir_all(&prov).unwrap();
        fs::write(
            prov.join("phone.xml"),
            profile_xml(&[("Station_Name", "from-notify")]),
        )
        .unwrap();
        Self {
            kamailio: Kamailio::builder().start(),
            nginx,
            _ca: ca,
        }
    }

    fn resyncs(&self) -> usize {
        self.nginx
            .access_log()
            .matches("GET /prov/phone.xml")
            .count()
    }
}

/// `mppd run`, line 1 registered; killed by PID on drop.
struct Phone {
    child: Child,
    state: PathBuf,
    port: u16,
    _dir: TempDir,
}

impl Drop for Phone {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Phone {
    fn start(lab: &Lab, ca: &TestCa, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        fs::create_dir_all(&state).unwrap();
        ca.install_into(&state, "test-ca.pem");
        let port = free_port(LOCALHOST);
        let port_s = port.to_string();
        let outbound = format!("127.0.0.1:{}", lab.kamailio.udp_port());
        let rule = format!("https://localhost:{}/prov/phone.xml", lab.nginx.port());
        let mut params: Vec<(&str, &str)> = vec![
            ("User_ID_1_", DEFAULT_USER),
            ("Password_1_", DEFAULT_PASSWORD),
            ("Proxy_1_", DOMAIN),
            ("Outbound_Proxy_1_", &outbound),
            ("SIP_Port_1_", &port_s),
            ("Profile_Rule", &rule),
            ("Resync_On_Reset", "No"),
            ("Station_Name", "before"),
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
        assert!(out.status.success(), "{out:?}");
        let child = Command::new(BIN)
            .arg("--state-dir")
            .arg(&state)
            .arg("run")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let phone = Self {
            child,
            state,
            port,
            _dir: dir,
        };
        phone.wait(
            |v| v["sip"]["lines"][0]["state"] == "registered",
            "registered",
        );
        phone
    }

    fn status(&self) -> Option<Value> {
        let out = Command::new(BIN)
            .arg("--state-dir")
            .arg(&self.state)
            .args(["status", "--format", "json"])
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| serde_json::from_slice(&out.stdout).unwrap())
    }

    fn wait(&self, ok: impl Fn(&Value) -> bool, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = self.status()
                && ok(&v)
            {
                return v;
            }
            assert!(
                Instant::now() < deadline,
                "never {what}: {:?}",
                self.status()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn triggers(&self) -> Vec<Value> {
        self.status().unwrap()["sip"]["triggers"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    fn notify(
        &self,
        scenario_name: &str,
        event: &str,
        password: &str,
    ) -> mppd_testkit::sipp::SippRun {
        let addr = SocketAddr::new(LOCALHOST, self.port);
        let mut sipp = Sipp::uac(&scenario(scenario_name), DEFAULT_USER, addr)
            .credentials(DEFAULT_USER, password)
            .key("event", event)
            .arg("-auth_uri")
            .arg(&format!("{DEFAULT_USER}@127.0.0.1:{}", self.port))
            .start();
        sipp.wait()
    }
}

/// Waits a moment and returns how many resyncs nginx saw.
fn settle(lab: &Lab) -> usize {
    std::thread::sleep(Duration::from_millis(1500));
    lab.resyncs()
}

#[test]
fn an_authenticated_notify_resyncs_and_others_do_not() {
    let lab = Lab::new();
    let ca = &lab._ca;
    let phone = Phone::start(&lab, ca, &[]);
    assert_eq!(settle(&lab), 0, "no resync before a trigger");

    // Wrong credentials: 403, no resync.
    let run = phone.notify("uac_notify_refused.xml", "resync", "wrong-password");
    assert!(run.success(), "{}", run.describe());
    assert_eq!(settle(&lab), 0, "a refused NOTIFY must not resync");

    // The line's credentials: 401, then 200, and the resync happens.
    let run = phone.notify("uac_notify.xml", "resync", DEFAULT_PASSWORD);
    assert!(run.success(), "{}", run.describe());
    let deadline = Instant::now() + Duration::from_secs(10);
    while lab.resyncs() == 0 {
        assert!(Instant::now() < deadline, "no resync after the NOTIFY");
        std::thread::sleep(Duration::from_millis(100));
    }
    phone.wait(
        |v| {
            v["provisioning"]["last"]["reason"] == "Manual"
                && v["provisioning"]["last"]["ok"] == true
        },
        "resynced",
    );
    let t = phone.triggers();
    assert!(
        t.iter().any(|e| e["event"] == "resync"
            && e["accepted"] == true
            && e["reason"].as_str().unwrap_or("").contains("MD5")),
        "{t:?}"
    );
    assert!(
        t.iter().any(|e| e["accepted"] == false && e["code"] == 403),
        "{t:?}"
    );
}

#[test]
fn resync_from_sip_no_answers_without_acting() {
    let lab = Lab::new();
    let ca = &lab._ca;
    let phone = Phone::start(&lab, ca, &[("Resync_From_SIP", "No")]);
    let run = phone.notify("uac_notify_plain.xml", "resync", DEFAULT_PASSWORD);
    assert!(run.success(), "{}", run.describe());
    assert_eq!(settle(&lab), 0, "Resync_From_SIP No must not resync");
    let t = phone.triggers();
    assert!(
        t.iter().any(|e| e["accepted"] == false
            && e["reason"]
                .as_str()
                .unwrap_or("")
                .contains("Resync_From_SIP is No")),
        "{t:?}"
    );
}

fn h(alg: &str, data: &str) -> String {
    let md = match alg {
        "MD5" => MessageDigest::md5(),
        "SHA-256" => MessageDigest::sha256(),
        "SHA-512-256" => MessageDigest::from_name("SHA512-256").unwrap(),
        other => panic!("{other}"),
    };
    hash(md, data.as_bytes())
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A NOTIFY from a test client over UDP: the response's status line and headers.
fn send(sock: &UdpSocket, to: SocketAddr, cseq: u32, auth: Option<&str>) -> String {
    let local = sock.local_addr().unwrap();
    let uri = format!("sip:{DEFAULT_USER}@{to}");
    let mut m = format!(
        "NOTIFY {uri} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKtest{cseq}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:provider@{local}>;tag=prov1\r\nTo: <{uri}>\r\n\
         Call-ID: notify-test@{local}\r\nCSeq: {cseq} NOTIFY\r\nEvent: check-sync;reboot=false\r\n"
    );
    m = m.replace("Event: check-sync;reboot=false", "Event: resync");
    if let Some(a) = auth {
        m.push_str(&format!("Authorization: {a}\r\n"));
    }
    m.push_str("Content-Length: 0\r\n\r\n");
    sock.send_to(m.as_bytes(), to).unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = sock.recv_from(&mut buf).unwrap();
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

fn answer(challenge: &str, alg: &str, uri: &str) -> String {
    let nonce = challenge
        .split("nonce=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    let realm = challenge
        .split("realm=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap();
    let ha1 = h(alg, &format!("{DEFAULT_USER}:{realm}:{DEFAULT_PASSWORD}"));
    let ha2 = h(alg, &format!("NOTIFY:{uri}"));
    let response = h(alg, &format!("{ha1}:{nonce}:00000001:c0ffee:auth:{ha2}"));
    format!(
        "Digest username=\"{DEFAULT_USER}\", realm=\"{realm}\", nonce=\"{nonce}\", uri=\"{uri}\", \
         algorithm={alg}, qop=auth, nc=00000001, cnonce=\"c0ffee\", response=\"{response}\""
    )
}

#[test]
fn rfc8760_challenges_offer_three_algorithms_and_accept_the_sha_answers() {
    let lab = Lab::new();
    let ca = &lab._ca;
    let phone = Phone::start(&lab, ca, &[("Auth_Support_RFC8760_1_", "Yes")]);
    let to = SocketAddr::new(LOCALHOST, phone.port);
    let uri = format!("sip:{DEFAULT_USER}@{to}");
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut cseq = 1;
    for alg in ["SHA-256", "SHA-512-256"] {
        let r = send(&sock, to, cseq, None);
        cseq += 1;
        assert!(r.starts_with("SIP/2.0 401"), "{r}");
        let challenges: Vec<&str> = r
            .lines()
            .filter(|l| l.starts_with("WWW-Authenticate:"))
            .collect();
        let algs: Vec<&str> = challenges
            .iter()
            .map(|c| {
                c.split("algorithm=")
                    .nth(1)
                    .unwrap()
                    .split(',')
                    .next()
                    .unwrap()
            })
            .collect();
        assert_eq!(algs, ["SHA-512-256", "SHA-256", "MD5"], "{r}");
        let chosen = challenges
            .iter()
            .find(|c| c.contains(&format!("algorithm={alg},")))
            .unwrap();
        let r = send(&sock, to, cseq, Some(&answer(chosen, alg, &uri)));
        cseq += 1;
        assert!(r.starts_with("SIP/2.0 200"), "{alg}: {r}");
    }
    // A nonce the phone never gave.
    let forged = "WWW-Authenticate: Digest realm=\"mppd.test\", nonce=\"0011223344556677\"";
    let r = send(&sock, to, cseq, Some(&answer(forged, "SHA-256", &uri)));
    assert!(r.starts_with("SIP/2.0 403"), "{r}");
    // Both answers were accepted as triggers (the second may find the first resync still
    // running: a resync in progress is not started twice), the forged one refused.
    let t = phone.triggers();
    for alg in ["SHA-256", "SHA-512-256"] {
        assert!(
            t.iter().any(|e| e["accepted"] == true
                && e["reason"]
                    .as_str()
                    .unwrap_or("")
                    .contains(&format!("digest {alg})"))),
            "{alg}: {t:?}"
        );
    }
    assert!(
        t.iter().any(|e| e["accepted"] == false && e["code"] == 403),
        "{t:?}"
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    while lab.resyncs() == 0 {
        assert!(Instant::now() < deadline, "an accepted NOTIFY must resync");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn reboot_now_restarts_the_subsystems_and_keeps_the_profile() {
    let lab = Lab::new();
    let ca = &lab._ca;
    let phone = Phone::start(&lab, ca, &[]);
    let before = phone.status().unwrap();
    let started = before["started"].as_u64().unwrap();
    std::thread::sleep(Duration::from_millis(1100));
    let run = phone.notify("uac_notify.xml", "reboot_now", DEFAULT_PASSWORD);
    assert!(run.success(), "{}", run.describe());
    let after = phone.wait(
        |v| v["started"].as_u64().is_some_and(|s| s > started),
        "restarted",
    );
    assert_eq!(
        after["profile"]["parameters"], before["profile"]["parameters"],
        "the profile must survive"
    );
    // The line registers again after the restart.
    phone.wait(
        |v| v["sip"]["lines"][0]["state"] == "registered",
        "registered again",
    );
    let stored = fs::read_to_string(phone.state.join("profile.xml")).unwrap();
    assert!(stored.contains("before"), "{stored}");
}
