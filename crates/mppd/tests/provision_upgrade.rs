#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `mppd provision --upgrade` end to end (issue 4, items 7 and 8): nginx with
//! `ssl_verify_client on` serves a ~5 MiB random image and its `.sha256` companion; the phone
//! downloads it with its device certificate, verifies it and stores it under `STATE/firmware/`;
//! the same URL is not attempted twice; a wrong checksum stores nothing; a UDP syslog sink
//! receives the exact default upgrade messages.

use std::fs;
use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use mppd_testkit::mppd::profile_xml;
use mppd_testkit::{Nginx, TestCa, Validity};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_mppd");
const MAC: &str = "00:11:22:33:44:ab";
const IMAGE_BYTES: usize = 5 * 1024 * 1024 + 123;

struct Phone {
    _dir: TempDir,
    state: PathBuf,
    sink: UdpSocket,
}

impl Phone {
    fn new(ca: &TestCa, devices: &TestCa, params: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        fs::create_dir_all(&state).unwrap();
        ca.install_into(&state, "test-ca.pem");
        mppd_testkit::mppd::create_identity(
            std::path::Path::new(BIN),
            &state,
            devices,
            MAC,
            "FCH1234ABCD",
            "CP-8851-3PCC",
        );
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        sink.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let phone = Self {
            _dir: dir,
            state,
            sink,
        };
        phone.configure(params);
        phone
    }

    /// Replaces the stored profile with `params` plus the syslog server.
    fn configure(&self, params: &[(&str, &str)]) {
        let syslog = format!("127.0.0.1:{}", self.sink.local_addr().unwrap().port());
        let mut all: Vec<(&str, &str)> = params.to_vec();
        all.push(("Restricted_Access_Domains", "localhost"));
        all.push(("Syslog_Server", &syslog));
        let profile = self.state.parent().unwrap().join("initial.xml");
        fs::write(&profile, profile_xml(&all)).unwrap();
        let out = Command::new(BIN)
            .arg("--state-dir")
            .arg(&self.state)
            .args(["config", "apply", "--replace"])
            .arg(&profile)
            .output()
            .unwrap();
        assert!(out.status.success(), "config apply: {out:?}");
    }

    fn upgrade(&self) -> (i32, String, String) {
        let out = Command::new(BIN)
            .arg("--state-dir")
            .arg(&self.state)
            .args(["provision", "--upgrade"])
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    fn firmware(&self) -> PathBuf {
        self.state.join("firmware")
    }

    /// The image files stored (not `last-attempt`, no temporary files).
    fn images(&self) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(self.firmware())
            .map(|d| {
                d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                    .filter(|n| n != "last-attempt")
                    .collect()
            })
            .unwrap_or_default();
        names.sort();
        names
    }

    /// The MSG parts of the syslog datagrams received (waits up to 2 s for the first).
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

fn server(ca: &TestCa, devices: &TestCa) -> Nginx {
    let (cert, key) = ca.issue_server(&["localhost"], &[], Some("localhost"), Validity::Valid);
    Nginx::builder(&cert, &key)
        .require_client_cert(&devices.cert_path())
        .locations("location /fw/ { }\n")
        .start()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Publishes `name` with random content and its `.sha256` (`sha256` given, else the real one).
fn publish(nginx: &Nginx, name: &str, sha256: Option<&str>) -> Vec<u8> {
    let mut image = vec![0u8; IMAGE_BYTES];
    openssl::rand::rand_bytes(&mut image).unwrap();
    let dir = nginx.html_dir().join("fw");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), &image).unwrap();
    let sum = sha256.map_or_else(|| hex(&openssl::sha::sha256(&image)), str::to_owned);
    fs::write(
        dir.join(format!("{name}.sha256")),
        format!("{sum}  {name}\n"),
    )
    .unwrap();
    image
}

/// How many GETs of `path` nginx logged (waits briefly for the log to be written).
fn gets(nginx: &Nginx, path: &str) -> usize {
    std::thread::sleep(Duration::from_millis(100));
    let needle = format!("GET {path} ");
    nginx
        .access_log()
        .lines()
        .filter(|l| l.contains(&needle))
        .count()
}

#[test]
fn upgrade_downloads_verifies_stores_once() {
    let ca = TestCa::new("fw ca");
    let devices = TestCa::new("device ca");
    let nginx = server(&ca, &devices);
    let port = nginx.port();
    let image = publish(&nginx, "sip88xx.12-0-1.bin", None);
    let sha = hex(&openssl::sha::sha256(&image));
    let rule = format!("https://localhost:{port}/fw/sip88xx.12-0-1.bin");
    let phone = Phone::new(&ca, &devices, &[("Upgrade_Rule", &rule)]);

    let (code, stdout, stderr) = phone.upgrade();
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "upgrade: stored sip88xx.12-0-1.bin from https://localhost:{port}/fw/sip88xx.12-0-1.bin (127.0.0.1): {IMAGE_BYTES} bytes, sha256 {sha}"
        )),
        "{stdout}"
    );
    assert_eq!(
        fs::read(phone.firmware().join("sip88xx.12-0-1.bin")).unwrap(),
        image
    );
    assert_eq!(phone.images(), ["sip88xx.12-0-1.bin"]);
    assert_eq!(
        phone.messages(),
        [
            format!(
                "CP-8851-3PCC {MAC} -- Requesting upgrade https://localhost:{port}/fw/sip88xx.12-0-1.bin"
            ),
            format!(
                "CP-8851-3PCC {MAC} -- Successful upgrade https://127.0.0.1:{port}/fw/sip88xx.12-0-1.bin -- stored sip88xx.12-0-1.bin ({IMAGE_BYTES} bytes, sha256 {sha})"
            ),
        ]
    );
    assert_eq!(gets(&nginx, "/fw/sip88xx.12-0-1.bin"), 1);

    // The same URL again: not attempted, nothing downloaded, no syslog message.
    let (code, stdout, stderr) = phone.upgrade();
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "upgrade: already attempted https://localhost:{port}/fw/sip88xx.12-0-1.bin"
        )),
        "{stdout}"
    );
    assert_eq!(gets(&nginx, "/fw/sip88xx.12-0-1.bin"), 1);
    assert_eq!(gets(&nginx, "/fw/sip88xx.12-0-1.bin.sha256"), 1);

    // A changed rule (another image) downloads again.
    let image2 = publish(&nginx, "sip88xx.12-0-2.bin", None);
    let rule2 = format!("https://localhost:{port}/fw/sip88xx.12-0-2.bin");
    phone.configure(&[("Upgrade_Rule", &rule2)]);
    let _ = phone.messages();
    let (code, stdout, stderr) = phone.upgrade();
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("upgrade: stored sip88xx.12-0-2.bin"),
        "{stdout}"
    );
    assert_eq!(
        fs::read(phone.firmware().join("sip88xx.12-0-2.bin")).unwrap(),
        image2
    );
    assert_eq!(gets(&nginx, "/fw/sip88xx.12-0-2.bin"), 1);
    // The same URL under a modified rule (a condition that holds) is attempted again.
    let rule3 = format!("( 1 = 1 )? https://localhost:{port}/fw/sip88xx.12-0-2.bin");
    phone.configure(&[("Upgrade_Rule", &rule3)]);
    let (code, stdout, _) = phone.upgrade();
    assert_eq!(code, 0, "{stdout}");
    assert!(
        stdout.contains("upgrade: stored sip88xx.12-0-2.bin"),
        "{stdout}"
    );
    assert_eq!(gets(&nginx, "/fw/sip88xx.12-0-2.bin"), 2);
}

#[test]
fn wrong_checksum_stores_nothing() {
    let ca = TestCa::new("fw ca");
    let devices = TestCa::new("device ca");
    let nginx = server(&ca, &devices);
    let port = nginx.port();
    let wrong = "ab".repeat(32);
    let image = publish(&nginx, "bad.bin", Some(&wrong));
    let actual = hex(&openssl::sha::sha256(&image));
    let rule = format!("https://localhost:{port}/fw/bad.bin");
    let phone = Phone::new(&ca, &devices, &[("Upgrade_Rule", &rule)]);
    let (code, stdout, _) = phone.upgrade();
    assert_eq!(code, 1, "{stdout}");
    let why = format!(
        "https://localhost:{port}/fw/bad.bin: SHA-256 mismatch: expected {wrong}, got {actual}"
    );
    assert_eq!(stdout.trim(), format!("result: failed: {why}"));
    assert!(phone.images().is_empty(), "{:?}", phone.images());
    assert_eq!(
        phone.messages(),
        [
            format!("CP-8851-3PCC {MAC} -- Requesting upgrade https://localhost:{port}/fw/bad.bin"),
            format!("CP-8851-3PCC {MAC} -- Upgrade failed: {why}"),
        ]
    );

    // No companion file: fails before the image is downloaded.
    let dir = nginx.html_dir().join("fw");
    fs::copy(dir.join("bad.bin"), dir.join("nosum.bin")).unwrap();
    let rule = format!("https://localhost:{port}/fw/nosum.bin");
    phone.configure(&[("Upgrade_Rule", &rule)]);
    let (code, stdout, _) = phone.upgrade();
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.starts_with(&format!(
            "result: failed: no SHA-256 for the image: https://localhost:{port}/fw/nosum.bin.sha256: file not found"
        )),
        "{stdout}"
    );
    assert!(phone.images().is_empty());
    assert_eq!(gets(&nginx, "/fw/nosum.bin"), 0);
}

#[test]
fn upgrade_disabled_does_nothing() {
    let ca = TestCa::new("fw ca");
    let devices = TestCa::new("device ca");
    let nginx = server(&ca, &devices);
    publish(&nginx, "img.bin", None);
    let rule = format!("https://localhost:{}/fw/img.bin", nginx.port());
    let phone = Phone::new(
        &ca,
        &devices,
        &[("Upgrade_Rule", &rule), ("Upgrade_Enable", "No")],
    );
    let (code, stdout, _) = phone.upgrade();
    assert_eq!(code, 0, "{stdout}");
    assert!(stdout.contains("upgrade: disabled"), "{stdout}");
    assert!(!phone.firmware().exists());
    assert_eq!(gets(&nginx, "/fw/img.bin"), 0);
    assert_eq!(gets(&nginx, "/fw/img.bin.sha256"), 0);
}
