#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The SIP peers work without mppd: SIPp registers to the kamailio runner with MD5 over UDP and
//! TCP (and is refused with a wrong password), kamailio challenges with SHA-256 when told,
//! serves TLS 1.2 (and TLS 1.1 only, when pinned) with the test certificate, relays an Auth
//! INVITE to a registered SIPp callee, and the SIPp scenarios of `crates/mppd/tests/data/sip`
//! answer raw requests (over UDP, and over TLS through socat) as their comments say.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use mppd_testkit::kamailio::{DEFAULT_PASSWORD, DEFAULT_USER, DOMAIN};
use mppd_testkit::{Kamailio, Sipp, SippTransport, SocatTls, TestCa, Validity};
use openssl::hash::{MessageDigest, hash};

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../mppd/tests/data/sip")
        .join(name)
}

/// A REGISTER for `user@mppd.test` from `local` over `proto` (`UDP`, `TLS`, ...), with
/// `extra` header lines (each ending in CRLF).
fn register(proto: &str, local: SocketAddr, user: &str, cseq: u32, extra: &str) -> String {
    format!(
        "REGISTER sip:{DOMAIN} SIP/2.0\r\n\
         Via: SIP/2.0/{proto} {local};branch=z9hG4bK-selftest-{cseq}\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:{user}@{DOMAIN}>;tag=selftest\r\n\
         To: <sip:{user}@{DOMAIN}>\r\n\
         Call-ID: selftest-{user}@127.0.0.1\r\n\
         CSeq: {cseq} REGISTER\r\n\
         Contact: <sip:{user}@{local}>\r\n\
         {extra}\
         Expires: 300\r\n\
         Content-Length: 0\r\n\r\n"
    )
}

/// A UDP socket on 127.0.0.1 that sends requests and reads one answer each (5 s at most),
/// skipping provisional responses.
struct UdpPeer {
    socket: UdpSocket,
}

impl UdpPeer {
    fn new() -> Self {
        let socket = UdpSocket::bind(SocketAddr::new(LOCALHOST, 0)).unwrap();
        socket
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        Self { socket }
    }

    fn local(&self) -> SocketAddr {
        self.socket.local_addr().unwrap()
    }

    fn exchange(&self, to: SocketAddr, request: &str) -> String {
        self.socket.send_to(request.as_bytes(), to).unwrap();
        loop {
            let mut buf = [0u8; 8192];
            let (n, _) = self
                .socket
                .recv_from(&mut buf)
                .unwrap_or_else(|e| panic!("no answer from {to} to:\n{request}\n({e})"));
            let text = String::from_utf8_lossy(&buf[..n]).into_owned();
            if !text.starts_with("SIP/2.0 1") {
                return text;
            }
        }
    }
}

/// The value of `name="value"` (or `name=value`) in a digest challenge line.
fn param(challenge: &str, name: &str) -> String {
    let start = challenge
        .find(&format!("{name}="))
        .unwrap_or_else(|| panic!("no {name} in {challenge}"))
        + name.len()
        + 1;
    let rest = &challenge[start..];
    if let Some(quoted) = rest.strip_prefix('"') {
        quoted[..quoted.find('"').unwrap()].to_owned()
    } else {
        rest[..rest.find([',', '\r', '\n']).unwrap_or(rest.len())].to_owned()
    }
}

fn hex_digest(md: MessageDigest, s: &str) -> String {
    hash(md, s.as_bytes())
        .unwrap()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// An RFC 2617 `Authorization` header (MD5, qop=auth) answering `challenge` (a 401).
fn md5_authorization(challenge: &str, user: &str, password: &str, uri: &str) -> String {
    digest_authorization(challenge, "MD5", user, password, uri)
}

/// An RFC 7616 `Authorization` header (`MD5` or `SHA-256`, qop=auth) for a REGISTER,
/// answering the `WWW-Authenticate` header of `challenge` (a 401) with that algorithm.
fn digest_authorization(
    challenge: &str,
    algorithm: &str,
    user: &str,
    password: &str,
    uri: &str,
) -> String {
    let md = match algorithm {
        "MD5" => MessageDigest::md5(),
        "SHA-256" => MessageDigest::sha256(),
        other => panic!("no digest {other}"),
    };
    let line = challenge
        .lines()
        .find(|l| l.starts_with("WWW-Authenticate:") && param(l, "algorithm") == algorithm)
        .unwrap_or_else(|| panic!("no {algorithm} challenge in:\n{challenge}"));
    let realm = param(line, "realm");
    let nonce = param(line, "nonce");
    let ha1 = hex_digest(md, &format!("{user}:{realm}:{password}"));
    let ha2 = hex_digest(md, &format!("REGISTER:{uri}"));
    let response = hex_digest(md, &format!("{ha1}:{nonce}:00000001:0a4f113b:auth:{ha2}"));
    format!(
        "Authorization: Digest username=\"{user}\", realm=\"{realm}\", nonce=\"{nonce}\", \
         uri=\"{uri}\", response=\"{response}\", algorithm={algorithm}, qop=auth, nc=00000001, \
         cnonce=\"0a4f113b\"\r\n"
    )
}

/// `openssl s_client` to 127.0.0.1:`port` with `args`, writing `input` once connected, until
/// its output holds `until` or 10 s passed; returns stdout and stderr. Killed by PID after.
fn s_client(port: u16, args: &[&str], input: &str, until: &str) -> String {
    s_client_steps(port, args, &[(input, until)])
}

/// [`s_client`] with several steps: each input is written once the handshake is done and the
/// previous step's `until` text arrived; 10 s in all.
fn s_client_steps(port: u16, args: &[&str], steps: &[(&str, &str)]) -> String {
    let mut child: Child = Command::new("openssl")
        .arg("s_client")
        .arg("-connect")
        .arg(format!("127.0.0.1:{port}"))
        // A line starting with "R" (REGISTER) would otherwise mean "renegotiate".
        .arg("-nocommands")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let out = Arc::new(Mutex::new(String::new()));
    let mut readers = Vec::new();
    let mut stdout = child.stdout.take().unwrap();
    let mut stderr = child.stderr.take().unwrap();
    for mut pipe in [
        Box::new(move |b: &mut [u8]| stdout.read(b)) as Box<dyn FnMut(&mut [u8]) -> _ + Send>,
        Box::new(move |b: &mut [u8]| stderr.read(b)),
    ] {
        let out = Arc::clone(&out);
        readers.push(thread::spawn(move || {
            let mut buf = [0u8; 4096];
            while let Ok(n) = pipe(&mut buf) {
                if n == 0 {
                    break;
                }
                out.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }));
    }
    let mut stdin = child.stdin.take().unwrap();
    let start = Instant::now();
    let mut step = 0;
    let mut sent = false;
    loop {
        let text = out.lock().unwrap().clone();
        let (input, until) = steps[step];
        if !sent && text.contains("---\n") {
            // The handshake is done (s_client printed its session block).
            let _ = stdin.write_all(input.as_bytes());
            let _ = stdin.flush();
            sent = true;
        }
        if text.contains(until) {
            if step + 1 == steps.len() {
                break;
            }
            step += 1;
            sent = false;
        }
        if start.elapsed() > Duration::from_secs(10) {
            break;
        }
        if child.try_wait().unwrap().is_some() {
            thread::sleep(Duration::from_millis(100));
            break;
        }
        thread::sleep(Duration::from_millis(20));
    }
    drop(stdin);
    let _ = child.kill();
    let _ = child.wait();
    for r in readers {
        let _ = r.join();
    }
    Arc::try_unwrap(out).unwrap().into_inner().unwrap()
}

/// Whether `openssl s_client` printed the test certificate's subject.
fn has_subject(out: &str) -> bool {
    out.lines()
        .any(|l| l.starts_with("subject=") && l.ends_with("CN = sip.mppd.test"))
}

fn register_with_sipp(
    k: &Kamailio,
    transport: SippTransport,
    port: u16,
    password: &str,
) -> mppd_testkit::SippRun {
    Sipp::uac(
        &scenario("uac_register_md5.xml"),
        k.user(),
        SocketAddr::new(LOCALHOST, port),
    )
    .transport(transport)
    .key("domain", k.domain())
    .credentials(k.user(), password)
    .timeout(Duration::from_secs(10))
    .start()
    .wait()
}

#[test]
fn kamailio_md5_registers_sipp_over_udp_and_tcp() {
    let k = Kamailio::builder()
        .algorithm("MD5")
        .user(DEFAULT_USER, DEFAULT_PASSWORD)
        .udp()
        .tcp()
        .start();
    assert_ne!(k.udp_port(), k.tcp_port());

    let udp = register_with_sipp(&k, SippTransport::Udp, k.udp_port(), DEFAULT_PASSWORD);
    assert!(
        udp.success(),
        "UDP registration failed:\n{}",
        udp.describe()
    );
    assert!(
        udp.messages.contains("SIP/2.0 401 Unauthorized"),
        "{}",
        udp.describe()
    );
    assert!(udp.messages.contains("algorithm=MD5"), "{}", udp.describe());
    assert!(
        udp.messages.contains("SIP/2.0 200 OK"),
        "{}",
        udp.describe()
    );

    let tcp = register_with_sipp(&k, SippTransport::Tcp, k.tcp_port(), DEFAULT_PASSWORD);
    assert!(
        tcp.success(),
        "TCP registration failed:\n{}",
        tcp.describe()
    );
    assert!(
        tcp.messages.contains("TCP message received"),
        "{}",
        tcp.describe()
    );
    assert!(
        tcp.messages.contains("SIP/2.0 200 OK"),
        "{}",
        tcp.describe()
    );

    let log = k.wait_log("MPPD-REGISTERED user=alice");
    let lines = k.script_lines();
    for proto in ["udp", "tcp"] {
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with(&format!("MPPD-REGISTER proto={proto} "))
                    && l.contains("authorization=[Digest username=\"alice\"")
                    && l.contains("algorithm=MD5")),
            "no authorised {proto} REGISTER line in:\n{log}"
        );
    }
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("MPPD-REGISTERED user=alice"))
            .count(),
        2,
        "{log}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("MPPD-CHALLENGE algorithm=MD5")),
        "{log}"
    );
}

#[test]
fn kamailio_refuses_a_wrong_password_with_403() {
    let k = Kamailio::builder().udp().start();
    let run = register_with_sipp(&k, SippTransport::Udp, k.udp_port(), "not-the-password");
    assert!(
        !run.success(),
        "a wrong password registered:\n{}",
        run.describe()
    );
    assert!(
        run.messages.contains("SIP/2.0 401 Unauthorized"),
        "{}",
        run.describe()
    );
    assert!(
        run.messages.contains("SIP/2.0 403 Forbidden"),
        "{}",
        run.describe()
    );
    assert!(!run.messages.contains("SIP/2.0 200"), "{}", run.describe());
    let log = k.wait_log("MPPD-REJECT");
    assert!(log.contains("MPPD-REJECT user=alice rc=-2"), "{log}");
    assert!(!log.contains("MPPD-REGISTERED"), "{log}");
    assert!(
        !log.contains("method=BYE"),
        "SIPp sent a BYE after the refusal:\n{log}"
    );

    // Another user name is refused too, before any password check.
    let peer = UdpPeer::new();
    let server = k.addr(k.udp_port());
    let challenge = peer.exchange(server, &register("UDP", peer.local(), "mallory", 1, ""));
    assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
    let auth = md5_authorization(&challenge, "mallory", DEFAULT_PASSWORD, "sip:mppd.test");
    let answer = peer.exchange(server, &register("UDP", peer.local(), "mallory", 2, &auth));
    assert!(answer.starts_with("SIP/2.0 403 Forbidden"), "{answer}");
    k.wait_log("MPPD-REJECT user=mallory rc=user");

    // A nonce kamailio did not issue: pv_www_authenticate says -1 (not -4 or -6), so 403.
    let challenge = peer.exchange(server, &register("UDP", peer.local(), "alice", 5, ""));
    let forged = md5_authorization(
        &challenge.replace(&param(&challenge, "nonce"), "bm90LWZyb20ta2FtYWlsaW8"),
        "alice",
        DEFAULT_PASSWORD,
        "sip:mppd.test",
    );
    let answer = peer.exchange(server, &register("UDP", peer.local(), "alice", 6, &forged));
    assert!(answer.starts_with("SIP/2.0 403 Forbidden"), "{answer}");
    k.wait_log("MPPD-REJECT user=alice rc=-1");

    // The right credentials from a raw client register (the digest computed here).
    let challenge = peer.exchange(server, &register("UDP", peer.local(), "alice", 3, ""));
    let auth = md5_authorization(&challenge, "alice", DEFAULT_PASSWORD, "sip:mppd.test");
    let answer = peer.exchange(server, &register("UDP", peer.local(), "alice", 4, &auth));
    assert!(answer.starts_with("SIP/2.0 200 OK"), "{answer}");
    assert!(
        answer.contains(&format!("<sip:alice@{}>;expires=300", peer.local())),
        "{answer}"
    );
}

#[test]
fn kamailio_sha256_challenge_says_sha256() {
    let k = Kamailio::builder()
        .algorithm("SHA-256")
        .user("bob", "bob-pw")
        .start();
    let peer = UdpPeer::new();
    let answer = peer.exchange(
        k.addr(k.udp_port()),
        &register("UDP", peer.local(), "bob", 1, ""),
    );
    assert!(answer.starts_with("SIP/2.0 401 Unauthorized"), "{answer}");
    let headers: Vec<&str> = answer
        .lines()
        .filter(|l| l.starts_with("WWW-Authenticate:"))
        .collect();
    assert_eq!(headers.len(), 1, "{answer}");
    assert!(headers[0].contains("algorithm=SHA-256"), "{answer}");
    assert!(headers[0].contains("realm=\"mppd.test\""), "{answer}");
    assert!(headers[0].contains("qop=\"auth\""), "{answer}");
    k.wait_log("MPPD-CHALLENGE algorithm=SHA-256 cseq=1");

    // An RFC 7616 SHA-256 answer registers; an MD5 answer to the SHA-256 challenge does not
    // (kamailio checks with its own algorithm, whatever `algorithm=` the answer states).
    let md5 = digest_authorization(
        &answer.replace("algorithm=SHA-256", "algorithm=MD5"),
        "MD5",
        "bob",
        "bob-pw",
        "sip:mppd.test",
    );
    let refused = peer.exchange(
        k.addr(k.udp_port()),
        &register("UDP", peer.local(), "bob", 2, &md5),
    );
    assert!(refused.starts_with("SIP/2.0 403"), "{refused}");
    let answer = peer.exchange(
        k.addr(k.udp_port()),
        &register("UDP", peer.local(), "bob", 3, ""),
    );
    let auth = digest_authorization(&answer, "SHA-256", "bob", "bob-pw", "sip:mppd.test");
    let ok = peer.exchange(
        k.addr(k.udp_port()),
        &register("UDP", peer.local(), "bob", 4, &auth),
    );
    assert!(ok.starts_with("SIP/2.0 200 OK"), "{ok}");
    let log = k.wait_log("MPPD-REGISTERED user=bob");
    assert!(log.contains("algorithm=SHA-256, qop=auth"), "{log}");
}

#[test]
fn kamailio_tls12_presents_the_test_certificate() {
    let ca = TestCa::new("sip peers CA");
    let (cert, key) = ca.issue_server(
        &["sip.mppd.test"],
        &[LOCALHOST],
        Some("sip.mppd.test"),
        Validity::Valid,
    );
    let k = Kamailio::builder().tls(&cert, &key).start();
    let local = SocketAddr::new(LOCALHOST, 5999);
    let out = s_client(
        k.tls_port(),
        &["-tls1_2", "-CAfile", ca.cert_path().to_str().unwrap()],
        &register("TLS", local, "alice", 1, ""),
        "WWW-Authenticate:",
    );
    assert!(has_subject(&out), "{out}");
    assert!(out.contains("Protocol  : TLSv1.2"), "{out}");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    assert!(out.contains("SIP/2.0 401 Unauthorized"), "{out}");
    k.wait_log("MPPD-REGISTER proto=tls");
}

#[test]
fn kamailio_tls11_only_accepts_tls11_and_refuses_tls12() {
    let ca = TestCa::new("sip peers CA 1.1");
    let (cert, key) = ca.issue_server(
        &["sip.mppd.test"],
        &[],
        Some("sip.mppd.test"),
        Validity::Valid,
    );
    let k = Kamailio::builder()
        .tls(&cert, &key)
        .tls_method("TLSv1.1")
        .cipher_list("DEFAULT:@SECLEVEL=0")
        .start();
    let ok = s_client(
        k.tls_port(),
        &["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"],
        "",
        "Verify return code",
    );
    assert!(has_subject(&ok), "{ok}");
    assert!(ok.contains("Protocol  : TLSv1.1"), "{ok}");

    let refused = s_client(k.tls_port(), &["-tls1_2"], "", "Verify return code");
    assert!(!has_subject(&refused), "{refused}");
    assert!(
        refused.contains("unsupported protocol") || refused.contains("alert protocol version"),
        "{refused}"
    );
}

#[test]
fn three_challenge_uas_sends_three_headers_in_key_order() {
    let mut uas = Sipp::uas(&scenario("uas_register_three_challenges.xml"))
        .key("alg1", "MD5")
        .key("alg2", "SHA-512-256")
        .key("alg3", "SHA-256")
        .timeout(Duration::from_secs(10))
        .start();
    let peer = UdpPeer::new();
    let challenge = peer.exchange(uas.addr(), &register("UDP", peer.local(), "alice", 1, ""));
    assert!(
        challenge.starts_with("SIP/2.0 401 Unauthorized"),
        "{challenge}"
    );
    let algorithms: Vec<String> = challenge
        .lines()
        .filter(|l| l.starts_with("WWW-Authenticate: Digest "))
        .map(|l| param(l, "algorithm"))
        .collect();
    assert_eq!(algorithms, ["MD5", "SHA-512-256", "SHA-256"], "{challenge}");
    let nonces: Vec<String> = challenge
        .lines()
        .filter(|l| l.starts_with("WWW-Authenticate: "))
        .map(|l| param(l, "nonce"))
        .collect();
    assert!(
        nonces[0].starts_with("mppd-1-") && nonces[2].starts_with("mppd-3-"),
        "{challenge}"
    );
    assert!(challenge.contains("realm=\"mppd.test\""), "{challenge}");

    let auth = md5_authorization(&challenge, "alice", "pw", "sip:mppd.test");
    let ok = peer.exchange(
        uas.addr(),
        &register("UDP", peer.local(), "alice", 2, &auth),
    );
    assert!(ok.starts_with("SIP/2.0 200 OK"), "{ok}");
    assert!(ok.contains(";expires=300"), "{ok}");
    let run = uas.wait();
    assert!(run.success(), "{}", run.describe());
    // The message log has the client's answer, for the test to recompute.
    assert!(
        run.messages
            .contains("Authorization: Digest username=\"alice\""),
        "{}",
        run.describe()
    );
}

#[test]
fn three_challenge_uas_fails_a_retry_without_authorization() {
    let mut uas = Sipp::uas(&scenario("uas_register_three_challenges.xml"))
        .key("alg1", "SHA-512-256")
        .key("alg2", "SHA-256")
        .key("alg3", "MD5")
        .timeout(Duration::from_secs(10))
        .start();
    let peer = UdpPeer::new();
    let challenge = peer.exchange(uas.addr(), &register("UDP", peer.local(), "alice", 1, ""));
    assert!(challenge.starts_with("SIP/2.0 401"), "{challenge}");
    peer.socket
        .send_to(
            register("UDP", peer.local(), "alice", 2, "").as_bytes(),
            uas.addr(),
        )
        .unwrap();
    let run = uas.wait();
    assert!(!run.success(), "{}", run.describe());
}

#[test]
fn socat_fronted_sipp_answers_over_tls() {
    let ca = TestCa::new("sip peers socat CA");
    let (cert, key) = ca.issue_server(
        &["sip.mppd.test"],
        &[LOCALHOST],
        Some("sip.mppd.test"),
        Validity::Valid,
    );
    let mut uas = Sipp::uas(&scenario("uas_register_three_challenges.xml"))
        .transport(SippTransport::Tcp)
        .key("alg1", "SHA-512-256")
        .key("alg2", "SHA-256")
        .key("alg3", "MD5")
        .timeout(Duration::from_secs(15))
        .start();
    let socat = SocatTls::start(&cert, &key, uas.port(), "");
    let local = SocketAddr::new(LOCALHOST, 5999);
    // The retry goes once the 401 is there (SIPp takes a pipelined request as unexpected).
    let retry = register(
        "TLS",
        local,
        "alice",
        2,
        "Authorization: Digest username=\"alice\", realm=\"mppd.test\", nonce=\"n\", \
         uri=\"sip:mppd.test\", response=\"0\", algorithm=MD5\r\n",
    );
    let first = register("TLS", local, "alice", 1, "");
    let out = s_client_steps(
        socat.port(),
        &["-CAfile", ca.cert_path().to_str().unwrap()],
        &[(&first, "algorithm=MD5"), (&retry, "SIP/2.0 200 OK")],
    );
    assert!(has_subject(&out), "{out}");
    assert!(out.contains("Verify return code: 0 (ok)"), "{out}");
    assert!(
        out.contains("SIP/2.0 401 Unauthorized"),
        "{out}\n--- SIPp:\n{}\n--- socat:\n{}",
        uas.messages(),
        socat.log()
    );
    let order: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("WWW-Authenticate: "))
        .map(|l| param(l, "algorithm"))
        .collect();
    assert_eq!(order, ["SHA-512-256", "SHA-256", "MD5"], "{out}");
    // SIPp saw the request arrive over TCP from socat.
    let messages = uas.messages();
    assert!(messages.contains("TCP message received"), "{messages}");
    assert!(
        messages.contains("Via: SIP/2.0/TLS 127.0.0.1:5999"),
        "{messages}"
    );
    assert!(out.contains("SIP/2.0 200 OK"), "{out}");
    let run = uas.wait();
    assert!(run.success(), "{}", run.describe());
    assert!(
        socat.log().contains("accepting connection"),
        "{}",
        socat.log()
    );
}

#[test]
fn mediasec_uas_answers_security_server() {
    let mut uas = Sipp::uas(&scenario("uas_register_mediasec.xml"))
        .timeout(Duration::from_secs(10))
        .start();
    let peer = UdpPeer::new();
    let extra =
        "Security-Client: sdes-srtp;mediasec\r\nRequire: mediasec\r\nProxy-Require: mediasec\r\n";
    let ok = peer.exchange(
        uas.addr(),
        &register("UDP", peer.local(), "alice", 1, extra),
    );
    assert!(ok.starts_with("SIP/2.0 200 OK"), "{ok}");
    assert!(
        ok.contains("\r\nSecurity-Server: sdes-srtp;mediasec\r\n"),
        "{ok}"
    );
    let run = uas.wait();
    assert!(run.success(), "{}", run.describe());
    assert!(
        run.messages.contains("Proxy-Require: mediasec"),
        "{}",
        run.describe()
    );

    // Without a mediasec Security-Client the call fails.
    let mut uas = Sipp::uas(&scenario("uas_register_mediasec.xml"))
        .timeout(Duration::from_secs(10))
        .start();
    peer.socket
        .send_to(
            register("UDP", peer.local(), "alice", 1, "").as_bytes(),
            uas.addr(),
        )
        .unwrap();
    let run = uas.wait();
    assert!(!run.success(), "{}", run.describe());
}

#[test]
fn mediasec_494_uas_wants_security_verify() {
    let mut uas = Sipp::uas(&scenario("uas_register_mediasec_494.xml"))
        .timeout(Duration::from_secs(10))
        .start();
    let peer = UdpPeer::new();
    let first = peer.exchange(uas.addr(), &register("UDP", peer.local(), "alice", 1, ""));
    assert!(
        first.starts_with("SIP/2.0 494 Security Agreement Required"),
        "{first}"
    );
    assert!(
        first.contains("\r\nSecurity-Server: sdes-srtp;mediasec\r\n"),
        "{first}"
    );
    let extra = "Security-Client: sdes-srtp;mediasec\r\nSecurity-Verify: sdes-srtp;mediasec\r\n\
                 Require: mediasec\r\nProxy-Require: mediasec\r\n";
    let ok = peer.exchange(
        uas.addr(),
        &register("UDP", peer.local(), "alice", 2, extra),
    );
    assert!(ok.starts_with("SIP/2.0 200 OK"), "{ok}");
    let run = uas.wait();
    assert!(run.success(), "{}", run.describe());

    // A retry without Security-Verify fails the scenario.
    let mut uas = Sipp::uas(&scenario("uas_register_mediasec_494.xml"))
        .timeout(Duration::from_secs(10))
        .start();
    let first = peer.exchange(uas.addr(), &register("UDP", peer.local(), "alice", 3, ""));
    assert!(first.starts_with("SIP/2.0 494"), "{first}");
    peer.socket
        .send_to(
            register("UDP", peer.local(), "alice", 4, "").as_bytes(),
            uas.addr(),
        )
        .unwrap();
    let run = uas.wait();
    assert!(!run.success(), "{}", run.describe());
}

/// Registers `user` at kamailio with the contact of a SIPp UAS (raw REGISTER with MD5).
fn register_contact(k: &Kamailio, contact: SocketAddr) {
    let peer = UdpPeer::new();
    let server = k.addr(k.udp_port());
    let user = k.user();
    let with_contact = |cseq: u32, extra: &str| {
        register("UDP", peer.local(), user, cseq, extra).replace(
            &format!("Contact: <sip:{user}@{}>", peer.local()),
            &format!("Contact: <sip:{user}@{contact}>"),
        )
    };
    let challenge = peer.exchange(server, &with_contact(1, ""));
    let auth = md5_authorization(&challenge, user, k.password(), "sip:mppd.test");
    let ok = peer.exchange(server, &with_contact(2, &auth));
    assert!(ok.starts_with("SIP/2.0 200 OK"), "{ok}");
    assert!(ok.contains(&format!("<sip:{user}@{contact}>")), "{ok}");
}

#[test]
fn auth_invite_through_kamailio_is_answered_or_refused() {
    for (scenario_name, password, answered) in [
        ("uac_invite_auth.xml", "bob-pw", true),
        ("uac_invite_no_answer.xml", "wrong-pw", false),
    ] {
        // A kamailio of its own: the first callee's binding would still be in its usrloc.
        let k = Kamailio::builder().user("bob", "bob-pw").start();
        let kamailio = k.addr(k.udp_port());
        let mut callee = Sipp::uas(&scenario("uas_invite_auth_md5.xml"))
            .key("user", "bob")
            .key("password", "bob-pw")
            .timeout(Duration::from_secs(15))
            .start();
        register_contact(&k, callee.addr());
        let mut caller = Sipp::uac(&scenario(scenario_name), "bob", kamailio)
            .credentials("bob", password)
            .arg("-auth_uri")
            .arg(&format!("sip:bob@{kamailio}"))
            .timeout(Duration::from_secs(15))
            .start();
        let c = caller.wait();
        assert!(c.success(), "{scenario_name}:\n{}", c.describe());
        let e = callee.wait();
        assert!(e.success(), "callee of {scenario_name}:\n{}", e.describe());
        assert!(
            c.messages.contains("SIP/2.0 401 Unauthorized"),
            "{}",
            c.describe()
        );
        assert_eq!(
            c.messages.contains("SIP/2.0 180 Ringing"),
            answered,
            "{}",
            c.describe()
        );
        assert_eq!(
            e.messages.contains("BYE sip:"),
            answered,
            "{}",
            e.describe()
        );
        assert_eq!(
            !answered,
            c.messages.contains("SIP/2.0 403 Forbidden"),
            "{}",
            c.describe()
        );
        let log = k.log();
        assert!(
            log.contains(&format!(
                "MPPD-RELAY method=INVITE ruri=sip:bob@{} proto=udp",
                callee.addr()
            )),
            "{log}"
        );
    }
}

#[test]
fn kamailio_answers_404_for_an_unregistered_user_and_stops_on_drop() {
    let k = Kamailio::builder().tcp().start();
    let pid = k.pid();
    let cfg = k.config_path().to_owned();
    let peer = UdpPeer::new();
    let invite = format!(
        "INVITE sip:nobody@{DOMAIN} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {local};branch=z9hG4bK-selftest-inv\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:x@{DOMAIN}>;tag=x\r\n\
         To: <sip:nobody@{DOMAIN}>\r\n\
         Call-ID: selftest-404@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:x@{local}>\r\n\
         Content-Length: 0\r\n\r\n",
        local = peer.local()
    );
    let answer = peer.exchange(k.addr(k.udp_port()), &invite);
    assert!(answer.starts_with("SIP/2.0 404 Not Found"), "{answer}");
    drop(k);
    let cmdline_has_cfg = |p: &str| {
        std::fs::read(format!("/proc/{p}/cmdline"))
            .map(|c| String::from_utf8_lossy(&c).contains(cfg.to_str().unwrap()))
            .unwrap_or(false)
    };
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|p| p.parse::<u32>().is_ok() && cmdline_has_cfg(p))
        .collect();
    assert!(left.is_empty(), "kamailio {pid} left processes: {left:?}");
    assert!(!cfg.exists(), "its temp dir is still there");
}

/// Reads from `stream` until the text holds a whole message starting with `start` (headers
/// and an empty body), for at most 5 s.
fn read_tcp_until(stream: &mut TcpStream, start: &str) -> String {
    stream
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let begin = Instant::now();
    let mut text = String::new();
    loop {
        if let Some(i) = text.find(start)
            && text[i..].contains("\r\n\r\n")
        {
            return text[i..].to_owned();
        }
        assert!(
            begin.elapsed() < Duration::from_secs(5),
            "no {start:?} on the TCP connection; got:\n{text}"
        );
        let mut buf = [0u8; 8192];
        match stream.read(&mut buf) {
            Ok(0) => panic!("the TCP connection closed; got:\n{text}"),
            Ok(n) => text.push_str(&String::from_utf8_lossy(&buf[..n])),
            Err(_) => {}
        }
    }
}

#[test]
fn kamailio_relays_to_a_tcp_registrant_over_its_own_connection() {
    let k = Kamailio::builder().user("carol", "carol-pw").tcp().start();
    let mut tcp = TcpStream::connect(k.addr(k.tcp_port())).unwrap();
    let local = tcp.local_addr().unwrap();
    // The Contact names a port nobody listens on: the INVITE must come over this connection.
    let contact = SocketAddr::new(LOCALHOST, 9);
    let with_contact = |cseq: u32, extra: &str| {
        register("TCP", local, "carol", cseq, extra).replace(
            &format!("Contact: <sip:carol@{local}>"),
            &format!("Contact: <sip:carol@{contact};transport=tcp>"),
        )
    };
    tcp.write_all(with_contact(1, "").as_bytes()).unwrap();
    let challenge = read_tcp_until(&mut tcp, "SIP/2.0 401");
    let auth = md5_authorization(&challenge, "carol", "carol-pw", "sip:mppd.test");
    tcp.write_all(with_contact(2, &auth).as_bytes()).unwrap();
    let ok = read_tcp_until(&mut tcp, "SIP/2.0 200");
    assert!(ok.contains("transport=tcp>;expires=300"), "{ok}");
    // The binding remembers the connection's source address.
    assert!(
        ok.contains(&format!(";received=\"sip:{local};transport=tcp\"")),
        "{ok}"
    );

    let caller = UdpPeer::new();
    let invite = format!(
        "INVITE sip:carol@{DOMAIN} SIP/2.0\r\n\
         Via: SIP/2.0/UDP {me};branch=z9hG4bK-selftest-tcp\r\n\
         Max-Forwards: 70\r\n\
         From: <sip:x@{DOMAIN}>;tag=x\r\n\
         To: <sip:carol@{DOMAIN}>\r\n\
         Call-ID: selftest-tcp@127.0.0.1\r\n\
         CSeq: 1 INVITE\r\n\
         Contact: <sip:x@{me}>\r\n\
         Content-Length: 0\r\n\r\n",
        me = caller.local()
    );
    caller
        .socket
        .send_to(invite.as_bytes(), k.addr(k.udp_port()))
        .unwrap();
    let relayed = read_tcp_until(&mut tcp, "INVITE sip:carol@");
    assert!(
        relayed.starts_with(&format!("INVITE sip:carol@{contact};transport=tcp SIP/2.0")),
        "{relayed}"
    );
    assert!(relayed.contains("Via: SIP/2.0/TCP 127.0.0.1:"), "{relayed}");

    // A final answer on the connection reaches the caller.
    let mut busy = String::from("SIP/2.0 486 Busy Here\r\n");
    for line in relayed.lines().take_while(|l| !l.is_empty()) {
        if ["Via:", "From:", "To:", "Call-ID:", "CSeq:"]
            .iter()
            .any(|h| line.starts_with(h))
        {
            busy.push_str(line);
            if line.starts_with("To:") {
                busy.push_str(";tag=carol");
            }
            busy.push_str("\r\n");
        }
    }
    busy.push_str("Content-Length: 0\r\n\r\n");
    tcp.write_all(busy.as_bytes()).unwrap();
    caller
        .socket
        .set_read_timeout(Some(Duration::from_secs(5)))
        .unwrap();
    let mut buf = [0u8; 4096];
    let answer = loop {
        let (n, _) = caller.socket.recv_from(&mut buf).unwrap();
        let text = String::from_utf8_lossy(&buf[..n]).into_owned();
        if !text.starts_with("SIP/2.0 1") {
            break text;
        }
    };
    assert!(answer.starts_with("SIP/2.0 486 Busy Here"), "{answer}");
    k.wait_log("MPPD-RELAY method=INVITE ruri=sip:carol@127.0.0.1:9;transport=tcp proto=udp");
}
