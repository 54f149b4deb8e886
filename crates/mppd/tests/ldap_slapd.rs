#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The corporate directory (issue 9, SPEC §9) against a real OpenLDAP `slapd` on loopback,
//! through `mppd ldap search` (docs/cli.md): LDAPS and StartTLS with the phone's TLS policy and
//! host name validation, anonymous, Simple and SASL DIGEST-MD5 binds, RFC 4515 escaping of the
//! user's input, and a server that requires TLS. The last tests use a small in-test TCP server
//! instead of slapd because no real peer sends oversized or malformed LDAP messages.
//!
//! Every test makes its own CA, certificates, state directory and slapd on free ports; slapd
//! is killed by PID when the test ends, passed or failed.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, TcpListener};
use std::path::PathBuf;
use std::thread;
use std::time::Duration;

use mppd_testkit::slapd::SUFFIX;
use mppd_testkit::{RunOutput, Slapd, StateSandbox, TestCa, Validity};

const BIN: &str = env!("CARGO_BIN_EXE_mppd");

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// The directory's people. Eve's surname contains the characters of the injection attempt
/// `*)(uid=*`, so that an escaped search has exactly one correct answer.
const PEOPLE: &str = "\
dn: uid=alice,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: alice
cn: Alice Smith
sn: Smith
givenName: Alice
telephoneNumber: 555 1212
userPassword: alice-secret-pw

dn: uid=bob,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: bob
cn: Bob Jones
sn: Jones
givenName: Bob
telephoneNumber: 555 3434
mobile: 555 9999

dn: uid=eve,ou=people,dc=example,dc=test
objectClass: inetOrgPerson
uid: eve
cn: Eve Star
sn: Star*)(uid=*Man
telephoneNumber: 555 0000
";

/// Alice's line for `mppd ldap search Smith` with [`base_profile`]'s display attributes.
const ALICE: &str = "Alice Smith\tName: Alice Smith\tWork: 555 1212\tdial: 95551212\n";

/// A GnuTLS priority string (Debian's slapd uses GnuTLS) for a server whose only version is
/// TLS 1.1.
const TLS11_ONLY: &str = "NORMAL:-VERS-ALL:+VERS-TLS1.1";

/// A CA, a certificate for `localhost`/127.0.0.1 and one for another name.
struct Pki {
    ca: TestCa,
    good: (PathBuf, PathBuf),
    wrong: (PathBuf, PathBuf),
}

fn pki() -> Pki {
    let ca = TestCa::new("mppd LDAP test CA");
    let good = ca.issue_server(&["localhost"], &[LOCALHOST], None, Validity::Valid);
    let wrong = ca.issue_server(&["directory.other.test"], &[], None, Validity::Valid);
    Pki { ca, good, wrong }
}

fn slapd_tls(pki: &Pki) -> mppd_testkit::SlapdBuilder {
    Slapd::builder()
        .tls(&pki.good.0, &pki.good.1, &pki.ca.cert_path())
        .ldif(PEOPLE)
}

/// A state directory trusting the test CA.
fn sandbox(pki: &Pki) -> StateSandbox {
    let sb = StateSandbox::new(BIN);
    pki.ca.install_into(sb.state(), "ldap-ca.pem");
    sb
}

/// The LDAP parameters every test starts from, for `server`.
fn base_profile(server: &str) -> Vec<(&'static str, String)> {
    vec![
        ("LDAP_Dir_Enable", "Yes".to_owned()),
        ("LDAP_Server", server.to_owned()),
        ("LDAP_Search_Base", SUFFIX.to_owned()),
        ("LDAP_Last_Name_Filter", "sn:(sn=*$VALUE*)".to_owned()),
        ("LDAP_First_Name_Filter", "cn:(cn=$VALUE*)".to_owned()),
        (
            "LDAP_Display_Attrs",
            "a=cn,n=Name;a=telephoneNumber,n=Work,t=p".to_owned(),
        ),
        ("LDAP_Number_Mapping", "<:9>xx.".to_owned()),
    ]
}

/// `mppd ldap search --profile P [--format F] NAME` with `base_profile(server)` plus `extra`.
fn search(
    sb: &StateSandbox,
    server: &str,
    extra: &[(&'static str, &str)],
    json: bool,
    name: &str,
) -> RunOutput {
    let mut params = base_profile(server);
    for (n, v) in extra {
        params.retain(|(m, _)| m != n);
        params.push((n, (*v).to_owned()));
    }
    let refs: Vec<(&str, &str)> = params.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let profile = sb.write_profile("profile.xml", &refs);
    let mut args = vec!["ldap", "search", "--profile", profile.to_str().unwrap()];
    if json {
        args.extend(["--format", "json"]);
    }
    args.push("--");
    args.push(name);
    sb.run(&args)
}

#[track_caller]
fn assert_output(run: &RunOutput, stdout: &str, slapd: Option<&Slapd>) {
    assert!(
        run.code == Some(0) && run.stdout == stdout,
        "expected exit 0 and stdout {stdout:?}\n{}\n--- slapd log:\n{}",
        run.describe(),
        slapd.map(Slapd::log).unwrap_or_default()
    );
}

/// Exit 1, nothing on stdout, and stderr containing every one of `needles`.
#[track_caller]
fn assert_fails(run: &RunOutput, needles: &[&str], slapd: Option<&Slapd>) {
    assert!(
        run.code == Some(1)
            && run.stdout.is_empty()
            && needles.iter().all(|n| run.stderr.contains(n)),
        "expected exit 1 with {needles:?} on stderr\n{}\n--- slapd log:\n{}",
        run.describe(),
        slapd.map(Slapd::log).unwrap_or_default()
    );
}

fn json(run: &RunOutput) -> serde_json::Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{}", run.describe()))
}

#[test]
fn ldaps_search_works_and_prints_name_and_numbers() {
    let pki = pki();
    let slapd = slapd_tls(&pki).start();
    let sb = sandbox(&pki);
    let url = format!("ldaps://localhost:{}", slapd.ldaps_addr().port());
    assert_output(&search(&sb, &url, &[], false, "Smith"), ALICE, Some(&slapd));
    // The first-name filter (cn=$VALUE*) is ORed with the last-name filter.
    let run = search(&sb, &url, &[], false, "Bob");
    assert_output(
        &run,
        "Bob Jones\tName: Bob Jones\tWork: 555 3434\tdial: 95553434\n",
        Some(&slapd),
    );
    let j = json(&search(&sb, &url, &[], true, "Smith"));
    assert_eq!(j["transport"], "tls", "{j}");
    assert_eq!(
        j["entries"][0]["dn"],
        "uid=alice,ou=people,dc=example,dc=test"
    );
    assert_eq!(j["entries"][0]["dial"], "95551212");
}

#[test]
fn starttls_search_works_against_a_server_that_requires_tls() {
    let pki = pki();
    // `security tls=1`: the search can only succeed if StartTLS really protected it.
    let slapd = slapd_tls(&pki).require_tls().start();
    let sb = sandbox(&pki);
    let url = format!("ldap://localhost:{}", slapd.ldap_addr().port());
    let run = search(&sb, &url, &[("LDAP_StartTLS_Enable", "Yes")], true, "Smith");
    let j = json(&run);
    assert_eq!(j["transport"], "tls", "{}", run.describe());
    assert_eq!(j["entries"][0]["name"], "Alice Smith");
    assert_eq!(j["entries"].as_array().unwrap().len(), 1);
    // Without StartTLS the same server refuses, and the phone says why.
    let run = search(&sb, &url, &[], false, "Smith");
    assert_fails(
        &run,
        &[
            "ldap: search failed: confidentialityRequired (13)",
            "the server requires TLS: use ldaps:// or LDAP_StartTLS_Enable=Yes",
        ],
        Some(&slapd),
    );
}

#[test]
fn a_certificate_for_another_name_fails_on_ldaps_and_starttls() {
    let pki = pki();
    let slapd = Slapd::builder()
        .tls(&pki.wrong.0, &pki.wrong.1, &pki.ca.cert_path())
        .ldif(PEOPLE)
        .start();
    let sb = sandbox(&pki);
    let ldaps = format!("ldaps://localhost:{}", slapd.ldaps_addr().port());
    let run = search(&sb, &ldaps, &[], false, "Smith");
    assert_fails(
        &run,
        &["TLS: name-mismatch: ", "directory.other.test"],
        Some(&slapd),
    );
    let ldap = format!("ldap://localhost:{}", slapd.ldap_addr().port());
    let run = search(
        &sb,
        &ldap,
        &[("LDAP_StartTLS_Enable", "Yes")],
        false,
        "Smith",
    );
    assert_fails(&run, &["TLS: name-mismatch: "], Some(&slapd));
}

#[test]
fn a_tls_1_1_only_server_needs_tls_min_version_1_1() {
    let pki = pki();
    let slapd = slapd_tls(&pki).cipher_suite(TLS11_ONLY).start();
    let sb = sandbox(&pki);
    let ldaps = format!("ldaps://localhost:{}", slapd.ldaps_addr().port());
    let ldap = format!("ldap://localhost:{}", slapd.ldap_addr().port());
    for (url, starttls) in [(&ldaps, "No"), (&ldap, "Yes")] {
        let extra = [
            ("TLS_Min_Version", "TLS 1.2"),
            ("LDAP_StartTLS_Enable", starttls),
        ];
        let run = search(&sb, url, &extra, false, "Smith");
        assert_fails(&run, &["TLS: protocol-alert: "], Some(&slapd));
        let extra = [
            ("TLS_Min_Version", "TLS 1.1"),
            ("LDAP_StartTLS_Enable", starttls),
        ];
        let run = search(&sb, url, &extra, true, "Smith");
        let j = json(&run);
        assert_eq!(j["tls_version"], "TLSv1.1", "{}", run.describe());
        assert_eq!(j["entries"][0]["name"], "Alice Smith", "{}", run.describe());
    }
}

#[test]
fn simple_bind_right_and_wrong_password() {
    let pki = pki();
    let slapd = slapd_tls(&pki).start();
    let sb = sandbox(&pki);
    let url = format!("ldaps://localhost:{}", slapd.ldaps_addr().port());
    let dn = format!("uid=alice,ou=people,{SUFFIX}");
    let simple = |pw: &'static str| {
        vec![
            ("LDAP_Auth_Method", "Simple"),
            ("LDAP_Client_DN", dn.as_str()),
            ("LDAP_Password", pw),
        ]
    };
    let run = search(&sb, &url, &simple("alice-secret-pw"), false, "Smith");
    assert_output(&run, ALICE, Some(&slapd));
    assert!(
        slapd
            .log()
            .contains(&format!("BIND dn=\"{dn}\" method=128")),
        "slapd saw no simple bind as {dn}\n{}",
        slapd.log()
    );
    let run = search(&sb, &url, &simple("not-the-password"), false, "Smith");
    assert_fails(
        &run,
        &["ldap: bind failed: invalidCredentials (49)"],
        Some(&slapd),
    );
    assert!(
        !run.stderr.contains("not-the-password"),
        "{}",
        run.describe()
    );
}

#[test]
fn digest_md5_bind_right_and_wrong_password_and_fips() {
    let pki = pki();
    let slapd = slapd_tls(&pki).sasl_host("localhost").start();
    let sb = sandbox(&pki);
    let url = format!("ldap://localhost:{}", slapd.ldap_addr().port());
    let digest = |pw: &'static str| {
        vec![
            ("LDAP_StartTLS_Enable", "Yes"),
            ("LDAP_Auth_Method", "DIGEST-MD5"),
            ("LDAP_Username", "alice"),
            ("LDAP_Password", pw),
        ]
    };
    let run = search(&sb, &url, &digest("alice-secret-pw"), false, "Smith");
    assert_output(&run, ALICE, Some(&slapd));
    assert!(
        slapd.log().contains("mech=DIGEST-MD5"),
        "slapd saw no DIGEST-MD5 bind\n{}",
        slapd.log()
    );
    let run = search(&sb, &url, &digest("wrong-pw"), false, "Smith");
    assert_fails(
        &run,
        &["ldap: bind failed: invalidCredentials (49)"],
        Some(&slapd),
    );
    assert!(!run.stderr.contains("wrong-pw"), "{}", run.describe());
    // FIPS mode: MD5 is not used at all.
    let mut fips = digest("alice-secret-pw");
    fips.push(("FIPS_Mode", "Enabled"));
    let run = search(&sb, &url, &fips, false, "Smith");
    assert_fails(&run, &["DIGEST-MD5 is refused in FIPS mode"], Some(&slapd));
}

#[test]
fn no_match_exits_0_and_prints_nothing() {
    let pki = pki();
    let slapd = slapd_tls(&pki).start();
    let sb = sandbox(&pki);
    let url = format!("ldaps://localhost:{}", slapd.ldaps_addr().port());
    assert_output(&search(&sb, &url, &[], false, "Nobody"), "", Some(&slapd));
}

#[test]
fn filter_input_is_escaped() {
    let pki = pki();
    let slapd = slapd_tls(&pki).start();
    let sb = sandbox(&pki);
    let url = format!("ldaps://localhost:{}", slapd.ldaps_addr().port());
    // Unescaped, `(sn=**)(uid=**)` would match every entry. Escaped, it is the literal text,
    // which only Eve's surname contains.
    let run = search(&sb, &url, &[], true, "*)(uid=*");
    let j = json(&run);
    let entries = j["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{}", run.describe());
    assert_eq!(entries[0]["name"], "Eve Star");
    assert_eq!(
        j["filter"],
        "(|(sn=*\\2a\\29\\28uid=\\2a*)(cn=\\2a\\29\\28uid=\\2a*))"
    );
    // With a filter that has no room for a literal match, the same input finds nothing.
    let run = search(
        &sb,
        &url,
        &[
            ("LDAP_Last_Name_Filter", "sn:(sn=$VALUE)"),
            ("LDAP_First_Name_Filter", ""),
        ],
        false,
        "*)(uid=*",
    );
    assert_output(&run, "", Some(&slapd));
    // `*` alone is a literal star too, not a wildcard: only Eve's surname has one.
    assert_output(
        &search(&sb, &url, &[], false, "*"),
        "Eve Star\tName: Eve Star\tWork: 555 0000\tdial: 95550000\n",
        Some(&slapd),
    );
}

#[test]
fn starttls_refused_continues_in_plain_text_but_never_sends_a_password() {
    // No TLS configured: slapd refuses StartTLS.
    let slapd = Slapd::builder().ldif(PEOPLE).start();
    let sb = StateSandbox::new(BIN);
    let url = format!("ldap://localhost:{}", slapd.ldap_addr().port());
    let run = search(&sb, &url, &[("LDAP_StartTLS_Enable", "Yes")], true, "Smith");
    let j = json(&run);
    assert_eq!(j["transport"], "starttls-refused", "{}", run.describe());
    assert_eq!(j["entries"][0]["name"], "Alice Smith");
    assert!(
        run.stderr
            .contains("refused StartTLS; the connection continues in plain text"),
        "{}",
        run.describe()
    );
    let dn = format!("uid=alice,ou=people,{SUFFIX}");
    let extra = [
        ("LDAP_StartTLS_Enable", "Yes"),
        ("LDAP_Auth_Method", "Simple"),
        ("LDAP_Client_DN", dn.as_str()),
        ("LDAP_Password", "alice-secret-pw"),
    ];
    let run = search(&sb, &url, &extra, false, "Smith");
    assert_fails(
        &run,
        &[
            "refused StartTLS",
            "the Simple bind password is not sent in clear",
        ],
        Some(&slapd),
    );
    assert!(
        !slapd.log().contains("method=128"),
        "a simple bind reached the server\n{}",
        slapd.log()
    );
}

#[test]
fn the_directory_must_be_enabled() {
    let sb = StateSandbox::new(BIN);
    let run = search(
        &sb,
        "ldap://localhost:1",
        &[("LDAP_Dir_Enable", "No")],
        false,
        "Smith",
    );
    assert_fails(&run, &["LDAP_Dir_Enable is not Yes"], None);
}

/// A one-connection TCP server that reads the client's first request and answers `reply`
/// (then, for `stream_len` > 0, that many more bytes), standing in for a broken LDAP server:
/// slapd never sends malformed or oversized messages.
fn mock_server(reply: Vec<u8>, stream_len: usize) -> (u16, thread::JoinHandle<()>) {
    let listener = TcpListener::bind((LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let handle = thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
        let mut buf = [0u8; 4096];
        let _ = s.read(&mut buf);
        let _ = s.write_all(&reply);
        let chunk = vec![0u8; 64 * 1024];
        let mut sent = 0;
        while sent < stream_len {
            if s.write_all(&chunk).is_err() {
                break;
            }
            sent += chunk.len();
        }
        thread::sleep(Duration::from_millis(200));
    });
    (port, handle)
}

/// Malformed and oversized responses give an error naming the problem (exit 1), never a
/// panic (exit 101) or a hang. The peer is a mock: no real LDAP server misbehaves this way.
#[test]
fn malformed_or_oversized_responses_are_errors_not_panics() {
    let sb = StateSandbox::new(BIN);
    let cases: Vec<(&str, Vec<u8>, usize, &str)> = vec![
        (
            "garbage",
            b"\xff\xff\xff\xffnot LDAP at all".to_vec(),
            0,
            "malformed response",
        ),
        (
            "a SEQUENCE that is not an LDAPMessage",
            vec![0x30, 0x06, 0x02, 0x01, 0x01, 0x04, 0x01, b'x'],
            0,
            "malformed response",
        ),
        (
            "a SearchResultDone for another message id",
            vec![
                0x30, 0x0c, 0x02, 0x01, 0x07, 0x65, 0x07, 0x0a, 0x01, 0x00, 0x04, 0x00, 0x04, 0x00,
            ],
            0,
            "a response to message 7",
        ),
        (
            "a message cut off by the server closing",
            vec![0x30, 0x0c, 0x02, 0x01, 0x01, 0x65],
            0,
            "closed the connection inside a message (6 bytes",
        ),
        (
            "a message that announces 16 MiB and keeps sending",
            vec![
                0x30, 0x84, 0x01, 0x00, 0x00, 0x00, 0x02, 0x01, 0x01, 0x64, 0x84, 0x00, 0xff,
            ],
            2 * 1024 * 1024,
            "larger than 262144 bytes",
        ),
        (
            "a 40-level nested BER structure",
            {
                let mut v = Vec::new();
                for _ in 0..40 {
                    v.extend([0x30, 0x80]);
                }
                v
            },
            0,
            "ldap: ",
        ),
    ];
    for (what, reply, stream, needle) in cases {
        let (port, server) = mock_server(reply, stream);
        let url = format!("ldap://127.0.0.1:{port}");
        let run = search(&sb, &url, &[], false, "Smith");
        assert!(
            run.code == Some(1) && run.stdout.is_empty() && run.stderr.contains(needle),
            "{what}: expected exit 1 and {needle:?} on stderr\n{}",
            run.describe()
        );
        server.join().unwrap();
    }
}

/// A server that accepts the connection and never answers: the search gives up after the
/// step timeout (10 s) instead of hanging. A mock, as above: slapd always answers.
#[test]
fn a_silent_server_times_out() {
    let listener = TcpListener::bind((LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let server = thread::spawn(move || {
        let Ok((mut s, _)) = listener.accept() else {
            return;
        };
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        let mut buf = [0u8; 4096];
        // Read until the client gives up and closes.
        while matches!(s.read(&mut buf), Ok(n) if n > 0) {}
    });
    let sb = StateSandbox::new(BIN);
    let start = std::time::Instant::now();
    let run = search(
        &sb,
        &format!("ldap://127.0.0.1:{port}"),
        &[],
        false,
        "Smith",
    );
    let took = start.elapsed();
    assert_fails(&run, &["ldap: timed out waiting for search results"], None);
    assert!(
        took >= Duration::from_secs(9) && took < Duration::from_secs(25),
        "gave up after {took:?}"
    );
    server.join().unwrap();
}
