#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `mppd provision --once` end to end (issue 4): nginx with `ssl_verify_client on` serves the
//! phone's `$MA.xml`; the phone resyncs with its device certificate made by `mppd identity
//! create`, the new values land in `STATE/profile.xml`, nginx logs the client subject, and a UDP
//! syslog sink in the test receives the exact default messages. Every failure leaves
//! `STATE/profile.xml` byte-identical and sends `Log_Failure_Msg` with the reason as `$ERR`.

use std::fs;
use std::net::UdpSocket;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mppd_testkit::mppd::profile_xml;
use mppd_testkit::{Nginx, TestCa, Validity};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_mppd");
const MAC: &str = "00:11:22:33:44:ab";
const MA: &str = "0011223344ab";

struct Phone {
    _dir: TempDir,
    state: PathBuf,
    sink: UdpSocket,
    /// `$MAC` as the phone expands it (the emulated identity's without a certificate).
    mac: &'static str,
}

impl Phone {
    /// A phone trusting `ca`, with a device certificate from `device_ca`, whose stored profile
    /// has `params` plus a syslog server pointing at the test's sink.
    fn new(ca: &TestCa, device_ca: Option<&TestCa>, params: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        fs::create_dir_all(&state).unwrap();
        ca.install_into(&state, "test-ca.pem");
        if let Some(d) = device_ca {
            mppd_testkit::mppd::create_identity(
                std::path::Path::new(BIN),
                &state,
                d,
                MAC,
                "FCH1234ABCD",
                "CP-8851-3PCC",
            );
        }
        let sink = UdpSocket::bind("127.0.0.1:0").unwrap();
        sink.set_read_timeout(Some(Duration::from_millis(200)))
            .unwrap();
        let syslog = format!("127.0.0.1:{}", sink.local_addr().unwrap().port());
        let mut all: Vec<(&str, &str)> = params.to_vec();
        all.push(("Syslog_Server", &syslog));
        let profile = dir.path().join("initial.xml");
        fs::write(&profile, profile_xml(&all)).unwrap();
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
            mac: if device_ca.is_some() {
                MAC
            } else {
                "02:00:00:00:00:01"
            },
        }
    }

    /// The stored value of a parameter.
    fn value(&self, name: &str) -> Option<String> {
        mppd_config::Profile::parse(&self.stored())
            .unwrap()
            .get(name)
            .map(|e| e.value.clone())
    }

    fn stored(&self) -> Vec<u8> {
        fs::read(self.state.join("profile.xml")).unwrap()
    }

    fn provision(&self, extra: &[&str]) -> (i32, String, String) {
        let out = Command::new(BIN)
            .arg("--state-dir")
            .arg(&self.state)
            .args(["provision", "--once"])
            .args(extra)
            .output()
            .unwrap();
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }

    /// Discards the datagrams already received.
    fn drain(&self) {
        let mut buf = [0u8; 2048];
        self.sink.set_nonblocking(true).unwrap();
        while self.sink.recv(&mut buf).is_ok() {}
        self.sink.set_nonblocking(false).unwrap();
    }

    /// The MSG parts of the syslog datagrams received so far (`<PRI>TS HOST mppd: MSG`).
    fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        let mut buf = [0u8; 2048];
        let deadline = Instant::now() + Duration::from_secs(2);
        while Instant::now() < deadline {
            match self.sink.recv(&mut buf) {
                Ok(n) => {
                    let text = String::from_utf8_lossy(&buf[..n]).into_owned();
                    let msg = text
                        .split_once(" mppd: ")
                        .map_or(text.clone(), |(_, m)| m.to_owned());
                    out.push(msg);
                }
                Err(_) if !out.is_empty() => break,
                Err(_) => {}
            }
        }
        out
    }
}

/// nginx over HTTPS for `localhost`, requiring a client certificate from `device_ca`, serving
/// the files written into its html directory.
fn server(ca: &TestCa, device_ca: &TestCa) -> Nginx {
    let (cert, key) = ca.issue_server(&["localhost"], &[], Some("localhost"), Validity::Valid);
    Nginx::builder(&cert, &key)
        .require_client_cert(&device_ca.cert_path())
        .locations("location /prov/ { }\n")
        .start()
}

fn publish(nginx: &Nginx, name: &str, bytes: &[u8]) {
    let dir = nginx.html_dir().join("prov");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
}

fn rule(nginx: &Nginx, file: &str) -> String {
    format!("https://localhost:{}/prov/{file}", nginx.port())
}

fn wait_for_log(nginx: &Nginx, needle: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let log = nginx.access_log();
        if log.contains(needle) || Instant::now() > deadline {
            return log;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn resync_over_https_with_the_device_certificate() {
    let ca = TestCa::new("prov ca");
    let devices = TestCa::new("device ca");
    let nginx = server(&ca, &devices);
    publish(
        &nginx,
        &format!("{MA}.xml"),
        profile_xml(&[("Station_Name", "lobby"), ("TLS_Min_Version", "TLS 1.2")]).as_bytes(),
    );
    let profile_rule = format!("https://localhost:{}/prov/$MA.xml", nginx.port());
    let phone = Phone::new(
        &ca,
        Some(&devices),
        &[
            ("Profile_Rule", &profile_rule),
            ("Restricted_Access_Domains", "localhost"),
        ],
    );
    let (code, stdout, stderr) = phone.provision(&[]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let url = format!("https://localhost:{}/prov/{MA}.xml", nginx.port());
    assert!(
        stdout.contains(&format!("fetched {url} (Profile_Rule) from 127.0.0.1")),
        "{stdout}"
    );
    assert!(
        stdout.contains("changed: Station_Name, TLS_Min_Version"),
        "{stdout}"
    );
    assert!(stdout.ends_with("result: ok\n"), "{stdout}");
    assert_eq!(phone.value("Station_Name").as_deref(), Some("lobby"));
    assert_eq!(phone.value("TLS_Min_Version").as_deref(), Some("TLS 1.2"));
    // The rule itself survives (the fetched profile does not name it).
    assert_eq!(phone.value("Profile_Rule"), Some(profile_rule.clone()));
    let log = wait_for_log(&nginx, "FCH1234ABCD");
    assert!(
        log.contains("ST=00:11:22:33:44:ab,L=FCH1234ABCD,OU=CP-8851-3PCC"),
        "nginx log: {log}"
    );
    let port = nginx.port();
    assert_eq!(
        phone.messages(),
        vec![
            format!(
                "CP-8851-3PCC {MAC} -- Requesting resync https://localhost:{port}/prov/{MA}.xml"
            ),
            format!(
                "CP-8851-3PCC {MAC} -- Successful resync https://127.0.0.1:{port}/prov/{MA}.xml"
            ),
        ]
    );
}

#[test]
fn encrypted_and_gzip_profiles_are_applied() {
    let ca = TestCa::new("prov ca");
    let devices = TestCa::new("device ca");
    let nginx = server(&ca, &devices);
    let work = tempfile::tempdir().unwrap();
    let phone = Phone::new(&ca, Some(&devices), &[]);
    // `openssl enc -aes-256-cbc -k KEY` with both key derivation digests.
    for md in ["sha256", "md5"] {
        let plain = work.path().join(format!("{md}.xml"));
        let value = format!("sealed-{md}");
        fs::write(&plain, profile_xml(&[("Station_Name", &value)])).unwrap();
        let enc = work.path().join(format!("{md}.enc"));
        let out = Command::new("openssl")
            .args([
                "enc",
                "-aes-256-cbc",
                "-salt",
                "-md",
                md,
                "-k",
                "s3cret phrase",
                "-in",
            ])
            .arg(&plain)
            .arg("-out")
            .arg(&enc)
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let file = format!("{md}.enc");
        publish(&nginx, &file, &fs::read(&enc).unwrap());
        let r = format!("[--key \"s3cret phrase\"]{}", rule(&nginx, &file));
        let (code, stdout, stderr) = phone.provision(&["--rule", &r]);
        assert_eq!(code, 0, "{md}: {stdout}{stderr}");
        assert_eq!(phone.value("Station_Name"), Some(value), "{md}");
        // The key never shows in the output.
        assert!(
            !stdout.contains("s3cret") && !stderr.contains("s3cret"),
            "{stdout}{stderr}"
        );
    }

    let plain = work.path().join("p.xml");
    fs::write(&plain, profile_xml(&[("Station_Name", "zipped")])).unwrap();
    let gz = Command::new("gzip").arg("-c").arg(&plain).output().unwrap();
    assert!(gz.status.success());
    publish(&nginx, "p.xml.gz", &gz.stdout);
    let (code, stdout, stderr) = phone.provision(&["--rule", &rule(&nginx, "p.xml.gz")]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert_eq!(phone.value("Station_Name").as_deref(), Some("zipped"));
}

/// Runs a failing resync and checks: exit 1, `result: failed: ...` naming `why`, the stored
/// profile byte-identical, and the failure message with `$ERR`.
fn assert_fails(phone: &Phone, extra: &[&str], why: &str) {
    assert_fails_with(phone, why, || phone.provision(extra));
}

/// [`assert_fails`] for a resync run by `run` (e.g. with a private `/etc/hosts`).
fn assert_fails_with(phone: &Phone, why: &str, run: impl FnOnce() -> (i32, String, String)) {
    let before = phone.stored();
    phone.drain();
    let (code, stdout, stderr) = run();
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.starts_with("result: failed: "), "{stdout}");
    assert!(stdout.contains(why), "expected {why:?} in {stdout}");
    assert_eq!(phone.stored(), before, "STATE/profile.xml changed");
    let failure: Vec<String> = phone
        .messages()
        .into_iter()
        .filter(|m| m.contains("-- Resync failed: "))
        .collect();
    assert_eq!(failure.len(), 1, "{failure:?}");
    let prefix = format!("CP-8851-3PCC {} -- Resync failed: ", phone.mac);
    assert!(failure[0].starts_with(&prefix), "{}", failure[0]);
    assert!(
        failure[0].contains(why),
        "$ERR should name {why:?}: {}",
        failure[0]
    );
}

#[test]
fn failures_change_nothing_and_are_reported() {
    let ca = TestCa::new("prov ca");
    let devices = TestCa::new("device ca");
    let nginx = server(&ca, &devices);
    publish(
        &nginx,
        "bad.xml",
        b"<flat-profile><Station_Name>x</Other></flat-profile>",
    );
    publish(
        &nginx,
        "invalid.xml",
        profile_xml(&[("SIP_Transport_1_", "SCTP")]).as_bytes(),
    );
    publish(
        &nginx,
        "trunc.xml",
        b"<flat-profile><Station_Name>x</Station_Na",
    );
    let work = tempfile::tempdir().unwrap();
    let plain = work.path().join("p.xml");
    fs::write(&plain, profile_xml(&[("Station_Name", "k")])).unwrap();
    let enc = work.path().join("p.enc");
    let out = Command::new("openssl")
        .args([
            "enc",
            "-aes-256-cbc",
            "-salt",
            "-md",
            "sha256",
            "-k",
            "right",
            "-in",
        ])
        .arg(&plain)
        .arg("-out")
        .arg(&enc)
        .output()
        .unwrap();
    assert!(out.status.success());
    publish(&nginx, "p.enc", &fs::read(&enc).unwrap());

    let phone = Phone::new(
        &ca,
        Some(&devices),
        &[
            ("Station_Name", "before"),
            ("Restricted_Access_Domains", "localhost"),
        ],
    );
    assert_fails(
        &phone,
        &["--rule", &rule(&nginx, "missing.xml")],
        "not found",
    );
    assert_fails(&phone, &["--rule", &rule(&nginx, "bad.xml")], "Other");
    assert_fails(&phone, &["--rule", &rule(&nginx, "trunc.xml")], "trunc.xml");
    assert_fails(
        &phone,
        &["--rule", &rule(&nginx, "invalid.xml")],
        "SIP_Transport_1_",
    );
    assert_fails(
        &phone,
        &["--rule", &format!("[--key wrong]{}", rule(&nginx, "p.enc"))],
        "key",
    );
    assert_fails(
        &phone,
        &[
            "--rule",
            &format!("https://127.0.0.1:{}/prov/x.xml", nginx.port()),
        ],
        "Restricted_Access_Domains",
    );

    // A phone that does not trust the server's CA, and one without a device certificate.
    let stranger = TestCa::new("other ca");
    let untrusting = Phone::new(&stranger, Some(&devices), &[("Station_Name", "before")]);
    assert_fails(
        &untrusting,
        &["--rule", &rule(&nginx, "bad.xml")],
        "untrusted",
    );
    let anonymous = Phone::new(&ca, None, &[("Station_Name", "before")]);
    assert_fails(
        &anonymous,
        &["--rule", &rule(&nginx, "bad.xml")],
        "client-cert-refused",
    );
}

#[test]
fn default_profile_has_no_provisioning_source() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(dir.path())
        .args(["provision", "--once"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("result: failed: "), "{stdout}");
    assert!(!Path::new(&dir.path().join("profile.xml")).exists());
}

#[test]
fn tls_and_redirect_failures_change_nothing_and_are_reported() {
    let ca = TestCa::new("prov ca");
    let devices = TestCa::new("device ca");
    // A certificate for another name, an expired one, and one naming prov.test by name and by
    // the loopback address (for the certificate-IP check).
    let (other, other_key) = ca.issue_server(&["other.test"], &[], None, Validity::Valid);
    let (old, old_key) = ca.issue_server(&["localhost"], &[], None, Validity::Expired);
    let (named, named_key) = ca.issue_server(
        &["prov.test"],
        &["127.0.0.1".parse().unwrap()],
        None,
        Validity::Valid,
    );
    let start = |cert: &Path, key: &Path| {
        Nginx::builder(cert, key)
            .require_client_cert(&devices.cert_path())
            .locations(
                "location /prov/ { }\n\
                 location = /away { return 302 https://evil.example.org/prov/x.xml; }\n",
            )
            .start()
    };
    let mismatched = start(&other, &other_key);
    let expired = start(&old, &old_key);
    let by_ip = start(&named, &named_key);
    let (local, local_key) = ca.issue_server(&["localhost"], &[], None, Validity::Valid);
    let good = start(&local, &local_key);
    for n in [&mismatched, &expired, &by_ip, &good] {
        publish(
            n,
            "x.xml",
            profile_xml(&[("Station_Name", "after")]).as_bytes(),
        );
    }
    let phone = Phone::new(
        &ca,
        Some(&devices),
        &[
            ("Station_Name", "before"),
            ("Restricted_Access_Domains", "localhost, 127.0.0.1"),
        ],
    );
    assert_fails(
        &phone,
        &["--rule", &rule(&mismatched, "x.xml")],
        "name-mismatch",
    );
    assert_fails(&phone, &["--rule", &rule(&expired, "x.xml")], "expired");
    assert_fails(
        &phone,
        &["--rule", &format!("https://localhost:{}/away", good.port())],
        "evil.example.org",
    );
    // The certificate names prov.test, which resolves elsewhere than the server's address.
    let hosts = phone._dir.path().join("hosts");
    fs::write(&hosts, "127.0.0.1 localhost\n127.0.0.5 prov.test\n").unwrap();
    let url = format!("https://127.0.0.1:{}/prov/x.xml", by_ip.port());
    let runner = mppd_testkit::Mppd::new(BIN, &phone.state);
    assert_fails_with(&phone, "ip-mismatch", || {
        let r = runner.run_with_hosts(&hosts, &["provision", "--once", "--rule", &url]);
        (r.code.unwrap_or(-1), r.stdout, r.stderr)
    });
    // With prov.test resolving to the server, the same URL works.
    fs::write(&hosts, "127.0.0.1 localhost\n127.0.0.1 prov.test\n").unwrap();
    let r = runner.run_with_hosts(&hosts, &["provision", "--once", "--rule", &url]);
    assert_eq!(r.code, Some(0), "{}", r.describe());
    assert_eq!(phone.value("Station_Name").as_deref(), Some("after"));
}
