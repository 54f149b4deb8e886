#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The device identity as TLS client certificate (SPEC §0, §10; issue 3 "Must show"):
//! `mppd identity create` makes it with a test CA, `identity show` reports it, and nginx with
//! `ssl_verify_client on` accepts a probe that presents it (logging the subject fields it
//! received) and refuses one without it.

use std::os::unix::fs::PermissionsExt as _;

use mppd_testkit::{Nginx, RunOutput, StateSandbox, TestCa, Validity};
use openssl::nid::Nid;
use openssl::x509::X509;

const BIN: &str = env!("CARGO_BIN_EXE_mppd");

const MAC: &str = "00:11:22:33:44:ab";
const SERIAL: &str = "FCH1234ABCD";
const PRODUCT: &str = "CP-8851-3PCC";

/// A state directory trusting `ca` (`STATE/ca/test-ca.pem`).
fn sandbox_trusting(ca: &TestCa) -> StateSandbox {
    let sb = StateSandbox::new(BIN);
    ca.install_into(sb.state(), "test-ca.pem");
    sb
}

fn identity_create(sb: &StateSandbox, ca: &TestCa) -> RunOutput {
    sb.run(&[
        "identity",
        "create",
        "--ca-cert",
        ca.cert_path().to_str().unwrap(),
        "--ca-key",
        ca.key_path().to_str().unwrap(),
        "--mac",
        MAC,
        "--serial",
        SERIAL,
        "--product",
        PRODUCT,
    ])
}

/// `identity show` as `label -> value` (`mac:       00:11:...`).
fn show_fields(run: &RunOutput) -> Vec<(String, String)> {
    run.stdout
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((k.trim().to_owned(), v.trim().to_owned()))
        })
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str, run: &RunOutput) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no `{name}:` line\n{}", run.describe()))
}

#[test]
fn identity_create_writes_the_device_certificate() {
    let ca = TestCa::new("mppd device CA");
    let sb = StateSandbox::new(BIN);

    // Before: the emulated lab identity, no certificate.
    let run = sb.run(&["identity", "show"]);
    run.expect_code(0);
    let fields = show_fields(&run);
    assert_eq!(field(&fields, "ccert", &run), "Not Installed");

    identity_create(&sb, &ca).expect_code(0);

    // The files: a key only its owner can read, a certificate with the seed's subject signed
    // by the CA, for client authentication.
    let pem = sb.state().join("identity/device.pem");
    let key = sb.state().join("identity/device.key");
    let mode = std::fs::metadata(&key).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600, "device.key mode {mode:o}");
    let cert = X509::from_pem(&std::fs::read(&pem).unwrap()).unwrap();
    let entry = |nid: Nid| {
        cert.subject_name()
            .entries_by_nid(nid)
            .map(|e| e.data().to_string().unwrap())
            .collect::<Vec<_>>()
    };
    assert_eq!(entry(Nid::ORGANIZATIONALUNITNAME), [PRODUCT]);
    assert_eq!(entry(Nid::LOCALITYNAME), [SERIAL]);
    assert_eq!(entry(Nid::STATEORPROVINCENAME), [MAC]);
    let ca_key = ca.cert().public_key().unwrap();
    assert!(
        cert.verify(&ca_key).unwrap(),
        "device.pem is not signed by the CA"
    );
    assert_eq!(
        cert.issuer_name().to_der().unwrap(),
        ca.cert().subject_name().to_der().unwrap()
    );
    let text = String::from_utf8(cert.to_text().unwrap()).unwrap();
    assert!(
        text.contains("TLS Web Client Authentication"),
        "extended key usage clientAuth expected\n{text}"
    );

    // What `identity show` reports.
    let run = sb.run(&["identity", "show"]);
    run.expect_code(0);
    let fields = show_fields(&run);
    assert_eq!(field(&fields, "mac", &run), MAC);
    assert_eq!(field(&fields, "serial", &run), SERIAL);
    assert_eq!(field(&fields, "product", &run), PRODUCT);
    assert_eq!(field(&fields, "psn", &run), "8851-3PCC");
    assert_eq!(field(&fields, "ccert", &run), "Installed");
    assert_eq!(
        field(&fields, "subject", &run),
        format!("OU={PRODUCT}, L={SERIAL}, ST={MAC}")
    );
    assert!(
        field(&fields, "issuer", &run).contains("CN=mppd device CA"),
        "{}",
        run.describe()
    );
}

#[test]
fn nginx_requiring_a_client_certificate() {
    let ca = TestCa::new("mppd mtls CA");
    let (cert, key) = ca.issue_server(&["localhost"], &[], Some("localhost"), Validity::Valid);
    let nginx = Nginx::builder(&cert, &key)
        .require_client_cert(&ca.cert_path())
        .start();
    let target = format!("localhost:{}", nginx.port());
    let logs = || {
        format!(
            "--- nginx access log:\n{}\n--- nginx error log:\n{}",
            nginx.access_log(),
            nginx.error_log()
        )
    };

    // Without a device certificate (same trust): refused.
    let bare = sandbox_trusting(&ca);
    let run = bare.run(&["tls", "probe", &target]);
    assert!(
        run.code == Some(1)
            && run.stdout.lines().count() == 1
            && run.stdout.starts_with("fail client-cert-refused: "),
        "expected `fail client-cert-refused: ...`\n{}\n{}",
        run.describe(),
        logs()
    );
    // nginx completed the handshake, then answered the request 400 (no certificate; an
    // empty variable is logged as `-`).
    let refused = nginx.access_log();
    assert!(
        refused
            .lines()
            .any(|l| l.starts_with("client_verify=NONE client_s_dn=\"-\" ")
                && l.contains(" 400 \"GET / ")),
        "nginx saw a request without a certificate\n{}",
        logs()
    );

    // With the identity made by `mppd identity create` from the same CA: accepted.
    let device = sandbox_trusting(&ca);
    identity_create(&device, &ca).expect_code(0);
    let run = device.run(&["tls", "probe", &target]);
    assert_eq!(
        run.stdout,
        "ok TLSv1.3 TLS_AES_256_GCM_SHA384\n",
        "{}\n{}",
        run.describe(),
        logs()
    );
    run.expect_code(0);

    // nginx verified the certificate and logged its subject (RFC 2253 order, last RDN first).
    let log = nginx.access_log();
    let line = log
        .lines()
        .find(|l| l.starts_with("client_verify=SUCCESS "))
        .unwrap_or_else(|| panic!("no verified request in the access log\n{}", logs()));
    let dn = format!("ST={MAC},L={SERIAL},OU={PRODUCT}");
    assert!(
        line.starts_with(&format!(
            "client_verify=SUCCESS client_s_dn=\"{dn}\" TLSv1.3 TLS_AES_256_GCM_SHA384 200 "
        )),
        "expected the device subject {dn} in\n{line}\n{}",
        logs()
    );
}

/// TLS 1.2 too: a server limited to TLS 1.2 asks for the certificate in the handshake itself.
#[test]
fn nginx_tls12_client_certificate() {
    let ca = TestCa::new("mppd mtls12 CA");
    let (cert, key) = ca.issue_server(&["localhost"], &[], Some("localhost"), Validity::Valid);
    let nginx = Nginx::builder(&cert, &key)
        .require_client_cert(&ca.cert_path())
        .protocols("TLSv1.2")
        .start();
    let target = format!("localhost:{}", nginx.port());

    let bare = sandbox_trusting(&ca);
    let run = bare.run(&["tls", "probe", &target]);
    assert!(
        run.code == Some(1) && run.stdout.starts_with("fail client-cert-refused: "),
        "{}\n{}",
        run.describe(),
        nginx.error_log()
    );

    let device = sandbox_trusting(&ca);
    identity_create(&device, &ca).expect_code(0);
    let run = device.run(&["tls", "probe", &target]);
    assert_eq!(
        run.stdout,
        "ok TLSv1.2 ECDHE-RSA-AES256-GCM-SHA384\n",
        "{}\n{}",
        run.describe(),
        nginx.error_log()
    );
    let log = nginx.access_log();
    assert!(
        log.lines().any(|l| l.starts_with(&format!(
            "client_verify=SUCCESS client_s_dn=\"ST={MAC},L={SERIAL},OU={PRODUCT}\" TLSv1.2 "
        ))),
        "{log}"
    );
}
