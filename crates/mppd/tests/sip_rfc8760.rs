#![allow(clippy::unwrap_used, clippy::expect_used)]
//! RFC 8760 algorithm choice against a real SIPp UAS (issue 5, must-show 2): the scenario
//! `uas_register_three_challenges.xml` answers the first REGISTER with one 401 carrying three
//! `WWW-Authenticate` headers in the order the test gives, each with its own nonce
//! (`mppd-1-…`, `mppd-2-…`, `mppd-3-…`). `mppd sip register` answers; the test reads the
//! second REGISTER from SIPp's message log and recomputes the digest response (RFC 7616 §3.4.1,
//! with OpenSSL's hashes) from the password, so the check does not trust mppd's own code.
//! With `Auth_Support_RFC8760_1_` Yes the top-most supported header wins; with No, MD5.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::BIN;
use mppd_testkit::mppd::profile_xml;
use mppd_testkit::process::free_port;
use mppd_testkit::sipp::Sipp;
use openssl::hash::{MessageDigest, hash};

const USER: &str = "1001";
const PASSWORD: &str = "rfc8760-Secret";

fn scenario() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sip/uas_register_three_challenges.xml")
}

fn h(alg: &str, data: &str) -> String {
    let md = match alg {
        "MD5" => MessageDigest::md5(),
        "SHA-256" => MessageDigest::sha256(),
        "SHA-512-256" => MessageDigest::from_name("SHA512-256").expect("OpenSSL has SHA-512/256"),
        other => panic!("unknown algorithm {other}"),
    };
    hash(md, data.as_bytes())
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The parameters of a `Digest ...` credentials value.
fn params(value: &str) -> Vec<(String, String)> {
    let body = value.trim().strip_prefix("Digest").unwrap().trim();
    let mut out = Vec::new();
    let mut rest = body;
    while !rest.is_empty() {
        let (k, after) = rest.split_once('=').unwrap();
        let after = after.trim_start();
        let (v, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"').unwrap();
            (&q[..end], &q[end + 1..])
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (&after[..end], &after[end..])
        };
        out.push((k.trim().to_ascii_lowercase(), v.to_owned()));
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    out
}

/// Registers through a SIPp UAS offering `order`; returns the answered algorithm and checks
/// the response.
fn answered(order: [&str; 3], rfc8760: &str) -> String {
    let mut sipp = Sipp::uas(&scenario())
        .key("alg1", order[0])
        .key("alg2", order[1])
        .key("alg3", order[2])
        .start();
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    fs::create_dir_all(&state).unwrap();
    let port = free_port("127.0.0.1".parse().unwrap()).to_string();
    let outbound = format!("127.0.0.1:{}", sipp.port());
    let profile = dir.path().join("p.xml");
    fs::write(
        &profile,
        profile_xml(&[
            ("User_ID_1_", USER),
            ("Password_1_", PASSWORD),
            ("Proxy_1_", "mppd.test"),
            ("Outbound_Proxy_1_", &outbound),
            ("SIP_Port_1_", &port),
            ("Auth_Support_RFC8760_1_", rfc8760),
        ]),
    )
    .unwrap();
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&state)
        .args(["sip", "register", "--once", "--profile"])
        .arg(&profile)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let run = sipp.wait();
    assert!(
        out.status.success(),
        "{order:?} {rfc8760}: {stdout}\n{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        run.describe()
    );
    assert!(run.success(), "{}", run.describe());
    // The second REGISTER as SIPp received it.
    let auth = run
        .messages
        .lines()
        .rfind(|l| l.starts_with("Authorization:"))
        .unwrap_or_else(|| panic!("no Authorization in SIPp's log:\n{}", run.messages))
        .trim_start_matches("Authorization:")
        .trim()
        .to_owned();
    let p = params(&auth);
    let get = |k: &str| {
        p.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_else(|| panic!("no {k} in {auth}"))
    };
    let alg = get("algorithm");
    // The nonce says which of the three headers was answered.
    let idx = order.iter().position(|a| *a == alg).unwrap() + 1;
    assert!(
        get("nonce").starts_with(&format!("mppd-{idx}-")),
        "{alg} answered with the nonce of another header: {auth}"
    );
    let ha1 = h(&alg, &format!("{USER}:{}:{PASSWORD}", get("realm")));
    let ha2 = h(&alg, &format!("REGISTER:{}", get("uri")));
    let want = h(
        &alg,
        &format!(
            "{ha1}:{}:{}:{}:{}:{ha2}",
            get("nonce"),
            get("nc"),
            get("cnonce"),
            get("qop")
        ),
    );
    assert_eq!(get("response"), want, "recomputed response for {auth}");
    assert!(stdout.contains(&format!("digest {alg},")), "{stdout}");
    alg
}

#[test]
fn rfc8760_yes_answers_the_top_most_supported_challenge() {
    assert_eq!(
        answered(["SHA-512-256", "SHA-256", "MD5"], "Yes"),
        "SHA-512-256"
    );
    assert_eq!(
        answered(["SHA-256", "MD5", "SHA-512-256"], "Yes"),
        "SHA-256"
    );
    assert_eq!(answered(["MD5", "SHA-256", "SHA-512-256"], "Yes"), "MD5");
}

#[test]
fn rfc8760_no_answers_md5() {
    assert_eq!(answered(["SHA-512-256", "SHA-256", "MD5"], "No"), "MD5");
    assert_eq!(answered(["MD5", "SHA-512-256", "SHA-256"], "No"), "MD5");
}
