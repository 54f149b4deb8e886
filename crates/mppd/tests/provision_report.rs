#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `mppd provision --report` end to end (issue 4, item 9): nginx over HTTPS, with a client
//! certificate required, takes the phone's configuration by PUT into a directory (the DAV
//! module, `dav_methods PUT`), and by POST into files it keeps (`client_body_in_file_only on`,
//! proxied to its own catch-all `200`). The uploaded cfg.xml has the values of
//! `STATE/profile.xml` with secrets masked; `--key` encrypts it so that `openssl enc -d
//! -aes-256-cbc -md sha256 -k KEY` gives it back.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use mppd_testkit::mppd::profile_xml;
use mppd_testkit::{Nginx, TestCa, Validity};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_mppd");
const MAC: &str = "00:11:22:33:44:ab";
const MA: &str = "0011223344ab";
const SECRET: &str = "hunter2-secret";

/// nginx over HTTPS for `localhost`, requiring a client certificate from `devices`: `/rep/`
/// takes PUT into its html directory, `/post/` keeps POST bodies in `bodies`.
fn server(ca: &TestCa, devices: &TestCa, bodies: &Path) -> Nginx {
    let (cert, key) = ca.issue_server(&["localhost"], &[], Some("localhost"), Validity::Valid);
    // The proxied request to itself needs a client certificate too.
    let (client, client_key) = devices.issue_client("report proxy", Validity::Valid);
    Nginx::builder(&cert, &key)
        .require_client_cert(&devices.cert_path())
        .locations(&format!(
            "location /rep/ {{ dav_methods PUT; create_full_put_path on; }}\n\
             location /post/ {{\n\
             \x20   client_body_in_file_only on;\n\
             \x20   client_body_temp_path {};\n\
             \x20   proxy_ssl_certificate {};\n\
             \x20   proxy_ssl_certificate_key {};\n\
             \x20   proxy_pass https://127.0.0.1:$server_port/ok;\n\
             }}\n",
            bodies.display(),
            client.display(),
            client_key.display()
        ))
        .start()
}

/// A phone trusting `ca` with a device certificate from `devices` and `params` stored.
fn phone(ca: &TestCa, devices: &TestCa, params: &[(&str, &str)]) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    fs::create_dir_all(&state).unwrap();
    ca.install_into(&state, "test-ca.pem");
    let (code, out, err) = mppd(
        &state,
        &[
            "identity",
            "create",
            "--ca-cert",
            devices.cert_path().to_str().unwrap(),
            "--ca-key",
            devices.key_path().to_str().unwrap(),
            "--mac",
            MAC,
            "--serial",
            "FCH1234ABCD",
            "--product",
            "CP-8851-3PCC",
        ],
    );
    assert_eq!(code, 0, "identity create: {out}{err}");
    let profile = dir.path().join("initial.xml");
    fs::write(&profile, profile_xml(params)).unwrap();
    let (code, out, err) = mppd(
        &state,
        &["config", "apply", "--replace", profile.to_str().unwrap()],
    );
    assert_eq!(code, 0, "config apply: {out}{err}");
    (dir, state)
}

fn mppd(state: &Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(state)
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
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

fn value(xml: &[u8], name: &str) -> Option<String> {
    mppd_config::Profile::parse(xml)
        .unwrap()
        .get(name)
        .map(|e| e.value.clone())
}

#[test]
fn put_uploads_the_masked_configuration() {
    let ca = TestCa::new("prov ca");
    let devices = TestCa::new("device ca");
    let bodies = tempfile::tempdir().unwrap();
    let nginx = server(&ca, &devices, bodies.path());
    let rule = format!("https://localhost:{}/rep/$MA-cfg.xml", nginx.port());
    let (_dir, state) = phone(
        &ca,
        &devices,
        &[
            ("Station_Name", "reporter"),
            ("Password_1_", SECRET),
            ("Report_Rule", &rule),
            ("HTTP_Report_Method", "PUT"),
            ("Restricted_Access_Domains", "localhost"),
        ],
    );
    let (code, stdout, stderr) = mppd(&state, &["provision", "--report"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let url = format!("https://localhost:{}/rep/{MA}-cfg.xml", nginx.port());
    assert!(
        stdout.contains(&format!(
            "reported configuration (cfg.xml) to {url} (127.0.0.1) by PUT: "
        )),
        "{stdout}"
    );
    assert!(stdout.ends_with("result: ok\n"), "{stdout}");
    let uploaded = fs::read(nginx.html_dir().join(format!("rep/{MA}-cfg.xml"))).unwrap();
    assert_eq!(
        value(&uploaded, "Station_Name").as_deref(),
        Some("reporter")
    );
    assert_eq!(value(&uploaded, "Password_1_").as_deref(), Some("*****"));
    assert!(!String::from_utf8_lossy(&uploaded).contains(SECRET));
    let log = wait_for_log(&nginx, "PUT /rep/");
    assert!(
        log.contains(&format!("\"PUT /rep/{MA}-cfg.xml HTTP/1.1\"")),
        "{log}"
    );
    assert!(log.contains("FCH1234ABCD"), "the device certificate: {log}");
}

#[test]
fn post_to_two_targets_with_key() {
    let ca = TestCa::new("prov ca");
    let devices = TestCa::new("device ca");
    let bodies = tempfile::tempdir().unwrap();
    let nginx = server(&ca, &devices, bodies.path());
    let port = nginx.port();
    let rule = format!(
        "[--delta]https://localhost:{port}/post/delta \
         [--status --key \"k 1\"]https://localhost:{port}/post/status"
    );
    let (_dir, state) = phone(
        &ca,
        &devices,
        &[
            ("Station_Name", "poster"),
            ("Password_1_", SECRET),
            ("Report_Rule", &rule),
        ],
    );
    let (code, stdout, stderr) = mppd(&state, &["provision", "--report"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains(&format!(
            "reported delta (cfg.xml) to https://localhost:{port}/post/delta (127.0.0.1) by POST: "
        )),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "reported status (encrypted cfg.xml) to https://localhost:{port}/post/status (127.0.0.1) by POST: "
        )),
        "{stdout}"
    );
    // The key never shows.
    assert!(
        !stdout.contains("k 1") && !stderr.contains("k 1"),
        "{stdout}{stderr}"
    );
    let log = wait_for_log(&nginx, "POST /post/status");
    assert!(log.contains("\"POST /post/delta HTTP/1.1\""), "{log}");
    let mut files: Vec<PathBuf> = walk(bodies.path());
    files.sort();
    assert_eq!(files.len(), 2, "{files:?}");
    let plain = fs::read(&files[0]).unwrap();
    assert_eq!(value(&plain, "Station_Name").as_deref(), Some("poster"));
    assert!(!String::from_utf8_lossy(&plain).contains(SECRET));
    let sealed = fs::read(&files[1]).unwrap();
    assert!(sealed.starts_with(b"Salted__"));
    let out = Command::new("openssl")
        .args([
            "enc",
            "-d",
            "-aes-256-cbc",
            "-md",
            "sha256",
            "-k",
            "k 1",
            "-in",
        ])
        .arg(&files[1])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    assert_eq!(out.stdout, plain);
}

/// The files under `dir`, recursively.
fn walk(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[test]
fn report_failures() {
    let ca = TestCa::new("prov ca");
    let devices = TestCa::new("device ca");
    let bodies = tempfile::tempdir().unwrap();
    let nginx = server(&ca, &devices, bodies.path());
    let (_dir, state) = phone(&ca, &devices, &[("Restricted_Access_Domains", "localhost")]);
    let (code, stdout, _) = mppd(&state, &["provision", "--report"]);
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        stdout,
        "result: failed: Report_Rule: empty: nowhere to report to\n"
    );

    let outside = format!("https://127.0.0.1:{}/rep/x.xml", nginx.port());
    let (code, stdout, _) = mppd(&state, &["provision", "--report", "--rule", &outside]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("Restricted_Access_Domains"), "{stdout}");

    let three = format!(
        "https://localhost:{p}/rep/a https://localhost:{p}/rep/b https://localhost:{p}/rep/c",
        p = nginx.port()
    );
    let (code, stdout, _) = mppd(&state, &["provision", "--report", "--rule", &three]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("at most 2 targets, not 3"), "{stdout}");
    assert!(!nginx.html_dir().join("rep").exists());
}
