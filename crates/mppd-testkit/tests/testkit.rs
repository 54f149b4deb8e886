#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The test kit checked against OpenSSL's own tools: the certificates say what they were asked
//! to say, the servers speak what they were pinned to, and dropping a server stops it.

use std::net::{IpAddr, Ipv4Addr, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use mppd_testkit::{Nginx, OpensslServer, ServerVersion, TestCa, Validity};

fn openssl(args: &[&str]) -> Output {
    Command::new("openssl")
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}\n--- stdout:\n{}\n--- stderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn p(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[test]
fn certificates_verify_as_issued() {
    let ca = TestCa::new("testkit CA");
    let other = TestCa::new("testkit other CA");
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let (cert, _key) = ca.issue_server(&["a.example.test"], &[ip], Some("cn"), Validity::Valid);

    let o = openssl(&[
        "verify",
        "-CAfile",
        p(&ca.cert_path()),
        "-purpose",
        "sslserver",
        "-verify_hostname",
        "a.example.test",
        p(&cert),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = openssl(&[
        "verify",
        "-CAfile",
        p(&ca.cert_path()),
        "-verify_ip",
        "127.0.0.1",
        p(&cert),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    // The CN is not a name when there is a DNS SAN.
    let o = openssl(&[
        "verify",
        "-CAfile",
        p(&ca.cert_path()),
        "-verify_hostname",
        "cn",
        p(&cert),
    ]);
    assert!(!o.status.success(), "{}", text(&o));
    // Another CA does not vouch for it.
    let o = openssl(&["verify", "-CAfile", p(&other.cert_path()), p(&cert)]);
    assert!(!o.status.success(), "{}", text(&o));

    let (expired, _) = ca.issue_server(&["a.example.test"], &[], None, Validity::Expired);
    let o = openssl(&["verify", "-CAfile", p(&ca.cert_path()), p(&expired)]);
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("certificate has expired")
            || String::from_utf8_lossy(&o.stderr).contains("certificate has expired"),
        "{}",
        text(&o)
    );

    let (future, _) = ca.issue_server(&["a.example.test"], &[], None, Validity::NotYetValid);
    let o = openssl(&["verify", "-CAfile", p(&ca.cert_path()), p(&future)]);
    assert!(
        text(&o).contains("certificate is not yet valid"),
        "{}",
        text(&o)
    );

    let (cn_only, _) = ca.issue_server_cn_only("only.example.test/mailto:x@y", Validity::Valid);
    let o = openssl(&[
        "x509",
        "-in",
        p(&cn_only),
        "-noout",
        "-subject",
        "-ext",
        "subjectAltName",
    ]);
    let t = text(&o);
    assert!(t.contains("CN = only.example.test/mailto:x@y"), "{t}");
    assert!(!t.contains("Subject Alternative Name"), "{t}");
}

#[test]
fn s_server_is_pinned_and_stops_on_drop() {
    let ca = TestCa::new("testkit s_server CA");
    let (cert, key) = ca.issue_server(&["localhost"], &[], None, Validity::Valid);
    let server = OpensslServer::builder(&cert, &key)
        .version(ServerVersion::Tls1_2)
        .start();
    let addr = server.addr().to_string();
    let ca_pem = ca.cert_path();
    let ok = openssl(&[
        "s_client",
        "-brief",
        "-connect",
        &addr,
        "-CAfile",
        p(&ca_pem),
        "-verify_return_error",
    ]);
    assert!(
        text(&ok).contains("Protocol version: TLSv1.2"),
        "{}\n{}",
        text(&ok),
        server.output()
    );
    let refused = openssl(&["s_client", "-brief", "-connect", &addr, "-tls1_3"]);
    assert!(!refused.status.success(), "{}", text(&refused));

    let pid = server.pid();
    let at = server.addr();
    drop(server);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "s_server {pid} still runs"
    );
    assert!(TcpStream::connect(at).is_err(), "{at} still accepts");
}

#[test]
fn nginx_requires_the_client_certificate() {
    let ca = TestCa::new("testkit nginx CA");
    let (cert, key) = ca.issue_server(&["localhost"], &[], None, Validity::Valid);
    let nginx = Nginx::builder(&cert, &key)
        .require_client_cert(&ca.cert_path())
        .start();
    let addr = nginx.addr().to_string();
    let (client, client_key) = ca.issue_client("client", Validity::Valid);
    let request = |extra: &[&str]| {
        let mut c = Command::new("openssl");
        c.args([
            "s_client",
            "-quiet",
            "-connect",
            &addr,
            "-servername",
            "localhost",
        ])
        .args(extra)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        let mut child = c.spawn().unwrap();
        use std::io::Write as _;
        child
            .stdin
            .take()
            .unwrap()
            .write_all(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            .unwrap();
        let o = child.wait_with_output().unwrap();
        String::from_utf8_lossy(&o.stdout).into_owned()
    };
    let without = request(&[]);
    assert!(
        without.starts_with("HTTP/1.1 400"),
        "{without}\n{}",
        nginx.error_log()
    );
    let with = request(&["-cert", p(&client), "-key", p(&client_key)]);
    assert!(
        with.starts_with("HTTP/1.1 200"),
        "{with}\n{}",
        nginx.error_log()
    );
    let log = nginx.access_log();
    assert!(
        log.contains("client_verify=SUCCESS client_s_dn=\"CN=client,O=mppd tests\""),
        "{log}"
    );

    let pid = nginx.pid();
    drop(nginx);
    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "nginx {pid} still runs"
    );
}
