#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `Custom_CA_Rule` end to end (issue 4, item 10): nginx A, trusted by the phone, serves the
//! certificate of a second test CA; after `mppd provision --once` the phone has it in
//! `STATE/ca/custom-ca.pem` and `mppd tls probe` to nginx B, whose certificate that second CA
//! issued, goes from `fail untrusted` to `ok`. A body that is not a CA certificate (a server
//! certificate, text) fails the resync and installs nothing: neither the profile nor the CA
//! file changes.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use mppd_testkit::mppd::profile_xml;
use mppd_testkit::{Nginx, TestCa, Validity};
use tempfile::TempDir;

const BIN: &str = env!("CARGO_BIN_EXE_mppd");

/// nginx over HTTPS for `localhost` with a certificate from `ca`, serving `/prov/`.
fn server(ca: &TestCa) -> Nginx {
    let (cert, key) = ca.issue_server(&["localhost"], &[], Some("localhost"), Validity::Valid);
    Nginx::builder(&cert, &key)
        .locations("location /prov/ { }\n")
        .start()
}

fn publish(nginx: &Nginx, name: &str, bytes: &[u8]) {
    let dir = nginx.html_dir().join("prov");
    fs::create_dir_all(&dir).unwrap();
    fs::write(dir.join(name), bytes).unwrap();
}

fn url(nginx: &Nginx, file: &str) -> String {
    format!("https://localhost:{}/prov/{file}", nginx.port())
}

/// A phone trusting `ca` whose stored profile holds `params`.
fn phone(ca: &TestCa, params: &[(&str, &str)]) -> (TempDir, PathBuf) {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    fs::create_dir_all(&state).unwrap();
    ca.install_into(&state, "test-ca.pem");
    let profile = dir.path().join("initial.xml");
    fs::write(&profile, profile_xml(params)).unwrap();
    let out = mppd(
        &state,
        &["config", "apply", "--replace", profile.to_str().unwrap()],
    );
    assert_eq!(out.0, 0, "config apply: {out:?}");
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

fn probe(state: &Path, nginx: &Nginx) -> String {
    let target = format!("localhost:{}", nginx.port());
    mppd(state, &["tls", "probe", "--app", "provisioning", &target]).1
}

fn station_name(state: &Path) -> Option<String> {
    let bytes = fs::read(state.join("profile.xml")).unwrap();
    mppd_config::Profile::parse(&bytes)
        .unwrap()
        .get("Station_Name")
        .map(|e| e.value.clone())
}

#[test]
fn custom_ca_rule_installs_a_ca_the_next_connection_trusts() {
    let prov_ca = TestCa::new("prov ca");
    let second = TestCa::new("second ca");
    let a = server(&prov_ca);
    let b = server(&second);
    publish(&a, "custom.pem", &fs::read(second.cert_path()).unwrap());
    publish(
        &a,
        "p.xml",
        profile_xml(&[("Station_Name", "with ca")]).as_bytes(),
    );
    let ca_rule = url(&a, "custom.pem");
    let (_dir, state) = phone(
        &prov_ca,
        &[
            ("Profile_Rule", &url(&a, "p.xml")),
            ("Custom_CA_Rule", &ca_rule),
            ("Restricted_Access_Domains", "localhost"),
        ],
    );
    let before = probe(&state, &b);
    assert!(before.starts_with("fail untrusted"), "{before}");

    let (code, stdout, stderr) = mppd(&state, &["provision", "--once"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stdout.contains("custom CA: installed O=mppd tests, CN=second ca (expires "),
        "{stdout}"
    );
    assert!(stdout.ends_with("result: ok\n"), "{stdout}");
    assert_eq!(station_name(&state).as_deref(), Some("with ca"));
    let installed = fs::read(state.join("ca/custom-ca.pem")).unwrap();
    let certs = openssl::x509::X509::stack_from_pem(&installed).unwrap();
    assert_eq!(certs.len(), 1);
    assert_eq!(certs[0].to_der().unwrap(), second.cert().to_der().unwrap());

    let after = probe(&state, &b);
    assert!(after.starts_with("ok "), "{after}");

    // The JSON output carries it too.
    let (code, stdout, _) = mppd(&state, &["provision", "--once", "--format", "json"]);
    assert_eq!(code, 0, "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["custom_ca"][0]["subject"], "O=mppd tests, CN=second ca");
}

#[test]
fn a_body_that_is_not_a_ca_certificate_installs_nothing() {
    let prov_ca = TestCa::new("prov ca");
    let second = TestCa::new("second ca");
    let a = server(&prov_ca);
    let (leaf, _) = second.issue_server(&["localhost"], &[], Some("localhost"), Validity::Valid);
    publish(&a, "leaf.pem", &fs::read(leaf).unwrap());
    publish(&a, "text.pem", b"this is not a certificate\n");
    publish(&a, "custom.pem", &fs::read(second.cert_path()).unwrap());
    publish(
        &a,
        "p.xml",
        profile_xml(&[("Station_Name", "after")]).as_bytes(),
    );
    for (file, why) in [
        (
            "leaf.pem",
            "custom CA: certificate 1 (O=mppd tests, CN=localhost) is not a CA certificate",
        ),
        ("text.pem", "custom CA: "),
        ("missing.pem", "not found"),
    ] {
        let (_dir, state) = phone(
            &prov_ca,
            &[
                ("Station_Name", "before"),
                ("Profile_Rule", &url(&a, "p.xml")),
                ("Custom_CA_Rule", &url(&a, file)),
            ],
        );
        let profile = fs::read(state.join("profile.xml")).unwrap();
        let (code, stdout, stderr) = mppd(&state, &["provision", "--once"]);
        assert_eq!(code, 1, "{file}: stdout:\n{stdout}\nstderr:\n{stderr}");
        assert!(stdout.starts_with("result: failed: "), "{stdout}");
        assert!(stdout.contains(why), "expected {why:?} in {stdout}");
        assert!(stdout.contains(file), "the URL is named: {stdout}");
        assert_eq!(fs::read(state.join("profile.xml")).unwrap(), profile);
        assert!(!state.join("ca/custom-ca.pem").exists(), "{file}");
    }

    // A phone that has a custom CA keeps it byte-identical when the next one is bad; a rule
    // outside Restricted_Access_Domains fails the same way.
    let (_dir, state) = phone(
        &prov_ca,
        &[
            ("Station_Name", "before"),
            ("Custom_CA_Rule", &url(&a, "custom.pem")),
        ],
    );
    let (code, stdout, _) = mppd(
        &state,
        &["provision", "--once", "--rule", &url(&a, "p.xml")],
    );
    assert_eq!(code, 0, "{stdout}");
    let ca = fs::read(state.join("ca/custom-ca.pem")).unwrap();
    let bad = [
        ("Custom_CA_Rule", url(&a, "leaf.pem")),
        ("Restricted_Access_Domains", "localhost".to_owned()),
    ];
    let set: Vec<String> = bad.iter().map(|(n, v)| format!("{n}={v}")).collect();
    let set: Vec<&str> = set.iter().map(String::as_str).collect();
    let (code, out, err) = mppd(&state, &[&["config", "set"][..], &set].concat());
    assert_eq!(code, 0, "{out}{err}");
    let profile = fs::read(state.join("profile.xml")).unwrap();
    let (code, stdout, _) = mppd(
        &state,
        &["provision", "--once", "--rule", &url(&a, "p.xml")],
    );
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("is not a CA certificate"), "{stdout}");
    assert_eq!(fs::read(state.join("profile.xml")).unwrap(), profile);
    assert_eq!(fs::read(state.join("ca/custom-ca.pem")).unwrap(), ca);

    let outside = format!("https://127.0.0.1:{}/prov/custom.pem", a.port());
    let (code, _, _) = mppd(
        &state,
        &["config", "set", &format!("Custom_CA_Rule={outside}")],
    );
    assert_eq!(code, 0);
    let (code, stdout, _) = mppd(
        &state,
        &["provision", "--once", "--rule", &url(&a, "p.xml")],
    );
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("Restricted_Access_Domains"), "{stdout}");
    assert_eq!(fs::read(state.join("ca/custom-ca.pem")).unwrap(), ca);
}
