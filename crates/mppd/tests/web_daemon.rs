#![allow(clippy::unwrap_used, clippy::expect_used)]
//! `mppd run --web-listen 127.0.0.1` serves the admin web UI over HTTPS (issue 7 items 1 and 4,
//! and its HTTPS must-show): the login page answers 200 over TLS with the web server's policy
//! (self-signed certificate made into `STATE/web/`); `openssl s_client -tls1_1` is refused with
//! the default `TLS_Server_Min_Version` (TLS 1.2) and accepted when it is TLS 1.1; without
//! `--web-listen` nothing listens.

mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::BIN;
use mppd_testkit::mppd::profile_xml;
use mppd_testkit::process::free_port;
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use tempfile::TempDir;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

struct Daemon {
    child: Child,
    port: u16,
    state: PathBuf,
    _dir: TempDir,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(extra: &[(&str, &str)], web: bool) -> Daemon {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    fs::create_dir_all(&state).unwrap();
    let port = free_port(LOCALHOST);
    let port_s = port.to_string();
    let mut params: Vec<(&str, &str)> = vec![("Web_Server_Port", &port_s)];
    params.extend_from_slice(extra);
    let profile = dir.path().join("p.xml");
    fs::write(&profile, profile_xml(&params)).unwrap();
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&state)
        .args(["config", "apply", "--replace"])
        .arg(&profile)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let mut cmd = Command::new(BIN);
    cmd.arg("--state-dir").arg(&state).arg("run");
    if web {
        cmd.args(["--web-listen", "127.0.0.1"]);
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let d = Daemon {
        child,
        port,
        state,
        _dir: dir,
    };
    // The daemon answers on its socket once it runs (the web server starts before).
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let ok = Command::new(BIN)
            .arg("--state-dir")
            .arg(&d.state)
            .args(["status", "--format", "json"])
            .output()
            .unwrap()
            .status
            .success();
        if ok {
            break;
        }
        assert!(Instant::now() < deadline, "the daemon did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    d
}

fn get_over_tls(port: u16, path: &str) -> String {
    let mut b = SslConnector::builder(SslMethod::tls_client()).unwrap();
    b.set_verify(SslVerifyMode::NONE);
    let connector = b.build();
    let tcp = TcpStream::connect(SocketAddr::new(LOCALHOST, port)).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut tls = connector
        .configure()
        .unwrap()
        .verify_hostname(false)
        .connect("localhost", tcp)
        .unwrap();
    write!(
        tls,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut out = Vec::new();
    let _ = tls.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

fn s_client(port: u16, args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success() && !text.contains("alert"), text)
}

#[test]
fn the_daemon_serves_the_login_page_over_https() {
    let d = start(&[], true);
    let page = get_over_tls(d.port, "/");
    assert!(page.starts_with("HTTP/1.1 200"), "{page}");
    assert!(page.to_ascii_lowercase().contains("password"), "{page}");
    // Everything else needs a session.
    let status = get_over_tls(d.port, "/status.json");
    assert!(!status.starts_with("HTTP/1.1 200"), "{status}");
    assert!(d.state.join("web/server.pem").is_file());
}

#[test]
fn tls_1_1_clients_need_tls_server_min_version_1_1() {
    let strict = start(&[], true);
    let (ok, text) = s_client(strict.port, &["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]);
    assert!(!ok, "TLS 1.1 must be refused by default:\n{text}");
    let (ok, text) = s_client(strict.port, &["-tls1_2"]);
    assert!(ok, "TLS 1.2 must work:\n{text}");

    let old = start(&[("TLS_Server_Min_Version", "TLS 1.1")], true);
    let (ok, text) = s_client(old.port, &["-tls1_1", "-cipher", "DEFAULT:@SECLEVEL=0"]);
    assert!(
        ok && text.contains("TLSv1.1"),
        "TLS 1.1 must be accepted:\n{text}"
    );
}

#[test]
fn without_web_listen_nothing_listens() {
    let d = start(&[], false);
    assert!(
        TcpStream::connect_timeout(&SocketAddr::new(LOCALHOST, d.port), Duration::from_secs(1))
            .is_err(),
        "no web UI without --web-listen"
    );
}

/// A reload that changes `Web_Server_Port` starts the web UI again on the new port (its
/// settings are applied live), and the status reports the web UI task.
#[test]
fn a_new_web_server_port_is_applied_on_reload() {
    let d = start(&[], true);
    assert!(get_over_tls(d.port, "/").starts_with("HTTP/1.1 200"));
    let new_port = free_port(LOCALHOST);
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&d.state)
        .args(["config", "set", &format!("Web_Server_Port={new_port}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let ok = Command::new("kill")
        .args(["-HUP", &d.child.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let up = TcpStream::connect_timeout(
            &SocketAddr::new(LOCALHOST, new_port),
            Duration::from_millis(200),
        )
        .is_ok();
        if up {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the web UI never moved to {new_port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(get_over_tls(new_port, "/").starts_with("HTTP/1.1 200"));
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&d.state)
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["web_ui"][0]["name"], "web UI", "{v}");
    assert_eq!(v["web_ui"][0]["running"], true, "{v}");
}
