#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Provisioning through the HTTP proxy for real (issue 8): `mppd provision --once` with a
//! profile whose `Proxy_Mode` is Manual, Auto or Off, against nginx over HTTPS with the
//! device certificate (and over plain HTTP), through tinyproxy and squid with Basic auth, all
//! started by the tests on 127.0.0.1 and stopped by PID. Each test checks what a user would:
//! the profile is applied (or not), the proxy's own log shows the `CONNECT` (or the absolute
//! URI), the error names what failed, and no password shows in the output.

mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use common::BIN;
use mppd_testkit::mppd::profile_xml;
use mppd_testkit::process::free_port;
use mppd_testkit::proxy::{Squid, Tinyproxy};
use mppd_testkit::{Nginx, TestCa, Validity};
use tempfile::TempDir;

const MAC: &str = "00:11:22:33:44:AB";
const USER: &str = "phone";
const PASS: &str = "Pr0xy-S3cret";
const WRONG: &str = "Wr0ng-Pa55word";

struct Phone {
    _dir: TempDir,
    state: PathBuf,
}

impl Phone {
    /// A phone trusting `ca`, with a device certificate from `ca`, whose stored profile has
    /// `params` and `Station_Name` "before".
    fn new(ca: &TestCa, params: &[(&str, &str)]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        fs::create_dir_all(&state).unwrap();
        ca.install_into(&state, "test-ca.pem");
        mppd_testkit::mppd::create_identity(
            Path::new(BIN),
            &state,
            ca,
            MAC,
            "FCH1234ABCD",
            "CP-8851-3PCC",
        );
        let mut all: Vec<(&str, &str)> = params.to_vec();
        all.push(("Station_Name", "before"));
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
        Self { _dir: dir, state }
    }

    fn value(&self, name: &str) -> Option<String> {
        let stored = fs::read(self.state.join("profile.xml")).unwrap();
        mppd_config::Profile::parse(&stored)
            .unwrap()
            .get(name)
            .map(|e| e.value.clone())
    }

    fn mppd(&self, args: &[&str]) -> (i32, String, String) {
        let out = Command::new(BIN)
            .arg("--state-dir")
            .arg(&self.state)
            .args(args)
            .env_remove("MPPD_LOG")
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        );
        for secret in [PASS, WRONG] {
            assert!(
                !stdout.contains(secret) && !stderr.contains(secret),
                "a proxy password shows in the output:\n{stdout}\n{stderr}"
            );
        }
        (out.status.code().unwrap_or(-1), stdout, stderr)
    }

    fn provision(&self, rule: &str) -> (i32, String, String) {
        self.mppd(&["provision", "--once", "--rule", rule])
    }
}

/// nginx for `localhost` issued by `ca`, requiring the device certificate (HTTPS) or plain
/// HTTP, serving `/prov/SEP.xml` (Station_Name "proxied") and `extra` files under `/prov/`.
fn server(ca: &TestCa, https: bool, extra: &[(&str, &str)]) -> Nginx {
    let (cert, key) = ca.issue_server(&["localhost"], &[], Some("localhost"), Validity::Valid);
    let mut b = Nginx::builder(&cert, &key);
    b = if https {
        b.require_client_cert(&ca.cert_path())
    } else {
        b.plain_http()
    };
    let n = b.locations("location /prov/ { }\n").start();
    let dir = n.html_dir().join("prov");
    fs::create_dir_all(&dir).unwrap();
    fs::write(
        dir.join("SEP.xml"),
        profile_xml(&[("Station_Name", "proxied")]),
    )
    .unwrap();
    for (name, body) in extra {
        fs::write(dir.join(name), body).unwrap();
    }
    n
}

fn wait_for(what: &str, needle: &str, read: impl Fn() -> String) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = read();
        if text.contains(needle) {
            return text;
        }
        assert!(
            Instant::now() < deadline,
            "{what} does not show {needle:?}:\n{text}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn manual(port: u16, auth: Option<&str>) -> Vec<(&'static str, String)> {
    let mut p = vec![
        ("Proxy_Mode", "Manual".to_owned()),
        ("Proxy_Host", "127.0.0.1".to_owned()),
        ("Proxy_Port", port.to_string()),
    ];
    if let Some(pass) = auth {
        p.push(("Proxy_Server_Requires_Authentication", "Yes".to_owned()));
        p.push(("Proxy_Username", USER.to_owned()));
        p.push(("Proxy_Password", pass.to_owned()));
    }
    p
}

fn refs<'a>(p: &'a [(&'static str, String)]) -> Vec<(&'static str, &'a str)> {
    p.iter().map(|(k, v)| (*k, v.as_str())).collect()
}

/// Manual with tinyproxy and Basic auth: the right password provisions through a CONNECT the
/// proxy logs; a wrong one (tinyproxy answers 401) and none at all (407) fail, saying so,
/// and change nothing.
#[test]
fn manual_tinyproxy_with_basic_auth() {
    let ca = TestCa::new("mppd proxy test CA");
    let nginx = server(&ca, true, &[]);
    let proxy = Tinyproxy::builder()
        .basic_auth(USER, PASS)
        .connect_port(nginx.port())
        .start();
    let rule = format!("https://localhost:{}/prov/SEP.xml", nginx.port());

    let phone = Phone::new(&ca, &refs(&manual(proxy.port(), Some(PASS))));
    let (code, stdout, stderr) = phone.provision(&rule);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(phone.value("Station_Name").as_deref(), Some("proxied"));
    proxy.wait_log(&format!("CONNECT localhost:{} HTTP/1.1", nginx.port()));
    // The request reached nginx over TLS with the device certificate, through the tunnel.
    wait_for("nginx's access log", "GET /prov/SEP.xml", || {
        nginx.access_log()
    });

    let wrong = Phone::new(&ca, &refs(&manual(proxy.port(), Some(WRONG))));
    let (code, stdout, stderr) = wrong.provision(&rule);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains(&format!("HTTP proxy PROXY 127.0.0.1:{}", proxy.port()))
            && stderr.contains("refused the credentials of Proxy_Username \"phone\""),
        "{stderr}"
    );
    assert_eq!(wrong.value("Station_Name").as_deref(), Some("before"));

    let none = Phone::new(&ca, &refs(&manual(proxy.port(), None)));
    let (code, stdout, stderr) = none.provision(&rule);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("requires authentication (HTTP 407)")
            && stderr.contains("Proxy_Server_Requires_Authentication is No"),
        "{stderr}"
    );
    assert_eq!(none.value("Station_Name").as_deref(), Some("before"));
}

/// Manual with squid and Basic auth (basic_ncsa_auth): right password provisions, squid's
/// access log shows the CONNECT as the authenticated user; a wrong one fails (407).
#[test]
fn manual_squid_with_basic_auth() {
    let ca = TestCa::new("mppd proxy test CA");
    let nginx = server(&ca, true, &[]);
    let squid = Squid::start(USER, PASS);
    let rule = format!("https://localhost:{}/prov/SEP.xml", nginx.port());

    let phone = Phone::new(&ca, &refs(&manual(squid.port(), Some(PASS))));
    let (code, stdout, stderr) = phone.provision(&rule);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(phone.value("Station_Name").as_deref(), Some("proxied"));
    let log = squid.wait_log(&format!("CONNECT localhost:{}", nginx.port()));
    assert!(log.contains(USER), "squid logs the user:\n{log}");

    let wrong = Phone::new(&ca, &refs(&manual(squid.port(), Some(WRONG))));
    let (code, stdout, stderr) = wrong.provision(&rule);
    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("refused the credentials of Proxy_Username \"phone\" (HTTP 407)"),
        "{stderr}"
    );
    assert_eq!(wrong.value("Station_Name").as_deref(), Some("before"));
}

/// Manual over plain http: the request goes to the proxy in absolute-URI form.
#[test]
fn manual_plain_http_uses_the_absolute_uri() {
    let ca = TestCa::new("mppd proxy test CA");
    let nginx = server(&ca, false, &[]);
    let proxy = Tinyproxy::builder().start();
    let phone = Phone::new(&ca, &refs(&manual(proxy.port(), None)));
    let url = format!("http://localhost:{}/prov/SEP.xml", nginx.port());
    let (code, stdout, stderr) = phone.provision(&url);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(phone.value("Station_Name").as_deref(), Some("proxied"));
    proxy.wait_log(&format!("GET {url} HTTP/1.1"));
}

/// Off (with a Proxy_Host set all the same): direct; the proxy sees nothing.
#[test]
fn off_goes_direct() {
    let ca = TestCa::new("mppd proxy test CA");
    let nginx = server(&ca, true, &[]);
    let proxy = Tinyproxy::builder().start();
    let mut params = manual(proxy.port(), None);
    params[0].1 = "Off".to_owned();
    let phone = Phone::new(&ca, &refs(&params));
    let (code, stdout, stderr) =
        phone.provision(&format!("https://localhost:{}/prov/SEP.xml", nginx.port()));
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(phone.value("Station_Name").as_deref(), Some("proxied"));
    wait_for("nginx's access log", "GET /prov/SEP.xml", || {
        nginx.access_log()
    });
    let log = proxy.log();
    assert!(
        !log.contains("Request ("),
        "Off must not use the proxy:\n{log}"
    );
}

/// Auto with PAC_URL: the PAC file (served over http) sends the provisioning host to a dead
/// proxy first, then to tinyproxy: the phone fails over and provisions through tinyproxy.
/// `mppd proxy find` shows the same decision. A hostile PAC file (an endless loop) gives a
/// warning and DIRECT, and provisioning still works.
#[test]
fn auto_pac_url_routes_as_the_pac_file_says() {
    let ca = TestCa::new("mppd proxy test CA");
    let nginx = server(&ca, true, &[]);
    let proxy = Tinyproxy::builder().start();
    let dead = free_port("127.0.0.1".parse().unwrap());
    let pac = format!(
        "function FindProxyForURL(url, host) {{\n\
         if (host == \"localhost\" && shExpMatch(url, \"https://*/prov/*\"))\n\
             return \"PROXY 127.0.0.1:{dead}; PROXY 127.0.0.1:{}; DIRECT\";\n\
         return \"DIRECT\";\n}}\n",
        proxy.port()
    );
    let hostile = "function FindProxyForURL(url, host) { while (true) {} }\n";
    let pac_server = server(&ca, false, &[("proxy.pac", &pac), ("loop.pac", hostile)]);
    let pac_url = format!("http://127.0.0.1:{}/prov/proxy.pac", pac_server.port());
    let phone = Phone::new(
        &ca,
        &[
            ("Proxy_Mode", "Auto"),
            ("Use_Auto_Discovery__WPAD_", "No"),
            ("PAC_URL", &pac_url),
        ],
    );
    let rule = format!("https://localhost:{}/prov/SEP.xml", nginx.port());
    let (code, stdout, stderr) = phone.provision(&rule);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert_eq!(phone.value("Station_Name").as_deref(), Some("proxied"));
    proxy.wait_log(&format!("CONNECT localhost:{} HTTP/1.1", nginx.port()));

    let (code, stdout, stderr) = phone.mppd(&["proxy", "find", &rule]);
    assert_eq!(code, 0, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert_eq!(
        lines,
        [
            format!(
                "PROXY 127.0.0.1:{dead}; PROXY 127.0.0.1:{}; DIRECT",
                proxy.port()
            )
            .as_str(),
            &format!("proxy: PROXY 127.0.0.1:{dead}"),
            &format!("fallback: PROXY 127.0.0.1:{}", proxy.port()),
            "fallback: DIRECT",
            &format!("pac: {pac_url}"),
        ],
        "{stderr}"
    );
    let (_, stdout, _) = phone.mppd(&["proxy", "find", "http://elsewhere.example/"]);
    assert_eq!(
        stdout.lines().take(2).collect::<Vec<_>>(),
        ["DIRECT", "proxy: DIRECT"]
    );

    // A hostile PAC file: DIRECT with a warning, within the time limit.
    let loop_url = format!("http://127.0.0.1:{}/prov/loop.pac", pac_server.port());
    let looping = Phone::new(
        &ca,
        &[
            ("Proxy_Mode", "Auto"),
            ("Use_Auto_Discovery__WPAD_", "No"),
            ("PAC_URL", &loop_url),
        ],
    );
    let t0 = Instant::now();
    let (code, stdout, stderr) = looping.provision(&rule);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(t0.elapsed() < Duration::from_secs(10), "{:?}", t0.elapsed());
    assert!(
        stderr.contains("PAC evaluation timed out") && stderr.contains("using DIRECT"),
        "{stderr}"
    );
    assert_eq!(looping.value("Station_Name").as_deref(), Some("proxied"));
}

/// A PAC `HTTPS host:port` entry: the phone speaks TLS to the proxy (socat terminating TLS in
/// front of tinyproxy here, its certificate from the test CA and checked by name), then
/// `CONNECT` inside, then TLS with the provisioning server inside the tunnel.
#[test]
fn auto_https_proxy_entry_speaks_tls_to_the_proxy() {
    let ca = TestCa::new("mppd proxy test CA");
    let nginx = server(&ca, true, &[]);
    let proxy = Tinyproxy::builder().start();
    let (cert, key) = ca.issue_server(
        &["proxy.mppd.test"],
        &["127.0.0.1".parse().unwrap()],
        None,
        Validity::Valid,
    );
    let tls = mppd_testkit::sipp::SocatTls::start(&cert, &key, proxy.port(), "");
    let pac = format!(
        "function FindProxyForURL(url, host) {{ return \"HTTPS 127.0.0.1:{}\"; }}\n",
        tls.port()
    );
    let pac_server = server(&ca, false, &[("https.pac", &pac)]);
    let pac_url = format!("http://127.0.0.1:{}/prov/https.pac", pac_server.port());
    let phone = Phone::new(
        &ca,
        &[
            ("Proxy_Mode", "Auto"),
            ("Use_Auto_Discovery__WPAD_", "No"),
            ("PAC_URL", &pac_url),
        ],
    );
    let (code, stdout, stderr) =
        phone.provision(&format!("https://localhost:{}/prov/SEP.xml", nginx.port()));
    assert_eq!(code, 0, "{stdout}\n{stderr}\n{}", tls.log());
    assert_eq!(phone.value("Station_Name").as_deref(), Some("proxied"));
    proxy.wait_log(&format!("CONNECT localhost:{} HTTP/1.1", nginx.port()));
}
