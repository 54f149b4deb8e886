#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Calls and Auth INVITE for real (issue 5 items 5 and 6): `mppd run` keeps line 1 registered
//! with a kamailio started by the test (alice@mppd.test over UDP, MD5) and takes calls on its
//! SIP port. A SIPp UAC calls it directly:
//! - Auth INVITE Yes, right credentials (MD5: Debian's SIPp signs MD5 only): 401, the retried
//!   INVITE, 180/200, ACK, BYE — SIPp's scenario requires each step;
//! - wrong credentials: 403 and never a 180 or 200 (the scenario fails on either);
//! - Auth INVITE No: 180/200 with no challenge (a 401 fails the scenario).
//!
//! The daemon's status lists each call's events. A second mppd (`mppd sip call`) calls the
//! first with RFC 8760 on: the Auth INVITE challenge is answered with a SHA algorithm.

mod common;

use std::fs;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::BIN;
use mppd_testkit::kamailio::{DEFAULT_PASSWORD, DEFAULT_USER, DOMAIN, Kamailio};
use mppd_testkit::mppd::profile_xml;
use mppd_testkit::process::free_port;
use mppd_testkit::sipp::Sipp;
use serde_json::Value;
use tempfile::TempDir;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/sip")
        .join(name)
}

/// `mppd run` with line 1 registered at `k` over UDP; killed by PID on drop.
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
    fn start(k: &Kamailio, extra: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        fs::create_dir_all(&state).unwrap();
        let port = free_port(LOCALHOST);
        let port_s = port.to_string();
        let outbound = format!("127.0.0.1:{}", k.udp_port());
        let mut params: Vec<(&str, &str)> = vec![
            ("User_ID_1_", DEFAULT_USER),
            ("Password_1_", DEFAULT_PASSWORD),
            ("Proxy_1_", DOMAIN),
            ("Outbound_Proxy_1_", &outbound),
            ("SIP_Port_1_", &port_s),
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
        phone.wait_line(|l| l["state"] == "registered", "registered");
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

    fn wait_line(&self, ok: impl Fn(&Value) -> bool, what: &str) -> Value {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(v) = self.status() {
                let l = &v["sip"]["lines"][0];
                if ok(l) {
                    return l.clone();
                }
            }
            assert!(
                Instant::now() < deadline,
                "line 1 never {what}: {:?}",
                self.status()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    fn addr(&self) -> SocketAddr {
        SocketAddr::new(LOCALHOST, self.port)
    }
}

fn uac(name: &str, phone: &Phone, password: &str) -> mppd_testkit::sipp::SippRun {
    let mut sipp = Sipp::uac(&scenario(name), DEFAULT_USER, phone.addr())
        .credentials(DEFAULT_USER, password)
        .arg("-auth_uri")
        // SIPp puts "sip:" in front itself.
        .arg(&format!("{DEFAULT_USER}@127.0.0.1:{}", phone.port))
        .start();
    sipp.wait()
}

fn states(line: &Value) -> Vec<String> {
    line["calls"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|c| c["state"].as_str().unwrap_or("").to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn auth_invite_challenges_and_answers_the_right_credentials_only() {
    let k = Kamailio::builder().start();
    let phone = Phone::start(&k, &[("Auth_INVITE_1_", "Yes")]);

    let run = uac("uac_invite_auth.xml", &phone, DEFAULT_PASSWORD);
    assert!(run.success(), "right credentials:\n{}", run.describe());
    let line = phone.wait_line(|l| states(l).iter().any(|s| s == "ended"), "ended a call");
    let calls = line["calls"].as_array().unwrap();
    assert!(
        calls
            .iter()
            .any(|c| c["state"] == "established" && c["algorithm"] == "MD5"),
        "{line}"
    );
    assert!(run.messages.contains("SIP/2.0 401"), "{}", run.messages);

    let run = uac("uac_invite_no_answer.xml", &phone, "wrong-password");
    assert!(run.success(), "wrong credentials:\n{}", run.describe());
    assert!(
        !run.messages.contains("SIP/2.0 180") && !run.messages.contains("SIP/2.0 200"),
        "a call with wrong credentials must never ring:\n{}",
        run.messages
    );
    phone.wait_line(|l| states(l).iter().any(|s| s == "failed"), "failed a call");
}

#[test]
fn auth_invite_off_answers_without_a_challenge() {
    let k = Kamailio::builder().start();
    let phone = Phone::start(&k, &[("Auth_INVITE_1_", "No")]);
    let mut sipp = Sipp::uac(
        &scenario("uac_invite_plain.xml"),
        DEFAULT_USER,
        phone.addr(),
    )
    .start();
    let run = sipp.wait();
    assert!(run.success(), "{}", run.describe());
    assert!(!run.messages.contains("SIP/2.0 401"), "{}", run.messages);
    let line = phone.wait_line(|l| states(l).iter().any(|s| s == "ended"), "ended a call");
    assert!(states(&line).iter().any(|s| s == "established"), "{line}");
}

/// A second mppd calls the first (`mppd sip call`), both with RFC 8760 on: the callee's
/// challenge offers SHA-512-256, SHA-256 and MD5, the caller answers the top-most. A caller
/// restricted to SHA-256 (`--digest SHA-256`) answers the second header, and the callee
/// verifies that SHA-256 answer before it rings.
#[test]
fn mppd_calls_mppd_with_a_sha_auth_invite() {
    let k = Kamailio::builder().start();
    let callee = Phone::start(
        &k,
        &[
            ("Auth_INVITE_1_", "Yes"),
            ("Auth_Support_RFC8760_1_", "Yes"),
        ],
    );
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("caller");
    fs::create_dir_all(&state).unwrap();
    let port = free_port(LOCALHOST).to_string();
    let callee_addr = callee.addr().to_string();
    let profile = dir.path().join("caller.xml");
    fs::write(
        &profile,
        profile_xml(&[
            ("User_ID_1_", DEFAULT_USER),
            ("Password_1_", DEFAULT_PASSWORD),
            ("Proxy_1_", &callee_addr),
            ("SIP_Port_1_", &port),
            ("Auth_Support_RFC8760_1_", "Yes"),
        ]),
    )
    .unwrap();
    let call = |extra: &[&str]| {
        let out = Command::new(BIN)
            .arg("--state-dir")
            .arg(&state)
            .args(["sip", "call", "--hangup-after", "1", "--profile"])
            .arg(&profile)
            .args(extra)
            .arg(format!("sip:{DEFAULT_USER}@{callee_addr}"))
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(stdout.contains("ended"), "{stdout}");
        stdout
    };
    fn established_with(alg: &'static str) -> impl Fn(&Value) -> bool {
        move |l: &Value| {
            l["calls"].as_array().is_some_and(|calls| {
                calls
                    .iter()
                    .any(|c| c["state"] == "established" && c["algorithm"] == alg)
            })
        }
    }

    let stdout = call(&[]);
    assert!(
        stdout.contains("established (digest SHA-512-256)"),
        "{stdout}"
    );
    callee.wait_line(established_with("SHA-512-256"), "a SHA-512-256 call");

    let stdout = call(&["--digest", "SHA-256"]);
    assert!(stdout.contains("established (digest SHA-256)"), "{stdout}");
    let line = callee.wait_line(established_with("SHA-256"), "a SHA-256 call");
    let calls = line["calls"].as_array().unwrap();
    assert!(
        !calls
            .iter()
            .any(|c| c["state"] == "established" && c["algorithm"] == "MD5"),
        "{line}"
    );
}

/// `--digest` names an algorithm the line's policy forbids: the call is not placed, and the
/// error says which parameter decides.
#[test]
fn digest_restriction_the_policy_forbids_is_refused_before_calling() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("caller");
    fs::create_dir_all(&state).unwrap();
    let profile = dir.path().join("caller.xml");
    fs::write(
        &profile,
        profile_xml(&[
            ("User_ID_1_", DEFAULT_USER),
            ("Password_1_", DEFAULT_PASSWORD),
            ("Proxy_1_", "127.0.0.1:9"),
        ]),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&state)
        .args(["sip", "call", "--digest", "SHA-256", "--profile"])
        .arg(&profile)
        .arg("sip:1002@127.0.0.1:9")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(
        stdout.contains("call failed: --digest SHA-256: line 1 answers SHA algorithms only with Auth_Support_RFC8760_1_"),
        "{stdout}"
    );
    // An unknown name is a usage error.
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&state)
        .args(["sip", "call", "--digest", "SHA-1", "--profile"])
        .arg(&profile)
        .arg("sip:1002@127.0.0.1:9")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("MD5, SHA-256 or SHA-512-256"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
