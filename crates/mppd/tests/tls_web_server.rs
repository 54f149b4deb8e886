#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The web server's TLS policy (SPEC §5 `TLS_Server_Min_Version`, SPEC §14 fallback list)
//! seen from a real client: an acceptor built by `mppd::tls::server_acceptor` serves on
//! 127.0.0.1 in a thread of the test, and `openssl s_client` tries one suite at a time.
//! `mppd tls ciphers --app web` must say the same.

use std::io::Write as _;
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::{self, JoinHandle};
use std::time::Duration;

use mppd_config::Profile;
use mppd_testkit::mppd::profile_xml;
use mppd_testkit::{StateSandbox, TestCa, Validity};
use openssl::ssl::SslAcceptor;

const BIN: &str = env!("CARGO_BIN_EXE_mppd");

/// The web server's suites when `TLS_Cipher_List` is empty or invalid (SPEC §14), in order.
const WEB_FALLBACK: [&str; 5] = [
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "AES256-SHA",
    "AES128-SHA",
    "DES-CBC3-SHA",
];

/// TLS 1.2 suites a client may offer that are not in the fallback list: refused.
const OUTSIDE: [&str; 4] = [
    "ECDHE-RSA-CHACHA20-POLY1305",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "ECDHE-RSA-AES128-SHA",
];

/// An HTTPS-like server on 127.0.0.1 in a thread: each connection gets the handshake, one byte
/// and a close. Stopped (and joined) on drop.
struct TestWebServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl TestWebServer {
    fn start(acceptor: SslAcceptor) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let stop2 = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            for stream in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
                let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
                if let Ok(mut tls) = acceptor.accept(stream) {
                    let _ = tls.write_all(b"x");
                    let _ = tls.shutdown();
                }
            }
        });
        Self {
            addr,
            stop,
            thread: Some(thread),
        }
    }
}

impl Drop for TestWebServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so that it sees the flag.
        if let Ok(s) = TcpStream::connect(self.addr) {
            let _ = s.shutdown(Shutdown::Both);
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The web server of `profile_params`, presenting a certificate for `localhost` from `ca`.
fn web_server(ca: &TestCa, profile_params: &[(&str, &str)]) -> TestWebServer {
    let profile = Profile::parse(profile_xml(profile_params).as_bytes()).unwrap();
    let policy = mppd_core::tls::server_policy(&profile);
    let (cert, key) = ca.issue_server(&["localhost"], &[], Some("localhost"), Validity::Valid);
    let (acceptor, _warnings) = mppd::tls::server_acceptor(&policy, &cert, &key)
        .unwrap_or_else(|e| panic!("server_acceptor for {profile_params:?}: {e}"));
    TestWebServer::start(acceptor)
}

/// The outcome of one `openssl s_client` handshake.
struct ClientRun {
    /// The negotiated `(protocol, cipher)`, `None` when the handshake failed.
    negotiated: Option<(String, String)>,
    output: String,
}

/// `openssl s_client -connect ADDR ARGS...` verifying the server against `ca`; reads the
/// negotiated version and cipher from its `-brief` summary.
fn s_client(addr: SocketAddr, ca: &Path, args: &[&str]) -> ClientRun {
    let out = Command::new("openssl")
        .arg("s_client")
        .arg("-brief")
        .arg("-connect")
        .arg(addr.to_string())
        .arg("-servername")
        .arg("localhost")
        .arg("-CAfile")
        .arg(ca)
        .arg("-verify_return_error")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let output = format!(
        "openssl s_client {args:?}: {}\n--- stdout:\n{}\n--- stderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // `-brief` prints `Protocol version: TLSv1.2` and `Ciphersuite: AES256-SHA` on stderr
    // once the handshake is complete.
    let stderr = String::from_utf8_lossy(&out.stderr);
    let field = |name: &str| {
        stderr
            .lines()
            .find_map(|l| l.strip_prefix(name).map(|v| v.trim().to_owned()))
    };
    let negotiated = match (field("Protocol version:"), field("Ciphersuite:")) {
        (Some(p), Some(c)) if out.status.success() => Some((p, c)),
        _ => None,
    };
    ClientRun { negotiated, output }
}

/// Whether this OpenSSL build knows the suite at all (`openssl ciphers SUITE`, at any
/// security level). Debian's OpenSSL 3.0 has no DES-CBC3-SHA.
fn openssl_knows(suite: &str) -> bool {
    Command::new("openssl")
        .arg("ciphers")
        .arg(format!("{suite}:@SECLEVEL=0"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap()
        .success()
}

/// Each fallback suite is accepted at TLS 1.2 (or, when this OpenSSL build lacks it, is
/// refused), and suites outside the list are refused.
fn check_fallback_from_client(server: &TestWebServer, ca: &Path, why: &str) {
    for suite in WEB_FALLBACK {
        let run = s_client(
            server.addr,
            ca,
            &["-tls1_2", "-cipher", &format!("{suite}:@SECLEVEL=0")],
        );
        if openssl_knows(suite) {
            assert_eq!(
                run.negotiated,
                Some(("TLSv1.2".to_owned(), suite.to_owned())),
                "{why}: the web server must accept {suite}\n{}",
                run.output
            );
        } else {
            assert_eq!(
                run.negotiated, None,
                "{why}: {suite} is not in this OpenSSL build, yet it was negotiated\n{}",
                run.output
            );
        }
    }
    for suite in OUTSIDE {
        assert!(
            openssl_knows(suite),
            "the client must be able to offer {suite}"
        );
        let run = s_client(server.addr, ca, &["-tls1_2", "-cipher", suite]);
        assert_eq!(
            run.negotiated, None,
            "{why}: the web server must refuse {suite} (not in its list)\n{}",
            run.output
        );
    }
}

#[test]
fn web_fallback_list_from_a_client() {
    let ca = TestCa::new("mppd web CA");
    let ca_pem = ca.cert_path();
    // Empty list, and an invalid one: both give the fallback (SPEC §14).
    for params in [
        &[][..],
        &[("TLS_Cipher_List", "FOO:BAR")][..],
        &[("TLS_Cipher_List", "")][..],
    ] {
        let server = web_server(&ca, params);
        check_fallback_from_client(&server, &ca_pem, &format!("profile {params:?}"));
    }
}

#[test]
fn web_configured_list_replaces_the_fallback() {
    let ca = TestCa::new("mppd web list CA");
    let server = web_server(&ca, &[("TLS_Cipher_List", "RSA:!aNULL:!eNULL")]);
    let ca_pem = ca.cert_path();
    let run = s_client(
        server.addr,
        &ca_pem,
        &["-tls1_2", "-cipher", "AES128-GCM-SHA256"],
    );
    assert_eq!(
        run.negotiated,
        Some(("TLSv1.2".to_owned(), "AES128-GCM-SHA256".to_owned())),
        "{}",
        run.output
    );
    let run = s_client(
        server.addr,
        &ca_pem,
        &["-tls1_2", "-cipher", "ECDHE-RSA-AES256-GCM-SHA384"],
    );
    assert_eq!(
        run.negotiated, None,
        "ECDHE is outside RSA:!aNULL:!eNULL\n{}",
        run.output
    );
}

/// `TLS_Server_Min_Version` (default TLS 1.2) bounds the web server; TLS 1.3 is not governed
/// by the cipher list (documented decision).
#[test]
fn web_server_minimum_version_and_tls13() {
    let ca = TestCa::new("mppd web version CA");
    let ca_pem = ca.cert_path();
    let legacy = ["-cipher", "AES256-SHA:@SECLEVEL=0"];

    let default = web_server(&ca, &[]);
    for flag in ["-tls1", "-tls1_1"] {
        let run = s_client(default.addr, &ca_pem, &[&[flag][..], &legacy[..]].concat());
        assert_eq!(
            run.negotiated, None,
            "default minimum is TLS 1.2\n{}",
            run.output
        );
    }
    // TLS 1.3 with OpenSSL's TLS 1.3 suites, whatever the list says.
    let run = s_client(default.addr, &ca_pem, &[]);
    assert_eq!(
        run.negotiated,
        Some(("TLSv1.3".to_owned(), "TLS_AES_256_GCM_SHA384".to_owned())),
        "{}",
        run.output
    );
    let rsa_only = web_server(&ca, &[("TLS_Cipher_List", "RSA:!aNULL:!eNULL")]);
    let run = s_client(rsa_only.addr, &ca_pem, &["-tls1_3"]);
    assert_eq!(
        run.negotiated,
        Some(("TLSv1.3".to_owned(), "TLS_AES_256_GCM_SHA384".to_owned())),
        "{}",
        run.output
    );

    let tls10 = web_server(&ca, &[("TLS_Server_Min_Version", "TLS 1.0")]);
    for (flag, version) in [("-tls1", "TLSv1"), ("-tls1_1", "TLSv1.1")] {
        let run = s_client(tls10.addr, &ca_pem, &[&[flag][..], &legacy[..]].concat());
        assert_eq!(
            run.negotiated,
            Some((version.to_owned(), "AES256-SHA".to_owned())),
            "TLS_Server_Min_Version = TLS 1.0\n{}",
            run.output
        );
    }
}

/// `mppd tls ciphers --app web` lists the fallback, saying which suite this OpenSSL build
/// lacks.
#[test]
fn tls_ciphers_web_lists_the_fallback() {
    let sb = StateSandbox::new(BIN);
    let empty = sb.write_profile("empty.xml", &[("TLS_Cipher_List", "")]);
    let invalid = sb.write_profile("invalid.xml", &[("TLS_Cipher_List", "FOO:BAR")]);
    let no_profile: Option<PathBuf> = None;
    for profile in [no_profile, Some(empty), Some(invalid.clone())] {
        let mut args = vec!["tls", "ciphers", "--app", "web"];
        if let Some(p) = &profile {
            args.push("--profile");
            args.push(p.to_str().unwrap());
        }
        let run = sb.run(&args);
        run.expect_code(0);
        let suites: Vec<&str> = run.stdout.lines().filter(|l| !l.starts_with('#')).collect();
        let available: Vec<&str> = WEB_FALLBACK
            .iter()
            .copied()
            .filter(|s| openssl_knows(s))
            .collect();
        assert_eq!(suites, available, "{}", run.describe());
        for missing in WEB_FALLBACK.iter().filter(|s| !openssl_knows(s)) {
            let line = format!("# unavailable in this OpenSSL build: {missing}");
            assert!(
                run.stdout.lines().any(|l| l == line),
                "expected `{line}`\n{}",
                run.describe()
            );
        }
        let last = run.stdout.lines().last().unwrap_or_default();
        if profile.as_ref() == Some(&invalid) {
            assert!(
                last.starts_with("# list: default for web (TLS_Cipher_List \"FOO:BAR\" is invalid"),
                "{}",
                run.describe()
            );
            assert!(run.stderr.contains("\"FOO\""), "{}", run.describe());
        } else {
            assert_eq!(last, "# list: default for web", "{}", run.describe());
        }
    }
}
