#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The admin web UI end to end in a real browser (issue 7): `mppd run --web-listen 127.0.0.1`
//! over HTTPS, line 1 registered at a kamailio started by the test; Debian's Chromium driven by
//! playwright-core (`tests/e2e/web.mjs`, installed by `scripts/test` with `npm ci`):
//! - the admin logs in, sets `SIP_Transport_1_` to TLS (and the outbound proxy to kamailio's
//!   TLS port) and `Firewall_Config` to `NO_ICMP_PING`, submits; the status page shows the line
//!   registered via TLS and the firewall without ping; `STATE/profile.xml` holds both;
//! - an invalid `Firewall_Config` comes back with the error beside the field and nothing
//!   applied;
//! - the user account finds `na` fields absent and `ro` fields read-only.
//!
//! Screenshots of the System tab and the Status page are kept in
//! `target/tmp/web-e2e/` (`CARGO_TARGET_TMPDIR`).

mod common;

use std::fs;
use std::net::{IpAddr, Ipv4Addr};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use common::BIN;
use mppd_testkit::kamailio::{DEFAULT_PASSWORD, DEFAULT_USER, DOMAIN, Kamailio};
use mppd_testkit::process::free_port;
use mppd_testkit::{TestCa, Validity};
use serde_json::Value;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const ADMIN_PW: &str = "Adm1n-Web-Pass";
const USER_PW: &str = "Us3r-Web-Pass";

struct Daemon(Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn e2e_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/e2e")
}

fn status(state: &Path) -> Option<Value> {
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(state)
        .args(["status", "--format", "json"])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| serde_json::from_slice(&out.stdout).unwrap())
}

#[test]
fn admin_and_user_in_a_real_browser() {
    assert!(
        Path::new("/usr/bin/chromium").is_file(),
        "/usr/bin/chromium is missing: install the Debian package chromium (scripts/test does)"
    );
    assert!(
        e2e_dir().join("node_modules/playwright-core").is_dir(),
        "playwright-core is missing: run `npm ci` in {} (scripts/test does)",
        e2e_dir().display()
    );
    let ca = TestCa::new("mppd web e2e CA");
    let (cert, key) = ca.issue_server(&["sip.mppd.test"], &[LOCALHOST], None, Validity::Valid);
    let k = Kamailio::builder().tls(&cert, &key).start();

    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("state");
    fs::create_dir_all(&state).unwrap();
    ca.install_into(&state, "test-ca.pem");
    let web_port = free_port(LOCALHOST);
    let sip_port = free_port(LOCALHOST);
    // Enable_Web_Server is read-only for the user (ua="ro"); the passwords are na by default.
    let profile = format!(
        "<flat-profile>\n\
         <Admin_Password>{ADMIN_PW}</Admin_Password>\n\
         <User_Password>{USER_PW}</User_Password>\n\
         <Enable_Web_Server ua=\"ro\">Yes</Enable_Web_Server>\n\
         <Web_Server_Port>{web_port}</Web_Server_Port>\n\
         <User_ID_1_>{DEFAULT_USER}</User_ID_1_>\n\
         <Password_1_>{DEFAULT_PASSWORD}</Password_1_>\n\
         <Proxy_1_>{DOMAIN}</Proxy_1_>\n\
         <Outbound_Proxy_1_>127.0.0.1:{}</Outbound_Proxy_1_>\n\
         <SIP_Transport_1_>UDP</SIP_Transport_1_>\n\
         <SIP_Port_1_>{sip_port}</SIP_Port_1_>\n\
         </flat-profile>\n",
        k.udp_port()
    );
    let p = dir.path().join("p.xml");
    fs::write(&p, profile).unwrap();
    let out = Command::new(BIN)
        .arg("--state-dir")
        .arg(&state)
        .args(["config", "apply", "--replace"])
        .arg(&p)
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let log = dir.path().join("mppd.log");
    let _daemon = Daemon(
        Command::new(BIN)
            .arg("--state-dir")
            .arg(&state)
            .args(["run", "--web-listen", "127.0.0.1"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(fs::File::create(&log).unwrap())
            .spawn()
            .unwrap(),
    );
    let deadline = Instant::now() + Duration::from_secs(20);
    while !status(&state).is_some_and(|v| v["sip"]["lines"][0]["state"] == "registered") {
        assert!(
            Instant::now() < deadline,
            "line 1 did not register over UDP: {:?}",
            status(&state)
        );
        std::thread::sleep(Duration::from_millis(100));
    }

    let shots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web-e2e");
    fs::create_dir_all(&shots).unwrap();
    let out = Command::new("node")
        .current_dir(e2e_dir())
        .arg("web.mjs")
        .arg(format!("https://127.0.0.1:{web_port}"))
        .arg(&shots)
        .args([ADMIN_PW, USER_PW, &format!("127.0.0.1:{}", k.tls_port())])
        .output()
        .expect("node (Debian package nodejs)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let context = format!(
        "--- browser:\n{stdout}\n{}\n--- mppd:\n{}",
        String::from_utf8_lossy(&out.stderr),
        fs::read_to_string(&log).unwrap_or_default()
    );
    let r: Value = serde_json::from_str(stdout.lines().last().unwrap_or("{}"))
        .unwrap_or_else(|e| panic!("{e}\n{context}"));
    assert!(r["error"].is_null(), "{context}");
    assert_eq!(r["adminLogin"], 303, "{context}");
    assert_eq!(r["ext1Submit"], 303, "{context}");
    assert_eq!(r["systemSubmit"], 303, "{context}");
    assert_eq!(r["invalidSubmit"], 422, "{context}");
    assert!(
        r["invalidError"]
            .as_str()
            .is_some_and(|e| e.contains("70000")),
        "the error must be beside Firewall_Config: {context}"
    );
    assert_eq!(
        r["statusTls"], true,
        "the status must show the line via TLS: {context}"
    );
    assert_eq!(r["statusNoIcmpPing"], true, "{context}");
    assert_eq!(r["userLogin"], 303, "{context}");
    assert_eq!(
        r["userSeesAdminPassword"], false,
        "na field shown to the user: {context}"
    );
    assert_eq!(r["userRoPresent"], true, "{context}");
    assert_eq!(
        r["userRoDisabled"], true,
        "ro field editable by the user: {context}"
    );
    assert_eq!(r["userRwEditable"], true, "{context}");
    assert!(shots.join("system-tab.png").is_file() && shots.join("status.png").is_file());

    let stored =
        mppd_config::Profile::parse(&fs::read(state.join("profile.xml")).unwrap()).unwrap();
    let value = |n: &str| stored.get(n).map(|e| e.value.clone()).unwrap_or_default();
    assert_eq!(value("SIP_Transport_1_"), "TLS");
    assert_eq!(
        value("Firewall_Config"),
        "NO_ICMP_PING",
        "the invalid submit must apply nothing"
    );
    let v = status(&state).unwrap();
    assert_eq!(v["sip"]["lines"][0]["detail"]["transport"], "TLS", "{v}");
    // No secret in what the browser printed or the daemon logged.
    for secret in [ADMIN_PW, USER_PW, DEFAULT_PASSWORD] {
        assert!(!context.contains(secret), "{secret} leaked:\n{context}");
    }
}
